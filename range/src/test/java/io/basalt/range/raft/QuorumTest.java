package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** Quorum arithmetic for majority and joint configurations. */
class QuorumTest {

  @Property
  void majorityCommittedIsTheLargestIndexAMajorityHas(
      @ForAll @Size(min = 1, max = 7) List<@IntRange(min = 0, max = 20) Integer> matches) {
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

  @Property
  void confChangeEncodingRoundTrips(
      @ForAll @Size(max = 5) List<@IntRange(min = 1, max = 1000) Integer> ids,
      @ForAll ConfChange.Transition transition,
      @ForAll ConfChange.Kind kind) {
    List<ConfChange.Change> changes =
        ids.stream().map(id -> new ConfChange.Change(kind, id)).toList();
    ConfChange cc = new ConfChange(changes, transition);
    assertThat(ConfChange.decode(cc.encode())).isEqualTo(cc);
  }
}
