package io.basalt.txn.hlc;

import io.basalt.range.mvcc.Timestamp;
import java.util.Objects;

/**
 * A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014; DESIGN.md decision 5).
 * Its readings are {@link Timestamp}s that
 *
 * <ul>
 *   <li>never go backwards, even when the physical clock does (an NTP step, a VM migration);
 *   <li>move past every timestamp this node has received ({@link #update}), so causality is
 *       ordered: an event that saw another's timestamp gets a larger one;
 *   <li>stay close to physical time: the wall component is the largest physical reading seen, here
 *       or in a message, and the logical component only orders events within one wall value.
 * </ul>
 *
 * <p>A received timestamp more than {@code maxOffsetNanos} ahead of our physical clock is refused
 * with {@link ClockOffsetException} instead of being adopted: adopting it would push this node's
 * clock, and every reading after it, past what the rest of the cluster can trust (the bound that
 * uncertainty intervals and leases rely on).
 *
 * <p>Thread-safe.
 */
public final class HybridClock {
  private final Clock physical;
  private final long maxOffsetNanos;
  private long wallNanos;
  private int logical;

  public HybridClock(Clock physical, long maxOffsetNanos) {
    this.physical = Objects.requireNonNull(physical, "physical");
    if (maxOffsetNanos <= 0) {
      throw new IllegalArgumentException("maxOffsetNanos must be positive, got " + maxOffsetNanos);
    }
    this.maxOffsetNanos = maxOffsetNanos;
  }

  public long maxOffsetNanos() {
    return maxOffsetNanos;
  }

  /** The physical clock's reading, without touching the hybrid clock. */
  public long physicalNanos() {
    return physical.wallNanos();
  }

  /** A new reading, greater than every reading and every accepted update before it. */
  public synchronized Timestamp now() {
    long pt = physical.wallNanos();
    if (pt > wallNanos) {
      wallNanos = pt;
      logical = 0;
    } else {
      advanceLogical();
    }
    return new Timestamp(wallNanos, logical);
  }

  /**
   * Takes in a timestamp received from another node, so that every later reading is above it.
   *
   * @throws ClockOffsetException if {@code remote} is more than the maximum offset ahead of our
   *     physical clock; the clock is left unchanged
   */
  public synchronized Timestamp update(Timestamp remote) {
    long pt = physical.wallNanos();
    if (remote.wallNanos() - pt > maxOffsetNanos) {
      throw new ClockOffsetException(
          "remote timestamp "
              + remote
              + " is "
              + (remote.wallNanos() - pt) / 1_000_000
              + " ms ahead of the local clock; the maximum offset is "
              + maxOffsetNanos / 1_000_000
              + " ms");
    }
    long previousWall = wallNanos;
    wallNanos = Math.max(Math.max(previousWall, remote.wallNanos()), pt);
    if (wallNanos == previousWall && wallNanos == remote.wallNanos()) {
      logical = Math.max(logical, remote.logical());
      advanceLogical();
    } else if (wallNanos == previousWall) {
      advanceLogical();
    } else if (wallNanos == remote.wallNanos()) {
      logical = remote.logical();
      advanceLogical();
    } else {
      logical = 0;
    }
    return new Timestamp(wallNanos, logical);
  }

  private void advanceLogical() {
    if (logical == Integer.MAX_VALUE) {
      // 2^31 events within one nanosecond cannot happen in practice; move the wall forward
      // rather than wrap, which keeps readings monotonic.
      wallNanos++;
      logical = 0;
    } else {
      logical++;
    }
  }
}
