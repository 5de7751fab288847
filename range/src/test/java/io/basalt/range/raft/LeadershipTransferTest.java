package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.ProposeResult.Outcome;
import io.basalt.range.raft.RaftNode.Role;
import org.junit.jupiter.api.Test;

/** Leadership transfer (thesis §3.10). */
class LeadershipTransferTest {

  @Test
  void transferLeaderSendsTimeoutNowWhenCaughtUp() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.propose(1, "a");
    long term = n.status(1).term();
    assertThat(n.node(1).transferLeader(2)).isTrue();
    n.settle();
    assertThat(n.sentOfType(Type.TIMEOUT_NOW)).singleElement().matches(m -> m.to() == 2);
    assertThat(n.status(2).role()).isEqualTo(Role.LEADER);
    assertThat(n.status(2).term()).isEqualTo(term + 1);
    assertThat(n.status(1).role()).isEqualTo(Role.FOLLOWER);
  }

  @Test
  void transferCatchesTheTargetUpFirst() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.isolate(2);
    n.propose(1, "a");
    n.propose(1, "b");
    assertThat(n.node(1).transferLeader(2)).isTrue();
    n.settle();
    assertThat(n.sentOfType(Type.TIMEOUT_NOW)).as("target is behind").isEmpty();
    n.heal();
    n.tick(1); // heartbeat -> response -> appends -> caught up -> TIMEOUT_NOW
    assertThat(n.sentOfType(Type.TIMEOUT_NOW)).hasSize(1);
    assertThat(n.status(2).role()).isEqualTo(Role.LEADER);
    assertThat(n.appliedData(2)).containsExactly("a", "b");
  }

  @Test
  void proposalsRefusedDuringTransfer() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.isolate(2);
    n.propose(1, "a");
    assertThat(n.node(1).transferLeader(2)).isTrue();
    assertThat(n.node(1).propose(new byte[] {1}).outcome()).isEqualTo(Outcome.TRANSFER_IN_PROGRESS);
    assertThat(n.node(1).proposeConfChange(ConfChange.addLearner(9)).outcome())
        .isEqualTo(Outcome.TRANSFER_IN_PROGRESS);
  }

  @Test
  void transferAbortsAfterElectionTimeout() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.isolate(2);
    n.propose(1, "a");
    n.node(1).transferLeader(2);
    for (int i = 0; i < 9; i++) {
      n.tick(1);
    }
    assertThat(n.status(1).leadTransferee()).isEqualTo(2);
    n.tick(1);
    assertThat(n.status(1).leadTransferee()).isZero();
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    assertThat(n.propose(1, "b").accepted()).isTrue();
  }

  @Test
  void transferToLearnerOrSelfIsRefused() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    assertThat(n.node(1).transferLeader(1)).isFalse();
    assertThat(n.node(1).transferLeader(9)).isFalse();
    assertThat(n.node(2).transferLeader(3)).as("only the leader transfers").isFalse();
  }
}
