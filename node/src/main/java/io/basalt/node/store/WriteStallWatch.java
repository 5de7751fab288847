package io.basalt.node.store;

import io.basalt.range.storage.StorageException;

/**
 * Stops a store whose disk stalls. A disk that does not finish a write stalls every range of the
 * node while its heartbeats still go out and keep its leases; the node must give its ranges up
 * instead (it stops, and other nodes take over). A batch in flight longer than its allowance (5 s,
 * plus 50 ns a byte for a large write such as an installed snapshot: a disk writes at least 20
 * MB/s) counts as stalled, counted from when its turn came: the writer writes batches one after
 * another, so a batch handed over while a large one was being written waits for it, and that wait
 * is the large one's allowance, not its own. A gap between ticks means the whole process was
 * stalled (SIGSTOP, a long pause), its writer with it: the writes' age then says nothing about the
 * disk, and the watch counts from the end of the gap.
 */
final class WriteStallWatch {
  /** A batch in flight longer than this (plus its size allowance) stops the store. */
  static final long WRITE_STALL_NANOS = 5_000_000_000L;

  /** What a write's allowance grows by per byte. */
  static final long STALL_NANOS_PER_BYTE = 50;

  /** A gap this long between ticks means the process itself was stalled. */
  static final long STALL_GAP_NANOS = 1_000_000_000L;

  private long lastTickNanos = Long.MIN_VALUE / 2;
  private long countFrom = Long.MIN_VALUE / 2;

  /**
   * Checks, at a tick at {@code now}, the oldest batch in flight: handed over at {@code
   * handedOverNanos}, {@code bytes} long (pass {@code now} and 0 when none is in flight).
   *
   * @throws StorageException if it has been in flight longer than its allowance
   */
  void check(long now, long handedOverNanos, long bytes) {
    // (countFrom: the end of the last gap, or when the batch before this one was written)
    if (now - lastTickNanos > STALL_GAP_NANOS) {
      countFrom = now;
    }
    lastTickNanos = now;
    long allowance = WRITE_STALL_NANOS + bytes * STALL_NANOS_PER_BYTE;
    if (now - Math.max(handedOverNanos, countFrom) > allowance) {
      throw new StorageException(
          "a write has not completed in "
              + (now - handedOverNanos) / 1_000_000
              + " ms: the disk is stalled");
    }
  }

  /** The oldest batch in flight was written at {@code now}: the next one's turn begins. */
  void written(long now) {
    countFrom = Math.max(countFrom, now);
  }
}
