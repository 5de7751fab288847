package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.Timestamp;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A leader records a transaction's read only once its own clock has reached the read's timestamp
 * ({@link ClockWaits}); with a new leader's timestamp cache starting a max offset above its clock
 * ({@code TimestampCache.forNewLeader}), that keeps a write from landing beneath a read its
 * predecessor recorded.
 */
class ClockWaitsTest {
  private final ManualStore node =
      new ManualStore(
          new StoreOptions(10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600, 5_000, 0, 600));
  private int requests;

  @Test
  void aReadAboveTheLeadersClockWaitsUntilTheClockReachesIt() {
    // A transaction that began on a node whose clock runs 350 ms ahead of this one.
    long readAt = node.wallNanos + 350_000_000L;
    List<KvResponse> read = node.submit(txnGet(readAt));
    node.tick();
    node.tick();
    node.tick();
    assertThat(read).as("held while the clock is below the read's timestamp").isEmpty();
    node.tick();
    assertThat(read).as("served once the clock passed it").hasSize(1);
    assertThat(read.get(0).hasError()).as("%s", read.get(0)).isFalse();

    // The read is recorded: a plain write of the key goes above it.
    KvResponse put = node.call(plainPut());
    assertThat(put.hasError()).isFalse();
    assertThat(newestVersionWall()).isGreaterThan(readAt);
  }

  @Test
  void aReadAtOrBelowTheClockIsServedAtOnce() {
    List<KvResponse> read = node.submit(txnGet(node.wallNanos - 1_000_000L));
    assertThat(read).hasSize(1);
    assertThat(read.get(0).hasError()).as("%s", read.get(0)).isFalse();
  }

  private long newestVersionWall() {
    return io.basalt.range.mvcc.MvccStore.getVersion(
            node.engine, "k".getBytes(), io.basalt.range.mvcc.Timestamp.MAX)
        .orElseThrow()
        .timestamp()
        .wallNanos();
  }

  private KvRequest txnGet(long readAtWall) {
    Timestamp at = Timestamp.newBuilder().setWallNanos(readAtWall).build();
    Transaction txn =
        Transaction.newBuilder()
            .setMeta(
                TxnMeta.newBuilder()
                    .setId(ByteString.copyFromUtf8("reader"))
                    .setAnchorKey(ByteString.copyFromUtf8("k"))
                    .setWriteTimestamp(at)
                    .setMinTimestamp(at)
                    .setPriority(1))
            .setReadTimestamp(at)
            .setUncertaintyLimit(at)
            .build();
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(2).setTxn(txn))
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("k")))
        .build();
  }

  private KvRequest plainPut() {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(2)
                .setRequestId(ByteString.copyFromUtf8("put-" + ++requests)))
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8("k"))
                .setValue(ByteString.copyFromUtf8("v")))
        .build();
  }
}
