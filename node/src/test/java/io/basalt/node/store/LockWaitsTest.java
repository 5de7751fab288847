package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.Error;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A write blocked by another transaction's lock waits for it at the key's leader (LockWaits) and is
 * applied as soon as the lock is resolved, instead of being answered WriteIntent and retried by its
 * client; it waits at most {@link LockWaits#MAX_WAIT_TICKS}, and not at all if it outranks the
 * holder.
 */
class LockWaitsTest {
  private final ManualStore node =
      new ManualStore(
          new StoreOptions(10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600, 5_000, 0, 600));
  private int requests;

  @Test
  void aBlockedWriteWaitsAndIsAppliedOnceTheLockIsResolved() {
    Transaction holder = begin("holder", 1_000);
    List<KvResponse> put = node.submit(plainPut("k", "after"));
    node.tick();
    assertThat(put).as("waits while the holder's intent is there").isEmpty();

    KvResponse ended = node.call(endTxn(holder));
    assertThat(ended.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    node.tick();
    assertThat(put).as("applied after the commit resolved the intent").hasSize(1);
    assertThat(put.get(0).hasError()).as("%s", put.get(0)).isFalse();
    assertThat(value("k")).isEqualTo("after");
  }

  @Test
  void aWriteWaitsAtMostItsLongestWaitThenIsToldToPush() {
    begin("holder", 1_000);
    List<KvResponse> put = node.submit(plainPut("k", "v2"));
    for (int t = 0; t < LockWaits.MAX_WAIT_TICKS - 1; t++) {
      node.tick();
    }
    assertThat(put).isEmpty();
    node.tick();
    node.tick();
    assertThat(put).hasSize(1);
    assertThat(put.get(0).getError().getDetailCase()).isEqualTo(Error.DetailCase.WRITE_INTENT);
  }

  @Test
  void aWriteThatOutranksTheHolderIsAnsweredAtOnceSoItsClientAbortsTheHolder() {
    begin("holder", 1_000);
    List<KvResponse> write = node.submit(txnPut(txn("older", 2_000), "k", "mine"));
    assertThat(write).hasSize(1);
    assertThat(write.get(0).getError().getDetailCase()).isEqualTo(Error.DetailCase.WRITE_INTENT);
  }

  private String value(String key) {
    return io.basalt.range.mvcc.MvccStore.getVersion(
            node.engine, key.getBytes(), io.basalt.range.mvcc.Timestamp.MAX)
        .map(v -> new String(v.value()))
        .orElse(null);
  }

  private static Transaction txn(String name, int priority) {
    return Transaction.newBuilder()
        .setMeta(
            TxnMeta.newBuilder()
                .setId(ByteString.copyFromUtf8(name))
                .setAnchorKey(ByteString.copyFromUtf8("k"))
                .setPriority(priority))
        .build();
  }

  /** A transaction that writes "k" as an intent, its record PENDING. */
  private Transaction begin(String name, int priority) {
    KvResponse written = node.call(txnPut(txn(name, priority), "k", "v"));
    assertThat(written.hasError()).as("%s", written).isFalse();
    return written.getHeader().getTxn();
  }

  private KvRequest txnPut(Transaction txn, String key, String value) {
    return request(txn)
        .setTxnWrite(
            TxnWriteRequest.newBuilder()
                .setAnchor(true)
                .addMutations(
                    Mutation.newBuilder()
                        .setPut(
                            PutRequest.newBuilder()
                                .setKey(ByteString.copyFromUtf8(key))
                                .setValue(ByteString.copyFromUtf8(value)))))
        .build();
  }

  private KvRequest plainPut(String key, String value) {
    return request(null)
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value)))
        .build();
  }

  private KvRequest endTxn(Transaction holder) {
    return request(holder)
        .setEndTxn(
            EndTxnRequest.newBuilder().setCommit(true).addLockKeys(ByteString.copyFromUtf8("k")))
        .build();
  }

  private KvRequest.Builder request(Transaction txn) {
    RequestHeader.Builder h =
        RequestHeader.newBuilder()
            .setRangeId(2)
            .setRequestId(ByteString.copyFromUtf8("request-" + ++requests));
    if (txn != null) {
      h.setTxn(txn);
    }
    return KvRequest.newBuilder().setHeader(h);
  }
}
