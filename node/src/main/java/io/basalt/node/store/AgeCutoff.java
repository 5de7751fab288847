package io.basalt.node.store;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The time before which a store's leaders may collect what is older than a retention (dedupe
 * records, MVCC versions): the HLC reading this node took at least the retention ago, as its
 * monotonic clock measures it, less the maximum clock offset (for what other leaders stamped). A
 * step of the wall clock moves later readings only, never the ones the cutoff is taken from, so a
 * forward step cannot make fresh data look old; a node that just started has no reading that old
 * and collects nothing until it has one. (A whole-VM pause that stops the monotonic clock only
 * delays collection.)
 */
final class AgeCutoff {
  private final long retentionNanos;
  private final long maxOffsetNanos;

  /**
   * Clock readings (monotonic nanos, HLC wall nanos) taken at each collection tick, oldest first;
   * only the latest one old enough is kept of those past the retention.
   */
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  AgeCutoff(long retentionNanos, long maxOffsetNanos) {
    this.retentionNanos = retentionNanos;
    this.maxOffsetNanos = maxOffsetNanos;
  }

  /**
   * Records a reading taken now ({@code monotonicNanos}, {@code hlcWallNanos}) and returns the
   * cutoff, or 0 if no reading is old enough yet.
   */
  long next(long monotonicNanos, long hlcWallNanos) {
    samples.addLast(new long[] {monotonicNanos, hlcWallNanos});
    while (samples.size() > 1) {
      Iterator<long[]> it = samples.iterator();
      it.next();
      if (monotonicNanos - it.next()[0] < retentionNanos) {
        break;
      }
      samples.removeFirst(); // the next one is old enough as well, and later
    }
    long[] oldest = samples.peekFirst();
    if (monotonicNanos - oldest[0] < retentionNanos) {
      return 0;
    }
    return Math.max(0, oldest[1] - maxOffsetNanos);
  }
}
