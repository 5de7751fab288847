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
 * The schedule of the Raft paper's Figure 8 (§5.4.2), scripted on five replicas, with a client on
 * top whose history is checked for linearizability. A leader that commits an entry of an earlier
 * term because a majority holds it acknowledges a write that a later leader overwrites: the client
 * saw its write acknowledged, and a later read does not see it. With the correct commit rule the
 * same schedule leaves the write unacknowledged (its outcome unknown), and the history is
 * linearizable.
 */
class Figure8Test {
  private static final String KEY = "k";
  private static final long[] ALL = {1, 2, 3, 4, 5};

  /** What the client saw, and what the final leader applied. */
  record Outcome(
      List<Operation<RegisterModel.Op, Object>> history,
      LinearizabilityChecker.Result<RegisterModel.Op, Object> check,
      boolean writeAcknowledged,
      List<String> appliedByFinalLeader) {}

  @Test
  void correctCommitRuleLeavesTheWriteUnacknowledgedAndTheHistoryLinearizable() {
    Outcome outcome = run(Set.of());
    assertThat(outcome.writeAcknowledged()).as("the write was never committed").isFalse();
    assertThat(outcome.check().linearizable()).as(outcome.check().describe()).isTrue();
  }

  @Test
  void countingReplicasOfAnEarlierTermLosesAnAcknowledgedWrite() {
    Outcome outcome = run(EnumSet.of(PlantedBug.COMMIT_PREVIOUS_TERM_BY_COUNTING));
    assertThat(outcome.writeAcknowledged()).as("S1 committed x by counting replicas").isTrue();
    assertThat(outcome.appliedByFinalLeader()).as("S5 overwrote x").doesNotContain("x");
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
      names = {"READ_INDEX_WITHOUT_QUORUM", "LEASE_OUTLIVES_ELECTION_TIMEOUT"})
  void unrelatedBugsDoNotLoseTheWrite(PlantedBug bug) {
    assertThat(run(EnumSet.of(bug)).writeAcknowledged()).isFalse();
  }

  private static Outcome run(Set<PlantedBug> bugs) {
    // Figure 8 needs elections a live leader cannot prevent: no pre-vote, no CheckQuorum. One
    // entry per append, so that a leader's earlier-term entries travel without its own.
    Network n =
        Network.of(
            bugs,
            id -> Network.config(id).preVote(false).checkQuorum(false).maxSizePerMsgBytes(1),
            ALL);
    List<Operation<RegisterModel.Op, Object>> history = new ArrayList<>();
    long time = 0;

    // (a) S1 leads and takes the client's write x, but is cut off before it replicates it.
    n.elect(1);
    isolate(n, 1);
    long writeCall = ++time;
    RaftNode.ProposeResult x = n.propose(1, "x");
    assertThat(x.accepted()).isTrue();
    assertThat(n.status(2).lastIndex()).isEqualTo(x.index() - 1);

    // (b) S1 crashes. S5 is elected by S2, S3 and S4 and appends its no-op at x's index, but
    // crashes before it reaches anyone.
    n.heal();
    isolate(n, 1);
    n.dropIf(m -> m.from() == 5 && m.type() == Message.Type.APPEND);
    campaignUntilLeader(n, 5);
    assertThat(n.status(5).lastIndex()).isEqualTo(x.index());

    // (c) S5 crashes. S1 comes back and is elected by S2 and S3 (its log is longer); it brings
    // them up to x, but none of its own term's entries lands before it crashes again. x is now on
    // a majority.
    n.heal();
    n.restart(1);
    isolate(n, 5);
    n.cut(1, 4);
    n.dropIf(m ->
        m.type() == Message.Type.APPEND
            && ownTermEntries(m)
            && n.status(m.to()).lastIndex() >= m.index());
    campaignUntilLeader(n, 1);
    assertThat(n.status(2).lastIndex()).as("x is on S1, S2 and S3").isEqualTo(x.index());
    assertThat(n.status(3).lastIndex()).as("x is on S1, S2 and S3").isEqualTo(x.index());
    boolean acknowledged = n.appliedData(1).contains("x");
    history.add(
        new Operation<>(
            1,
            KEY,
            new RegisterModel.Write("x"),
            acknowledged ? Boolean.TRUE : null,
            writeCall,
            acknowledged ? ++time : Operation.UNKNOWN));

    // (d) S1 crashes. S5 comes back, is elected by S2, S3 and S4 (its last term is the highest),
    // and replaces x with its no-op everywhere. A client then reads through S5.
    n.heal();
    n.restart(5);
    isolate(n, 1);
    campaignUntilLeader(n, 5);
    n.tickAll(1);
    long readCall = ++time;
    assertThat(n.node(5).readIndex(new byte[] {1})).isTrue();
    n.settle();
    List<ReadState> reads = n.reads.get(5L);
    assertThat(reads).hasSize(1);
    Object value = valueAt(n.applied.get(5L), reads.get(0).index());
    history.add(new Operation<>(2, KEY, new RegisterModel.Read(), value, readCall, ++time));

    return new Outcome(
        history,
        new LinearizabilityChecker().check(new RegisterModel(), history),
        acknowledged,
        n.appliedData(5));
  }

  private static boolean ownTermEntries(Message m) {
    return m.entries().stream().anyMatch(e -> e.term() == m.term());
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

  private static void isolate(Network n, long id) {
    for (long other : ALL) {
      if (other != id) {
        n.cut(id, other);
      }
    }
  }

  /** Campaigns until elected (a first try may meet votes already given in that term). */
  private static void campaignUntilLeader(Network n, long id) {
    for (int attempt = 0; attempt < 3; attempt++) {
      n.node(id).campaign();
      n.settle();
      if (n.status(id).role() == RaftNode.Role.LEADER) {
        return;
      }
    }
    throw new AssertionError(id + " was not elected: " + n.status(id));
  }
}
