package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Deliberately broken variants of the core, planted from test code through the package-private
 * {@link SafetyRules} seam, to prove that the simulators and checkers catch them. Production code
 * has no way to select them.
 */
public enum PlantedBug {
  /** Grant votes without the §5.4.1 up-to-date check. */
  VOTE_WITHOUT_LOG_CHECK,
  /** Commit entries of earlier terms by counting replicas (the Figure 8 bug, §5.4.2). */
  COMMIT_PREVIOUS_TERM_BY_COUNTING,
  /**
   * Count half the voters as a quorum (n/2 instead of n/2 + 1): with 3 voters the leader commits,
   * applies and acknowledges an entry once it alone holds it. An acknowledgement before commit.
   */
  COMMIT_WITHOUT_QUORUM,
  /** Answer a ReadIndex at once, without the heartbeat round that confirms leadership (§6.4). */
  READ_INDEX_WITHOUT_QUORUM,
  /** Treat the leader lease as valid even when CheckQuorum is off. */
  LEASE_WITHOUT_CHECK_QUORUM,
  /**
   * A lease twice as long as the followers' promise: a deposed leader could keep serving reads from
   * its lease after a new leader was elected (CheckQuorum makes it step down first, so clients
   * rarely see it).
   */
  LEASE_OUTLIVES_ELECTION_TIMEOUT,
  /**
   * A follower that heard from its leader within the lease period counts as holding a lease and
   * serves reads from its own, possibly lagging, state.
   */
  LEASE_READ_ON_FOLLOWER;

  /** A replica with {@code bugs} planted (none: exactly {@link RaftNode#create}). */
  public static RaftNode create(Config config, RaftStorage storage, Set<PlantedBug> bugs) {
    return RaftNode.create(config, storage, rules(bugs));
  }

  static SafetyRules rules(Set<PlantedBug> bugs) {
    return bugs.isEmpty() ? SafetyRules.CORRECT : new Broken(EnumSet.copyOf(bugs));
  }

  private record Broken(Set<PlantedBug> bugs) implements SafetyRules {
    @Override
    public boolean candidateUpToDate(RaftLog log, long lastIndex, long lastTerm) {
      return bugs.contains(VOTE_WITHOUT_LOG_CHECK)
          || SafetyRules.super.candidateUpToDate(log, lastIndex, lastTerm);
    }

    @Override
    public long quorumMatch(ProgressTracker tracker) {
      if (!bugs.contains(COMMIT_WITHOUT_QUORUM)) {
        return SafetyRules.super.quorumMatch(tracker);
      }
      ConfState c = tracker.config();
      return Math.min(halfMatch(tracker, c.voters()), halfMatch(tracker, c.votersOutgoing()));
    }

    /** The highest index held by n/2 of {@code voters} (the off-by-one quorum). */
    private static long halfMatch(ProgressTracker tracker, Set<Long> voters) {
      if (voters.isEmpty()) {
        return Long.MAX_VALUE;
      }
      List<Long> matches = new ArrayList<>();
      for (long v : voters) {
        Progress p = tracker.get(v);
        matches.add(p == null ? 0 : p.match);
      }
      matches.sort((a, b) -> Long.compare(b, a));
      return matches.get(Math.max(0, voters.size() / 2 - 1));
    }

    @Override
    public boolean commitByCounting(long entryTerm, long currentTerm) {
      return bugs.contains(COMMIT_PREVIOUS_TERM_BY_COUNTING)
          || SafetyRules.super.commitByCounting(entryTerm, currentTerm);
    }

    @Override
    public boolean readIndexNeedsQuorum() {
      return !bugs.contains(READ_INDEX_WITHOUT_QUORUM);
    }

    @Override
    public boolean leasePossible(Config cfg) {
      return bugs.contains(LEASE_WITHOUT_CHECK_QUORUM) || SafetyRules.super.leasePossible(cfg);
    }

    @Override
    public boolean followerLease(Raft follower, Config cfg) {
      return bugs.contains(LEASE_READ_ON_FOLLOWER)
          && follower.lead != Raft.NONE
          && follower.electionElapsed < cfg.electionTimeoutTicks() - cfg.leaseClockDriftTicks();
    }

    @Override
    public long leaseEnd(long quorumAckTick, Config cfg) {
      long end = SafetyRules.super.leaseEnd(quorumAckTick, cfg);
      return bugs.contains(LEASE_OUTLIVES_ELECTION_TIMEOUT)
          ? end + cfg.electionTimeoutTicks()
          : end;
    }
  }
}
