package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.ack;
import static io.basalt.range.raft.RaftTestSupport.msg;
import static io.basalt.range.raft.RaftTestSupport.persistAll;
import static io.basalt.range.raft.RaftTestSupport.raft;
import static io.basalt.range.raft.RaftTestSupport.storage;
import static io.basalt.range.raft.RaftTestSupport.take;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.ConfChange.Change;
import io.basalt.range.raft.ConfChange.Kind;
import io.basalt.range.raft.ConfChange.Transition;
import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.ProposeResult.Outcome;
import io.basalt.range.raft.RaftNode.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Membership changes: learners, simple changes and joint consensus (thesis §4). */
class MembershipTest {

  private static final ConfState JOINT =
      new ConfState(List.of(1L, 4L, 5L), List.of(), List.of(1L, 2L, 3L), List.of(), false);

  @Test
  void jointConsensusRequiresBothMajoritiesToElect() {
    Raft r = raft(1, storage(JOINT));
    r.campaign(Raft.CampaignType.ELECTION);
    r.step(msg(Type.VOTE_RESPONSE, 2, 1, 1).build());
    r.step(msg(Type.VOTE_RESPONSE, 3, 1, 1).build());
    assertThat(r.role).as("all of the old voters, none of the new").isEqualTo(Role.CANDIDATE);
    r.step(msg(Type.VOTE_RESPONSE, 4, 1, 1).build());
    assertThat(r.role).isEqualTo(Role.LEADER);
  }

  @Test
  void jointConsensusRequiresBothMajorities() {
    Raft r = raft(1, storage(JOINT));
    RaftTestSupport.makeLeader(r, 2, 4);
    persistAll(r);
    r.step(ack(2, 1, 1, 1));
    r.step(ack(3, 1, 1, 1));
    assertThat(r.log.committed()).as("old majority only").isZero();
    r.step(ack(4, 1, 1, 1));
    assertThat(r.log.committed()).isEqualTo(1);
  }

  @Test
  void learnerDoesNotVote() {
    ConfState withLearner =
        new ConfState(List.of(1L, 2L, 3L), List.of(4L), List.of(), List.of(), false);
    Raft learner = raft(4, storage(withLearner));
    for (int i = 0; i < 100; i++) {
      learner.tick();
    }
    assertThat(learner.role).as("a learner never campaigns").isEqualTo(Role.FOLLOWER);
    assertThat(take(learner)).isEmpty();

    Raft candidate = raft(1, storage(withLearner));
    candidate.campaign(Raft.CampaignType.ELECTION);
    assertThat(take(candidate)).extracting(Message::to).containsExactly(2L, 3L);
    candidate.step(msg(Type.VOTE_RESPONSE, 4, 1, 1).build());
    assertThat(candidate.role).as("a learner's vote does not count").isEqualTo(Role.CANDIDATE);
  }

  @Test
  void leaderDoesNotCountLearnersInCommitQuorum() {
    ConfState withLearners =
        new ConfState(List.of(1L, 2L, 3L), List.of(4L, 5L), List.of(), List.of(), false);
    Raft r = raft(1, storage(withLearners));
    RaftTestSupport.makeLeader(r, 2);
    persistAll(r);
    r.step(ack(4, 1, 1, 1));
    r.step(ack(5, 1, 1, 1));
    assertThat(r.log.committed()).isZero();
    r.step(ack(2, 1, 1, 1));
    assertThat(r.log.committed()).isEqualTo(1);
  }

  @Test
  void learnerIsAddedCatchesUpAndIsPromoted() {
    Network n = Network.of(1, 2, 3);
    n.add(Network.config(4).build(), new MemoryRaftStorage());
    n.elect(1);
    n.propose(1, "a");
    assertThat(n.node(1).proposeConfChange(ConfChange.addLearner(4)).accepted()).isTrue();
    n.settle();
    assertThat(n.status(1).confState().learners()).containsExactly(4L);
    assertThat(n.appliedData(4)).containsExactly("a");
    assertThat(n.status(4).confState().learners()).containsExactly(4L);
    assertThat(n.status(1).matchIndex().get(4L)).as("caught up").isEqualTo(n.status(1).lastIndex());
    assertThat(n.node(1).proposeConfChange(ConfChange.addVoter(4)).accepted()).isTrue();
    n.settle();
    assertThat(n.status(1).confState().voters()).containsExactly(1L, 2L, 3L, 4L);
    assertThat(n.status(1).confState().learners()).isEmpty();
  }

  @Test
  void jointChangeEntersAndAutomaticallyLeaves() {
    Network n = Network.of(1, 2, 3);
    n.add(Network.config(4).build(), new MemoryRaftStorage());
    n.add(Network.config(5).build(), new MemoryRaftStorage());
    n.elect(1);
    ConfChange swap =
        ConfChange.of(
            Transition.AUTO,
            new Change(Kind.ADD_VOTER, 4),
            new Change(Kind.ADD_VOTER, 5),
            new Change(Kind.REMOVE_NODE, 2),
            new Change(Kind.REMOVE_NODE, 3));
    assertThat(n.node(1).proposeConfChange(swap).accepted()).isTrue();
    n.settle();
    ConfState cs = n.status(1).confState();
    assertThat(cs.isJoint()).isFalse();
    assertThat(cs.voters()).containsExactly(1L, 4L, 5L);
    assertThat(n.status(4).confState()).isEqualTo(cs);
    assertThat(n.propose(1, "after").accepted()).isTrue();
    assertThat(n.appliedData(5)).containsExactly("after");
  }

