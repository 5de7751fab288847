package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.ack;
import static io.basalt.range.raft.RaftTestSupport.makeLeader;
import static io.basalt.range.raft.RaftTestSupport.msg;
import static io.basalt.range.raft.RaftTestSupport.persistAll;
import static io.basalt.range.raft.RaftTestSupport.raft;
import static io.basalt.range.raft.RaftTestSupport.storage;
import static io.basalt.range.raft.RaftTestSupport.take;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rules of the Raft paper (§5), one test each, in the paper's words. */
class RaftPaperTest {

  private static final ConfState THREE = ConfState.ofVoters(1, 2, 3);
  private static final ConfState FIVE = ConfState.ofVoters(1, 2, 3, 4, 5);

  // §5.1 -----------------------------------------------------------------------------------------

  @Test
  void followerUpdatesTermFromMessage() {
    Raft r = raft(1, storage(THREE));
    r.step(msg(Type.APPEND, 2, 1, 2).build());
    assertThat(r.term).isEqualTo(2);
    assertThat(r.role).isEqualTo(Role.FOLLOWER);
    assertThat(r.lead).isEqualTo(2);
  }

  @Test
  void candidateAndLeaderStepDownOnHigherTerm() {
    Raft candidate = raft(1, storage(THREE));
    candidate.campaign(Raft.CampaignType.ELECTION);
    candidate.step(msg(Type.HEARTBEAT, 2, 1, 5).build());
    assertThat(candidate.role).isEqualTo(Role.FOLLOWER);
    assertThat(candidate.term).isEqualTo(5);

    Raft leader = raft(1, storage(THREE));
    makeLeader(leader, 2);
    leader.step(msg(Type.APPEND_RESPONSE, 3, 1, leader.term + 1).build());
    assertThat(leader.role).isEqualTo(Role.FOLLOWER);
    assertThat(leader.term).isEqualTo(2);
  }

  @Test
  void staleTermMessagesAreIgnored() {
    Raft r = raft(1, storage(THREE));
    r.step(msg(Type.HEARTBEAT, 2, 1, 3).commit(0).build());
    take(r);
    r.step(msg(Type.APPEND, 3, 1, 2).entries(List.of(Entry.normal(2, 1, null))).build());
    assertThat(r.log.lastIndex()).isZero();
    assertThat(r.lead).isEqualTo(2);
    assertThat(take(r)).isEmpty();
  }

  // §5.2 -----------------------------------------------------------------------------------------

