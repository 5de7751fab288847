package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
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
 * Store#WRITE_STALL_NANOS} stops the store, so that other nodes take over its ranges.
 */
class WriteStallTest {
  @Test
  void aWriteThatDoesNotCompleteStopsTheStore() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    Store store = TestStores.isolated(1, new MemEngine(), now::get);
    List<LongConsumer> neverReported = new ArrayList<>();
    store.setPersister((batch, sync, written) -> neverReported.add(written));
    bootstrapOneRange(store);
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
    Store store = TestStores.isolated(1, new MemEngine(), now::get);
    List<LongConsumer> neverReported = new ArrayList<>();
    store.setPersister((batch, sync, written) -> neverReported.add(written));
    bootstrapOneRange(store);
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

  private static void bootstrapOneRange(Store store) {
    RangeDescriptor range =
        RangeDescriptor.newBuilder()
            .setRangeId(1)
            .setGeneration(1)
            .setStartKey(ByteString.EMPTY)
            .setEndKey(ByteString.copyFrom(KeySpace.USER_START))
            .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(1).setReplicaId(1))
            .build();
    store.bootstrap(
        "c",
        List.of(range),
        List.of(NodeDescriptor.newBuilder().setNodeId(1).setAddress("a").build()));
  }
}
