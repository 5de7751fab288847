package io.basalt.node.store;

import io.basalt.txn.eval.Commands;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;

/**
 * A leader's requests that would record reads in its timestamp cache above its own physical clock
 * (a transaction that began on a node whose clock runs ahead), held until the clock reaches them:
 * so a leader records reads only at or below its clock when they arrive, which is what bounds its
 * successors' low-water mark ({@link io.basalt.txn.tscache.TimestampCache#forNewLeader}). The wait
 * is at most the clocks' offset; a held request still ends at its deadline.
 */
final class ClockWaits {
  private final ArrayDeque<Pending> reads = new ArrayDeque<>();

  /** Holds {@code p} if it would record a read above {@code physicalNanos}; whether it did. */
  boolean holdIfAhead(Pending p, long physicalNanos) {
    if (Commands.readsRecordedUpTo(p.request) <= physicalNanos) {
      return false;
    }
    reads.add(p);
    return true;
  }

  /**
   * Hands back to {@code handle} the held requests the clock has reached (drops those answered
   * meanwhile, at their deadline).
   */
  void release(long physicalNanos, Consumer<Pending> handle) {
    if (reads.isEmpty()) {
      return;
    }
    List<Pending> due = new ArrayList<>();
    for (Iterator<Pending> it = reads.iterator(); it.hasNext(); ) {
      Pending p = it.next();
      if (p.done) {
        it.remove();
      } else if (Commands.readsRecordedUpTo(p.request) <= physicalNanos) {
        it.remove();
        due.add(p);
      }
    }
    due.forEach(handle);
  }
}
