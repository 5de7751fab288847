package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Intent;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.ResponseHeader;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnRecordWrite;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Reader;
import io.basalt.txn.eval.Commands.Context;
import io.basalt.txn.tscache.TimestampCache;

/** What the evaluators share about transactions: intents, records and timestamps. */
final class Txns {
  private Txns() {}

  static Timestamp ts(io.basalt.api.Timestamp t) {
    return Timestamp.fromProto(t);
  }

  /** The largest wall time a request may name: far beyond any clock, and far from overflow. */
  static final long MAX_WALL_NANOS = 1L << 62;

  /** Every timestamp {@code request} names. */
  private static java.util.List<io.basalt.api.Timestamp> timestamps(KvRequest request) {
    java.util.List<io.basalt.api.Timestamp> out = new java.util.ArrayList<>();
    if (request.getHeader().hasTxn()) {
      Transaction t = request.getHeader().getTxn();
      out.add(t.getReadTimestamp());
      out.add(t.getUncertaintyLimit());
      out.add(t.getMeta().getWriteTimestamp());
      out.add(t.getMeta().getMinTimestamp());
    }
    switch (request.getRequestCase()) {
      case REFRESH -> {
        out.add(request.getRefresh().getFrom());
        out.add(request.getRefresh().getTo());
      }
      case PUSH_TXN -> {
        out.add(request.getPushTxn().getPushTo());
        out.add(request.getPushTxn().getPushee().getWriteTimestamp());
        out.add(request.getPushTxn().getPushee().getMinTimestamp());
      }
      case RESOLVE_INTENT -> {
        out.add(request.getResolveIntent().getCommitTimestamp());
        out.add(request.getResolveIntent().getTxn().getWriteTimestamp());
      }
      case QUERY_INTENT -> {
        out.add(request.getQueryIntent().getTxn().getWriteTimestamp());
        out.add(request.getQueryIntent().getTxn().getMinTimestamp());
      }
      case RECOVER_TXN -> {
        out.add(request.getRecoverTxn().getTxn().getWriteTimestamp());
        out.add(request.getRecoverTxn().getTxn().getMinTimestamp());
      }
      default -> {}
    }
    return out;
  }

  /**
   * Why a timestamp {@code request} names is not one (negative, or absurdly far ahead), or null.
   */
  static String badTimestamp(KvRequest request) {
    if (!request.getHeader().hasTxn()
        && request.getRequestCase() != KvRequest.RequestCase.REFRESH
        && request.getRequestCase() != KvRequest.RequestCase.PUSH_TXN
        && request.getRequestCase() != KvRequest.RequestCase.RESOLVE_INTENT
        && request.getRequestCase() != KvRequest.RequestCase.QUERY_INTENT
        && request.getRequestCase() != KvRequest.RequestCase.RECOVER_TXN) {
      return null; // a plain request names none (the header's own is checked by the store)
    }
    for (io.basalt.api.Timestamp t : timestamps(request)) {
      if (t.getWallNanos() < 0 || t.getLogical() < 0 || t.getWallNanos() > MAX_WALL_NANOS) {
        return "timestamp " + t.getWallNanos() + "," + t.getLogical() + " is out of range";
      }
    }
    return null;
  }

  static Timestamp max(Timestamp a, Timestamp b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * The request's transaction with its timestamps set: one that has no read timestamp yet (its
   * first request) reads at this leader's clock, with an uncertainty interval of the maximum clock
   * offset, and begins there.
   */
  static Transaction begun(Transaction txn, Context ctx) {
    return begun(txn, ctx.now(), ctx.maxOffsetNanos());
  }

