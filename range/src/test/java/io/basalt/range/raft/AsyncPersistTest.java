package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.msg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The asynchronous side of the Ready contract ({@link RaftNode#accept} now, {@link
 * RaftNode#persisted} once the writes are durable): the next Ready comes before the previous one is
 * persisted, and nothing that needs persistence is assumed before it is reported.
 */
class AsyncPersistTest {
  private static final ConfState THREE = ConfState.ofVoters(1, 2, 3);

  /** A single-voter leader: its own persistence is the whole quorum. */
  private static RaftNode soloLeader(MemoryRaftStorage st) {
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Ready boot = node.ready();
    node.advance(boot);
    node.campaign();
    Ready elected = node.ready();
    st.append(elected.entries());
    st.setHardState(elected.hardState());
    node.advance(elected);
    assertThat(node.status().role()).isEqualTo(Role.LEADER);
    return node;
  }

  @Test
  void theNextReadyComesBeforeThePreviousIsPersistedAndHandsOutOnlyNewEntries() {
    MemoryRaftStorage st = MemoryRaftStorage.bootstrap(ConfState.ofVoters(1));
    RaftNode node = soloLeader(st);
    Ready commitNoOp = node.ready(); // the no-op is committed once persisted
    node.advance(commitNoOp);
    node.propose(new byte[] {1});
    Ready first = node.ready();
    assertThat(first.entries()).extracting(Entry::data).containsExactly(new byte[] {1});
    long firstIndex = first.entries().get(0).index();
    node.accept(first);
    node.propose(new byte[] {2});
    Ready second = node.ready();
    assertThat(second.entries()).extracting(Entry::index).containsExactly(firstIndex + 1);
    assertThat(second.committedEntries())
        .as("not committed: the leader's own copy is not yet durable")
        .isEmpty();
    node.accept(second);
    assertThat(node.hasReady()).isFalse();
    // Persisted out of order: refused.
    assertThatThrownBy(() -> node.persisted(second)).isInstanceOf(IllegalArgumentException.class);
    st.append(first.entries());
    node.persisted(first);
    Ready third = node.ready();
    assertThat(third.committedEntries()).extracting(Entry::index).containsExactly(firstIndex);
    assertThat(third.entries()).isEmpty();
    node.accept(third);
    st.append(second.entries());
    node.persisted(second);
    Ready fourth = node.ready();
    assertThat(fourth.committedEntries()).extracting(Entry::index).containsExactly(firstIndex + 1);
  }

  @Test
  void entriesInProgressReplacedByAConflictingAppendAreHandedOutAgain() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    // Leader 2 of term 1 appends entries 1..2.
    node.step(
        append(2, 1, 0, 0, Entry.normal(1, 1, new byte[] {1}), Entry.normal(1, 2, new byte[] {2})));
    Ready rd = node.ready();
    assertThat(rd.entries()).extracting(Entry::index).containsExactly(1L, 2L);
    node.accept(rd);
    // Before they are durable, leader 3 of term 2 replaces entry 2.
    node.step(append(3, 2, 1, 1, Entry.normal(2, 2, new byte[] {9})));
    Ready replaced = node.ready();
    assertThat(replaced.entries()).containsExactly(Entry.normal(2, 2, new byte[] {9}));
    assertThat(replaced.messages()).as("the new term is not durable yet").isEmpty();
    assertThat(replaced.messagesAfterPersist())
        .anyMatch(m -> m.type() == Type.APPEND_RESPONSE && m.index() == 2 && !m.reject());
    node.accept(replaced);
    // The first write lands: entry 1 is stable, the old entry 2 is not counted.
    st.append(rd.entries());
    st.setHardState(rd.hardState());
    node.persisted(rd);
    assertThat(node.status().lastIndex()).isEqualTo(2);
    st.append(replaced.entries());
    st.setHardState(replaced.hardState());
    node.persisted(replaced);
    // Committed up to 2 by leader 3: the entry handed out to apply is the replacement.
    node.step(msg(Type.APPEND, 3, 1, 2).index(2).logTerm(2).commit(2).build());
    Ready apply = node.ready();
    assertThat(apply.committedEntries())
        .containsExactly(Entry.normal(1, 1, new byte[] {1}), Entry.normal(2, 2, new byte[] {9}));
  }

  /**
   * An index can hold an earlier term's entry again under a third leader (t1, then t2, then t1
   * again). The report of the first write must not make the third one count as durable: on disk the
   * second may have overwritten the first.
   */
  @Test
  void aStaleReportIsNotTakenForALaterRewriteWithTheSameTerm() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Entry t1 = Entry.normal(1, 1, new byte[] {1});
    node.step(append(2, 1, 0, 0, t1));
    Ready first = node.ready();
    node.accept(first);
    node.step(append(3, 2, 0, 0, Entry.normal(2, 1, new byte[] {2})));
    Ready second = node.ready();
    node.accept(second);
    node.step(append(2, 3, 0, 0, t1));
    Ready third = node.ready();
    assertThat(third.entries()).containsExactly(t1);
    node.accept(third);
    // The first two writes land (the second overwrote the first); the third is still in flight.
    st.append(first.entries());
    node.persisted(first);
    st.append(second.entries());
    node.persisted(second);
    // Leader 2 (term 3) says index 1 is committed: not applicable here until the third write lands.
    node.step(msg(Type.APPEND, 2, 1, 3).index(1).logTerm(1).commit(1).build());
    Ready beforeThird = node.ready();
    assertThat(beforeThird.messagesAfterPersist())
        .as("the log still holds term 1 at index 1 (not the disk's term 2)")
        .anyMatch(m -> m.type() == Type.APPEND_RESPONSE && !m.reject());
    assertThat(beforeThird.committedEntries()).isEmpty();
    node.accept(beforeThird);
    st.append(third.entries());
    node.persisted(third);
    node.persisted(beforeThird);
    node.step(msg(Type.APPEND, 2, 1, 3).index(1).logTerm(1).commit(1).build());
    assertThat(node.ready().committedEntries()).containsExactly(t1);
  }

  @Test
  void aLeaderWhoseTermIsNotYetDurableHoldsEvenItsAppends() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    node.campaign();
    Ready campaign = node.ready();
    assertThat(campaign.hardState().term()).isEqualTo(1);
    node.accept(campaign);
    // Votes arrive (in a test; a real voter answers only requests sent after the vote is durable)
    // before the candidate's own term and vote are reported durable.
    node.step(msg(Type.VOTE_RESPONSE, 2, 1, 1).build());
    assertThat(node.status().role()).isEqualTo(Role.LEADER);
    Ready elected = node.ready();
    assertThat(elected.messages()).as("term 1 is not durable here yet").isEmpty();
    assertThat(elected.messagesAfterPersist()).anyMatch(m -> m.type() == Type.APPEND);
    node.accept(elected);
    st.setHardState(campaign.hardState());
    node.persisted(campaign);
    st.append(elected.entries());
    node.persisted(elected);
    node.step(RaftTestSupport.ack(2, 1, 1, elected.entries().get(0).index()));
    node.accept(node.ready());
    node.propose(new byte[] {1});
    Ready durable = node.ready();
    assertThat(durable.messages())
        .as("once the term is durable, appends go before the write")
        .anyMatch(m -> m.type() == Type.APPEND);
  }

  @Test
  void aSnapshotIsHandedOutOnlyOnceEarlierWritesArePersistedAndIsAdvancedInOneStep() {
    MemoryRaftStorage st = new MemoryRaftStorage(THREE);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    node.step(append(2, 1, 0, 0, Entry.normal(1, 1, new byte[] {1})));
    Ready append = node.ready();
    node.accept(append);
    Snapshot snap = new Snapshot(new SnapshotMetadata(10, 1, THREE), new byte[] {7});
    node.step(msg(Type.SNAPSHOT, 2, 1, 1).snapshot(snap).build());
    assertThat(node.hasReady()).as("the append is still on its way to disk").isFalse();
    assertThatThrownBy(node::ready).isInstanceOf(IllegalStateException.class);
    st.append(append.entries());
    st.setHardState(append.hardState());
    node.persisted(append);
    assertThat(node.hasReady()).isTrue();
    Ready withSnapshot = node.ready();
    assertThat(withSnapshot.snapshot()).isEqualTo(snap);
    assertThatThrownBy(() -> node.accept(withSnapshot))
        .isInstanceOf(IllegalArgumentException.class);
    st.applySnapshot(snap);
    node.advance(withSnapshot);
  }

  /** An append from leader {@code from} of {@code term} to node 1, after (index, logTerm). */
  private static Message append(long from, long term, long index, long logTerm, Entry... entries) {
    return msg(Type.APPEND, from, 1, term)
        .index(index)
        .logTerm(logTerm)
        .entries(List.of(entries))
        .build();
  }
}
