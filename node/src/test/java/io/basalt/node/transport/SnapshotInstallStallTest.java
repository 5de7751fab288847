package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.node.store.Store;
import io.basalt.range.storage.StorageException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A store whose write does not complete within 5 s plus 50 ns a byte of it takes its disk for
 * stalled and stops (Store's tick), so that a large write (a snapshot being installed) is given the
 * time its size needs while a small one that stops is still caught at 5 s. Here the write is the
 * one that installs a snapshot a follower received over real transports on loopback ({@link
 * LinkedStores}): its disk stops completing writes from that one on, and only the follower ticks
 * (100 ms a tick) until its store gives up.
 */
class SnapshotInstallStallTest {
  private static final long WRITE_STALL_NANOS = 5_000_000_000L;
  private static final long STALL_NANOS_PER_BYTE = 50;

  private LinkedStores cluster;

  @BeforeEach
  void start() throws Exception {
    cluster = new LinkedStores();
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  @Test
  void aLargeSnapshotsInstallIsGivenTimeForItsSizeAndStillCaughtWhenItStops() throws Exception {
    long bytes = stopTheDiskAtTheInstallOf(128, 128 * 1024);
    long allowance = WRITE_STALL_NANOS + bytes * STALL_NANOS_PER_BYTE;
    assertThat(allowance - WRITE_STALL_NANOS)
        .as("the extra time the write's size earns (it must span a few ticks to be seen)")
        .isGreaterThan(5 * LinkedStores.TICK_NANOS);
    assertThat(tickUntilTheStoreStops())
        .as("how long the install went unwritten before the store stopped")
        .isGreaterThan(allowance)
        .isLessThanOrEqualTo(allowance + LinkedStores.TICK_NANOS);
  }

  @Test
  void aSmallSnapshotsInstallThatStopsIsCaughtAtFiveSeconds() throws Exception {
    long bytes = stopTheDiskAtTheInstallOf(40, 100);
    assertThat(bytes * STALL_NANOS_PER_BYTE)
        .as("the extra time a small write earns")
        .isLessThan(LinkedStores.TICK_NANOS);
    assertThat(tickUntilTheStoreStops())
        .as("how long the install went unwritten before the store stopped")
        .isGreaterThan(WRITE_STALL_NANOS)
        .isLessThanOrEqualTo(WRITE_STALL_NANOS + LinkedStores.TICK_NANOS);
  }

  /**
   * Node 1 leads; node 2, cut off, misses {@code values} writes of {@code valueBytes} each; when
   * the link is back node 1 sends it a snapshot, and node 2's disk stops completing writes from the
   * one that installs it. Returns that write's size in bytes.
   */
  private long stopTheDiskAtTheInstallOf(int values, int valueBytes) throws Exception {
    cluster.pingLinkOneTwo = false;
    cluster.link.cut();
    cluster.awaitDisconnected(1, 2);
    cluster.elect(1);
    cluster.write(1, values, valueBytes);
    LinkedStores.HoldingPersister disk = cluster.persisters[2];
    disk.holdTheNextInstall();
    cluster.link.restore();
    cluster.awaitConnected(1, 2);
    cluster.pingLinkOneTwo = true;
    for (int t = 0; t < 50 && !disk.holding(); t++) {
      cluster.tickAll();
    }
    assertThat(disk.holding()).as("node 2 received a snapshot within 50 ticks").isTrue();
    assertThat(disk.heldBytes)
        .as("the held write carries the snapshot's data")
        .isGreaterThanOrEqualTo((long) values * valueBytes);
    return disk.heldBytes;
  }

  /**
   * Ticks node 2 alone, checking at each tick that its store stops exactly when the held write has
   * waited longer than its allowance; returns how long it had waited then.
   */
  private long tickUntilTheStoreStops() throws Exception {
    LinkedStores.HoldingPersister disk = cluster.persisters[2];
    long allowance = WRITE_STALL_NANOS + disk.heldBytes * STALL_NANOS_PER_BYTE;
    Store store = cluster.stores[2];
    for (int t = 0; t < 200; t++) {
      long waited = cluster.nanos[2].addAndGet(LinkedStores.TICK_NANOS) - disk.heldSinceNanos;
      if (waited <= allowance) {
        assertThatCode(() -> cluster.onStore(2, () -> tickAndProcess(store)))
            .as("node 2's store after its write waited %d ms", waited / 1_000_000)
            .doesNotThrowAnyException();
      } else {
        assertThatThrownBy(() -> cluster.onStore(2, () -> tickAndProcess(store)))
            .as("node 2's store after its write waited %d ms", waited / 1_000_000)
            .isInstanceOf(StorageException.class)
            .hasMessageContaining("the disk is stalled");
        return waited;
      }
    }
    throw new AssertionError("the store did not stop within 200 ticks");
  }

  private static Void tickAndProcess(Store store) {
    store.tick();
    store.process();
    return null;
  }
}