  @Test
  void simpleChangeOfTwoVotersIsRefused() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    ConfChange two = ConfChange.of(Transition.AUTO, new Change(Kind.REMOVE_NODE, 2)); // fine
    assertThat(n.node(1).proposeConfChange(two).accepted()).isTrue();
    n.settle();
    assertThat(n.node(1).proposeConfChange(ConfChange.leaveJoint()).outcome())
        .isEqualTo(Outcome.INVALID_CONF_CHANGE);
    assertThat(n.node(1).proposeConfChange(ConfChange.removeNode(3)).accepted()).isTrue();
    n.settle();
    assertThat(n.node(1).proposeConfChange(ConfChange.removeNode(1)).outcome())
        .as("removing every voter")
        .isEqualTo(Outcome.INVALID_CONF_CHANGE);
  }

  @Test
  void onlyOneConfChangeInFlight() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.isolate(2);
    n.isolate(3);
    assertThat(n.node(1).proposeConfChange(ConfChange.addLearner(4)).accepted()).isTrue();
    assertThat(n.node(1).proposeConfChange(ConfChange.addLearner(5)).outcome())
        .isEqualTo(Outcome.CONF_CHANGE_PENDING);
    n.heal();
    n.tickAll(2);
    assertThat(n.node(1).proposeConfChange(ConfChange.addLearner(5)).accepted()).isTrue();
  }

  @Test
  void removedLeaderStepsDownAfterCommit() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    assertThat(n.node(1).proposeConfChange(ConfChange.removeNode(1)).accepted()).isTrue();
    n.settle();
    assertThat(n.status(1).role()).isEqualTo(Role.FOLLOWER);
    assertThat(n.status(2).confState().voters()).containsExactly(2L, 3L);
    n.tickAll(40);
    assertThat(n.status(1).role()).as("a removed replica never campaigns").isEqualTo(Role.FOLLOWER);
    long leader = n.status(2).role() == Role.LEADER ? 2 : 3;
    assertThat(n.status(leader).role()).isEqualTo(Role.LEADER);
    assertThat(n.propose(leader, "x").accepted()).isTrue();
    assertThat(n.appliedData(2)).containsExactly("x");
  }

  @Test
  void leaderRemovedViaJointConfigurationLeadsUntilTheJointConfigIsLeft() {
    Network n = Network.of(1, 2, 3);
    n.add(Network.config(4).build(), new MemoryRaftStorage());
    n.elect(1);
    n.isolate(4); // Hold the joint configuration (the new half needs 4) to look at it.
    ConfChange replace =
        ConfChange.of(
            Transition.JOINT_EXPLICIT,
            new Change(Kind.ADD_VOTER, 4),
            new Change(Kind.REMOVE_NODE, 1));
    assertThat(n.node(1).proposeConfChange(replace).accepted()).isTrue();
    n.settle();
    assertThat(n.status(1).confState().isJoint()).isTrue();
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    n.heal();
    n.tickAll(2);
    assertThat(n.node(1).proposeConfChange(ConfChange.leaveJoint()).accepted()).isTrue();
    n.settle();
    assertThat(n.status(1).role()).isEqualTo(Role.FOLLOWER);
    assertThat(n.status(4).confState().voters()).containsExactly(2L, 3L, 4L);
  }

  @Test
  void confChangeRoundTripsThroughItsEncoding() {
    ConfChange cc =
        ConfChange.of(
            Transition.JOINT_EXPLICIT,
            new Change(Kind.ADD_LEARNER, 7),
            new Change(Kind.REMOVE_NODE, Long.MAX_VALUE));
    assertThat(ConfChange.decode(cc.encode())).isEqualTo(cc);
    assertThat(ConfChange.decode(ConfChange.leaveJoint().encode()).isLeaveJoint()).isTrue();
  }

  @Test
  void aContextTravelsWithTheChangeAndOldEncodingsStillDecode() {
    byte[] context = {1, 2, 3};
    ConfChange cc = ConfChange.addLearner(4).withContext(context);
    ConfChange back = ConfChange.decode(cc.encode());
    assertThat(back).isEqualTo(cc);
    assertThat(back.context()).containsExactly(1, 2, 3);
    // The format without a context (version 1) is what older entries hold.
    byte[] plain = ConfChange.addLearner(4).encode();
    assertThat(plain[0]).isEqualTo((byte) 1);
    assertThat(ConfChange.decode(plain).context()).isEmpty();
    byte[] withContext = cc.encode();
    byte[] truncated = java.util.Arrays.copyOf(withContext, withContext.length - 1);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> ConfChange.decode(truncated))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void candidateRemovedWhileCampaigningDoesNotBecomeLeader() {
    MemoryRaftStorage st = new MemoryRaftStorage(ConfState.ofVoters(1, 2, 3));
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Entry remove1 = new Entry(1, 1, EntryType.CONF_CHANGE, ConfChange.removeNode(1).encode());
    node.step(msg(Type.APPEND, 2, 1, 1).entries(List.of(remove1)).commit(1).build());
    Ready persist = node.ready();
    st.append(persist.entries());
    st.setHardState(persist.hardState());
    node.advance(persist);
    Ready apply = node.ready(); // hands out the committed removal
    node.campaign(); // still a voter until the removal is applied
    assertThat(node.status().role()).isEqualTo(Role.CANDIDATE);
    node.advance(apply);
    assertThat(node.status().role()).isEqualTo(Role.FOLLOWER);
    long term = node.status().term();
    node.step(msg(Type.VOTE_RESPONSE, 2, 1, term).build());
    node.step(msg(Type.VOTE_RESPONSE, 3, 1, term).build());
    assertThat(node.status().role()).isEqualTo(Role.FOLLOWER);
  }
}
