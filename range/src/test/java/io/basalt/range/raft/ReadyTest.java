package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.ack;
import static io.basalt.range.raft.RaftTestSupport.makeLeader;
import static io.basalt.range.raft.RaftTestSupport.msg;
import static io.basalt.range.raft.RaftTestSupport.raft;
import static io.basalt.range.raft.RaftTestSupport.storage;
import static io.basalt.range.raft.RaftTestSupport.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.ProposeResult.Outcome;
import io.basalt.range.raft.RaftNode.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Ready contract, restarts, and flow control. */
class ReadyTest {

  private static final ConfState THREE = ConfState.ofVoters(1, 2, 3);

  @Test
  void voteResponseIsSentOnlyAfterPersist() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    node.step(msg(Type.VOTE, 2, 1, 1).build());
    Ready rd = node.ready();
    assertThat(rd.hardState()).isEqualTo(new HardState(1, 2, 0));
    assertThat(rd.mustSync()).isTrue();
    assertThat(rd.messages()).isEmpty();
    assertThat(rd.messagesAfterPersist())
        .singleElement()
        .matches(m -> m.type() == Type.VOTE_RESPONSE && !m.reject());
  }

  @Test
  void candidateSendsVoteRequestsOnlyAfterPersistingItsVote() {
    RaftNode node =
        RaftNode.create(RaftTestSupport.config(1).build(), new MemoryRaftStorage(THREE));
    node.campaign();
    Ready rd = node.ready();
    assertThat(rd.hardState()).isEqualTo(new HardState(1, 1, 0));
    assertThat(rd.messages()).isEmpty();
    assertThat(rd.messagesAfterPersist()).hasSize(2).allMatch(m -> m.type() == Type.VOTE);
  }

  @Test
  void leaderAppendsMayBeSentBeforePersist() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.node(1).propose(new byte[] {5});
    Ready rd = n.node(1).ready();
    assertThat(rd.entries()).hasSize(1);
    assertThat(rd.messages()).hasSize(2).allMatch(m -> m.type() == Type.APPEND);
    assertThat(rd.messagesAfterPersist()).isEmpty();
    assertThat(rd.committedEntries()).isEmpty();
  }

  @Test
  void committedEntriesAreHandedOutOnlyOnceAndOnlyWhenPersisted() {
    MemoryRaftStorage st = MemoryRaftStorage.bootstrap(ConfState.ofVoters(1));
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Ready boot = node.ready();
    assertThat(boot.committedEntries()).hasSize(1); // the bootstrap conf change
    node.advance(boot);
    node.campaign();
    assertThat(node.status().role()).isEqualTo(Role.LEADER);
    RaftNode.ProposeResult p = node.propose(new byte[] {1});
    Ready rd = node.ready();
    assertThat(rd.entries()).extracting(Entry::index).containsExactly(2L, 3L);
    assertThat(rd.committedEntries()).isEmpty();
    assertThatThrownBy(node::ready).isInstanceOf(IllegalStateException.class);
    st.append(rd.entries());
    st.setHardState(rd.hardState());
    node.advance(rd);
    Ready rd2 = node.ready();
    assertThat(rd2.committedEntries()).extracting(Entry::index).containsExactly(2L, p.index());
    assertThat(rd2.hardState().commit()).isEqualTo(3);
    node.advance(rd2);
    assertThat(node.hasReady()).isFalse();
    assertThat(node.status().applied()).isEqualTo(3);
  }

  @Test
  void restartedReplicaResumesFromStorage() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.propose(1, "a");
    n.propose(1, "b");
    RaftNode.Status before = n.status(2);
    n.restart(2);
    RaftNode.Status after = n.status(2);
    assertThat(after.term()).isEqualTo(before.term());
    assertThat(after.vote()).isEqualTo(before.vote());
    assertThat(after.commit()).isEqualTo(before.commit());
    assertThat(after.lastIndex()).isEqualTo(before.lastIndex());
    assertThat(after.role()).isEqualTo(Role.FOLLOWER);
    n.settle();
    assertThat(n.appliedData(2))
        .as("committed entries are applied again")
        .containsExactly("a", "b");
    assertThat(n.status(2).confState()).isEqualTo(n.status(1).confState());
    n.propose(1, "c");
    assertThat(n.appliedData(2)).containsExactly("a", "b", "c");
  }

  @Test
  void restartedGroupElectsAndKeepsCommittedEntries() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.propose(1, "a");
    for (long id = 1; id <= 3; id++) {
      n.restart(id);
    }
    n.tickAll(40);
    assertThat(n.leaderCount()).isEqualTo(1);
    long leader =
        n.nodes.keySet().stream()
            .filter(i -> n.status(i).role() == Role.LEADER)
            .findFirst()
            .orElseThrow();
    n.propose(leader, "b");
    for (long id = 1; id <= 3; id++) {
      assertThat(n.appliedData(id)).containsExactly("a", "b");
    }
  }

  @Test
  void appendsAreBatchedByMaxSizePerMsg() {
    Raft r = raft(1, storage(THREE), b -> b.maxSizePerMsgBytes(2 * (Entry.OVERHEAD_BYTES + 100)));
    makeLeader(r, 2); // noop append sent to 2 in probe state; 2 is paused until it answers
    for (int i = 0; i < 6; i++) {
      r.propose(EntryType.NORMAL, new byte[100]);
    }
    assertThat(take(r)).noneMatch(m -> m.to() == 2);
    r.step(ack(2, 1, r.term, 1));
    List<Message> appends =
        take(r).stream().filter(m -> m.to() == 2 && m.type() == Type.APPEND).toList();
    assertThat(appends).hasSize(3).allMatch(m -> m.entries().size() == 2);
  }

  @Test
  void inflightWindowBoundsPipelining() {
    Raft r = raft(1, storage(THREE), b -> b.maxSizePerMsgBytes(1).maxInflightMsgs(2));
    makeLeader(r, 2);
    for (int i = 0; i < 5; i++) {
      r.propose(EntryType.NORMAL, new byte[10]);
    }
    take(r);
    r.step(ack(2, 1, r.term, 1));
    List<Message> sent = take(r).stream().filter(m -> m.to() == 2).toList();
    assertThat(sent).hasSize(2);
    r.step(ack(2, 1, r.term, 2));
    assertThat(take(r).stream().filter(m -> m.to() == 2)).hasSize(1);
  }

  @Test
  void uncommittedBytesBoundRefusesProposals() {
    Network n = Network.of(id -> Network.config(id).maxUncommittedEntriesBytes(100), 1, 2, 3);
    n.elect(1);
    n.isolate(2);
    n.isolate(3);
    assertThat(n.node(1).propose(new byte[60]).accepted()).isTrue();
    assertThat(n.node(1).propose(new byte[60]).outcome())
        .isEqualTo(Outcome.UNCOMMITTED_LIMIT_EXCEEDED);
    n.heal();
    n.tickAll(2);
    assertThat(n.node(1).propose(new byte[60]).accepted()).as("room again once applied").isTrue();
  }

  @Test
  void probingFollowerGetsOneAppendPerHeartbeat() {
    Raft r = raft(1, storage(THREE));
    makeLeader(r, 2);
    r.propose(EntryType.NORMAL, new byte[1]);
    r.propose(EntryType.NORMAL, new byte[1]);
    assertThat(take(r)).as("2 and 3 are paused while their probe is unanswered").isEmpty();
  }

  @Test
  void confChangeCoveredByALaterSnapshotIsNotReapplied() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Entry learner4 = new Entry(1, 1, EntryType.CONF_CHANGE, ConfChange.addLearner(4).encode());
    node.step(msg(Type.APPEND, 2, 1, 1).entries(List.of(learner4)).commit(1).build());
    Ready persist = node.ready();
    st.append(persist.entries());
    st.setHardState(persist.hardState());
    node.advance(persist);
    Ready apply = node.ready();
    assertThat(apply.committedEntries()).containsExactly(learner4);
    // Before the application acknowledges, a snapshot arrives in which 4 is already a voter.
    ConfState later = ConfState.ofVoters(1, 2, 3, 4);
    node.step(
        msg(Type.SNAPSHOT, 2, 1, 1)
            .snapshot(new Snapshot(new SnapshotMetadata(5, 1, later), null))
            .build());
    node.advance(apply);
    assertThat(node.status().confState()).isEqualTo(later);
  }

  @Test
  void malformedAppendIsRefusedWithoutStateChange() {
    RaftNode node =
        RaftNode.create(RaftTestSupport.config(1).build(), new MemoryRaftStorage(THREE));
    Message gap =
        msg(Type.APPEND, 2, 1, 1).index(0).entries(List.of(Entry.normal(1, 5, null))).build();
    assertThatThrownBy(() -> node.step(gap)).isInstanceOf(IllegalArgumentException.class);
    Message futureTerm =
        msg(Type.APPEND, 2, 1, 1).index(0).entries(List.of(Entry.normal(7, 1, null))).build();
    assertThatThrownBy(() -> node.step(futureTerm)).isInstanceOf(IllegalArgumentException.class);
    assertThat(node.status().term()).isZero();
    assertThat(node.hasReady()).isFalse();
  }

  @Test
  void leaderIgnoresAcknowledgementOfEntriesItNeverSent() {
    Raft r = raft(1, storage(THREE));
    makeLeader(r, 2);
    RaftTestSupport.persistAll(r);
    r.step(ack(2, 1, r.term, 99));
    assertThat(r.tracker.get(2).match).isZero();
    assertThat(r.log.committed()).isZero();
  }

  @Test
  void heartbeatResponseRecoversAFullWindowOfLostAppends() {
    Raft r = raft(1, storage(THREE), b -> b.maxSizePerMsgBytes(1).maxInflightMsgs(2));
    makeLeader(r, 2);
    r.step(ack(2, 1, r.term, 1)); // replicate state
    for (int i = 0; i < 4; i++) {
      r.propose(EntryType.NORMAL, new byte[10]);
    }
    take(r); // the two appends to 2 are lost; the window is full
    assertThat(r.tracker.get(2).isPaused()).isTrue();
    r.step(msg(Type.HEARTBEAT_RESPONSE, 2, 1, r.term).build());
    List<Message> out = take(r).stream().filter(m -> m.to() == 2).toList();
    assertThat(out).singleElement().matches(m -> m.type() == Type.APPEND);
    // 2 rejects it (it lacks the lost entries); the leader falls back to probing from its match.
    Message sent = out.get(0);
    r.step(
        msg(Type.APPEND_RESPONSE, 2, 1, r.term)
            .index(sent.index())
            .reject(true)
            .rejectHint(1)
            .rejectHintTerm(r.term)
            .build());
    assertThat(take(r))
        .filteredOn(m -> m.to() == 2)
        .singleElement()
        .matches(m -> m.index() == 1 && !m.entries().isEmpty());
  }
}
