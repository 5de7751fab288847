package io.basalt.range.raft;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * Quorum arithmetic for majority and joint configurations. Only voters are ever passed in: learners
 * never count towards a quorum.
 */
final class Quorum {
  private Quorum() {}

  enum VoteResult {
    PENDING,
    LOST,
    WON
  }

  /**
   * The largest index acknowledged by a majority of {@code voters}: sort the acknowledged indexes
   * descending and take the one at position {@code n/2}. An empty configuration places no
   * constraint (returns {@code Long.MAX_VALUE}) so that it is neutral in a joint minimum.
   */
  static long majorityCommitted(Set<Long> voters, ToLongFunction<Long> acked) {
    if (voters.isEmpty()) {
      return Long.MAX_VALUE;
    }
    long[] idx = new long[voters.size()];
    int i = 0;
    for (Long id : voters) {
      idx[i++] = acked.applyAsLong(id);
    }
    Arrays.sort(idx);
    int quorum = voters.size() / 2 + 1;
    return idx[voters.size() - quorum];
  }

  /** Joint consensus (§4.3 of the thesis): an index is committed only if both halves agree. */
  static long jointCommitted(ConfState c, ToLongFunction<Long> acked) {
    return Math.min(
        majorityCommitted(c.voters(), acked), majorityCommitted(c.votersOutgoing(), acked));
  }

  static VoteResult majorityVote(Set<Long> voters, Map<Long, Boolean> votes) {
    if (voters.isEmpty()) {
      return VoteResult.WON;
    }
    int granted = 0;
    int missing = 0;
    for (Long id : voters) {
      Boolean v = votes.get(id);
      if (v == null) {
        missing++;
      } else if (v) {
        granted++;
      }
    }
    int quorum = voters.size() / 2 + 1;
    if (granted >= quorum) {
      return VoteResult.WON;
    }
    if (granted + missing >= quorum) {
      return VoteResult.PENDING;
    }
    return VoteResult.LOST;
  }

  static VoteResult jointVote(ConfState c, Map<Long, Boolean> votes) {
    VoteResult in = majorityVote(c.voters(), votes);
    VoteResult out = majorityVote(c.votersOutgoing(), votes);
    if (in == out) {
      return in;
    }
    if (in == VoteResult.LOST || out == VoteResult.LOST) {
      return VoteResult.LOST;
    }
    return VoteResult.PENDING;
  }
}
