package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.msg;
import static io.basalt.range.raft.RaftTestSupport.raft;
import static io.basalt.range.raft.RaftTestSupport.storage;
import static io.basalt.range.raft.RaftTestSupport.take;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import org.junit.jupiter.api.Test;

/** Pre-vote (thesis §9.6), CheckQuorum and leader stickiness (thesis §6.2, §4.2.3). */
class ElectionExtensionsTest {

  private static final ConfState THREE = ConfState.ofVoters(1, 2, 3);

  @Test
  void preVoteDoesNotIncrementTerm() {
    Raft r = raft(1, storage(THREE), b -> b.preVote(true));
    for (int i = 0; i < 20 && r.role == Role.FOLLOWER; i++) {
      r.tick();
    }
    assertThat(r.role).isEqualTo(Role.PRE_CANDIDATE);
    assertThat(r.term).isZero();
    assertThat(r.vote).isZero();
    assertThat(take(r)).allMatch(m -> m.type() == Type.PRE_VOTE && m.term() == 1).hasSize(2);
    r.step(msg(Type.PRE_VOTE_RESPONSE, 2, 1, 0).reject(true).build());
    r.step(msg(Type.PRE_VOTE_RESPONSE, 3, 1, 0).reject(true).build());
    assertThat(r.role).isEqualTo(Role.FOLLOWER);
    assertThat(r.term).as("a lost pre-vote leaves the term alone").isZero();
  }

  @Test
  void preVoteWinnerStartsRealElection() {
    Raft r = raft(1, storage(THREE), b -> b.preVote(true));
    r.campaign(Raft.CampaignType.PRE_ELECTION);
    take(r);
    r.step(msg(Type.PRE_VOTE_RESPONSE, 2, 1, 1).build());
    assertThat(r.role).isEqualTo(Role.CANDIDATE);
    assertThat(r.term).isEqualTo(1);
    assertThat(take(r)).allMatch(m -> m.type() == Type.VOTE && m.term() == 1).hasSize(2);
  }

  @Test
  void preVoteRefusedWhileHearingFromLeader() {
    Raft r = raft(1, storage(THREE), b -> b.preVote(true));
    r.step(msg(Type.HEARTBEAT, 2, 1, 1).build());
    take(r);
    r.step(msg(Type.PRE_VOTE, 3, 1, 2).index(5).logTerm(1).build());
    Message resp = take(r).get(0);
    assertThat(resp.type()).isEqualTo(Type.PRE_VOTE_RESPONSE);
    assertThat(resp.reject()).isTrue();
    assertThat(r.term).isEqualTo(1);
  }

  @Test
  void partitionedNodeRejoinsWithoutDisruption() {
    Network n = Network.of(id -> Network.config(id).preVote(true).checkQuorum(true), 1, 2, 3);
    n.elect(1);
    long term = n.status(1).term();
    n.isolate(3);
    n.tickAll(100);
    assertThat(n.status(3).term()).as("pre-vote kept the isolated node's term").isEqualTo(term);
    n.heal();
    n.tickAll(5);
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    assertThat(n.status(1).term()).isEqualTo(term);
    assertThat(n.status(3).leaderId()).isEqualTo(1);
    assertThat(n.status(3).role()).isEqualTo(Role.FOLLOWER);
  }

  @Test
  void withoutPreVoteARejoiningNodeDisruptsTheLeader() {
    // The control for the test above: it shows the scenario really exercises pre-vote.
    Network n = Network.of(id -> Network.config(id).preVote(false).checkQuorum(false), 1, 2, 3);
    n.elect(1);
    long term = n.status(1).term();
    n.isolate(3);
    n.tickAll(100);
    assertThat(n.status(3).term()).isGreaterThan(term);
    n.heal();
    n.tickAll(20);
    assertThat(n.status(1).term()).isGreaterThan(term);
  }

  @Test
  void leaderStepsDownWithoutQuorumAfterElectionTimeout() {
    Network n = Network.of(id -> Network.config(id).checkQuorum(true), 1, 2, 3);
    n.elect(1);
    n.isolate(1);
    for (int i = 0; i < 9; i++) {
      n.tick(1);
    }
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    for (int i = 0; i < 11; i++) {
      n.tick(1);
    }
    assertThat(n.status(1).role()).isEqualTo(Role.FOLLOWER);
  }

  @Test
  void withoutCheckQuorumIsolatedLeaderStaysLeader() {
    Network n = Network.of(id -> Network.config(id).checkQuorum(false), 1, 2, 3);
    n.elect(1);
    n.isolate(1);
    for (int i = 0; i < 30; i++) {
      n.tick(1);
    }
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
  }

  @Test
  void followerWithLiveLeaderIgnoresVotesUnderCheckQuorum() {
    Raft r = raft(1, storage(THREE), b -> b.checkQuorum(true));
    r.step(msg(Type.HEARTBEAT, 2, 1, 1).build());
    take(r);
    r.step(msg(Type.VOTE, 3, 1, 2).index(9).logTerm(1).build());
    assertThat(take(r)).as("ignored: no answer at all").isEmpty();
    assertThat(r.term).as("and the candidate's term is not adopted").isEqualTo(1);
    r.step(msg(Type.VOTE, 3, 1, 2).index(9).logTerm(1).leaderTransfer(true).build());
    assertThat(take(r)).singleElement().matches(m -> !m.reject());
  }

  @Test
  void restartedReplicaIgnoresVotesForAnElectionTimeout() {
    MemoryRaftStorage st = storage(THREE, 1);
    Raft r = raft(1, st, b -> b.checkQuorum(true));
    r.step(msg(Type.VOTE, 3, 1, 2).index(9).logTerm(1).build());
    assertThat(take(r)).as("it may have acknowledged a leader just before crashing").isEmpty();
    for (int i = 0; i < 10; i++) {
      r.tick();
    }
    r.step(msg(Type.VOTE, 3, 1, 2).index(9).logTerm(1).build());
    assertThat(take(r)).anyMatch(m -> m.type() == Type.VOTE_RESPONSE && !m.reject());
  }
}
