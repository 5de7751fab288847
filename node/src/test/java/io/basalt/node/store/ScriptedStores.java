package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.MessageType;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * N {@link Store}s whose every Raft message waits in one list until the script delivers or drops
 * it: for scenarios that need a message to reach exactly some replicas (the schedules a random
 * simulation finds rarely). Writes are synchronous; time moves only by {@link #tick}.
 */
final class ScriptedStores {
  record Sent(long from, long to, RaftMessage message) {}

  /** A snapshot stream's chunks, taken whole from the sender when it was sent. */
  record SentSnapshot(long from, long to, List<SnapshotChunk> chunks) {}

  final Store[] stores;
  final MemEngine[] engines;
  private final List<Sent> inFlight = new ArrayList<>();
  private final List<SentSnapshot> snapshotsInFlight = new ArrayList<>();

  /** Whether snapshots are sent (delivered by {@link #exchange} like messages); off by default. */
  boolean snapshotsSent;

  /** Nodes whose snapshots {@link #exchange} keeps in flight, for {@link #takeSnapshotsTo}. */
  final Set<Long> snapshotsHeldFor = new java.util.HashSet<>();

  private long nowMs;

  /** Whether node-level pings reach their peers (and are answered) at once; off by default. */
  boolean pingsAnswered;

  /** The meta range and one data range (id 2, every user key), each on all {@code n} nodes. */
  ScriptedStores(int n, Set<PlantedStoreBug> bugs) {
    this(n, n, bugs);
  }

  /**
   * {@code n} stores; the meta range and one data range (id 2, every user key) on the first {@code
   * replicas} of them, the others initialized without a replica.
   */
  ScriptedStores(int n, int replicas, Set<PlantedStoreBug> bugs) {
    stores = new Store[n + 1];
    engines = new MemEngine[n + 1];
    List<NodeDescriptor> nodes = new ArrayList<>();
    for (long i = 1; i <= n; i++) {
      nodes.add(NodeDescriptor.newBuilder().setNodeId(i).setAddress("n" + i).build());
    }
    List<RangeDescriptor> ranges =
        List.of(
            range(1, ByteString.EMPTY, ByteString.copyFrom(KeySpace.USER_START), replicas),
            range(2, ByteString.copyFrom(KeySpace.USER_START), ByteString.EMPTY, replicas));
    this.bugs = bugs;
    for (int i = 1; i <= n; i++) {
      engines[i] = new MemEngine();
      stores[i] = newStore(i);
      stores[i].bootstrap("scripted", ranges, nodes);
    }
  }

  private final Set<PlantedStoreBug> bugs;

  private Store newStore(int i) {
    long id = i;
    Store store =
        new Store(
            id,
            engines[i],
            new HybridClock(() -> 1_000_000_000L + nowMs * 1_000_000L, 500_000_000L),
            new Store.Network() {
              @Override
              public void send(long toNode, RaftMessage message) {
                inFlight.add(new Sent(id, toNode, message));
              }

              @Override
              public void ping(long toNode) {
                if (pingsAnswered) {
                  // Node-level liveness probes, answered at once: the nodes are up and linked.
                  stores[(int) toNode].heardFrom(id);
                  stores[(int) id].heardFrom(toNode);
                }
              }

              @Override
              public boolean sendSnapshot(long toNode, SnapshotStream stream) {
                if (!snapshotsSent) {
                  return false;
                }
                List<SnapshotChunk> chunks = new ArrayList<>();
                for (SnapshotChunk c = stream.next(); c != null; c = stream.next()) {
                  chunks.add(c);
                }
                snapshotsInFlight.add(new SentSnapshot(id, toNode, chunks));
                return true;
              }
            },
            StoreOptions.defaults(),
            new SplittableRandom(i),
            StoreListener.NONE,
            () -> nowMs * 1_000_000L);
    PlantedStoreBug.plantScripted(store, bugs);
    for (long n = 1; n < stores.length; n++) {
      store.setAddress(n, "n" + n); // (what a node's discovery tells its store)
    }
    return store;
  }

  /**
   * Node {@code n} crashes (what it wrote without a sync is lost) and restarts: a new store over
   * what its engine kept, loaded and run as a node does at start. Messages in flight to it stay.
   */
  void restart(int n) {
    engines[n] = engines[n].crash();
    stores[n] = newStore(n);
    stores[n].load();
    stores[n].process(); // applies what its log holds committed
  }

  /** Node i holds replica {@code REPLICA_ID_BASE + i} of every range. */
  static final long REPLICA_ID_BASE = 100;

  private static RangeDescriptor range(long id, ByteString start, ByteString end, int n) {
    RangeDescriptor.Builder d =
        RangeDescriptor.newBuilder()
            .setRangeId(id)
            .setGeneration(1)
            .setStartKey(start)
            .setEndKey(end);
    for (long i = 1; i <= n; i++) {
      // Replica ids of their own, unlike the node ids: messages name replicas, the transport
      // nodes, and nothing may mix them up.
      d.addReplicas(ReplicaDescriptor.newBuilder().setNodeId(i).setReplicaId(REPLICA_ID_BASE + i));
    }
    return d.setNextReplicaId(REPLICA_ID_BASE + n + 1).build();
  }

  /**
   * Delivers every message whose sender and receiver are both in {@code group}, and the messages
   * those produce within it, until none is left; others stay in flight.
   */
  void exchange(Set<Long> group) {
    exchange(group, null);
  }

  /** As {@link #exchange(Set)}, for messages of the given types only (all types if null). */
  void exchange(Set<Long> group, Set<MessageType> types) {
    while (true) {
      List<Sent> deliverable = new ArrayList<>();
      for (java.util.Iterator<Sent> it = inFlight.iterator(); it.hasNext(); ) {
        Sent s = it.next();
        if (group.contains(s.from())
            && group.contains(s.to())
            && (types == null || types.contains(s.message().getType()))) {
          deliverable.add(s);
          it.remove();
        }
      }
      List<SentSnapshot> snapshots = new ArrayList<>();
      for (java.util.Iterator<SentSnapshot> it = snapshotsInFlight.iterator(); it.hasNext(); ) {
        SentSnapshot s = it.next();
        if (group.contains(s.from())
            && group.contains(s.to())
            && types == null
            && !snapshotsHeldFor.contains(s.to())) {
          snapshots.add(s);
          it.remove();
        }
      }
      if (deliverable.isEmpty() && snapshots.isEmpty()) {
        return;
      }
      deliverable.forEach(this::deliver);
      for (SentSnapshot s : snapshots) {
        for (SnapshotChunk c : s.chunks()) {
          stores[(int) s.to()].receiveSnapshotChunk(s.from(), c);
        }
        stores[(int) s.to()].process();
      }
    }
  }

  /**
   * Delivers the messages now in flight from {@code from} to {@code to} (not those they produce);
   * drops every other message.
   */
  void deliverOnly(long from, long to) {
    List<Sent> batch = new ArrayList<>(inFlight);
    inFlight.clear();
    for (Sent s : batch) {
      if (s.from() == from && s.to() == to) {
        deliver(s);
      }
    }
  }

  /** The snapshots in flight to {@code to}, in the order they were sent, taken out of flight. */
  List<SentSnapshot> takeSnapshotsTo(long to) {
    List<SentSnapshot> out = new ArrayList<>();
    for (java.util.Iterator<SentSnapshot> it = snapshotsInFlight.iterator(); it.hasNext(); ) {
      SentSnapshot s = it.next();
      if (s.to() == to) {
        out.add(s);
        it.remove();
      }
    }
    return out;
  }

  /** Drops every message in flight. */
  void dropAll() {
    inFlight.clear();
    snapshotsInFlight.clear();
  }

  private void deliver(Sent s) {
    stores[(int) s.to()].receive(s.from(), s.message());
    stores[(int) s.to()].process();
  }

  /** {@code count} ticks (of 100 ms) on each of {@code nodes}; what they send stays in flight. */
  void tick(Set<Long> nodes, int count) {
    for (int t = 0; t < count; t++) {
      nowMs += 100;
      for (long n : nodes) {
        stores[(int) n].tick();
        stores[(int) n].process();
      }
    }
  }

  /**
   * Submits {@code request} to {@code leader} and exchanges the messages of {@code group} until it
   * is answered; the answer.
   *
   * @throws AssertionError if it is not answered
   */
  io.basalt.api.KvResponse call(Store leader, io.basalt.api.KvRequest request, Set<Long> group) {
    List<io.basalt.api.KvResponse> answers = new ArrayList<>();
    leader.submit(request, answers::add);
    leader.process();
    exchange(group);
    if (answers.size() != 1) {
      throw new AssertionError("not answered once: " + answers);
    }
    return answers.get(0);
  }

  /** Node {@code node}'s descriptor of range {@code range}, if it holds the range initialized. */
  java.util.Optional<RangeDescriptor> descriptorOn(long node, long range) {
    return stores[(int) node].status().stream()
        .map(io.basalt.api.ReplicaStatus::getRange)
        .filter(d -> d.getRangeId() == range)
        .findFirst();
  }

  /** The newest value of {@code key} in node {@code node}'s replica of {@code range}, as UTF-8. */
  java.util.Optional<String> read(long node, long range, String key) {
    return stores[(int) node]
        .readLocal(range, key.getBytes(java.nio.charset.StandardCharsets.UTF_8))
        .map(b -> new String(b, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Node {@code n} campaigns for range {@code rangeId}; its requests stay in flight. */
  /** The messages sent and not yet delivered or dropped. */
  List<Sent> inFlight() {
    return List.copyOf(inFlight);
  }

  void campaign(long n, long rangeId) {
    stores[(int) n].campaign(rangeId);
    stores[(int) n].process();
  }
}
