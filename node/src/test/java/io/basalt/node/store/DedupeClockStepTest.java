package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RequestHeader;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Dedupe records are kept for the retention as the node's monotonic clock measures it: a forward
 * step of the wall clock by more than the retention must not collect fresh records (a retried
 * request id would be evaluated again), while records that really are that old are collected.
 */
class DedupeClockStepTest {
  private static final long RETENTION_MS = 60_000;
  private long wallNanos = 1_700_000_000_000_000_000L;
  private long monotonicNanos = 5_000_000_000L;

  @Test
  void aForwardStepOfTheWallClockDoesNotCollectFreshRecords() {
    Store store = leaderAlone();
    assertThat(casAbsent(store, "c1", "v1")).as("the first CAS succeeds").isTrue();
    advance(2_000, 2_000);
    wallNanos += (RETENTION_MS + 60_000) * 1_000_000L; // the wall clock jumps ahead
    advance(3_000, 3_000);
    assertThat(casAbsent(store, "c1", "v1"))
        .as("the retried CAS is answered from its record, not evaluated again")
        .isTrue();
  }

  @Test
  void recordsOlderThanTheRetentionAreCollected() {
    // The control: the same retry after the retention really passed is evaluated again (and
    // fails: the key now holds v1), so the test above can see a collection.
    Store store = leaderAlone();
    assertThat(casAbsent(store, "c1", "v1")).isTrue();
    advance(RETENTION_MS + 5_000, RETENTION_MS + 5_000);
    assertThat(casAbsent(store, "c1", "v1")).as("the record was collected").isFalse();
  }

  private Store leaderAlone() {
    Store store =
        new Store(
            1,
            new MemEngine(),
            new HybridClock(() -> wallNanos, 500_000_000L),
            TestStores.NO_NETWORK,
            // 100 ms ticks; records kept a minute, collection considered every second.
            new StoreOptions(
                10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, RETENTION_MS, 10, 5_000, 0, 600, false),
            new SplittableRandom(1),
            StoreListener.NONE,
            () -> monotonicNanos);
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    this.store = store;
    advance(3_000, 3_000);
    return store;
  }

  /** Moves both clocks, ticking every 100 ms of monotonic time. */
  private void advance(long monotonicMs, long wallMs) {
    for (long t = 0; t < monotonicMs / 100; t++) {
      monotonicNanos += 100_000_000L;
      wallNanos += wallMs * 1_000_000L / (monotonicMs / 100);
      store().tick();
      store().process();
    }
  }

  private Store store;

  private Store store() {
    return store;
  }

  /** A compare-and-set of "k" from absent to {@code value}; returns whether it succeeded. */
  private boolean casAbsent(Store store, String requestId, String value) {
    List<KvResponse> answers = new ArrayList<>();
    store.submit(
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(2)
                    .setRequestId(ByteString.copyFromUtf8(requestId)))
            .setConditionalPut(
                ConditionalPutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("k"))
                    .setValue(ByteString.copyFromUtf8(value))
                    .setExpectAbsent(true))
            .build(),
        answers::add);
    for (int i = 0; i < 20 && answers.isEmpty(); i++) {
      store.process();
      monotonicNanos += 100_000_000L;
      wallNanos += 100_000_000L;
      store.tick();
    }
    assertThat(answers).hasSize(1);
    assertThat(answers.get(0).hasError()).as("%s", answers.get(0)).isFalse();
    return answers.get(0).getConditionalPut().getSucceeded();
  }
}
