package io.basalt.txn.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.Error;
import io.basalt.api.GetRequest;
import io.basalt.api.HeartbeatTxnRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RefreshRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnRecordWrite;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.WriteBatch;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * MVCC garbage collection of one range (DESIGN.md, "Transactions"), evaluated as its leader does
 * and applied as its replicas do: which versions and records go, the threshold it raises, and the
 * transactional requests refused below it.
 */
class GcTest {
  private static final RangeDescriptor RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(2)
          .setGeneration(1)
          .setStartKey(bytes("b"))
          .setEndKey(bytes("m"))
          .build();

  private final TestReplica replica = new TestReplica(RANGE);

  GcTest() {
    replica.now = ts(1_000);
    replica.txnExpiryNanos = 5_000;
  }

  @Test
  void aCollectionRemovesVersionsShadowedAtTheThresholdAndRaisesIt() {
    store("c", "v10", 10);
    store("c", "v20", 20);
    store("c", "v30", 30);
    store("d", "only", 10);
    RaftCommand gc = collect(25);
    assertThat(gc.getGcVersionsList())
        .extracting(v -> v.getKey().toStringUtf8() + "@" + v.getTimestamp().getWallNanos())
        .containsExactly("c@10");
    assertThat(gc.getGcThreshold()).isEqualTo(ts(25).toProto());
    replica.apply(gc);

    assertThat(Gc.threshold(replica.engine, RANGE.getRangeId())).isEqualTo(ts(25));
    assertThat(value(ok(replica.read(get("c", txn("a", 26)))))).isEqualTo("v20");
    assertThat(value(ok(replica.read(get("c", null))))).as("a plain read").isEqualTo("v30");
    assertThat(value(ok(replica.read(get("d", txn("a", 26)))))).isEqualTo("only");
    assertBelowThreshold(replica.read(get("c", txn("b", 25))), 25);
  }

  @Test
  void thereIsNothingToProposeWithoutGarbageOrWhenTheThresholdWouldNotRise() {
    store("c", "v10", 10);
    assertThat(Commands.collectGarbage(replica.engine, RANGE, ts(25), RaftCommand.newBuilder()))
        .as("one version: nothing to collect")
        .isFalse();
    store("c", "v20", 20);
    replica.apply(collect(25));
    store("e", "v1", 1);
    store("e", "v2", 2);
    assertThat(Commands.collectGarbage(replica.engine, RANGE, ts(25), RaftCommand.newBuilder()))
        .as("the threshold would not rise")
        .isFalse();
  }

  @Test
  void transactionalRequestsAtOrBelowTheThresholdAreRefusedAndARollbackIsNot() {
    store("c", "v10", 10);
    store("c", "v20", 20);
    replica.apply(collect(25));
    Transaction old = txn("old", 25);
    assertBelowThreshold(replica.read(refresh(txn("r", 40), 25, 40)), 25);
    assertBelowThreshold(replica.evaluate(txnWrite(old)).answer(), 25);
    assertBelowThreshold(replica.evaluate(heartbeat(old)).answer(), 25);
    assertBelowThreshold(replica.evaluate(endTxn(old, true)).answer(), 25);
    assertThat(replica.evaluate(endTxn(old, false)).answer().hasError()).isFalse();
    // Reading above the threshold, but begun at or below it: what may create its record is
    // refused (GC may have removed the record a pusher aborted it with).
    Transaction refreshed =
        old.toBuilder()
            .setReadTimestamp(ts(40).toProto())
            .setMeta(old.getMeta().toBuilder().setWriteTimestamp(ts(40).toProto()))
            .build();
    assertThat(value(ok(replica.read(get("c", refreshed))))).isEqualTo("v20");
    assertBelowThreshold(replica.evaluate(txnWrite(refreshed)).answer(), 25);
    assertBelowThreshold(replica.evaluate(endTxn(refreshed, true)).answer(), 25);

    // The controls: above the threshold, or not begun yet (it begins at the leader's clock).
    assertThat(replica.read(refresh(txn("r", 40), 26, 40)).hasError()).isFalse();
    assertThat(replica.evaluate(txnWrite(txn("new", 26))).answer().hasError()).isFalse();
    Transaction notBegun =
        Transaction.newBuilder()
            .setMeta(TxnMeta.newBuilder().setId(bytes("nb")).setAnchorKey(bytes("c")))
            .build();
    assertThat(replica.evaluate(txnWrite(notBegun)).answer().hasError()).isFalse();
  }