  /** {@link #begun(Transaction, Context)} at {@code at}. */
  static Transaction begun(Transaction txn, Timestamp at, long maxOffsetNanos) {
    if (txn.getReadTimestamp().getWallNanos() != 0) {
      return txn;
    }
    io.basalt.api.Timestamp now = at.toProto();
    io.basalt.api.Timestamp limit =
        new Timestamp(at.wallNanos() + maxOffsetNanos, at.logical()).toProto();
    return txn.toBuilder()
        .setReadTimestamp(now)
        .setUncertaintyLimit(limit)
        .setMeta(txn.getMeta().toBuilder().setWriteTimestamp(now).setMinTimestamp(now))
        .build();
  }

  /**
   * The upper end of {@code txn}'s uncertainty interval, never below its read timestamp: a read
   * timestamp moved up past the limit first given (a refresh) leaves the interval empty, and the
   * read still meets every intent at or below it.
   */
  static Timestamp uncertaintyLimit(Transaction txn) {
    return max(ts(txn.getReadTimestamp()), ts(txn.getUncertaintyLimit()));
  }

  static Intent parseIntent(byte[] stored) {
    try {
      return Intent.parseFrom(stored);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("an intent does not parse: " + e.getMessage());
    }
  }

  static boolean sameTxn(TxnMeta a, TxnMeta b) {
    return a.getId().equals(b.getId());
  }

  /** The stored record of {@code meta}'s transaction (at its anchor key), or null. */
  static TxnRecord record(Reader state, TxnMeta meta) {
    byte[] stored =
        state.get(
            ColumnFamily.LOCAL,
            LocalKeys.txnRecord(meta.getAnchorKey().toByteArray(), meta.getId().toByteArray()));
    if (stored == null) {
      return null;
    }
    try {
      return TxnRecord.parseFrom(stored);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("a transaction record does not parse: " + e.getMessage());
    }
  }

  static void writeRecord(RaftCommand.Builder into, TxnRecord record) {
    into.addTxnRecords(
        TxnRecordWrite.newBuilder()
            .setAnchorKey(record.getMeta().getAnchorKey())
            .setTxnId(record.getMeta().getId())
            .setRecord(record));
  }

  /** Whether a live transaction last heard of at {@code lastHeard} has expired at {@code now}. */
  static boolean expired(Timestamp lastHeard, Context ctx) {
    return ctx.now().wallNanos() - lastHeard.wallNanos() > ctx.txnExpiryNanos();
  }

  /** Stages the commit of an intent: removed from the metadata slot, a version at {@code ts}. */
  static void commitIntent(
      RaftCommand.Builder into, ByteString key, Intent intent, io.basalt.api.Timestamp ts) {
    into.addClearedIntents(key);
    if (intent.getLockOnly()) {
      return; // a lock: nothing to write
    }
    ReplicatedWrite.Builder w = ReplicatedWrite.newBuilder().setKey(key).setTimestamp(ts);
    if (intent.getTombstone()) {
      w.setTombstone(true);
    } else {
      w.setValue(intent.getValue());
    }
    into.addWrites(w);
  }

  /**
   * The lowest timestamp at or above {@code ts} at which {@code txnId} (empty: a plain write) may
   * write {@code key}: above every read of it recorded in the timestamp cache, except a read by the
   * writer itself alone.
   */
  static Timestamp aboveReads(
      TimestampCache tscache, ByteString key, Timestamp ts, ByteString txnId) {
    TimestampCache.Entry read = tscache.max(key);
    Timestamp floor = !txnId.isEmpty() && txnId.equals(read.txnId()) ? read.ts() : read.ts().next();
    return max(ts, floor);
  }

  /** {@code answer} with {@code txn} (if not null) in its header: an error tells it too. */
  static KvResponse withTxn(KvResponse answer, Transaction txn) {
    return txn == null
        ? answer
        : answer.toBuilder().setHeader(ResponseHeader.newBuilder().setTxn(txn)).build();
  }

  /** {@code answer} with the transaction, as this evaluation left it, in its header. */
  static KvResponse withTxn(KvResponse.Builder answer, Transaction txn) {
    return answer.setHeader(ResponseHeader.newBuilder().setTxn(txn)).build();
  }
}
