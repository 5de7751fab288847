package io.basalt.node.store;

import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.eval.Commands;
import io.basalt.txn.eval.PlantedEvalBug;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Deliberate bugs for the store simulation's teeth tests, planted from test code through the
 * package-private {@link StoreRules} seam: each must make the whole-cluster simulation fail.
 * Production code has no way to select them.
 */
enum PlantedStoreBug {
  /** Any replica serves reads from its own state, without ReadIndex or a lease. */
  LOCAL_READS_WITHOUT_READ_INDEX,
  /** A write is acknowledged when proposed instead of when applied. */
  ACK_BEFORE_COMMIT,
  /**
   * A snapshot is installed without its user data: the range's old versions are deleted and its
   * local state (applied index, request-id records) written, but none of the snapshot's MVCC
   * versions. The replica applies later entries normally, on top of missing data.
   */
  SNAPSHOT_WITHOUT_DATA,
  /**
   * A leader keeps the latches of proposals of earlier terms that can no longer commit (neither
   * released once an entry of a later term is applied nor when a new entry takes their index).
   */
  KEEP_LOST_PROPOSALS,
  /**
   * A new leader answers NotLeader ("not applied") at once to the proposals its own log does not
   * hold, before its no-op commits: another replica that still holds such an entry can be elected
   * and commit it.
   */
  ANSWER_LOST_PROPOSALS_ON_ELECTION,
  /**
   * An applied proposal's latches are released when its writes are staged, not once they are in the
   * engine: with asynchronous writes, a write to the same key evaluates against stale state.
   */
  RELEASE_LATCHES_BEFORE_WRITE,
  /**
   * A leader marks a write first in the log although a proposal of its request id is in flight:
   * replicas skip their dedupe lookup, and a duplicate is applied twice.
   */
  FIRST_IN_LOG_DESPITE_PROPOSAL_IN_FLIGHT,
  /**
   * A new leader evaluates writes before it has applied the entries of earlier terms: it misses
   * their dedupe records (and marks a retry first in the log) and reads state they change.
   */
  EVALUATE_BEFORE_LEADER_READY,
  /**
   * A new leader's timestamp cache starts at its own clock, not the max offset above it: a read its
   * predecessor recorded at a timestamp from a faster clock is forgotten, and a write lands beneath
   * it.
   */
  NO_LOW_WATER_AFTER_LEADER_CHANGE,
  /**
   * A leader records reads above its own physical clock at once instead of holding them until its
   * clock reaches them: its successor's low-water mark no longer bounds them.
   */
  RECORD_FUTURE_READS,
  /**
   * A leader answers a write applied above its clock at once (no commit wait): a transaction that
   * begins after the answer on a node whose clock is behind reads below the write and misses it.
   */
  NO_COMMIT_WAIT,
  /**
   * A message for a replica id below the range's tombstone creates the replica again: an empty one
   * under an id whose vote and log were destroyed.
   */
  NO_TOMBSTONE_CHECK,
  /**
   * A removed replica is destroyed as soon as the batch that applied its removal is written, though
   * a later round's batch holding its Raft state may still be on its way: that state comes back
   * under the range's keys.
   */
  DESTROY_WHILE_WRITING,
  /**
   * A command's keys are not checked against the range's span when it is applied: a write evaluated
   * before a split and proposed after it lands in keys the new range owns, behind the back of the
   * new range's leader.
   */
  NO_SPAN_CHECK_AT_APPLY,
  /**
   * A merge is proposed as soon as the right-hand range's leader applied the freeze, without
   * waiting for every replica of it ({@link RangeMerge}, as the simulation's merges run it): a node
   * whose replica of the right-hand range lags absorbs it before it froze.
   */
  MERGE_BEFORE_FREEZE,
  /** {@link PlantedEvalBug#READS_IGNORE_INTENTS}. */
  READS_IGNORE_INTENTS,
  /** {@link PlantedEvalBug#NO_UNCERTAINTY_CHECK}. */
  NO_UNCERTAINTY_CHECK,
  /** {@link PlantedEvalBug#NO_TIMESTAMP_CACHE}. */
  NO_TIMESTAMP_CACHE,
  /** {@link PlantedEvalBug#COMMIT_WITHOUT_REFRESH}. */
  COMMIT_WITHOUT_REFRESH,
  /** {@link PlantedEvalBug#RECOVERY_WITHOUT_PREVENTION}. */
  RECOVERY_WITHOUT_PREVENTION,
  /** A replica woken from hibernation does not count the ticks it slept through. */
  WAKE_WITHOUT_SLEPT_TICKS;

  /** The evaluation bugs among {@code bugs}. */
  static Set<PlantedEvalBug> evalBugs(Set<PlantedStoreBug> bugs) {
    Set<PlantedEvalBug> out = EnumSet.noneOf(PlantedEvalBug.class);
    for (PlantedStoreBug b : bugs) {
      for (PlantedEvalBug e : PlantedEvalBug.values()) {
        if (e.name().equals(b.name())) {
          out.add(e);
        }
      }
    }
    return out;
  }

