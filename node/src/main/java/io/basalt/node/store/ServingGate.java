package io.basalt.node.store;

import io.basalt.txn.hlc.HybridClock;

/**
 * Whether a store serves clients: not while its node says so (its clock offset to the cluster is
 * beyond the maximum, say), nor while its clock is behind the bound its data was written under
 * before a restart (a node whose clock was stepped back would otherwise write versions below ones
 * it already holds; it serves again once its clock passes the bound).
 */
final class ServingGate {
  private final HybridClock clock;
  private String notServingReason;

  /** The clock bound found at start (wall nanos), until the physical clock passes it; else 0. */
  private long clockBoundAtStart;

  ServingGate(HybridClock clock) {
    this.clock = clock;
  }

  /** Stops (reason non-null) or resumes (null) serving. */
  void setNotServing(String reason) {
    notServingReason = reason;
  }

  /** The clock bound the store's data was written under, read at start (0: none). */
  void setClockBoundAtStart(long wallNanos) {
    clockBoundAtStart = wallNanos;
  }

  /** Why the store must not serve clients now, or null. */
  String refusal() {
    if (notServingReason != null) {
      return notServingReason;
    }
    if (clockBoundAtStart != 0) {
      long behind = clockBoundAtStart - clock.physicalNanos();
      if (behind < 0) {
        clockBoundAtStart = 0;
      } else {
        return "this node's clock is "
            + behind / 1_000_000
            + " ms behind a time its data may already hold (it restarted with its clock stepped"
            + " back); it serves once its clock passes that time";
      }
    }
    return null;
  }
}
