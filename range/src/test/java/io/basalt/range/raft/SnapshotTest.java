package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.msg;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Message.Type;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Log compaction and snapshot installation (§7). */
class SnapshotTest {

  private static final ConfState THREE = ConfState.ofVoters(1, 2, 3);

  @Test
  void followerBehindCompactionGetsSnapshot() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.isolate(3);
    for (int i = 0; i < 10; i++) {
      n.propose(1, "v" + i);
    }
    MemoryRaftStorage leaderSt = n.storages.get(1L);
    long applied = n.status(1).applied();
    leaderSt.createSnapshot(applied, n.status(1).confState(), "image".getBytes());
    leaderSt.compact(applied);
    n.heal();
    n.tickAll(2);
    assertThat(n.sentOfType(Type.SNAPSHOT)).singleElement().matches(m -> m.to() == 3);
    MemoryRaftStorage st3 = n.storages.get(3L);
    assertThat(st3.snapshot().metadata().index()).isEqualTo(applied);
    assertThat(new String(st3.snapshot().data())).isEqualTo("image");
    assertThat(n.status(3).applied()).isEqualTo(applied);
    assertThat(n.status(3).confState()).isEqualTo(n.status(1).confState());
    assertThat(n.propose(1, "after").accepted()).isTrue();
    assertThat(n.appliedData(3)).containsExactly("after");
    assertThat(n.status(3).commit()).isEqualTo(n.status(1).commit());
  }

  @Test
  void snapshotInstallReplacesLog() {
    MemoryRaftStorage st = RaftTestSupport.storage(THREE, 1, 1, 1);
    RaftNode node = RaftNode.create(RaftTestSupport.config(1).build(), st);
    Snapshot snap =
        new Snapshot(new SnapshotMetadata(10, 3, ConfState.ofVoters(1, 2, 3, 4)), new byte[] {7});
    node.step(msg(Type.SNAPSHOT, 2, 1, 3).snapshot(snap).build());
    Ready rd = node.ready();
    assertThat(rd.snapshot()).isEqualTo(snap);
    assertThat(rd.entries()).isEmpty();
    assertThat(rd.committedEntries()).isEmpty();
    assertThat(rd.hardState().commit()).isEqualTo(10);
    assertThat(rd.messages()).isEmpty();
    assertThat(rd.messagesAfterPersist())
        .singleElement()
        .matches(m -> m.type() == Type.APPEND_RESPONSE && m.index() == 10 && !m.reject());
    st.applySnapshot(rd.snapshot());
    st.setHardState(rd.hardState());
    node.advance(rd);
    assertThat(st.firstIndex()).isEqualTo(11);
    assertThat(node.status().applied()).isEqualTo(10);
    assertThat(node.status().lastIndex()).isEqualTo(10);
    assertThat(node.status().confState().voters()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void staleSnapshotIsIgnored() {
    MemoryRaftStorage st = RaftTestSupport.storage(THREE, 1, 1, 1);
    Raft r = RaftTestSupport.raft(1, st);
    r.step(msg(Type.APPEND, 2, 1, 1).index(3).logTerm(1).commit(3).build());
    RaftTestSupport.take(r);
    Snapshot old = new Snapshot(new SnapshotMetadata(2, 1, THREE), null);
    r.step(msg(Type.SNAPSHOT, 2, 1, 1).snapshot(old).build());
    assertThat(r.log.unstableSnapshot()).isNull();
    assertThat(r.log.lastIndex()).isEqualTo(3);
    assertThat(RaftTestSupport.take(r)).singleElement().matches(m -> m.index() == 3);
  }

  @Test
  void snapshotMatchingOurLogOnlyAdvancesCommit() {
    MemoryRaftStorage st = RaftTestSupport.storage(THREE, 1, 1, 1, 1);
    Raft r = RaftTestSupport.raft(1, st);
    Snapshot s = new Snapshot(new SnapshotMetadata(3, 1, THREE), null);
    r.step(msg(Type.SNAPSHOT, 2, 1, 1).snapshot(s).build());
    assertThat(r.log.unstableSnapshot()).isNull();
    assertThat(r.log.lastIndex()).as("the entry after the snapshot is kept").isEqualTo(4);
    assertThat(r.log.committed()).isEqualTo(3);
  }

  @Test
  void memoryStorageCompactsAndKeepsTermOfSnapshotIndex() {
    MemoryRaftStorage st = RaftTestSupport.storage(THREE, 1, 2, 3, 4);
    st.createSnapshot(2, THREE, null);
    st.compact(2);
    assertThat(st.firstIndex()).isEqualTo(3);
    assertThat(st.term(2)).isEqualTo(2);
    assertThat(st.entries(3, 5, Long.MAX_VALUE)).extracting(Entry::term).containsExactly(3L, 4L);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> st.entries(2, 4, 100))
        .isInstanceOf(RaftStorage.LogCompactedException.class);
    assertThat(st.entries(3, 5, 1)).as("at least one entry").hasSize(1);
    st.append(List.of(Entry.normal(5, 4, null), Entry.normal(5, 5, null)));
    assertThat(st.lastIndex()).isEqualTo(5);
    assertThat(st.term(4)).as("conflicting suffix replaced").isEqualTo(5);
  }
}