  /**
   * Plants {@code bugs} in a store of a scripted harness, whose clocks move only when the script
   * moves them while it expects answers as soon as their entries apply: without commit wait, which
   * would hold a new leader's first answers until its clock passes the max offset ({@code
   * ClockWaitsTest} and the simulations keep it).
   */
  static void plantScripted(Store store, Set<PlantedStoreBug> bugs) {
    Set<PlantedStoreBug> all = EnumSet.of(NO_COMMIT_WAIT);
    all.addAll(bugs);
    plant(store, all);
  }

  /** Plants {@code bugs} in {@code store} (none: the correct rules). */
  static void plant(Store store, Set<PlantedStoreBug> bugs) {
    store.testOnlyRules(rules(bugs));
  }

  static StoreRules rules(Set<PlantedStoreBug> bugs) {
    return bugs.isEmpty() ? StoreRules.CORRECT : new Broken(EnumSet.copyOf(bugs));
  }

  private record Broken(Set<PlantedStoreBug> bugs) implements StoreRules {
    @Override
    public boolean readsNeedReadIndex() {
      return !bugs.contains(LOCAL_READS_WITHOUT_READ_INDEX);
    }

    @Override
    public boolean commitWait() {
      return !bugs.contains(NO_COMMIT_WAIT);
    }

    @Override
    public boolean acknowledgeWhenApplied() {
      return !bugs.contains(ACK_BEFORE_COMMIT);
    }

    @Override
    public WriteBatch snapshotDataToInstall(WriteBatch received) {
      if (!bugs.contains(SNAPSHOT_WITHOUT_DATA)) {
        return received;
      }
      WriteBatch withoutVersions = new WriteBatch();
      for (WriteBatch.Op op : received.ops()) {
        switch (op) {
          case WriteBatch.Put put when put.cf() == ColumnFamily.MVCC -> {}
          case WriteBatch.Put put -> withoutVersions.put(put.cf(), put.key(), put.value());
          case WriteBatch.Delete delete -> withoutVersions.delete(delete.cf(), delete.key());
          case WriteBatch.DeleteRange range ->
              withoutVersions.deleteRange(
                  range.cf(), range.lowerInclusive(), range.upperExclusive());
        }
      }
      return withoutVersions;
    }

    @Override
    public boolean countSleptTicks() {
      return !bugs.contains(WAKE_WITHOUT_SLEPT_TICKS);
    }

    @Override
    public boolean checkTombstones() {
      return !bugs.contains(NO_TOMBSTONE_CHECK);
    }

    @Override
    public boolean checkSpanAtApply() {
      return !bugs.contains(NO_SPAN_CHECK_AT_APPLY);
    }

    @Override
    public boolean destroyAfterLastWrite() {
      return !bugs.contains(DESTROY_WHILE_WRITING);
    }

    @Override
    public boolean releaseLostProposals() {
      return !bugs.contains(KEEP_LOST_PROPOSALS);
    }

    @Override
    public boolean holdLatchesUntilWritten() {
      return !bugs.contains(RELEASE_LATCHES_BEFORE_WRITE);
    }

    @Override
    public boolean firstInLog(boolean proposalOfRequestIdInFlight) {
      return bugs.contains(FIRST_IN_LOG_DESPITE_PROPOSAL_IN_FLIGHT)
          || StoreRules.super.firstInLog(proposalOfRequestIdInFlight);
    }

    @Override
    public boolean awaitLeaderReady() {
      return !bugs.contains(EVALUATE_BEFORE_LEADER_READY);
    }

    @Override
    public Commands.Context evaluation(Commands.Context correct) {
      return PlantedEvalBug.plant(correct, evalBugs(bugs));
    }

    @Override
    public long newLeaderLowWaterAboveClockNanos(long maxOffsetNanos) {
      return bugs.contains(NO_LOW_WATER_AFTER_LEADER_CHANGE) ? 0 : maxOffsetNanos;
    }

    @Override
    public boolean holdFutureReads() {
      return !bugs.contains(RECORD_FUTURE_READS);
    }

    /**
     * {@link #ANSWER_LOST_PROPOSALS_ON_ELECTION}: answers NotLeader to the proposals this new
     * leader's (uncommitted) log does not hold.
     */
    @Override
    public void onBecameLeader(NewLeader replica, long noOpIndex, List<Runnable> answers) {
      if (!bugs.contains(ANSWER_LOST_PROPOSALS_ON_ELECTION)) {
        return;
      }
      List<Long> lost = new ArrayList<>();
      for (long index : replica.proposalIndexes()) {
        if (index >= noOpIndex) {
          lost.add(index);
          continue;
        }
        try {
          if (replica.logTerm(index) != replica.proposalTerm(index)) {
            lost.add(index);
          }
        } catch (RuntimeException notInStorageYet) {
          // resolved when its index is applied
        }
      }
      for (long index : lost) {
        replica.answerNotLeader(index, answers);
      }
    }
  }
}
