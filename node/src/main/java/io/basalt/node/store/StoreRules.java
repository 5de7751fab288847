package io.basalt.node.store;

import io.basalt.range.storage.WriteBatch;
import java.util.List;

/**
 * The decisions on which a store's answers rest, gathered at one seam. A store always asks these
 * methods, and production always uses {@link #CORRECT}, whose answers are the right ones. The seam
 * is package-private: only tests in this package can substitute deliberately broken rules, to prove
 * that the store simulation catches them (see the test-side {@code PlantedStoreBug}). There is no
 * configuration switch that breaks a store.
 */
interface StoreRules {
  /** The right rules. Stateless; one instance for every store. */
  StoreRules CORRECT = new StoreRules() {};

  /**
   * Whether a read waits for ReadIndex on the leader. Always: a replica's own state may lag what
   * was acknowledged.
   */
  default boolean readsNeedReadIndex() {
    return true;
  }

  /**
   * Whether a replica woken from hibernation counts the ticks it slept through. Always: its lease
   * is counted in its own ticks, and uncounted ones would make old acknowledgements look recent.
   */
  default boolean countSleptTicks() {
    return true;
  }

  /**
   * Whether a write is acknowledged only once its entry is applied. Always, never when proposed.
   */
  default boolean acknowledgeWhenApplied() {
    return true;
  }

  /**
   * What of a received snapshot's data is written with its Raft state: all of it, always (the
   * deletion of the range's old data and every record of the snapshot).
   */
  default WriteBatch snapshotDataToInstall(WriteBatch received) {
    return received;
  }

  /**
   * Whether a leader answers and releases the latches of proposals of earlier terms that can no
   * longer commit (once an entry of a later term is applied, or a new entry takes their index).
   */
  default boolean releaseLostProposals() {
    return true;
  }

  /**
   * Whether an applied proposal's latches are held until the batch holding its writes is in the
   * engine. Always: a write to the same key evaluated before would read the state before them.
   */
  default boolean holdLatchesUntilWritten() {
    return true;
  }

  /**
   * Whether a leader may mark a write first in the log (replicas then skip their dedupe lookup):
   * only if no proposal of its request id is in flight.
   */
  default boolean firstInLog(boolean proposalOfRequestIdInFlight) {
    return !proposalOfRequestIdInFlight;
  }

  /**
   * Whether a new leader waits to evaluate writes until it has applied the entries of earlier terms
   * (their dedupe records, and the state they change). Always.
   */
  default boolean awaitLeaderReady() {
    return true;
  }

  /**
   * How far above its own physical clock a new leader puts its timestamp cache's low-water mark:
   * the maximum clock offset, always (reads its predecessors recorded may lie that far above its
   * clock; see {@code TimestampCache.forNewLeader}).
   */
  default long newLeaderLowWaterAboveClockNanos(long maxOffsetNanos) {
    return maxOffsetNanos;
  }

  /**
   * Whether a leader answers a write only once its physical clock has passed the timestamps it
   * wrote at (commit wait). Always: after an election a leader's writes land up to the max offset
   * above its clock, and a transaction that begins after such an answer on a node whose clock is
   * behind would otherwise read below the write and miss it.
   */
  default boolean commitWait() {
    return true;
  }

  /**
   * Whether a leader holds back a request that would record a read above its physical clock until
   * the clock reaches it. Always: that is what bounds a new leader's low-water mark.
   */
  default boolean holdFutureReads() {
    return true;
  }

  /**
   * Whether a message for a replica id below the range's tombstone on this store is refused rather
   * than creating the replica. Always: the replica that had the id was destroyed with its vote and
   * log, and one created under it again could vote twice in a term.
   */
  default boolean checkTombstones() {
    return true;
  }

  /**
   * Whether a command's keys are checked against the range's span when it is applied. Always: a
   * write evaluated before a split and proposed after it would otherwise land in keys the new range
   * owns, behind the back of its leader (ReplicaSplits).
   */
  default boolean checkSpanAtApply() {
    return true;
  }

  /**
   * Whether a removed replica is destroyed only once no round's batch holding its state is still on
   * its way to the engine. Always: a batch written after the destruction brings that state back
   * under the range's keys, where the range's next replica on this node reads it.
   */
  default boolean destroyAfterLastWrite() {
    return true;
  }

  /** The context a leader evaluates requests in: {@code correct}, always. */
  default io.basalt.txn.eval.Commands.Context evaluation(
      io.basalt.txn.eval.Commands.Context correct) {
    return correct;
  }

  /**
   * Called when a replica becomes leader, with the index of its term's no-op. The right rules do
   * nothing here: a proposal missing from the new leader's log may still be in another replica's
   * and commit there, so it is answered only once its fate is certain.
   */
  default void onBecameLeader(NewLeader replica, long noOpIndex, List<Runnable> answers) {}

  /** What {@link #onBecameLeader} may see of, and do to, the replica that just became leader. */
  interface NewLeader {
    /** The indexes of the proposals awaiting their outcome, ascending. */
    long[] proposalIndexes();

    /** The term the proposal awaiting its outcome at {@code index} was proposed in. */
    long proposalTerm(long index);

    /**
     * The term of the entry at {@code index} in this replica's log; a RuntimeException if its
     * storage does not hold it (yet).
     */
    long logTerm(long index);

    /**
     * Forgets the proposal at {@code index}, releases its latches, and adds to {@code answers} its
     * answer: NotLeader with no leader hint.
     */
    void answerNotLeader(long index, List<Runnable> answers);
  }
}
