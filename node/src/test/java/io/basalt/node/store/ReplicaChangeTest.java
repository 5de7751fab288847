package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.ChangeReplicasRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.PutRequest;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaChangeType;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.range.keys.MvccKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Replica changes through Raft (ChangeReplicas): a learner added on a node without a replica is
 * created by its leader's first message, caught up by a snapshot, promoted, and then counts for the
 * quorum; a removed replica is destroyed with its data and a tombstone that keeps old messages from
 * bringing it back. Replica ids are the range's own (node i holds replica 100 + i at bootstrap).
 */
class ReplicaChangeTest {
  private static final long RANGE = 2;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L, 4L);

  private final ScriptedStores c = new ScriptedStores(4, 3, Set.of());

  private Store leader() {
    c.snapshotsSent = true;
    c.tick(ALL, 12);
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(ALL);
    assertThat(c.stores[1].isLeader(RANGE)).isTrue();
    return c.stores[1];
  }

  @Test
  void aLearnerIsCreatedBySnapshotPromotedAndThenCountsForTheQuorum() {
    Store leader = leader();
    assertThat(write(leader, "a", "1").hasError()).isFalse();
    assertThat(c.stores[4].replicaCount()).isZero();

    RangeDescriptor added = change(leader, ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, 4, 1);
    assertThat(added.getGeneration()).isEqualTo(2);
    assertThat(added.getReplicasList())
        .contains(
            ReplicaDescriptor.newBuilder()
                .setNodeId(4)
                .setReplicaId(104)
                .setRole(ReplicaRole.REPLICA_ROLE_LEARNER)
                .build());
    assertThat(added.getNextReplicaId()).isEqualTo(105);
    c.exchange(ALL);
    assertThat(descriptorOn(4)).as("node 4 has the range from its snapshot").contains(added);
    assertThat(c.stores[4].readLocal(RANGE, bytes("a"))).map(String::new).contains("1");

    RangeDescriptor promoted = change(leader, ReplicaChangeType.REPLICA_CHANGE_PROMOTE, 4, 2);
    assertThat(promoted.getGeneration()).isEqualTo(3);
    c.exchange(ALL);
    for (long n = 1; n <= 4; n++) {
      assertThat(descriptorOn(n)).as("node %d's descriptor", n).contains(promoted);
    }

    // Node 4 restarts: its replica comes back from what it wrote, under its own replica id.
    c.restart(4);
    c.tick(ALL, 3); // its leader's heartbeat says what is committed; it applies the rest
    c.exchange(ALL);
    assertThat(descriptorOn(4)).contains(promoted);
    // Node 3 removed, then a write with node 2 cut off: nodes 1 and 4 are 2 of {1, 2, 4}.
    RangeDescriptor removed = change(leader, ReplicaChangeType.REPLICA_CHANGE_REMOVE, 3, 3);
    assertThat(removed.getReplicasList())
        .extracting(ReplicaDescriptor::getNodeId)
        .containsExactly(1L, 2L, 4L);
    c.exchange(ALL);
    List<KvResponse> answers = new ArrayList<>();
    leader.submit(put("b", "2"), answers::add);
    leader.process();
    c.exchange(Set.of(1L, 4L));
    assertThat(answers).as("committed by nodes 1 and 4 alone").hasSize(1);
    assertThat(answers.get(0).hasError()).as("%s", answers).isFalse();
    assertThat(c.stores[4].readLocal(RANGE, bytes("b"))).map(String::new).contains("2");
  }

  @Test
  void aRemovedReplicaIsDestroyedAndItsTombstoneKeepsOldMessagesFromRecreatingIt() {
    Store leader = leader();
    assertThat(write(leader, "a", "1").hasError()).isFalse();
    change(leader, ReplicaChangeType.REPLICA_CHANGE_REMOVE, 3, 1);
    c.exchange(ALL);
    assertThat(descriptorOn(3)).as("node 3's replica of range 2").isEmpty();
    assertThat(c.stores[3].replicaCount()).as("only the meta range's replica left").isEqualTo(1);
    assertThat(userKeys(3)).as("node 3 keeps none of the range's data").isZero();
    assertThat(userKeys(1)).isPositive();

    // A message sent to the old replica before its removal arrives late, after a restart:
    // dropped, not recreated.
    c.restart(3);
    RaftMessage stale =
        RaftMessage.newBuilder()
            .setRangeId(RANGE)
            .setType(MessageType.MESSAGE_TYPE_HEARTBEAT)
            .setFrom(101)
            .setTo(103)
            .setTerm(100)
            .setRangeGeneration(2)
            .build();
    c.stores[3].receive(1, stale);
    c.stores[3].process();
    assertThat(descriptorOn(3)).isEmpty();
    assertThat(c.stores[3].replicaCount()).isEqualTo(1);

    // Added back, it comes under a new replica id, from a snapshot.
    RangeDescriptor back = change(leader, ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, 3, 2);
    assertThat(back.getReplicasList())
        .filteredOn(r -> r.getNodeId() == 3)
        .extracting(ReplicaDescriptor::getReplicaId)
        .containsExactly(104L);
    c.exchange(ALL);
    assertThat(descriptorOn(3)).contains(back);
    assertThat(c.stores[3].readLocal(RANGE, bytes("a"))).map(String::new).contains("1");
  }

  @Test
  void aNodeStoppedAfterApplyingItsOwnRemovalDestroysTheReplicaWhenItStarts() {
    Store leader = leader();
    assertThat(write(leader, "a", "1").hasError()).isFalse();
    // What node 3 holds had it applied and written its removal, then stopped before destroying
    // the replica: the descriptor without it.
    RangeDescriptor d = descriptorOn(3).orElseThrow();
    RangeDescriptor.Builder without = d.toBuilder().clearReplicas().setGeneration(2);
    d.getReplicasList().stream().filter(r -> r.getNodeId() != 3).forEach(without::addReplicas);
    io.basalt.range.storage.WriteBatch batch = new io.basalt.range.storage.WriteBatch();
    StoreRecords.putDescriptor(batch, without.build());
    c.engines[3].write(batch, true);
    c.restart(3);
    assertThat(descriptorOn(3)).as("node 3's replica of range 2 after the start").isEmpty();
    assertThat(userKeys(3)).as("its data").isZero();
    assertThat(StoreRecords.readTombstone(c.engines[3], RANGE)).isGreaterThan(103);
  }

  @Test
  void changesDecidedFromAnOldDescriptorOrRemovingTheLeaderAreRefused() {
    Store leader = leader();
    change(leader, ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, 4, 1);
    c.exchange(ALL);
    KvResponse stale = submit(leader, changeRequest(ReplicaChangeType.REPLICA_CHANGE_REMOVE, 3, 1));
    assertThat(stale.getError().getGeneric().getMessage()).contains("generation 2, not 1");
    KvResponse self = submit(leader, changeRequest(ReplicaChangeType.REPLICA_CHANGE_REMOVE, 1, 2));
    assertThat(self.getError().getGeneric().getMessage()).contains("leads the range");
    KvResponse twice =
        submit(leader, changeRequest(ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, 4, 2));
    assertThat(twice.getError().getGeneric().getMessage()).contains("already holds");
    KvResponse notLearner =
        submit(leader, changeRequest(ReplicaChangeType.REPLICA_CHANGE_PROMOTE, 2, 2));
    assertThat(notLearner.getError().getGeneric().getMessage()).contains("no learner");
    assertThat(descriptorOn(1).orElseThrow().getGeneration()).as("nothing applied").isEqualTo(2);
  }

  @Test
  void leadershipMovesToTheVoterNamedAndNeverToALearner() {
    Store leader = leader();
    change(leader, ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, 4, 1);
    c.exchange(ALL);
    KvResponse toLearner = submit(leader, transfer(4));
    assertThat(toLearner.getError().getGeneric().getMessage()).contains("holds no voter");
    KvResponse moved = submit(leader, transfer(2));
    assertThat(moved.hasError()).as("%s", moved).isFalse();
    c.tick(ALL, 1);
    c.exchange(ALL);
    assertThat(c.stores[2].isLeader(RANGE)).isTrue();
    assertThat(c.stores[1].isLeader(RANGE)).isFalse();
    assertThat(write(c.stores[2], "z", "9").hasError()).isFalse();
  }

  private static KvRequest transfer(long node) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(RANGE))
        .setTransferLeader(io.basalt.api.TransferLeaderRequest.newBuilder().setNodeId(node))
        .build();
  }

  private RangeDescriptor change(Store leader, ReplicaChangeType type, long node, long generation) {
    KvResponse r = submit(leader, changeRequest(type, node, generation));
    assertThat(r.hasError()).as("%s", r).isFalse();
    return r.getChangeReplicas().getRange();
  }

  /** Submits {@code request} to {@code leader} and exchanges messages until it is answered. */
  private KvResponse submit(Store leader, KvRequest request) {
    List<KvResponse> answers = new ArrayList<>();
    leader.submit(request, answers::add);
    leader.process();
    c.exchange(ALL);
    assertThat(answers).as("answered").hasSize(1);
    return answers.get(0);
  }

  private KvResponse write(Store leader, String key, String value) {
    return submit(leader, put(key, value));
  }

  private Optional<RangeDescriptor> descriptorOn(long node) {
    return c.stores[(int) node].status().stream()
        .map(ReplicaStatus::getRange)
        .filter(d -> d.getRangeId() == RANGE)
        .findFirst();
  }

  /** How many MVCC records of user keys (range 2's span) node {@code n}'s engine holds. */
  private long userKeys(long n) {
    long count = 0;
    try (EngineIterator it =
        c.engines[(int) n].newIterator(
            ColumnFamily.MVCC, MvccKeys.metadata(KeySpace.USER_START), MvccStore.KEYSPACE_END)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        count++;
      }
    }
    return count;
  }

  private static KvRequest changeRequest(ReplicaChangeType type, long node, long generation) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(RANGE))
        .setChangeReplicas(
            ChangeReplicasRequest.newBuilder()
                .setType(type)
                .setNodeId(node)
                .setExpectedGeneration(generation))
        .build();
  }

  private static KvRequest put(String key, String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(RANGE)
                .setRequestId(ByteString.copyFromUtf8("put-" + key + value)))
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value)))
        .build();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
