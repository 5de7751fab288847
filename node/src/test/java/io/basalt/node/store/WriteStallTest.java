package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.StorageException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;

/**
 * With asynchronous writes a stalled disk no longer stops the store's thread: heartbeats would go
 * on and keep the leases while no write completes. A batch in flight for longer than {@link
 * WriteStallWatch#WRITE_STALL_NANOS} stops the store, so that other nodes take over its ranges.
 */
class WriteStallTest {
  /**
   * A small batch handed over while a large one (a snapshot's install) was being written waits for
   * it: its allowance counts from when the large one was written, not from its hand-over (CI once
   * stopped a node whose next batch had waited out most of a snapshot install). The control: the
   * same wait counted from the hand-over is taken for a stalled disk.
   */
  @Test
  void aBatchQueuedBehindALargeOneIsTimedFromItsTurn() {
    long tick = 100_000_000L;
    long large = 200L << 20; // allowance 5 s + about 10.5 s
    long doneAt = 14_000_000_000L;
    WriteStallWatch watch = new WriteStallWatch();
    WriteStallWatch control = new WriteStallWatch();
    long t = 0;
    for (; t <= doneAt; t += tick) {
      watch.check(t, 0, large);
      control.check(t, 0, large);
    }
    watch.written(doneAt);
    long smallHandedOver = tick;
    for (; t <= doneAt + 4_900_000_000L; t += tick) {
      watch.check(t, smallHandedOver, 100);
    }
    long late = t + 200_000_000L;
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> watch.check(late, smallHandedOver, 100))
        .as("more than 5 s after its turn came: stalled")
        .isInstanceOf(io.basalt.range.storage.StorageException.class);
    long justAfter = doneAt + tick;
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> control.check(justAfter, smallHandedOver, 100))
        .as("control: timed from its hand-over, it counts as stalled at once")
        .isInstanceOf(io.basalt.range.storage.StorageException.class);
  }

  @Test
  void aWriteThatDoesNotCompleteStopsTheStore() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    List<LongConsumer> neverReported = new ArrayList<>();
    Store store = storeWhoseWritesNeverComplete(now, neverReported);
    for (int i = 0; i < 40 && neverReported.isEmpty(); i++) {
      store.tick();
      store.process();
    }
    org.assertj.core.api.Assertions.assertThat(neverReported)
        .as("a batch is in flight")
        .isNotEmpty();
    // The process runs on (a tick every 100 ms) while the write does not complete.
    for (int i = 0; i < 48; i++) {
      now.addAndGet(100_000_000L);
      assertThatCode(store::tick).as("not yet").doesNotThrowAnyException();
    }
    now.addAndGet(100_000_000L);
    store.tick();
    now.addAndGet(100_000_000L);
    store.tick();
    now.addAndGet(100_000_000L);
    assertThatThrownBy(store::tick)
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("disk is stalled");
  }

  /**
   * A process that was stopped (SIGSTOP) stopped its writer too: on resuming, the time it was
   * stopped does not count against the disk.
   */
  @Test
  void aStalledProcessIsNotTakenForAStalledDisk() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    List<LongConsumer> neverReported = new ArrayList<>();
    Store store = storeWhoseWritesNeverComplete(now, neverReported);
    for (int i = 0; i < 40 && neverReported.isEmpty(); i++) {
      now.addAndGet(100_000_000L);
      store.tick();
      store.process();
    }
    org.assertj.core.api.Assertions.assertThat(neverReported).isNotEmpty();
    now.addAndGet(60_000_000_000L); // stopped for a minute
    for (int i = 0; i < 10; i++) {
      assertThatCode(store::tick).doesNotThrowAnyException(); // the catch-up ticks
    }
  }

  /** A one-range store on the clock {@code now}; its writes are handed to {@code neverReported}. */
  private static Store storeWhoseWritesNeverComplete(
      AtomicLong now, List<LongConsumer> neverReported) {
    Store store = TestStores.isolated(1, new MemEngine(), now::get);
    store.setPersister((batch, sync, written) -> neverReported.add(written));
    TestStores.bootstrapAlone(
        store,
        List.of(
            TestStores.soloRange(1, ByteString.EMPTY, ByteString.copyFrom(KeySpace.USER_START))));
    return store;
  }
}
