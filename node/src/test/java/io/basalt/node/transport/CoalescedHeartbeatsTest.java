package io.basalt.node.transport;

import static io.basalt.node.transport.NodeTransportTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.CoalescedHeartbeat;
import io.basalt.api.MessageType;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.node.store.SnapshotStream;
import io.basalt.node.store.Store;
import io.basalt.node.store.StoreListener;
import io.basalt.node.store.StoreOptions;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Heartbeats between two real transports on loopback: a leader's heartbeat of a range at any
 * generation leaves as a coalesced entry, reaches the follower's store, and the store's answer
 * comes back coalesced too; one that names an older generation than the store's descriptor is
 * refused.
 */
class CoalescedHeartbeatsTest {
  private static final InetSocketAddress ANY = new InetSocketAddress("127.0.0.1", 0);
  private static final long RANGE = 2;
  private static final long GENERATION = 3;

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final List<RaftBatch> atOne = new CopyOnWriteArrayList<>();
  private final List<RaftBatch> atTwo = new CopyOnWriteArrayList<>();
  private final List<String> events = new ArrayList<>();
  private NodeTransport one;
  private NodeTransport two;
  private Store store;

  @BeforeEach
  void connectAndBootstrapNodeTwo() throws Exception {
    one = transport(1, atOne);
    two = transport(2, atTwo);
    InetSocketAddress twoAddress = two.start(ANY);
    one.start(ANY);
    one.addPeer(2, twoAddress);
    await(() -> one.connected(2), "node 1 is connected to node 2");
    // Node 2's store, driven on this thread alone: its Raft traffic leaves through transport two.
    store =
        new Store(
            2,
            new MemEngine(),
            new HybridClock(System::currentTimeMillis, 500_000_000L),
            new Store.Network() {
              @Override
              public void send(long toNode, RaftMessage message) {
                assertThat(two.send(toNode, message)).isTrue();
              }

              @Override
              public void ping(long toNode) {}

              @Override
              public boolean sendSnapshot(long toNode, SnapshotStream stream) {
                return false;
              }
            },
            StoreOptions.defaults(),
            new SplittableRandom(1),
            new StoreListener() {
              @Override
              public void leaderChanged(long rangeId, long leaderNode, boolean isLocal) {
                events.add("range " + rangeId + " leader " + leaderNode);
              }

              @Override
              public void droppedMessage(long fromNode, long rangeId, String reason) {
                events.add("range " + rangeId + " dropped from " + fromNode + ": " + reason);
              }
            },
            System::nanoTime);
    RangeDescriptor range =
        RangeDescriptor.newBuilder()
            .setRangeId(RANGE)
            .setGeneration(GENERATION)
            .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(1).setReplicaId(1))
            .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(2).setReplicaId(2))
            .build();
    store.bootstrap(
        "c",
        List.of(range),
        List.of(
            NodeDescriptor.newBuilder().setNodeId(1).setAddress("a").build(),
            NodeDescriptor.newBuilder().setNodeId(2).setAddress("b").build()));
    store.process();
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  private NodeTransport transport(long id, List<RaftBatch> sink) {
    NodeTransport t =
        new NodeTransport(
            new TransportOptions("c", id, 64 * 1024, 1 << 20, 10, 200, 1),
            (from, batch) -> sink.add(batch),
            new ConnectionGuard());
    toClose.add(t);
    return t;
  }

  /** A leader's heartbeat as the store sends it (RaftMessages.toProto): every field it sets. */
  private static RaftMessage heartbeat(long generation) {
    return heartbeat(1, generation);
  }

  /** As {@link #heartbeat(long)}, from replica {@code fromReplica} (on node 1). */
  private static RaftMessage heartbeat(long fromReplica, long generation) {
    return RaftMessage.newBuilder()
        .setRangeId(RANGE)
        .setType(MessageType.MESSAGE_TYPE_HEARTBEAT)
        .setFrom(fromReplica)
        .setTo(2)
        .setTerm(6)
        .setIndex(1234)
        .setRangeGeneration(generation)
        .build();
  }

  /** Hands node 2's store what arrived, as the node's inbound handler does, then runs a round. */
  private void deliverToTheStore(RaftBatch batch) {
    for (RaftMessage m : batch.getMessagesList()) {
      store.receive(1, m);
    }
    for (CoalescedHeartbeat h : batch.getHeartbeatsList()) {
      store.receive(1, Heartbeats.expand(h, false));
    }
    for (CoalescedHeartbeat h : batch.getHeartbeatResponsesList()) {
      store.receive(1, Heartbeats.expand(h, true));
    }
    store.process();
  }

  @Test
  void aHeartbeatTravelsCoalescedReachesTheStoreAndIsAnsweredCoalesced() throws Exception {
    assertThat(one.send(2, heartbeat(GENERATION))).isTrue();
    await(() -> !atTwo.isEmpty(), "the heartbeat arrived");
    RaftBatch batch = atTwo.getFirst();
    assertThat(batch.getMessagesCount()).as("sent as a full message").isZero();
    assertThat(batch.getHeartbeatsList())
        .singleElement()
        .satisfies(h -> assertThat(h.getRangeGeneration()).isEqualTo(GENERATION));

    deliverToTheStore(batch);
    assertThat(events).containsExactly("range 2 leader 1");

    await(() -> !atOne.isEmpty(), "the store's answer arrived at node 1");
    RaftBatch answer = atOne.getFirst();
    assertThat(answer.getMessagesCount()).as("answered with a full message").isZero();
    assertThat(answer.getHeartbeatResponsesList()).hasSize(1);
    RaftMessage response = Heartbeats.expand(answer.getHeartbeatResponses(0), true);
    assertThat(response.getType()).isEqualTo(MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE);
    assertThat(response.getFrom()).isEqualTo(2);
    assertThat(response.getTo()).isEqualTo(1);
    assertThat(response.getTerm()).isEqualTo(6);
    assertThat(response.getIndex()).as("the leader's tick, echoed").isEqualTo(1234);
    assertThat(response.getRangeGeneration()).isEqualTo(GENERATION);
  }

  @Test
  void aHeartbeatFromAReplicaTheRangeDoesNotPlaceOnItsSenderIsRefused() throws Exception {
    // Replica 9 is not in the descriptor: refused under an older generation, or the current one
    // (one naming a later generation would be taken: its sender knows a newer descriptor).
    for (long generation : new long[] {GENERATION - 1, GENERATION, 0}) {
      atTwo.clear();
      assertThat(one.send(2, heartbeat(9, generation))).isTrue();
      await(() -> !atTwo.isEmpty(), "the heartbeat arrived");
      assertThat(atTwo.getFirst().getHeartbeatsList()).hasSize(1);
      deliverToTheStore(atTwo.getFirst());
    }
    assertThat(events)
        .containsExactly(
            "range 2 dropped from 1: addressed from 9 to 2",
            "range 2 dropped from 1: addressed from 9 to 2",
            "range 2 dropped from 1: addressed from 9 to 2");
    // A member's heartbeat under an older generation (sent before its sender applied a change)
    // is Raft's to judge, by its term: taken.
    atTwo.clear();
    assertThat(one.send(2, heartbeat(1, GENERATION - 1))).isTrue();
    await(() -> !atTwo.isEmpty(), "the heartbeat arrived");
    deliverToTheStore(atTwo.getFirst());
    assertThat(events).last().isEqualTo("range 2 leader 1");
  }
}
