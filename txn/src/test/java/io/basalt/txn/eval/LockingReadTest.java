package io.basalt.txn.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.Error;
import io.basalt.api.GetRequest;
import io.basalt.api.Intent;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.WriteBatch;
import org.junit.jupiter.api.Test;

/**
 * A transaction's locking read ({@code GetRequest.for_update}): it reads the newest value and
 * leaves a lock (an intent without a value) that other transactions' writes and locking reads meet,
 * while plain and non-locking reads read beneath it; committing releases the lock and writes
 * nothing for it; a key written above the read timestamp is not read around.
 */
class LockingReadTest {
  private static final RangeDescriptor RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(2)
          .setGeneration(1)
          .setStartKey(bytes("b"))
          .setEndKey(bytes("m"))
          .build();

  private final TestReplica replica = new TestReplica(RANGE);

  LockingReadTest() {
    replica.now = new Timestamp(1_000, 0);
  }

  @Test
  void aLockingReadReturnsTheValueAndLeavesALockThatOnlyWritersMeet() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    KvResponse r = replica.write(lockingGet("c", a));
    assertThat(r.hasError()).isFalse();
    assertThat(r.getGet().getKv().getValue()).isEqualTo(bytes("old"));
    Intent lock = intent("c");
    assertThat(lock.getLockOnly()).isTrue();
    assertThat(lock.getTxn().getId()).isEqualTo(a.getMeta().getId());

    // Readers read beneath a lock: a plain get, and another transaction's get.
    assertThat(replica.read(get("c", null)).getGet().getKv().getValue()).isEqualTo(bytes("old"));
    assertThat(replica.read(get("c", txn("b", 200))).getGet().getKv().getValue())
        .isEqualTo(bytes("old"));
    // Writers meet it: a plain put, another transaction's write, another locking read.
    assertThat(replica.write(plainPut("c", "x")).getError().getDetailCase())
        .isEqualTo(Error.DetailCase.WRITE_INTENT);
    assertThat(
            replica.write(txnWrite(txn("b", 200), false, put("c", "y"))).getError().getDetailCase())
        .isEqualTo(Error.DetailCase.WRITE_INTENT);
    assertThat(replica.write(lockingGet("c", txn("b", 200))).getError().getDetailCase())
        .isEqualTo(Error.DetailCase.WRITE_INTENT);
    // Its holder locks again without effect and reads the same.
    KvResponse again = replica.evaluate(lockingGet("c", a)).answer();
    assertThat(again.getGet().getKv().getValue()).isEqualTo(bytes("old"));
  }

  @Test
  void aLockingReadOfAKeyWrittenAboveTheReadTimestampAsksToMoveUp() {
    store("c", "new", 150);
    KvResponse r = replica.write(lockingGet("c", txn("a", 100)));
    assertThat(r.getError().getDetailCase()).isEqualTo(Error.DetailCase.TXN_RETRY);
    assertThat(r.getError().getTxnRetry().getRetryAt()).isEqualTo(ts(150).toProto());
    assertThat(intent("c")).as("nothing locked").isNull();
  }

  @Test
  void aOnePhaseCommitOverItsOwnLockReplacesItWithTheVersionAndEndsTheRecordCommitted() {
    store("c", "1", 10);
    Transaction a = txn("a", 100);
    replica.write(lockingGet("c", a));
    KvResponse r = replica.write(txnWrite(a, true, put("c", "2")));
    assertThat(r.getTxnWrite().getCommitted()).isTrue();
    assertThat(intent("c")).isNull();
    assertThat(replica.read(get("c", null)).getGet().getKv().getValue()).isEqualTo(bytes("2"));
    // It held a lock, so it may have heartbeated a record: the record says committed.
    assertThat(Txns.record(replica.engine, a.getMeta()).getStatus())
        .isEqualTo(TxnStatus.TXN_COMMITTED);
  }

  @Test
  void committingALockWritesNothingForItAndReleasesIt() {
    store("d", "keep", 10);
    Transaction a = txn("a", 100);
    replica.write(lockingGet("d", a));
    KvResponse r =
        replica.write(
            withTxn(
                KvRequest.newBuilder()
                    .setEndTxn(EndTxnRequest.newBuilder().setCommit(true).addLockKeys(bytes("d")))
                    .build(),
                a));
    assertThat(r.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(intent("d")).isNull();
    assertThat(MvccStore.getVersion(replica.engine, bytes("d").toByteArray(), Timestamp.MAX))
        .get()
        .satisfies(v -> assertThat(v.timestamp()).isEqualTo(ts(10)));
    assertThat(replica.write(plainPut("d", "x")).hasError()).isFalse();
  }

  @Test
  void aPlainGetCannotLock() {
    KvRequest plainLock =
        KvRequest.newBuilder()
            .setGet(GetRequest.newBuilder().setKey(bytes("c")).setForUpdate(true))
            .build();
    assertThat(Commands.validate(plainLock, RANGE)).isNotNull();
  }

  private static Timestamp ts(long wall) {
    return new Timestamp(wall, 0);
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static Transaction txn(String name, long readWall) {
    io.basalt.api.Timestamp at = ts(readWall).toProto();
    return Transaction.newBuilder()
        .setMeta(
            TxnMeta.newBuilder()
                .setId(bytes("txn-" + name))
                .setAnchorKey(bytes("c"))
                .setWriteTimestamp(at)
                .setMinTimestamp(at))
        .setReadTimestamp(at)
        .setUncertaintyLimit(at)
        .build();
  }

  private static KvRequest withTxn(KvRequest r, Transaction t) {
    return r.toBuilder().setHeader(RequestHeader.newBuilder().setTxn(t)).build();
  }

  private static KvRequest lockingGet(String key, Transaction t) {
    return withTxn(
        KvRequest.newBuilder()
            .setGet(GetRequest.newBuilder().setKey(bytes(key)).setForUpdate(true))
            .build(),
        t);
  }

  private static KvRequest get(String key, Transaction t) {
    KvRequest g = KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(bytes(key))).build();
    return t == null ? g : withTxn(g, t);
  }

  private static KvRequest plainPut(String key, String value) {
    return KvRequest.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)))
        .build();
  }

  private static Mutation put(String key, String value) {
    return Mutation.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)))
        .build();
  }

  private static KvRequest txnWrite(Transaction t, boolean onePhase, Mutation... mutations) {
    return withTxn(
        KvRequest.newBuilder()
            .setTxnWrite(
                TxnWriteRequest.newBuilder()
                    .addAllMutations(java.util.List.of(mutations))
                    .setOnePhase(onePhase)
                    .setAnchor(onePhase))
            .build(),
        t);
  }

  private void store(String key, String value, long wall) {
    WriteBatch b = new WriteBatch();
    MvccStore.put(b, bytes(key).toByteArray(), ts(wall), bytes(value).toByteArray());
    replica.engine.write(b, true);
  }

  private Intent intent(String key) {
    byte[] stored = MvccStore.getIntent(replica.engine, bytes(key).toByteArray());
    return stored == null ? null : Txns.parseIntent(stored);
  }
}
