package io.basalt.range.raft;

import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * The parameters of one replica's Raft core. Build with {@link #builder(long, RandomGenerator)}.
 *
 * @param id this replica's id, positive
 * @param electionTimeoutTicks ticks without hearing from a leader before a follower campaigns; the
 *     actual timeout is drawn from {@code [electionTimeoutTicks, 2 * electionTimeoutTicks)} (§5.2)
 * @param heartbeatTicks ticks between leader heartbeats; less than {@code electionTimeoutTicks}
 * @param maxSizePerMsgBytes the largest append message (at least one entry is always sent)
 * @param maxInflightMsgs the largest number of unacknowledged appends to one follower
 * @param maxInflightBytes the largest number of unacknowledged bytes to one follower (0: no bound)
 * @param maxUncommittedEntriesBytes the leader refuses proposals once this many payload bytes are
 *     appended but not committed (0: no bound)
 * @param preVote whether to run the pre-vote phase before an election (thesis §9.6)
 * @param checkQuorum whether a leader steps down when it has not heard from a quorum within an
 *     election timeout, and followers ignore votes while they hear from a leader (thesis §6.2)
 * @param readOnlyOption how {@link RaftNode#readIndex(byte[])} confirms leadership
 * @param leaseClockDriftTicks how many ticks the lease is shortened by to absorb clock-rate
 *     differences between replicas; less than {@code electionTimeoutTicks}
 * @param quiesceAfterTicks a leader with nothing to do for this many ticks quiesces its group (0:
 *     never)
 * @param rankedElectionTimeout whether a follower that knows its leader times out after {@code
 *     electionTimeoutTicks} plus {@link #RANK_STAGGER_TICKS} per voter ranked before it (the voters
 *     other than the leader, by id) instead of a random draw in {@code [electionTimeoutTicks, 2 *
 *     electionTimeoutTicks)}: when a leader dies its followers campaign one after another, as early
 *     as the leader's lease allows, without split votes
 * @param random the source of election jitter; inject a seeded one for determinism
 */
public record Config(
    long id,
    int electionTimeoutTicks,
    int heartbeatTicks,
    long maxSizePerMsgBytes,
    int maxInflightMsgs,
    long maxInflightBytes,
    long maxUncommittedEntriesBytes,
    boolean preVote,
    boolean checkQuorum,
    ReadOnlyOption readOnlyOption,
    int leaseClockDriftTicks,
    int quiesceAfterTicks,
    boolean rankedElectionTimeout,
    RandomGenerator random) {

  /** The ticks between the election timeouts of two followers next in rank. */
  public static final int RANK_STAGGER_TICKS = 2;

  /** How reads are confirmed (thesis §6.4). */
  public enum ReadOnlyOption {
    /** ReadIndex: confirm leadership with a heartbeat round for every read (batch). */
    SAFE,
    /** Leader lease when valid (needs checkQuorum), ReadIndex otherwise. */
    LEASE_BASED
  }

  public Config {
    if (id <= 0) {
      throw new IllegalArgumentException("id must be positive: " + id);
    }
    if (heartbeatTicks <= 0) {
      throw new IllegalArgumentException("heartbeatTicks must be positive: " + heartbeatTicks);
    }
    if (electionTimeoutTicks <= heartbeatTicks) {
      throw new IllegalArgumentException(
          "electionTimeoutTicks ("
              + electionTimeoutTicks
              + ") must be greater than heartbeatTicks ("
              + heartbeatTicks
              + ")");
    }
    if (maxSizePerMsgBytes <= 0) {
      throw new IllegalArgumentException(
          "maxSizePerMsgBytes must be positive: " + maxSizePerMsgBytes);
    }
    if (maxInflightMsgs <= 0) {
      throw new IllegalArgumentException("maxInflightMsgs must be positive: " + maxInflightMsgs);
    }
    if (maxInflightBytes < 0 || maxUncommittedEntriesBytes < 0) {
      throw new IllegalArgumentException("byte limits must not be negative");
    }
    Objects.requireNonNull(readOnlyOption, "readOnlyOption");
    if (leaseClockDriftTicks < 0 || leaseClockDriftTicks >= electionTimeoutTicks) {
      throw new IllegalArgumentException(
          "leaseClockDriftTicks must be in [0, electionTimeoutTicks): " + leaseClockDriftTicks);
    }
    if (quiesceAfterTicks < 0) {
      throw new IllegalArgumentException(
          "quiesceAfterTicks must not be negative: " + quiesceAfterTicks);
    }
    Objects.requireNonNull(random, "random");
  }

  /** Defaults: election 10 ticks, heartbeat 1, pre-vote and check-quorum on, SAFE reads. */
  public static Builder builder(long id, RandomGenerator random) {
    return new Builder(id, random);
  }

  /** Builds a {@link Config}. */
  public static final class Builder {
    private final long id;
    private final RandomGenerator random;
    private int electionTimeoutTicks = 10;
    private int heartbeatTicks = 1;
    private long maxSizePerMsgBytes = 1 << 20;
    private int maxInflightMsgs = 256;
    private long maxInflightBytes = 0;
    private long maxUncommittedEntriesBytes = 0;
    private boolean preVote = true;
    private boolean checkQuorum = true;
    private ReadOnlyOption readOnlyOption = ReadOnlyOption.SAFE;
    private int leaseClockDriftTicks = 1;
    private int quiesceAfterTicks = 0;
    private boolean rankedElectionTimeout = false;

    private Builder(long id, RandomGenerator random) {
      this.id = id;
      this.random = random;
    }

    public Builder electionTimeoutTicks(int v) {
      electionTimeoutTicks = v;
      return this;
    }

    public Builder heartbeatTicks(int v) {
      heartbeatTicks = v;
      return this;
    }

    public Builder maxSizePerMsgBytes(long v) {
      maxSizePerMsgBytes = v;
      return this;
    }

    public Builder maxInflightMsgs(int v) {
      maxInflightMsgs = v;
      return this;
    }

    public Builder maxInflightBytes(long v) {
      maxInflightBytes = v;
      return this;
    }

    public Builder maxUncommittedEntriesBytes(long v) {
      maxUncommittedEntriesBytes = v;
      return this;
    }

    public Builder preVote(boolean v) {
      preVote = v;
      return this;
    }

    public Builder checkQuorum(boolean v) {
      checkQuorum = v;
      return this;
    }

    public Builder readOnlyOption(ReadOnlyOption v) {
      readOnlyOption = v;
      return this;
    }

    public Builder leaseClockDriftTicks(int v) {
      leaseClockDriftTicks = v;
      return this;
    }

    public Builder quiesceAfterTicks(int v) {
      quiesceAfterTicks = v;
      return this;
    }

    public Builder rankedElectionTimeout(boolean v) {
      rankedElectionTimeout = v;
      return this;
    }

    public Config build() {
      return new Config(
          id,
          electionTimeoutTicks,
          heartbeatTicks,
          maxSizePerMsgBytes,
          maxInflightMsgs,
          maxInflightBytes,
          maxUncommittedEntriesBytes,
          preVote,
          checkQuorum,
          readOnlyOption,
          leaseClockDriftTicks,
          quiesceAfterTicks,
          rankedElectionTimeout,
          random);
    }
  }
}
