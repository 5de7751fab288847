package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.check.LinearizabilityChecker;
import io.basalt.range.check.Operation;
import io.basalt.range.check.RegisterModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The election restriction (§5.4.1), scripted on three replicas with a client on top whose history
 * is checked for linearizability. S1 leads and commits the client's write x with S2 while S3 is cut
 * off; the client sees x acknowledged. S3, whose log lacks x, then campaigns in a higher term. A
 * voter that grants its vote without comparing logs (S2 holds x) elects it, and S3's no-op
 * overwrites x on S2 and, once the partition heals, on S1: a later read through S3 does not see the
 * acknowledged write. With the correct rule S2 refuses, S3 cannot win, and the next leader holds x:
 * the same schedule leaves the history linearizable.
 */
class StaleCandidateTest {
  private static final String KEY = "k";
  private static final long[] ALL = {1, 2, 3};

  /** What the client saw, and who led when it read. */
  record Outcome(
      List<Operation<RegisterModel.Op, Object>> history,
      LinearizabilityChecker.Result<RegisterModel.Op, Object> check,
      boolean writeAcknowledged,
      boolean staleCandidateWon,
      long readLeader,
      List<String> appliedByReadLeader,
      boolean xStillInEveryLog) {}

  @Test
  void correctVoteRuleRefusesTheStaleCandidateAndTheHistoryIsLinearizable() {
    Outcome outcome = run(Set.of());
    assertThat(outcome.writeAcknowledged()).as("S1 committed x with S2").isTrue();
    assertThat(outcome.staleCandidateWon()).as("S2 refused S3, whose log lacks x").isFalse();
    assertThat(outcome.readLeader()).isNotEqualTo(3L);
    assertThat(outcome.appliedByReadLeader()).contains("x");
    assertThat(outcome.xStillInEveryLog()).isTrue();
    assertThat(outcome.check().linearizable()).as(outcome.check().describe()).isTrue();
  }

  @Test
  void votingWithoutTheLogCheckLosesAnAcknowledgedWrite() {
    Outcome outcome = run(EnumSet.of(PlantedBug.VOTE_WITHOUT_LOG_CHECK));
    assertThat(outcome.writeAcknowledged()).as("S1 committed x with S2").isTrue();
    assertThat(outcome.staleCandidateWon()).as("S2 voted for S3 without comparing logs").isTrue();
    assertThat(outcome.readLeader()).isEqualTo(3L);
    assertThat(outcome.appliedByReadLeader()).as("S3 overwrote x").doesNotContain("x");
    assertThat(outcome.xStillInEveryLog()).as("S3 overwrote x on S1 and S2 too").isFalse();
    assertThat(outcome.check().linearizable())
        .as("the client saw x acknowledged, then lost")
        .isFalse();
    assertThat(outcome.check().verdicts())
        .containsEntry(KEY, LinearizabilityChecker.Verdict.NOT_LINEARIZABLE);
  }

  /** Other planted bugs do not touch this schedule: the control is the rule itself. */
  @ParameterizedTest
  @EnumSource(
      value = PlantedBug.class,
      names = {"COMMIT_PREVIOUS_TERM_BY_COUNTING", "READ_INDEX_WITHOUT_QUORUM"})
  void unrelatedBugsDoNotElectTheStaleCandidate(PlantedBug bug) {
    Outcome outcome = run(EnumSet.of(bug));
    assertThat(outcome.staleCandidateWon()).isFalse();
    assertThat(outcome.check().linearizable()).as(outcome.check().describe()).isTrue();
  }

  private static Outcome run(Set<PlantedBug> bugs) {
    // No pre-vote and no CheckQuorum: S3's campaign reaches S2 as a vote request in a higher term
    // (with them, S2 would ignore it while S1 is alive, and the log check would never be asked).
    Network n = Network.of(bugs, id -> Network.config(id).preVote(false).checkQuorum(false), ALL);
    List<Operation<RegisterModel.Op, Object>> history = new ArrayList<>();
    long time = 0;

    // (a) S1 leads. S3 is cut off from S1; S1 commits the client's write x with S2 and applies it:
    // the client sees x acknowledged.
    n.elect(1);
    n.cut(1, 3);
    long writeCall = ++time;
    RaftNode.ProposeResult x = n.propose(1, "x");
    assertThat(x.accepted()).isTrue();
    assertThat(n.status(2).lastIndex()).as("x is on S1 and S2").isEqualTo(x.index());
    assertThat(n.status(3).lastIndex()).as("S3 lacks x").isEqualTo(x.index() - 1);
    boolean acknowledged = n.appliedData(1).contains("x");
    history.add(
        new Operation<>(
            1,
            KEY,
            new RegisterModel.Write("x"),
            acknowledged ? Boolean.TRUE : null,
            writeCall,
            acknowledged ? ++time : Operation.UNKNOWN));

    // (b) S3, still cut off from S1, campaigns in a higher term. S2 holds x; its vote decides.
    long termBefore = n.status(1).term();
    n.node(3).campaign();
    n.settle();
    boolean staleCandidateWon =
        n.status(3).role() == RaftNode.Role.LEADER && n.status(3).term() > termBefore;

    // (c) The partition heals and time passes: whoever leads now brings the others into line.
    n.heal();
    n.tickAll(40);
    long leader = highestTermLeader(n);

    // (d) The client reads through that leader.
    long readCall = ++time;
    assertThat(n.node(leader).readIndex(new byte[] {1})).isTrue();
    n.settle();
    List<ReadState> reads = n.reads.get(leader);
    assertThat(reads).hasSize(1);
    Object value = valueAt(n.applied.get(leader), reads.get(0).index());
    history.add(new Operation<>(2, KEY, new RegisterModel.Read(), value, readCall, ++time));

    return new Outcome(
        history,
        new LinearizabilityChecker().check(new RegisterModel(), history),
        acknowledged,
        staleCandidateWon,
        leader,
        n.appliedData(leader),
        inEveryLog(n, x.index(), "x"));
  }

  /** Whether every replica's log holds {@code data} at {@code index}. */
  private static boolean inEveryLog(Network n, long index, String data) {
    for (long id : ALL) {
      List<Entry> at = n.storages.get(id).entries(index, index + 1, Long.MAX_VALUE);
      if (at.isEmpty() || !data.equals(new String(at.get(0).data()))) {
        return false;
      }
    }
    return true;
  }

  private static long highestTermLeader(Network n) {
    long leader = 0;
    long term = -1;
    for (long id : ALL) {
      RaftNode.Status st = n.status(id);
      if (st.role() == RaftNode.Role.LEADER && st.term() > term) {
        leader = id;
        term = st.term();
      }
    }
    for (long id : ALL) {
      assertThat(n.status(id).term()).as("S%d follows the leader's term", id).isEqualTo(term);
    }
    return leader;
  }

  /** The register's value after applying {@code applied} up to {@code index}. */
  private static Object valueAt(List<Entry> applied, long index) {
    Object value = RegisterModel.ABSENT;
    for (Entry e : applied) {
      if (e.index() <= index && e.type() == EntryType.NORMAL && e.data().length > 0) {
        value = new String(e.data());
      }
    }
    return value;
  }
}
