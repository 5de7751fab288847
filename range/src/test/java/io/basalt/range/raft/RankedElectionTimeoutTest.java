package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.RaftNode.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * With ranked election timeouts a dead leader's followers campaign one after another, the first as
 * soon as the election timeout (and so the leader's lease) allows: a new leader within the timeout
 * plus one stagger, every time, where random timeouts spread over a second timeout.
 */
class RankedElectionTimeoutTest {
  private static final int ET = 10;

  /** Ticks from the leader's isolation until another replica leads, for group seed {@code seed}. */
  private static int ticksToNewLeader(boolean ranked, long seed, long... ids) {
    Network n =
        Network.of(
            id ->
                Config.builder(id, new SplittableRandom(seed * 31 + id))
                    .electionTimeoutTicks(ET)
                    .heartbeatTicks(1)
                    .rankedElectionTimeout(ranked),
            ids);
    n.elect(ids[0]);
    n.tickAll(3);
    n.isolate(ids[0]);
    for (int t = 1; t <= 10 * ET; t++) {
      n.tickAll(1);
      for (int i = 1; i < ids.length; i++) {
        if (n.status(ids[i]).role() == Role.LEADER) {
          return t;
        }
      }
    }
    throw new AssertionError("no new leader within " + 10 * ET + " ticks");
  }

  @Test
  void aDeadLeaderIsReplacedAtTheElectionTimeoutEveryTime() {
    for (long seed = 0; seed < 50; seed++) {
      assertThat(ticksToNewLeader(true, seed, 1, 2, 3)).as("seed %d", seed).isEqualTo(ET);
      assertThat(ticksToNewLeader(true, seed, 1, 2, 3, 4, 5)).as("seed %d", seed).isEqualTo(ET);
    }
  }

  @Test
  void theFirstInRankLeads() {
    Network n = Network.of(id -> Network.config(id).rankedElectionTimeout(true), 1, 2, 3, 4, 5);
    n.elect(3);
    n.isolate(3);
    n.tickAll(ET);
    assertThat(n.status(1).role()).as("rank 0 among 1, 2, 4, 5").isEqualTo(Role.LEADER);
  }

  @Test
  void randomTimeoutsSpreadOverASecondTimeout() {
    // The control: the same schedule with random timeouts takes longer, often much longer.
    List<Integer> ticks = new ArrayList<>();
    for (long seed = 0; seed < 50; seed++) {
      ticks.add(ticksToNewLeader(false, seed, 1, 2, 3));
    }
    assertThat(ticks).allMatch(t -> t >= ET);
    assertThat(ticks.stream().filter(t -> t > ET + Config.RANK_STAGGER_TICKS).count())
        .as("%s", ticks)
        .isGreaterThan(25);
  }
}
