package io.basalt.node.store;

import io.basalt.api.KvResponse;
import io.basalt.txn.eval.Commands;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;

/**
 * What a leader holds until its physical clock reaches a timestamp (at most the clocks' offset; a
 * held request still ends at its deadline):
 *
 * <ul>
 *   <li>Requests that would record reads in its timestamp cache above its clock (a transaction that
 *       began on a node whose clock runs ahead): so a leader records reads only at or below its
 *       clock when they arrive, which is what bounds its successors' low-water mark ({@link
 *       io.basalt.txn.tscache.TimestampCache#forNewLeader}).
 *   <li>Answers to writes applied at a timestamp above its clock (in the first max offset after an
 *       election its writes land above that mark): answered once the clock has passed it (commit
 *       wait), so that a transaction that begins after the answer, on any node, has the write below
 *       its read timestamp or within its uncertainty interval.
 * </ul>
 */
final class ClockWaits {
  private record HeldAnswer(Pending pending, KvResponse answer, long untilNanos) {}

  private final ArrayDeque<Pending> reads = new ArrayDeque<>();
  private final ArrayDeque<HeldAnswer> answers = new ArrayDeque<>();

  /**
   * The highest wall time any command the replica applied writes at, raised to the clock plus the
   * max offset when a snapshot replaces its data: an answer read from a dedupe record is held until
   * the clock passes it.
   */
  private long appliedUpTo;

  /** Whether nothing waits for the clock here. */
  boolean isEmpty() {
    return reads.isEmpty() && answers.isEmpty();
  }

  /** Notes that the replica applied writes at wall times up to {@code upToNanos}. */
  void applied(long upToNanos) {
    appliedUpTo = Math.max(appliedUpTo, upToNanos);
  }

  long appliedUpTo() {
    return appliedUpTo;
  }

  /** Holds {@code p} if it would record a read above {@code physicalNanos}; whether it did. */
  boolean holdIfAhead(Pending p, long physicalNanos) {
    if (Commands.readsRecordedUpTo(p.request) <= physicalNanos) {
      return false;
    }
    reads.add(p);
    return true;
  }

  /** Answers {@code p} now if {@code untilNanos} is not above {@code physicalNanos}, else later. */
  void answer(Pending p, KvResponse answer, long untilNanos, long physicalNanos) {
    if (untilNanos <= physicalNanos || answer.hasError()) {
      p.reply(answer);
    } else {
      answers.add(new HeldAnswer(p, answer, untilNanos));
    }
  }

  /**
   * This replica was absorbed by a merge into the one {@code into} holds: its held answers move
   * there (their writes stand, and the same clock still has to pass them), and so does its highest
   * write time; its held requests, which name a range that is gone, are answered {@code gone}
   * (their clients retry).
   */
  void handOver(ClockWaits into, KvResponse gone) {
    into.answers.addAll(answers);
    answers.clear();
    into.applied(appliedUpTo);
    reads.forEach(p -> p.reply(gone));
    reads.clear();
  }

  /**
   * Sends the held answers the clock has passed, and hands back to {@code handle} the held requests
   * it has reached (drops those answered meanwhile, at their deadline).
   */
  void release(long physicalNanos, Consumer<Pending> handle) {
    for (Iterator<HeldAnswer> it = answers.iterator(); it.hasNext(); ) {
      HeldAnswer a = it.next();
      if (a.untilNanos <= physicalNanos) {
        it.remove();
        a.pending.reply(a.answer); // (nothing if its deadline answered it)
      }
    }
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

  /**
   * Takes the timestamps of a follower's applied plain writes into its clock (a transaction's are
   * left out: see the comment inside).
   */
  static void observe(io.basalt.txn.hlc.HybridClock clock, io.basalt.api.RaftCommand command) {
    if (command.getIntentsCount() > 0
        || command.getClearedIntentsCount() > 0
        || command.getTxnRecordsCount() > 0) {
      // A transaction's timestamps may run ahead of every clock (a reader pushed it): taking one
      // in would carry this node's clock past what its peers accept. Versions stay ordered
      // without it (a plain write goes above the newest version of its key).
      return;
    }
    try {
      for (io.basalt.api.ReplicatedWrite w : command.getWritesList()) {
        clock.update(io.basalt.range.mvcc.Timestamp.fromProto(w.getTimestamp()));
      }
    } catch (RuntimeException e) {
      // A timestamp ahead of our clock by more than the maximum offset is the offset monitor's
      // business, not apply's.
    }
  }
}
