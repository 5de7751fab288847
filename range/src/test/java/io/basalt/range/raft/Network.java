package io.basalt.range.raft;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.LongFunction;
import java.util.function.Predicate;

/**
 * A tiny synchronous network for tests: processes every replica's {@link Ready} (persisting into
 * its {@link MemoryRaftStorage} before sending), and delivers messages in FIFO order until nothing
 * is left. Links can be cut and arbitrary messages dropped.
 */
final class Network {
  final Map<Long, RaftNode> nodes = new TreeMap<>();
  final Map<Long, MemoryRaftStorage> storages = new TreeMap<>();
  final Map<Long, Config> configs = new TreeMap<>();
  final Map<Long, List<Entry>> applied = new TreeMap<>();
  final Map<Long, List<ReadState>> reads = new TreeMap<>();

  /** Every message handed to the network, delivered or not, in order. */
  final List<Message> sent = new ArrayList<>();

  private final ArrayDeque<Message> inFlight = new ArrayDeque<>();
  private final Set<Long> isolated = new HashSet<>();
  private final Set<List<Long>> cutLinks = new HashSet<>();
  private Predicate<Message> dropIf = m -> false;
  private Set<PlantedBug> bugs = Set.of();

  static Config.Builder config(long id) {
    return Config.builder(id, new SplittableRandom(id)).electionTimeoutTicks(10).heartbeatTicks(1);
  }

  /** A new group of {@code ids}, each configured by {@code cfg}. */
  static Network of(LongFunction<Config.Builder> cfg, long... ids) {
    return of(Set.of(), cfg, ids);
  }

  /** A new group of {@code ids} whose replicas all run with {@code bugs} planted. */
  static Network of(Set<PlantedBug> bugs, LongFunction<Config.Builder> cfg, long... ids) {
    Network n = new Network();
    n.bugs = bugs;
    for (long id : ids) {
      n.add(cfg.apply(id).build(), MemoryRaftStorage.bootstrap(ConfState.ofVoters(ids)));
    }
    n.settle(); // Apply the bootstrap configuration.
    return n;
  }

  static Network of(long... ids) {
    return of(Network::config, ids);
  }

  void add(Config cfg, MemoryRaftStorage storage) {
    configs.put(cfg.id(), cfg);
    storages.put(cfg.id(), storage);
    nodes.put(cfg.id(), PlantedBug.create(cfg, storage, bugs));
    applied.putIfAbsent(cfg.id(), new ArrayList<>());
    reads.putIfAbsent(cfg.id(), new ArrayList<>());
  }

  /** Replaces a replica by a fresh one built from its storage (a crash after a full sync). */
  void restart(long id) {
    applied.put(id, new ArrayList<>());
    nodes.put(id, PlantedBug.create(configs.get(id), storages.get(id), bugs));
  }

  RaftNode node(long id) {
    return nodes.get(id);
  }

  RaftNode.Status status(long id) {
    return nodes.get(id).status();
  }

  void isolate(long id) {
    isolated.add(id);
  }

  void cut(long a, long b) {
    cutLinks.add(List.of(a, b));
    cutLinks.add(List.of(b, a));
  }

  void dropIf(Predicate<Message> p) {
    dropIf = p;
  }

  void heal() {
    isolated.clear();
    cutLinks.clear();
    dropIf = m -> false;
  }

  /** Processes readies and delivers messages until the network is quiet. */
  void settle() {
    for (int rounds = 0; rounds < 100_000; rounds++) {
      boolean busy = false;
      for (long id : List.copyOf(nodes.keySet())) {
        if (nodes.get(id).hasReady()) {
          process(id);
          busy = true;
        }
      }
      while (!inFlight.isEmpty()) {
        Message m = inFlight.poll();
        busy = true;
        RaftNode to = nodes.get(m.to());
        if (to != null && !dropped(m)) {
          to.step(m);
        }
      }
      if (!busy) {
        return;
      }
    }
    throw new AssertionError("network did not settle");
  }

  /** Processes one replica's Ready without delivering anything; returns what it sent. */
  List<Message> process(long id) {
    RaftNode node = nodes.get(id);
    MemoryRaftStorage st = storages.get(id);
    Ready rd = node.ready();
    List<Message> out = new ArrayList<>(rd.messages());
    if (rd.snapshot() != null) {
      st.applySnapshot(rd.snapshot());
    }
    st.append(rd.entries());
    if (rd.hardState() != null) {
      st.setHardState(rd.hardState());
    }
    out.addAll(rd.messagesAfterPersist());
    applied.get(id).addAll(rd.committedEntries());
    reads.get(id).addAll(rd.readStates());
    node.advance(rd);
    sent.addAll(out);
    inFlight.addAll(out);
    return out;
  }

  private boolean dropped(Message m) {
    return isolated.contains(m.from())
        || isolated.contains(m.to())
        || cutLinks.contains(List.of(m.from(), m.to()))
        || dropIf.test(m);
  }

  void tick(long id) {
    nodes.get(id).tick();
    settle();
  }

  void tickAll(int times) {
    for (int i = 0; i < times; i++) {
      nodes.values().forEach(RaftNode::tick);
      settle();
    }
  }

  /** Makes {@code id} leader by a forced election and lets the group settle. */
  void elect(long id) {
    settle();
    nodes.get(id).campaign();
    settle();
    if (status(id).role() != RaftNode.Role.LEADER) {
      throw new AssertionError(id + " did not win: " + status(id));
    }
  }

  RaftNode.ProposeResult propose(long id, String data) {
    RaftNode.ProposeResult r = nodes.get(id).propose(data.getBytes());
    settle();
    return r;
  }

  /** Payloads of the normal, non-empty entries {@code id} applied. */
  List<String> appliedData(long id) {
    List<String> out = new ArrayList<>();
    for (Entry e : applied.get(id)) {
      if (e.type() == EntryType.NORMAL && e.data().length > 0) {
        out.add(new String(e.data()));
      }
    }
    return out;
  }

  List<Message> sentOfType(Message.Type type) {
    return sent.stream().filter(m -> m.type() == type).toList();
  }

  long leaderCount() {
    return nodes.values().stream().filter(n -> n.status().role() == RaftNode.Role.LEADER).count();
  }
}