  @Test
  void followerStartsElectionAfterElectionTimeout() {
    Raft r = raft(1, storage(THREE));
    for (int i = 0; i < 20 && r.role == Role.FOLLOWER; i++) {
      r.tick();
    }
    assertThat(r.role).isEqualTo(Role.CANDIDATE);
    assertThat(r.term).isEqualTo(1);
    assertThat(r.vote).isEqualTo(1); // votes for itself
    assertThat(take(r))
        .extracting(Message::type, Message::to, Message::term)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(Type.VOTE, 2L, 1L),
            org.assertj.core.groups.Tuple.tuple(Type.VOTE, 3L, 1L));
  }

  @Test
  void candidateStartsNewElectionAfterTimeout() {
    Raft r = raft(1, storage(THREE));
    r.campaign(Raft.CampaignType.ELECTION);
    take(r);
    for (int i = 0; i < 20 && r.term == 1; i++) {
      r.tick();
    }
    assertThat(r.role).isEqualTo(Role.CANDIDATE);
    assertThat(r.term).isEqualTo(2);
    assertThat(take(r)).allMatch(m -> m.type() == Type.VOTE && m.term() == 2).hasSize(2);
  }

  @Test
  void electionTimeoutIsRandomizedBetweenOneAndTwoTimeouts() {
    Set<Integer> seen = new java.util.TreeSet<>();
    for (long seed = 0; seed < 200; seed++) {
      Config cfg =
          Config.builder(1, new java.util.SplittableRandom(seed)).electionTimeoutTicks(10).build();
      Raft r = new Raft(cfg, storage(THREE));
      seen.add(r.randomizedElectionTimeout);
    }
    assertThat(seen).allMatch(t -> t >= 10 && t < 20);
    assertThat(seen.size()).isGreaterThan(5);
  }

  @Test
  void leaderElectionOnlyWithMajorityVotes() {
    Raft r = raft(1, storage(FIVE));
    r.campaign(Raft.CampaignType.ELECTION);
    r.step(msg(Type.VOTE_RESPONSE, 2, 1, 1).build());
    assertThat(r.role).isEqualTo(Role.CANDIDATE); // 2 of 5
    r.step(msg(Type.VOTE_RESPONSE, 2, 1, 1).build());
    assertThat(r.role).as("a duplicate vote counts once").isEqualTo(Role.CANDIDATE);
    r.step(msg(Type.VOTE_RESPONSE, 3, 1, 1).build());
    assertThat(r.role).isEqualTo(Role.LEADER); // 3 of 5

    Raft loser = raft(1, storage(FIVE));
    loser.campaign(Raft.CampaignType.ELECTION);
    loser.step(msg(Type.VOTE_RESPONSE, 2, 1, 1).reject(true).build());
    loser.step(msg(Type.VOTE_RESPONSE, 3, 1, 1).reject(true).build());
    assertThat(loser.role).isEqualTo(Role.CANDIDATE);
    loser.step(msg(Type.VOTE_RESPONSE, 4, 1, 1).reject(true).build());
    assertThat(loser.role).isEqualTo(Role.FOLLOWER); // a majority refused
  }

  @Test
  void voterGrantsAtMostOneVotePerTerm() {
    Raft r = raft(1, storage(THREE));
    r.step(msg(Type.VOTE, 2, 1, 1).build());
    r.step(msg(Type.VOTE, 3, 1, 1).build());
    r.step(msg(Type.VOTE, 2, 1, 1).build());
    assertThat(take(r))
        .extracting(Message::to, Message::reject)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(2L, false),
            org.assertj.core.groups.Tuple.tuple(3L, true),
            org.assertj.core.groups.Tuple.tuple(2L, false));
    assertThat(r.hardState()).isEqualTo(new HardState(1, 2, 0));
  }

  @Test
  void candidateStepsDownWhenALeaderOfItsTermAppears() {
    Raft r = raft(1, storage(THREE));
    r.campaign(Raft.CampaignType.ELECTION);
    r.step(msg(Type.APPEND, 2, 1, 1).build());
    assertThat(r.role).isEqualTo(Role.FOLLOWER);
    assertThat(r.lead).isEqualTo(2);
  }

  // §5.3 -----------------------------------------------------------------------------------------

  @Test
  void leaderAppendsNoOpEntryOfItsTermOnElection() {
    Raft r = raft(1, storage(THREE, 1, 1));
    makeLeader(r, 2);
    assertThat(r.log.lastIndex()).isEqualTo(3);
    assertThat(r.log.termOrZero(3)).isEqualTo(r.term);
  }

  @Test
  void followerRejectsAppendWithMismatchedPrevLog() {
    Raft r = raft(1, storage(THREE, 1, 1));
    r.step(
        msg(Type.APPEND, 2, 1, 2)
            .index(2)
            .logTerm(2)
            .entries(List.of(Entry.normal(2, 3, null)))
            .build());
    Message resp = take(r).get(0);
    assertThat(resp.type()).isEqualTo(Type.APPEND_RESPONSE);
    assertThat(resp.reject()).isTrue();
    assertThat(resp.index()).isEqualTo(2);
    assertThat(r.log.lastIndex()).isEqualTo(2);

    r.step(msg(Type.APPEND, 2, 1, 2).index(7).logTerm(2).build());
    Message beyond = take(r).get(0);
    assertThat(beyond.reject()).isTrue();
    assertThat(beyond.rejectHint()).as("hint points at our last index").isEqualTo(2);
  }

  @Test
  void followerAppendsAndAcknowledgesMatchingEntries() {
    Raft r = raft(1, storage(THREE, 1));
    r.step(
        msg(Type.APPEND, 2, 1, 2)
            .index(1)
            .logTerm(1)
            .entries(List.of(Entry.normal(2, 2, null), Entry.normal(2, 3, null)))
            .commit(2)
            .build());
    Message resp = take(r).get(0);
    assertThat(resp.reject()).isFalse();
    assertThat(resp.index()).isEqualTo(3);
    assertThat(r.log.lastIndex()).isEqualTo(3);
    assertThat(r.log.committed()).isEqualTo(2);
  }

  @Test
  void followerDeletesConflictingSuffix() {
    Raft r = raft(1, storage(THREE, 1, 1, 1, 1));
    r.step(
        msg(Type.APPEND, 2, 1, 2)
            .index(2)
            .logTerm(1)
            .entries(List.of(Entry.normal(2, 3, null)))
            .build());
    assertThat(r.log.lastIndex()).isEqualTo(3);
    assertThat(r.log.termOrZero(3)).isEqualTo(2);
    assertThat(r.log.unstableEntries()).containsExactly(Entry.normal(2, 3, null));
  }

  @Test
  void followerKeepsEntriesAfterAMatchingShorterAppend() {
    Raft r = raft(1, storage(THREE, 1, 1, 1, 1));
    // A delayed append that matches what we have must not truncate the log (§5.3: delete only on
    // conflict).
    r.step(
        msg(Type.APPEND, 2, 1, 1)
            .index(1)
            .logTerm(1)
            .entries(List.of(Entry.normal(1, 2, new byte[] {1})))
            .build());
    assertThat(r.log.lastIndex()).isEqualTo(4);
    assertThat(take(r).get(0).index()).isEqualTo(2);
  }

  @Test
  void followerCommitsOnlyUpToLastNewEntryAndNeverRegresses() {
    Raft r = raft(1, storage(THREE, 1, 1, 1));
    r.step(msg(Type.APPEND, 2, 1, 1).index(1).logTerm(1).commit(3).build());
    assertThat(r.log.committed()).as("min(leaderCommit, index of last new entry)").isEqualTo(1);
    r.step(msg(Type.APPEND, 2, 1, 1).index(3).logTerm(1).commit(3).build());
    assertThat(r.log.committed()).isEqualTo(3);
    r.step(msg(Type.HEARTBEAT, 2, 1, 1).commit(1).build());
    assertThat(r.log.committed()).isEqualTo(3);
  }

  @Test
  void leaderBacktracksFastByTerm() {
    // Leader log terms 1 1 1 4 4 4 4; follower log 1 1 1 2 2 2 2 2 2 2 2 (stale, longer).
    MemoryRaftStorage leaderSt = storage(ConfState.ofVoters(1, 2), 1, 1, 1, 4, 4, 4, 4);
    MemoryRaftStorage followerSt =
        storage(ConfState.ofVoters(1, 2), 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2);
    Network n = new Network();
    // Restarted replicas with CheckQuorum ignore votes for an election timeout; not the point here.
    n.add(Network.config(1).checkQuorum(false).build(), leaderSt);
    n.add(Network.config(2).checkQuorum(false).build(), followerSt);
    n.elect(1);
    List<Message> rejections =
        n.sentOfType(Type.APPEND_RESPONSE).stream().filter(Message::reject).toList();
    assertThat(rejections).as("one round trip skips the whole conflicting term").hasSize(1);
    assertThat(followerSt.lastIndex()).isEqualTo(8);
    for (long i = 1; i <= 8; i++) {
      assertThat(followerSt.term(i)).isEqualTo(leaderSt.term(i));
    }
    assertThat(n.status(2).commit()).isEqualTo(8);
  }

  @Test
  void leaderReplicatesAndAllReplicasApplyInOrder() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    for (int i = 0; i < 5; i++) {
      assertThat(n.propose(1, "v" + i).accepted()).isTrue();
    }
    for (long id = 1; id <= 3; id++) {
      assertThat(n.appliedData(id)).containsExactly("v0", "v1", "v2", "v3", "v4");
    }
  }

  @Test
  void followersRefuseProposals() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    assertThat(n.node(2).propose(new byte[] {1}).outcome())
        .isEqualTo(RaftNode.ProposeResult.Outcome.NOT_LEADER);
    assertThat(n.status(2).leaderId()).isEqualTo(1);
  }

  // §5.4 -----------------------------------------------------------------------------------------

  @Test
  void voterRejectsCandidateWithStaleLog() {
    Raft r = raft(1, storage(FIVE, 1, 2));
    // Lower last term, longer log: not up to date (§5.4.1).
    r.step(msg(Type.VOTE, 2, 1, 3).index(5).logTerm(1).build());
    // Same last term, shorter log: not up to date.
    r.step(msg(Type.VOTE, 3, 1, 4).index(1).logTerm(2).build());
    // Same last term and length: up to date.
    r.step(msg(Type.VOTE, 4, 1, 5).index(2).logTerm(2).build());
    assertThat(take(r))
        .extracting(Message::from, Message::to, Message::reject)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1L, 2L, true),
            org.assertj.core.groups.Tuple.tuple(1L, 3L, true),
            org.assertj.core.groups.Tuple.tuple(1L, 4L, false));
  }

  @Test
  void buggyVoterWithoutLogCheckGrantsStaleCandidate() {
    Raft r = raft(1, storage(FIVE, 1, 2), PlantedBug.VOTE_WITHOUT_LOG_CHECK);
    r.step(msg(Type.VOTE, 2, 1, 3).index(5).logTerm(1).build());
    assertThat(take(r).get(0).reject()).isFalse();
  }

  /** Figure 8: a leader may not commit an entry of an earlier term by counting replicas. */
  @Test
  void leaderOnlyCommitsEntriesOfCurrentTermByCounting() {
    Raft r = raft(1, storage(THREE, 1, 2));
    makeLeader(r, 2); // term 3, no-op at index 3
    assertThat(r.term).isEqualTo(3);
    r.step(ack(2, 1, 3, 2)); // index 2 (term 2) is now on a majority: 1 and 2
    assertThat(r.log.committed()).as("entry of term 2 is not committed by counting").isZero();
    persistAll(r);
    r.step(ack(2, 1, 3, 3));
    assertThat(r.log.committed())
        .as("current-term entry commits it and all before it")
        .isEqualTo(3);
  }

  @Test
  void buggyLeaderCommitsPreviousTermEntryByCounting() {
    Raft r = raft(1, storage(THREE, 1, 2), PlantedBug.COMMIT_PREVIOUS_TERM_BY_COUNTING);
    makeLeader(r, 2);
    r.step(ack(2, 1, 3, 2));
    assertThat(r.log.committed()).isEqualTo(2);
  }

  @Test
  void leaderCountsItsOwnLogOnlyOncePersisted() {
    Raft r = raft(1, storage(ConfState.ofVoters(1)));
    r.campaign(Raft.CampaignType.ELECTION);
    assertThat(r.role).isEqualTo(Role.LEADER);
    assertThat(r.log.committed()).isZero();
    persistAll(r);
    assertThat(r.log.committed()).isEqualTo(1);
  }

  @Test
  void leaderIgnoresStaleAppendResponses() {
    Raft r = raft(1, storage(THREE));
    makeLeader(r, 2);
    persistAll(r);
    r.step(ack(2, 1, 1, 1));
    assertThat(r.log.committed()).isEqualTo(1);
    long next = r.tracker.get(2).next;
    // A delayed rejection of an old probe must not move the follower backwards.
    r.step(msg(Type.APPEND_RESPONSE, 2, 1, 1).index(0).reject(true).build());
    assertThat(r.tracker.get(2).match).isEqualTo(1);
    assertThat(r.tracker.get(2).next).isEqualTo(next);
    r.step(ack(2, 1, 1, 0));
    assertThat(r.tracker.get(2).match).isEqualTo(1);
    assertThat(r.log.committed()).isEqualTo(1);
  }
}
