package io.basalt.range.raft;

/**
 * The decisions on which Raft's safety rests, gathered at one seam. The core always asks these
 * methods, and production always uses {@link #CORRECT}, whose answers are the protocol's. The seam
 * is package-private: only tests in this package can substitute deliberately broken rules, to prove
 * that a simulator or checker catches them (see the test-side {@code PlantedBug}). There is no
 * configuration switch that breaks the core.
 */
interface SafetyRules {
  /** The protocol's rules. Stateless; one instance for every replica. */
  SafetyRules CORRECT = new SafetyRules() {};

  /**
   * §5.4.1 election restriction: whether a candidate whose log ends at ({@code lastIndex}, {@code
   * lastTerm}) is at least as up to date as {@code log}.
   */
  default boolean candidateUpToDate(RaftLog log, long lastIndex, long lastTerm) {
    return log.isUpToDate(lastIndex, lastTerm);
  }

  /** The highest index a leader may count as held by a quorum of voters. */
  default long quorumMatch(ProgressTracker tracker) {
    return tracker.committed();
  }

  /**
   * §5.4.2 / Figure 8: whether a leader of {@code currentTerm} may commit an entry of {@code
   * entryTerm} because a quorum holds it. Only entries of the current term are committed by
   * counting; earlier ones are committed with them, by Log Matching.
   */
  default boolean commitByCounting(long entryTerm, long currentTerm) {
    return entryTerm == currentTerm;
  }

  /**
   * Thesis §6.4 step 3: a ReadIndex is answered only once a heartbeat quorum confirms leadership.
   */
  default boolean readIndexNeedsQuorum() {
    return true;
  }

  /**
   * Whether {@code follower} (not a leader) may serve reads from a lease. Never: only the leader
   * knows what was committed and acknowledged; a follower's log may lag it.
   */
  default boolean followerLease(Raft follower, Config cfg) {
    return false;
  }

  /** A leader lease rests on the promise CheckQuorum makes followers keep (thesis §6.4.1). */
  default boolean leasePossible(Config cfg) {
    return cfg.checkQuorum();
  }

  /**
   * The first tick at which a lease is no longer valid, given the send tick of the newest heartbeat
   * a quorum acknowledged: followers ignore candidates for an election timeout after hearing from
   * the leader, shortened by the clock drift allowance.
   */
  default long leaseEnd(long quorumAckTick, Config cfg) {
    return quorumAckTick + cfg.electionTimeoutTicks() - cfg.leaseClockDriftTicks();
  }
}
