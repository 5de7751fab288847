package io.basalt.range.raft;

import static io.basalt.range.prop.PropertyRunner.forAll;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.prop.Gen;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Quorum arithmetic for majority and joint configurations. The two properties are seeded: a failure
 * prints its seed and a replay command ({@code -Dbasalt.seed=N}).
 */
class QuorumTest {

  /**
   * Against a brute-force count, over 1 to 7 voters whose match indexes lie in [0, 20] (edge-heavy:
   * 0 and 20 are common, and one configuration in five has every voter at the same index).
   */
  @Test
  void majorityCommittedIsTheLargestIndexAMajorityHas() {
    Gen<Integer> index = Gen.ints(0, 20);
    Gen<List<Integer>> anyMatches = index.list(1, 7);
    Gen<List<Integer>> equalMatches =
        random -> Collections.nCopies(Gen.ints(1, 7).next(random), index.next(random));
    forAll(
        1000,
        Gen.frequency(1, equalMatches, 4, anyMatches),
        matches -> {
          Set<Long> voters = new TreeSet<>();
          Map<Long, Long> match = new HashMap<>();
          for (int i = 0; i < matches.size(); i++) {
            voters.add((long) i + 1);
            match.put((long) i + 1, (long) matches.get(i));
          }
          long expected = 0;
          for (long idx = 0; idx <= 20; idx++) {
            final long x = idx;
            long have = match.values().stream().filter(m -> m >= x).count();
            if (have >= voters.size() / 2 + 1) {
              expected = idx;
            }
          }
          assertThat(Quorum.majorityCommitted(voters, match::get)).isEqualTo(expected);
        });
  }

  @Test
  void jointCommittedIsTheMinimumOfBothMajorities() {
    ConfState joint =
        new ConfState(List.of(1L, 2L, 3L), List.of(), List.of(3L, 4L, 5L), List.of(), false);
    Map<Long, Long> match = Map.of(1L, 9L, 2L, 9L, 3L, 5L, 4L, 2L, 5L, 1L);
    assertThat(Quorum.jointCommitted(joint, match::get)).isEqualTo(2);
  }

  @Test
  void jointVoteNeedsBothHalves() {
    ConfState joint =
        new ConfState(List.of(1L, 2L, 3L), List.of(), List.of(4L, 5L, 6L), List.of(), false);
    Map<Long, Boolean> votes = new HashMap<>(Map.of(1L, true, 2L, true));
    assertThat(Quorum.jointVote(joint, votes)).isEqualTo(Quorum.VoteResult.PENDING);
    votes.put(4L, false);
    votes.put(5L, false);
    assertThat(Quorum.jointVote(joint, votes)).isEqualTo(Quorum.VoteResult.LOST);
    votes.put(5L, true);
    votes.put(6L, true);
    assertThat(Quorum.jointVote(joint, votes)).isEqualTo(Quorum.VoteResult.WON);
  }

  @Test
  void emptyOutgoingHalfIsNeutral() {
    assertThat(Quorum.majorityCommitted(Set.of(), id -> 0)).isEqualTo(Long.MAX_VALUE);
    assertThat(Quorum.majorityVote(Set.of(), Map.of())).isEqualTo(Quorum.VoteResult.WON);
  }

  /**
   * Up to 5 changes, each of any kind and with any positive node id (1 and {@code Long.MAX_VALUE}
   * among the edges), under any transition.
   */
  @Test
  void confChangeEncodingRoundTrips() {
    Gen<ConfChange.Change> change =
        random ->
            new ConfChange.Change(
                Gen.enums(ConfChange.Kind.class).next(random),
                Gen.longs(1, Long.MAX_VALUE).next(random));
    Gen<ConfChange> confChanges =
        random ->
            new ConfChange(
                change.list(0, 5).next(random),
                Gen.enums(ConfChange.Transition.class).next(random));
    forAll(1000, confChanges, cc -> assertThat(ConfChange.decode(cc.encode())).isEqualTo(cc));
  }
}
