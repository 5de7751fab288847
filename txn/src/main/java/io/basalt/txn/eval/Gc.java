package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MvccVersion;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnRecordWrite;
import io.basalt.api.TxnStatus;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.Reader;

/**
 * MVCC garbage collection (DESIGN.md, "Transactions"): each range has a GC threshold, raised by its
 * leader to its clock minus the TTL, below which old versions (those shadowed at the threshold) and
 * finished transaction records are removed. A transactional request whose timestamp is at or below
 * the threshold is refused: the versions it would read may be gone, and a transaction that old must
 * not create a record that GC may already have removed.
 */
final class Gc {
  private Gc() {}

  /** The range's GC threshold ({@link Timestamp#MIN} until the first collection). */
  static Timestamp threshold(Reader state, long rangeId) {
    byte[] stored = state.get(ColumnFamily.LOCAL, LocalKeys.gcThreshold(rangeId));
    if (stored == null) {
      return Timestamp.MIN;
    }
    try {
      return Timestamp.fromProto(io.basalt.api.Timestamp.parseFrom(stored));
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("the GC threshold does not parse: " + e.getMessage());
    }
  }

  /**
   * The timestamp at or below which {@code request} is refused, if it is transactional: a read's
   * read timestamp, a refresh's start, the transaction's start for what may create its record (a
   * write, a commit, a heartbeat); else null.
   */
  private static io.basalt.api.Timestamp timestampOf(KvRequest request) {
    if (request.getRequestCase() == KvRequest.RequestCase.REFRESH) {
      return request.getRefresh().getFrom();
    }
    if (!request.getHeader().hasTxn()) {
      return null;
    }
    io.basalt.api.Timestamp start = request.getHeader().getTxn().getMeta().getMinTimestamp();
    return switch (request.getRequestCase()) {
      // What may create a record: refused for a transaction that began at or below the
      // threshold, whose record (aborted by a pusher) GC may have removed.
      case HEARTBEAT_TXN, TXN_WRITE -> start;
      // A rollback is never refused: it only cleans up.
      case END_TXN -> request.getEndTxn().getCommit() ? start : null;
      default -> request.getHeader().getTxn().getReadTimestamp();
    };
  }

  /** The error for {@code request} if its timestamp is at or below the range's threshold. */
  static KvResponse belowThreshold(KvRequest request, Reader state, RangeDescriptor range) {
    io.basalt.api.Timestamp ts = timestampOf(request);
    if (ts == null || ts.getWallNanos() == 0) {
      return null; // plain, or a transaction not begun yet (it begins at the leader's clock)
    }
    Timestamp threshold = threshold(state, range.getRangeId());
    if (threshold.equals(Timestamp.MIN) || Timestamp.fromProto(ts).isAfter(threshold)) {
      return null;
    }
    return Errors.gcThreshold(threshold.toProto());
  }

  /**
   * Stages one collection of {@code range} at {@code threshold} into {@code into}: at most about
   * {@code maxVersions} versions (see {@link MvccStore#garbage}), the finished records last heard
   * of at or below the threshold that nothing else needs (an aborted one: a pusher that finds no
   * record aborts its transaction anyway; a committed one whose every key is in this range, so its
   * commit resolved them all), and the raised threshold. Returns false, staging nothing, when there
   * is nothing to collect or the threshold would not rise.
   */
  static boolean collect(
      Reader state,
      RangeDescriptor range,
      Timestamp threshold,
      int maxVersions,
      RaftCommand.Builder into) {
    if (!threshold.isAfter(threshold(state, range.getRangeId()))) {
      return false;
    }
    MvccStore.Garbage garbage =
        MvccStore.garbage(
            state,
            range.getStartKey().toByteArray(),
            range.getEndKey().toByteArray(),
            threshold,
            maxVersions);
    for (MvccStore.VersionKey v : garbage.versions()) {
      into.addGcVersions(
          MvccVersion.newBuilder()
              .setKey(ByteString.copyFrom(v.key()))
              .setTimestamp(v.timestamp().toProto()));
    }
    int recordsBefore = into.getTxnRecordsCount();
    eachRecord(
        state,
        range,
        record -> {
          if (collectable(record, range, threshold)) {
            into.addTxnRecords(
                TxnRecordWrite.newBuilder()
                    .setAnchorKey(record.getMeta().getAnchorKey())
                    .setTxnId(record.getMeta().getId()));
          }
          return into.getTxnRecordsCount() - recordsBefore < maxVersions;
        });
    if (into.getGcVersionsCount() == 0 && into.getTxnRecordsCount() == recordsBefore) {
      return false;
    }
    into.setGcThreshold(threshold.toProto());
    return true;
  }

  /**
   * Pushes that abort this range's abandoned records: PENDING, last heartbeated before {@code
   * heartbeatBefore} (at most {@code max}). A coordinator that ended without reaching its record (a
   * rollback that could not be sent, a heartbeat that landed after the end was sent elsewhere, a
   * process that died) leaves one behind that no reader may ever meet; aborted, it is collected
   * like any other aborted record. Each push is evaluated as a request, under the record's latch,
   * and aborts only a record still expired then.
   */
  static java.util.List<KvRequest> abandonedRecordAborts(
      Reader state, RangeDescriptor range, Timestamp heartbeatBefore, int max) {
    java.util.List<KvRequest> pushes = new java.util.ArrayList<>();
    eachRecord(
        state,
        range,
        record -> {
          if (record.getStatus() == TxnStatus.TXN_PENDING
              && heartbeatBefore.isAfter(Timestamp.fromProto(record.getLastHeartbeat()))) {
            KvRequest.Builder push = KvRequest.newBuilder();
            push.getHeaderBuilder().setRangeId(range.getRangeId());
            push.getPushTxnBuilder()
                .setPushee(record.getMeta())
                .setType(io.basalt.api.PushType.PUSH_ABORT);
            pushes.add(push.build());
          }
          return pushes.size() < max;
        });
    return pushes;
  }

  /**
   * Hands the records anchored in {@code range} to {@code visit}, in key order, while it returns
   * true.
   */
  private static void eachRecord(
      Reader state, RangeDescriptor range, java.util.function.Predicate<TxnRecord> visit) {
    try (EngineIterator it =
        state.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.txnRecordsFrom(range.getStartKey().toByteArray()),
            LocalKeys.txnRecordsTo(range.getEndKey().toByteArray()))) {
      for (it.seekToFirst(); it.valid() && visit.test(parseRecord(it.value())); it.next()) {}
    }
  }

  private static boolean collectable(TxnRecord record, RangeDescriptor range, Timestamp threshold) {
    if (Timestamp.fromProto(record.getLastHeartbeat()).isAfter(threshold)) {
      return false;
    }
    if (record.getStatus() == TxnStatus.TXN_ABORTED) {
      return true;
    }
    if (record.getStatus() != TxnStatus.TXN_COMMITTED) {
      return false;
    }
    for (ByteString key : record.getLockKeysList()) {
      if (!KeySpace.contains(range, key.toByteArray())) {
        return false; // its intents there may be unresolved: the record still says committed
      }
    }
    return true;
  }

  private static TxnRecord parseRecord(byte[] stored) {
    try {
      return TxnRecord.parseFrom(stored);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("a transaction record does not parse: " + e.getMessage());
    }
  }
}
