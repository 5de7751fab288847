package io.basalt.range.raft;

import java.util.ArrayDeque;

/**
 * The append messages sent to one follower in replicate state and not yet acknowledged: a bounded
 * window (by count and by bytes) that provides flow control for pipelining.
 */
final class Inflights {
  private final int maxCount;
  private final long maxBytes;
  private final ArrayDeque<long[]> window = new ArrayDeque<>(); // {last index, bytes}
  private long bytes;

  Inflights(int maxCount, long maxBytes) {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  void add(long lastIndex, long size) {
    window.addLast(new long[] {lastIndex, size});
    bytes += size;
  }

  /** Frees every message whose last index is at most {@code index}. */
  void freeLE(long index) {
    while (!window.isEmpty() && window.peekFirst()[0] <= index) {
      bytes -= window.pollFirst()[1];
    }
  }

  void freeFirstOne() {
    if (!window.isEmpty()) {
      bytes -= window.pollFirst()[1];
    }
  }

  boolean full() {
    return window.size() >= maxCount || (maxBytes > 0 && bytes >= maxBytes);
  }

  int count() {
    return window.size();
  }

  void reset() {
    window.clear();
    bytes = 0;
  }
}