  @Test
  void finishedRecordsNothingNeedsGoAndTheOthersStay() {
    store("z-unused", "v", 1); // (outside the range: never collected here)
    TxnRecord aborted = record("aborted", TxnStatus.TXN_ABORTED, 10, "c", "x");
    TxnRecord committedHere = record("here", TxnStatus.TXN_COMMITTED, 10, "c", "d");
    TxnRecord committedElsewhere = record("elsewhere", TxnStatus.TXN_COMMITTED, 10, "c", "x");
    TxnRecord pending = record("pending", TxnStatus.TXN_PENDING, 10, "c");
    TxnRecord staging = record("staging", TxnStatus.TXN_STAGING, 10, "c");
    TxnRecord recent = record("recent", TxnStatus.TXN_ABORTED, 30, "c");
    RaftCommand.Builder write = RaftCommand.newBuilder();
    for (TxnRecord r :
        List.of(aborted, committedHere, committedElsewhere, pending, staging, recent)) {
      Txns.writeRecord(write, r);
    }
    replica.apply(write.build());

    RaftCommand gc = collect(25);
    assertThat(gc.getTxnRecordsList())
        .extracting(TxnRecordWrite::getTxnId)
        .containsExactlyInAnyOrder(bytes("aborted"), bytes("here"));
    assertThat(gc.getTxnRecordsList()).allMatch(w -> !w.hasRecord());
    replica.apply(gc);
    assertThat(Txns.record(replica.engine, aborted.getMeta())).isNull();
    assertThat(Txns.record(replica.engine, committedHere.getMeta())).isNull();
    for (TxnRecord kept : List.of(committedElsewhere, pending, staging, recent)) {
      assertThat(Txns.record(replica.engine, kept.getMeta())).isEqualTo(kept);
    }
  }

  // --- Helpers

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static Timestamp ts(long wallNanos) {
    return new Timestamp(wallNanos, 0);
  }

  /** A serializable transaction anchored at "c" that read (and writes) at {@code wallNanos}. */
  private static Transaction txn(String name, long wallNanos) {
    return Transaction.newBuilder()
        .setMeta(
            TxnMeta.newBuilder()
                .setId(bytes(name))
                .setAnchorKey(bytes("c"))
                .setWriteTimestamp(ts(wallNanos).toProto())
                .setMinTimestamp(ts(wallNanos).toProto()))
        .setReadTimestamp(ts(wallNanos).toProto())
        .setUncertaintyLimit(ts(wallNanos).toProto())
        .build();
  }

  private static KvRequest inTxn(KvRequest.Builder request, Transaction t) {
    return request.setHeader(RequestHeader.newBuilder().setTxn(t)).build();
  }

  private static KvRequest get(String key, Transaction t) {
    KvRequest.Builder get =
        KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(bytes(key)));
    return t == null ? get.build() : inTxn(get, t);
  }

  private static KvRequest refresh(Transaction t, long from, long to) {
    return inTxn(
        KvRequest.newBuilder()
            .setRefresh(
                RefreshRequest.newBuilder()
                    .setStartKey(bytes("c"))
                    .setFrom(ts(from).toProto())
                    .setTo(ts(to).toProto())),
        t);
  }

  private static KvRequest txnWrite(Transaction t) {
    return inTxn(
        KvRequest.newBuilder()
            .setTxnWrite(
                TxnWriteRequest.newBuilder()
                    .setAnchor(true)
                    .addMutations(
                        Mutation.newBuilder()
                            .setPut(
                                PutRequest.newBuilder().setKey(bytes("c")).setValue(bytes("w"))))),
        t);
  }

  private static KvRequest heartbeat(Transaction t) {
    return inTxn(
        KvRequest.newBuilder().setHeartbeatTxn(HeartbeatTxnRequest.getDefaultInstance()), t);
  }

  private static KvRequest endTxn(Transaction t, boolean commit) {
    return inTxn(
        KvRequest.newBuilder()
            .setEndTxn(EndTxnRequest.newBuilder().setCommit(commit).addLockKeys(bytes("c"))),
        t);
  }

  private static TxnRecord record(String id, TxnStatus status, long heartbeat, String... keys) {
    TxnRecord.Builder r =
        TxnRecord.newBuilder()
            .setMeta(TxnMeta.newBuilder().setId(bytes(id)).setAnchorKey(bytes("c")))
            .setStatus(status)
            .setLastHeartbeat(ts(heartbeat).toProto());
    for (String k : keys) {
      r.addLockKeys(bytes(k));
    }
    return r.build();
  }

  private RaftCommand collect(long threshold) {
    RaftCommand.Builder gc = RaftCommand.newBuilder();
    assertThat(Commands.collectGarbage(replica.engine, RANGE, ts(threshold), gc))
        .as("something to collect at %d", threshold)
        .isTrue();
    return gc.build();
  }

  private void store(String key, String value, long wallNanos) {
    WriteBatch b = new WriteBatch();
    MvccStore.put(b, bytes(key).toByteArray(), ts(wallNanos), bytes(value).toByteArray());
    replica.engine.write(b, true);
  }

  private static KvResponse ok(KvResponse r) {
    assertThat(r.hasError()).as("an error: %s", r.getError()).isFalse();
    return r;
  }

  private static String value(KvResponse r) {
    return r.getGet().getFound() ? r.getGet().getKv().getValue().toStringUtf8() : null;
  }

  private static void assertBelowThreshold(KvResponse r, long threshold) {
    assertThat(r.getError().getDetailCase()).as("%s", r).isEqualTo(Error.DetailCase.GC_THRESHOLD);
    assertThat(r.getError().getGcThreshold().getThreshold()).isEqualTo(ts(threshold).toProto());
  }
}
