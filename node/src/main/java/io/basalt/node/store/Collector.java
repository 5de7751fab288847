package io.basalt.node.store;

import io.basalt.api.RaftCommand;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.RaftNode;
import io.basalt.txn.eval.Commands;
import io.basalt.txn.hlc.HybridClock;

/**
 * What a store's leaders collect on their ranges, on a timer of ticks: dedupe records older than
 * their retention, and MVCC garbage older than the GC TTL (old versions and finished transaction
 * records; see {@link Commands#collectGarbage}). Each is a command its leader proposes; the age
 * cutoffs are measured by the node's monotonic clock ({@link AgeCutoff}), so a step of the wall
 * clock collects nothing early. On the dedupe collection's timer, a leader also aborts the
 * transaction records of its range left PENDING and unheard of for twice the expiry ({@link
 * Commands#abandonedRecordAborts}), by pushes it submits to itself as any pusher would.
 */
final class Collector {
  private final StoreOptions options;
  private final HybridClock clock;
  private final AgeCutoff dedupeCutoff;
  private final AgeCutoff gcCutoff;

  Collector(StoreOptions options, HybridClock clock) {
    this.options = options;
    this.clock = clock;
    this.dedupeCutoff =
        new AgeCutoff(options.dedupeRetentionMillis() * 1_000_000L, clock.maxOffsetNanos());
    this.gcCutoff = new AgeCutoff(options.gcTtlMillis() * 1_000_000L, clock.maxOffsetNanos());
  }

  /** At tick {@code ticks} ({@code nanos} on the monotonic clock), while the store serves. */
  void tick(long ticks, long nanos, Iterable<Replica> replicas) {
    long abandonedBefore = clock.now().wallNanos() - 2 * options.txnExpiryMillis() * 1_000_000L;
    if (ticks % options.dedupeCollectEveryTicks() == 0 && abandonedBefore > 0) {
      Timestamp before = new Timestamp(abandonedBefore, 0);
      replicas.forEach(r -> abortAbandoned(r, before));
    }
    if (options.dedupeRetentionMillis() > 0 && ticks % options.dedupeCollectEveryTicks() == 0) {
      long before = dedupeCutoff.next(nanos, clock.now().wallNanos());
      if (before > 0) {
        replicas.forEach(r -> collectDedupe(r, before));
      }
    }
    if (options.gcTtlMillis() > 0 && ticks % options.gcEveryTicks() == 0) {
      long before = gcCutoff.next(nanos, clock.now().wallNanos());
      if (before > 0) {
        Timestamp threshold = new Timestamp(before, 0);
        replicas.forEach(r -> collectGarbage(r, threshold));
      }
    }
  }

  private static boolean readyLeader(Replica r) {
    return r.isLeader && r.writtenApplied >= r.leaderReadyIndex;
  }

  /**
   * As leader, proposes deleting the dedupe records proposed before {@code beforeNanos}, unless
   * nothing was applied since the last time and no record it kept is due (an idle, possibly
   * quiesced range is left alone).
   */
  private static void collectDedupe(Replica r, long beforeNanos) {
    if (!readyLeader(r)
        || (r.sm.appliedIndex() == r.dedupeCollectedAt
            && beforeNanos <= r.sm.oldestKeptRecordNanos())) {
      return; // nothing applied since the last collection, and nothing it kept is due yet
    }
    RaftNode.ProposeResult pr =
        r.raft()
            .propose(
                RaftCommand.newBuilder()
                    .setCollectDedupeBeforeNanos(beforeNanos)
                    .build()
                    .toByteArray());
    if (pr.accepted()) {
      r.dedupeCollectedAt = pr.index();
      r.store.dirty.add(r);
    }
  }

  /** How many abandoned records one collection aborts per range at most. */
  private static final int MAX_ABANDONED = 100;

  /** As leader, submits a push that aborts each record abandoned before {@code before}. */
  private static void abortAbandoned(Replica r, Timestamp before) {
    if (!readyLeader(r)) {
      return;
    }
    for (var push : Commands.abandonedRecordAborts(r.engine, r.descriptor, before, MAX_ABANDONED)) {
      r.store.submit(push, answer -> {}); // (a record it finds changed meanwhile stays)
    }
  }

  /** As leader, proposes a garbage collection at {@code threshold} if the range has garbage. */
  private static void collectGarbage(Replica r, Timestamp threshold) {
    RaftCommand.Builder gc = RaftCommand.newBuilder();
    if (readyLeader(r)
        && Commands.collectGarbage(r.engine, r.descriptor, threshold, gc)
        && r.raft().propose(gc.build().toByteArray()).accepted()) {
      r.store.dirty.add(r);
    }
  }
}
