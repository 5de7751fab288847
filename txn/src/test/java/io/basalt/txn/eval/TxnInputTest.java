package io.basalt.txn.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.Error;
import io.basalt.api.GenericError;
import io.basalt.api.Intent;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RefreshRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.ResolveIntentRequest;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.WriteBatch;
import org.junit.jupiter.api.Test;

/**
 * What the transaction requests make of bad or edge-case input: timestamps out of range are refused
 * before anything reads them, anchors must be user keys, a refresh can cover a span to the end of
 * the key space, and a resolution never commits beneath its intent.
 */
class TxnInputTest {
  /** The last range: from "b" to the end of the key space. */
  private static final RangeDescriptor LAST =
      RangeDescriptor.newBuilder().setRangeId(3).setGeneration(1).setStartKey(bytes("b")).build();

  private final TestReplica replica = new TestReplica(LAST);

  TxnInputTest() {
    replica.now = new Timestamp(1_000, 0);
  }

  @Test
  void timestampsOutOfRangeAreRefusedAsInvalid() {
    Transaction a = txn("a", 100);
    KvRequest negativeFrom = refresh(a, -1, 200, false);
    assertInvalid(Commands.validate(negativeFrom, LAST), "out of range");
    Transaction huge =
        a.toBuilder()
            .setMeta(
                a.getMeta().toBuilder()
                    .setWriteTimestamp(
                        io.basalt.api.Timestamp.newBuilder()
                            .setWallNanos(Long.MAX_VALUE)
                            .setLogical(Integer.MAX_VALUE)))
            .build();
    assertInvalid(Commands.validate(txnWrite(huge, "c"), LAST), "out of range");
  }

  @Test
  void anAnchorMustBeAUserKey() {
    Transaction system =
        txn("a", 100).toBuilder()
            .setMeta(
                txn("a", 100).getMeta().toBuilder()
                    .setAnchorKey(ByteString.copyFrom(new byte[] {0x00, 'r'})))
            .build();
    KvRequest w =
        txnWrite(system, "c").toBuilder()
            .setTxnWrite(
                txnWrite(system, "c").getTxnWrite().toBuilder().setOnePhase(true).setAnchor(true))
            .build();
    assertInvalid(Commands.validate(w, LAST), "anchor");
  }

  @Test
  void aRefreshToTheEndOfTheKeySpaceSeesAWriteAnywhereInIt() {
    Transaction a = txn("a", 100);
    KvRequest toEnd = refresh(a, 100, 200, true);
    assertThat(Commands.validate(toEnd, LAST)).isNull();
    assertThat(replica.read(toEnd).hasError()).isFalse();
    store("zzz", "late", 150);
    KvResponse failed = replica.read(refresh(a, 100, 200, true));
    assertThat(failed.getError().getDetailCase()).isEqualTo(Error.DetailCase.TXN_RETRY);
    // Not in a range that ends before the end of the key space.
    RangeDescriptor bounded = LAST.toBuilder().setEndKey(bytes("m")).build();
    assertThat(Commands.validate(toEnd, bounded)).isNotNull();
  }

  @Test
  void aResolutionNeverCommitsBeneathItsIntent() {
    Transaction a = txn("a", 300);
    assertThat(replica.write(txnWrite(a, "c")).hasError()).isFalse();
    Intent intent = Txns.parseIntent(MvccStore.getIntent(replica.engine, bytes("c").toByteArray()));
    assertThat(intent.getTxn().getWriteTimestamp()).isEqualTo(new Timestamp(300, 0).toProto());
    KvRequest resolve =
        KvRequest.newBuilder()
            .setResolveIntent(
                ResolveIntentRequest.newBuilder()
                    .addKeys(bytes("c"))
                    .setTxn(a.getMeta())
                    .setStatus(TxnStatus.TXN_COMMITTED)
                    .setCommitTimestamp(new Timestamp(200, 0).toProto()))
            .build();
    assertThat(replica.write(resolve).hasError()).isFalse();
    assertThat(MvccStore.getVersion(replica.engine, bytes("c").toByteArray(), Timestamp.MAX))
        .get()
        .satisfies(v -> assertThat(v.timestamp()).isEqualTo(new Timestamp(300, 0)));
  }

  private static void assertInvalid(KvResponse r, String says) {
    assertThat(r).isNotNull();
    GenericError g = r.getError().getGeneric();
    assertThat(g.getCode()).isEqualTo("INVALID_ARGUMENT");
    assertThat(g.getMessage()).contains(says);
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static Transaction txn(String name, long wall) {
    io.basalt.api.Timestamp at = new Timestamp(wall, 0).toProto();
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

  private static KvRequest refresh(Transaction t, long from, long to, boolean toEnd) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setTxn(t))
        .setRefresh(
            RefreshRequest.newBuilder()
                .setStartKey(bytes("b"))
                .setFrom(io.basalt.api.Timestamp.newBuilder().setWallNanos(from).build())
                .setTo(new Timestamp(to, 0).toProto())
                .setToEnd(toEnd))
        .build();
  }

  private static KvRequest txnWrite(Transaction t, String key) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setTxn(t))
        .setTxnWrite(
            TxnWriteRequest.newBuilder()
                .addMutations(
                    Mutation.newBuilder()
                        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes("v")))))
        .build();
  }

  private void store(String key, String value, long wall) {
    WriteBatch b = new WriteBatch();
    MvccStore.put(b, bytes(key).toByteArray(), new Timestamp(wall, 0), bytes(value).toByteArray());
    replica.engine.write(b, true);
  }
}
