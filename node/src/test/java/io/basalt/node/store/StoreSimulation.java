package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.DeleteRequest;
import io.basalt.api.Errors;
import io.basalt.api.GetRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.PutRequest;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.check.Operation;
import io.basalt.range.check.RegisterModel;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.hlc.HybridClock;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A whole cluster of {@link Store}s in one thread (DESIGN.md decision 1): N nodes with their own
 * {@link MemEngine} and hybrid clock, a simulated network that delays, drops, duplicates and
 * reorders messages and can be partitioned, crashes that lose a suffix of the unsynced writes,
 * pauses (a stalled process that resumes with its ticks caught up), and clients that issue gets,
 * puts, deletes and compare-and-sets with retries under the same request id. Every client operation
 * is recorded with its invoke and completion time (unknown when the client gave up on a write), for
 * a per-key linearizability check. Everything is derived from one seed.
 */
final class StoreSimulation {
  static final int TICK_MS = 10;

  /** What happened in a run (for the summary line and to prove runs are deterministic). */
  static final class Stats {
    long events;
    long opsOk;
    long opsFailed;
    long writesFailed;
    long opsUnknown;
    long retries;
    long redirects;
    long crashes;
    long crashesKeepingUnsynced;
    long partitions;
    long lossyBursts;
    long lostProposalSchedules;
    long pauses;
    long messages;
    long dropped;
    long snapshots;
    long snapshotsInstalled;

    @Override
    public String toString() {
      return String.format(
          "events=%d ok=%d failed=%d (writes %d) unknown=%d retries=%d crashes=%d (keeping unsynced writes %d)"
              + " partitions=%d lossy=%d figure8=%d pauses=%d messages=%d dropped=%d snapshots=%d installed=%d"
              + " redirects=%d",
          events,
          opsOk,
          opsFailed,
          writesFailed,
          opsUnknown,
          retries,
          crashes,
          crashesKeepingUnsynced,
          partitions,
          lossyBursts,
          lostProposalSchedules,
          pauses,
          messages,
          dropped,
          snapshots,
          snapshotsInstalled,
          redirects);
    }
  }

  private record Event(long time, long seq, Runnable action) {}

  private final SplittableRandom random;

  /**
   * How much of the unsynced log each crash keeps: a stream of its own, so the rest of a seed's
   * schedule (faults, clients, network) draws the same numbers as without it.
   */
  private final SplittableRandom crashRandom;

  private final PriorityQueue<Event> events =
      new PriorityQueue<>(
          (a, b) -> a.time != b.time ? Long.compare(a.time, b.time) : Long.compare(a.seq, b.seq));
  private long seq;
  long now;
  final Stats stats = new Stats();
  final int nodeCount;
  final int replication;
  private final LostProposalNemesis lostProposalNemesis;

  /**
   * How long a client waits for an attempt's answer before it retries (and the outcome becomes
   * unknown). Longer under the lost-proposal schedule, which takes several election timeouts: an
   * answer that arrives after a retry cannot make the operation a definite failure.
   */
  private final long attemptTimeoutMs;

  final SimNode[] nodes;
  final List<RangeDescriptor> ranges = new ArrayList<>();
  final List<String> keys = new ArrayList<>();
  final List<Operation<RegisterModel.Op, Object>> history = new ArrayList<>();
  private final Set<Long> partitionA = new HashSet<>();
  private boolean partitioned;

  /** Counts partitions begun: a heal ends only the partition it was scheduled for. */
  private long partitionEpoch;

  private final double dropRate;
  private final int compactLogAfter;
  private boolean faultsOn = true;
  private long clientSeq;

  /** Numbers every invocation and return in the order they happen (see Operation). */
  private long opEventSeq;

  private long nextProcess = 1;

  private final java.util.Set<PlantedStoreBug> bugs;

  StoreSimulation(long seed) {
    this(seed, java.util.Set.of());
  }

  /**
   * Odd seeds write asynchronously, as a node does (Persister on a writer thread): a round's batch
   * reaches the engine, synced, and is reported 1-3 ms later, in order, while the store goes on
   * with later rounds (reading an engine that does not hold it yet); a crash before that loses it.
   * Even seeds write and sync within the round.
   */
  private final boolean asyncWrites;

  /** The transaction workloads, beside the registers; null when the run has none. */
  final TxnSimWorkload txns;

  private final boolean withTxns;

  /** How long a transaction record lives without a heartbeat (see the constructor). */
  final long txnExpiryMillis;

  StoreSimulation(long seed, java.util.Set<PlantedStoreBug> bugs) {
    this(seed, bugs, false);
  }

  /**
   * With {@code withTxns}, transactions run beside the register clients ({@link TxnSimWorkload}),
   * over at least two data ranges, and each node's clock is off by up to 0.9x the max offset
   * (otherwise by up to 50 ms).
   */
  StoreSimulation(long seed, java.util.Set<PlantedStoreBug> bugs, boolean withTxns) {
    this(seed, bugs, withTxns, false);
  }

  /** Whether followers time out in rank order, as a node's do (random otherwise). */
  private final boolean rankedElectionTimeouts;

  /** As above; with {@code ranked}, followers time out in rank order, as a node's do. */
  StoreSimulation(
      long seed, java.util.Set<PlantedStoreBug> bugs, boolean withTxns, boolean ranked) {
    this.rankedElectionTimeouts = ranked;
    this.withTxns = withTxns;
    this.asyncWrites = (seed & 1) == 1;
    // Half of the transaction seeds expire records after 1.5 s without a heartbeat rather than 5 s:
    // shorter than the window in which a coordinator takes its writes' answers as its commit
    // (2.5 s), so that a recovery may meet a commit whose last write is still on its way (only the
    // recovery's prevention of that write keeps both from deciding).
    this.txnExpiryMillis = withTxns && (seed & 2) == 2 ? 1_500 : 5_000;
    this.bugs = bugs;
    this.random = new SplittableRandom(seed);
    this.crashRandom = new SplittableRandom(seed ^ 0x5DEECE66DL);
    // With transactions, mostly five nodes and three replicas: nodes that share no range hear of
    // each other's clocks only through the transactions that span them (where a read's
    // uncertainty interval is all that keeps it from missing a write on a faster clock).
    this.nodeCount = withTxns ? (random.nextInt(4) == 0 ? 3 : 5) : random.nextBoolean() ? 3 : 5;
    // Half of the 5-node seeds replicate every range on all five nodes (elections that need three
    // votes out of five, logs that differ on more replicas); the rest on three of them (with
    // transactions, three in four).
    this.replication =
        nodeCount == 5 && (withTxns ? random.nextInt(4) == 0 : random.nextBoolean()) ? 5 : 3;
    // Half of the five-replica seeds also steer elections through the schedule in which a leader's
    // log lacks a proposal another replica still holds.
    this.lostProposalNemesis =
        replication == 5 && random.nextBoolean() ? new LostProposalNemesis() : null;
    this.attemptTimeoutMs = lostProposalNemesis == null ? 300 : 1_500;
    this.dropRate = random.nextDouble() * 0.05;
    // Often a short log, so that lagging and restarted replicas catch up by snapshot.
    this.compactLogAfter = random.nextBoolean() ? 20 + random.nextInt(100) : 0;
    this.nodes = new SimNode[nodeCount + 1];
    int dataRanges = 1 + random.nextInt(3);
    if (withTxns) {
      dataRanges = Math.max(2, dataRanges);
    }
    List<ReplicaDescriptor> first3 = new ArrayList<>();
    List<Long> ids = new ArrayList<>();
    for (long i = 1; i <= nodeCount; i++) {
      ids.add(i);
    }
    // The meta range and each data range on `replication` nodes chosen at random.
    for (int r = 0; r <= dataRanges; r++) {
      List<Long> shuffled = new ArrayList<>(ids);
      for (int i = shuffled.size() - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        Long t = shuffled.get(i);
        shuffled.set(i, shuffled.get(j));
        shuffled.set(j, t);
      }
      RangeDescriptor.Builder d = RangeDescriptor.newBuilder().setRangeId(r + 1).setGeneration(1);
      for (long n : shuffled.subList(0, replication).stream().sorted().toList()) {
        d.addReplicas(ReplicaDescriptor.newBuilder().setNodeId(n).setReplicaId(n));
      }
      if (r == 0) {
        d.setStartKey(ByteString.EMPTY).setEndKey(ByteString.copyFrom(KeySpace.USER_START));
      } else {
        byte start = (byte) (r == 1 ? 0x01 : 'a' + (r - 1) * 8);
        d.setStartKey(ByteString.copyFrom(new byte[] {start}));
        if (r < dataRanges) {
          d.setEndKey(ByteString.copyFrom(new byte[] {(byte) ('a' + r * 8)}));
        }
        for (int k = 0; k < 3; k++) {
          keys.add(((char) ((r == 1 ? 'a' : 'a' + (r - 1) * 8) + 1)) + "k" + k);
        }
      }
      ranges.add(d.build());
    }
    first3.clear();
    List<NodeDescriptor> nodeDescriptors = new ArrayList<>();
    for (long i = 1; i <= nodeCount; i++) {
      nodeDescriptors.add(NodeDescriptor.newBuilder().setNodeId(i).setAddress("n" + i).build());
    }
    for (int i = 1; i <= nodeCount; i++) {
      nodes[i] = new SimNode(i, random.split());
      nodes[i].engine = new MemEngine();
      nodes[i].start();
      nodes[i].store.bootstrap("sim", ranges, nodeDescriptors);
      scheduleTick(nodes[i], random.nextInt(TICK_MS) + 1);
    }
    this.txns =
        withTxns
            ? new TxnSimWorkload(
                this, new SplittableRandom(seed ^ 0x7A11L), new SplittableRandom(seed ^ 0x0A11L))
            : null;
  }

  /** The network, clock and scheduler as the transaction workloads' clients see them. */
  io.basalt.client.SimClient.World clientWorld() {
    return new io.basalt.client.SimClient.World() {
      @Override
      public boolean send(
          long node, KvRequest request, java.util.function.Consumer<KvResponse> answer) {
        return clientSend(nodes[(int) node], request, answer);
      }

      @Override
      public void at(long delayNanos, Runnable task) {
        StoreSimulation.this.at(now + (delayNanos + 999_999) / 1_000_000, task);
      }

      @Override
      public long nanos() {
        return now * 1_000_000L;
      }
    };
  }

  /**
   * Delivers a client's request to {@code node} after a network delay, and its answer back after
   * another (unless lost, at the network's drop rate). False when the node is down: the connection
   * is refused and nothing is delivered.
   */
  private boolean clientSend(
      SimNode node, KvRequest request, java.util.function.Consumer<KvResponse> answer) {
    if (!node.up) {
      return false;
    }
    at(
        now + 1 + random.nextInt(3),
        () -> {
          if (!node.running()) {
            return; // lost: the client's attempt times out
          }
          long[] answers = new long[1];
          int incarnation = node.incarnation;
          long submittedAt = now;
          unanswered.add(() ->
              answers[0] == 0 && node.incarnation == incarnation && now - submittedAt > 2_000);
          node.store.submit(
              request,
              response -> {
                if (++answers[0] > 1) {
                  throw new AssertionError("a request was answered twice: " + request);
                }
                at(
                    now + 1 + random.nextInt(3),
                    () -> {
                      if (random.nextDouble() >= dropRate) {
                        answer.accept(response);
                      }
                    });
              });
          node.store.process();
          checkStores();
        });
    return true;
  }

  // ---------------------------------------------------------------------------------------------

  final class SimNode {
    final long id;
    final SplittableRandom rnd;
    MemEngine engine;
    Store store;
    boolean up = true;
    boolean paused;
    long pausedAt;

    /**
     * Batches handed to the writer and not yet written and synced, with their reports, oldest first
     * (asynchronous writes).
     */
    final ArrayDeque<PendingWrite> unsynced = new ArrayDeque<>();

    long offsetNanos;
    int incarnation;

    SimNode(long id, SplittableRandom rnd) {
      this.id = id;
      this.rnd = rnd;
      this.offsetNanos =
          rnd.nextLong(
              0, withTxns ? Long.getLong("basalt.storesim.maxskew", 450_000_000L) : 50_000_000);
    }

    void start() {
      incarnation++;
      HybridClock clock =
          new HybridClock(() -> 1_000_000_000L + now * 1_000_000L + offsetNanos, 500_000_000L);
      store =
          new Store(
              id,
              engine,
              clock,
              new Store.Network() {
                @Override
                public void send(long toNode, RaftMessage message) {
                  deliverRaft(SimNode.this, toNode, message);
                }

                @Override
                public void ping(long toNode) {
                  deliverPing(SimNode.this, toNode);
                }

                @Override
                public boolean sendSnapshot(long toNode, SnapshotStream stream) {
                  stats.snapshots++;
                  SnapshotChunk c;
                  while ((c = stream.next()) != null) {
                    if (!deliverChunk(SimNode.this, toNode, c)) {
                      // A lost chunk is a broken connection: the rest of the stream is lost too.
                      stream.abort("connection lost");
                      break;
                    }
                  }
                  return true;
                }
              },
              // Dedupe records are collected after 5 s of simulated time (clients give up on an
              // operation after 2 s), every second.
              // (Not with KEEP_LOST_PROPOSALS: the collection's own entries would move the log
              // past a lost proposal's index and hide the bug.)
              new StoreOptions(
                  10,
                  2,
                  30,
                  2,
                  // (The lost-proposal schedule takes several election timeouts; its proposals
                  // must still be pending when it ends.)
                  lostProposalNemesis == null ? 50 : 150,
                  5,
                  20,
                  compactLogAfter,
                  256,
                  bugs.contains(PlantedStoreBug.KEEP_LOST_PROPOSALS) ? 0 : 5_000,
                  100,
                  txnExpiryMillis,
                  0, // (no MVCC garbage collection: the workloads read no old versions)
                  600,
                  rankedElectionTimeouts),
              rnd.split(),
              new StoreListener() {
                @Override
                public void snapshotInstalled(long rangeId, long index) {
                  stats.snapshotsInstalled++;
                }

                @Override
                public void leaderChanged(long rangeId, long leaderNode, boolean isLocal) {
                  if (isLocal && lostProposalNemesis != null && faultsOn) {
                    lostProposalNemesis.elected(id, rangeId);
                  }
                }

                @Override
                public void droppedMessage(long fromNode, long rangeId, String reason) {
                  String what = reason.replaceAll("[0-9]+", "N");
                  drops.merge("n" + id + " r" + rangeId + ": " + what, 1L, Long::sum);
                }
              },
              () -> now * 1_000_000L);
      PlantedStoreBug.plant(store, bugs);
      unsynced.clear();
      if (asyncWrites) {
        int inc = incarnation;
        store.setPersister((batch, sync, written) -> {
          PendingWrite w = new PendingWrite(batch, written);
          unsynced.add(w);
          // The writer writes (visible, not durable) and later syncs and reports; now and then
          // the disk is slow, and rounds, elections and deadlines go on meanwhile.
          long writeAt = now + random.nextInt(3);
          long syncAt =
              writeAt
                  + 1
                  + (random.nextInt(500) == 0 ? 200 + random.nextInt(800) : random.nextInt(3));
          at(writeAt, () -> writeUpTo(SimNode.this, inc, w));
          at(syncAt, () -> syncWrites(SimNode.this, inc, w));
        });
      }
      store.load();
      // What a node's discovery tells its store: where every node of the cluster is.
      for (long n = 1; n <= nodeCount; n++) {
        store.setAddress(n, "n" + n);
      }
    }

    boolean running() {
      return up && !paused;
    }
  }

  /** A batch handed to the simulated writer (asynchronous writes). */
  private static final class PendingWrite {
    final WriteBatch batch;
    final java.util.function.LongConsumer report;
    boolean written;

    PendingWrite(WriteBatch batch, java.util.function.LongConsumer report) {
      this.batch = batch;
      this.report = report;
    }
  }

  /** The writer writes every batch up to {@code upTo}, in order: visible, not yet durable. */
  private void writeUpTo(SimNode n, int inc, PendingWrite upTo) {
    if (n.incarnation != inc || !n.up || !n.unsynced.contains(upTo)) {
      return;
    }
    for (PendingWrite w : n.unsynced) {
      if (!w.written) {
        n.engine.write(w.batch, false);
        w.written = true;
      }
      if (w == upTo) {
        return;
      }
    }
  }

  /** The writer's fsync returns: every batch up to {@code upTo} is durable and reported. */
  private void syncWrites(SimNode n, int inc, PendingWrite upTo) {
    if (n.incarnation != inc || !n.up || !n.unsynced.contains(upTo)) {
      return;
    }
    if (n.paused) {
      deliverLater(n, () -> syncWrites(n, inc, upTo));
      return;
    }
    writeUpTo(n, inc, upTo);
    n.engine.sync();
    List<PendingWrite> done = new ArrayList<>();
    PendingWrite next;
    do {
      next = n.unsynced.pollFirst();
      done.add(next);
    } while (next != upTo);
    done.forEach(w -> w.report.accept(0));
    n.store.process();
    checkStores();
  }

  /**
   * Whether the stores' own bookkeeping is checked after every step ({@link
   * Store#checkInvariants}). On by default; the teeth tests switch it off to show that what clients
   * saw catches a bug too.
   */
  private boolean internalChecks = true;

  /** Switches off the per-step check of the stores' own bookkeeping; returns this. */
  /** Replica changes during the faults (see {@link ReplicaChaos}); null when the run has none. */
  ReplicaChaos chaos;

  /** Adds replica changes to this run, drawn from their own source seeded from {@code seed}. */
  StoreSimulation withReplicaChanges(long seed) {
    chaos = new ReplicaChaos(this, seed);
    chaos.mergeWithoutWait = bugs.contains(PlantedStoreBug.MERGE_BEFORE_FREEZE);
    return this;
  }

  /** The range with id {@code id} as the simulation knows it. */
  RangeDescriptor rangeById(long id) {
    for (int attempt = 0; attempt < 2; attempt++) {
      for (RangeDescriptor d : ranges) {
        if (d.getRangeId() == id) {
          return d;
        }
      }
      refreshRanges(); // (a split the simulation did not hear the answer of made it)
    }
    throw new IllegalStateException("no range " + id);
  }

  /**
   * Each range's newest descriptor among the running stores (the changes move them on), and the
   * ranges splits created that the simulation did not hear of (a split's answer may be lost).
   */
  void refreshRanges() {
    java.util.Set<Long> known = new java.util.HashSet<>();
    ranges.forEach(d -> known.add(d.getRangeId()));
    for (int n = 1; n <= nodeCount; n++) {
      if (nodes[n].running()) {
        for (io.basalt.api.ReplicaStatus st : nodes[n].store.status()) {
          RangeDescriptor d = st.getRange();
          if (!d.getStartKey().isEmpty() && known.add(d.getRangeId())) {
            ranges.add(d);
          }
        }
      }
    }
    for (int i = 0; i < ranges.size(); i++) {
      for (int n = 1; n <= nodeCount; n++) {
        if (nodes[n].running()) {
          RangeDescriptor d = ReplicaChaos.descriptorOn(nodes[n].store, ranges.get(i).getRangeId());
          if (d != null && d.getGeneration() > ranges.get(i).getGeneration()) {
            ranges.set(i, d);
          }
        }
      }
    }
    ranges.forEach(d -> highestRangeId = Math.max(highestRangeId, d.getRangeId()));
    // A range whose span ranges of later generations cover was merged into them (and they may
    // have split again since).
    List<RangeDescriptor> all = new ArrayList<>(ranges);
    ranges.removeIf(d -> coveredByLater(all, d));
  }

  private static boolean coveredByLater(List<RangeDescriptor> all, RangeDescriptor d) {
    var order = ByteString.unsignedLexicographicalComparator();
    List<RangeDescriptor> later = new ArrayList<>();
    for (RangeDescriptor o : all) {
      if (o.getRangeId() != d.getRangeId()
          && o.getGeneration() > d.getGeneration()
          && ReplicaLifecycle.overlap(o, d)) {
        later.add(o);
      }
    }
    later.sort((a, b) -> order.compare(a.getStartKey(), b.getStartKey()));
    ByteString at = d.getStartKey();
    for (RangeDescriptor o : later) {
      if (order.compare(o.getStartKey(), at) > 0) {
        return false; // a gap
      }
      if (o.getEndKey().isEmpty()) {
        return true;
      }
      if (order.compare(o.getEndKey(), at) > 0) {
        at = o.getEndKey();
      }
      if (!d.getEndKey().isEmpty() && order.compare(at, d.getEndKey()) >= 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * The highest range id the simulation has known, merged away or not: a new range never gets an id
   * a range had (the meta range's allocator never gives one twice).
   */
  long highestRangeId;

  /**
   * Replicas whose descriptor or Raft configuration is not their range's current one once
   * everything has settled, described; empty when every replica of every range agrees.
   */
  List<String> configurationsDisagree() {
    refreshRanges();
    List<String> out = new ArrayList<>();
    // The ranges' descriptors tile the key space: from the empty key to the end, no gap, no
    // overlap.
    List<RangeDescriptor> sorted = new ArrayList<>(ranges);
    sorted.sort((a, b) ->
        ByteString.unsignedLexicographicalComparator().compare(a.getStartKey(), b.getStartKey()));
    ByteString expectedStart = ByteString.EMPTY;
    for (RangeDescriptor d : sorted) {
      if (!d.getStartKey().equals(expectedStart)) {
        out.add(
            "range " + d.getRangeId() + " starts at " + d.getStartKey() + ", not " + expectedStart);
      }
      expectedStart = d.getEndKey();
    }
    if (!expectedStart.isEmpty()) {
      out.add("the last range ends at " + expectedStart + ", not the end of the key space");
    }
    for (RangeDescriptor d : ranges) {
      for (ReplicaDescriptor r : d.getReplicasList()) {
        Store s = nodes[(int) r.getNodeId()].store;
        RangeDescriptor there = ReplicaChaos.descriptorOn(s, d.getRangeId());
        if (!d.equals(there)) {
          out.add("range " + d.getRangeId() + " on node " + r.getNodeId() + " has " + there);
          continue;
        }
        String membership = ReplicaInvariants.membership(s, d.getRangeId());
        String expected = ReplicaInvariants.membershipOf(d);
        if (!membership.equals(expected)) {
          out.add(
              "range "
                  + d.getRangeId()
                  + " on node "
                  + r.getNodeId()
                  + ": Raft configuration "
                  + membership
                  + ", descriptor "
                  + expected);
        }
      }
    }
    return out;
  }

  StoreSimulation withoutInternalChecks() {
    internalChecks = false;
    return this;
  }

  private void checkStores() {
    if (!internalChecks) {
      return;
    }
    for (int i = 1; i <= nodeCount; i++) {
      if (nodes[i].up) {
        nodes[i].store.checkInvariants();
      }
    }
  }

  void at(long time, Runnable action) {
    events.add(new Event(time, seq++, action));
  }

  private void scheduleTick(SimNode n, long delay) {
    int inc = n.incarnation;
    at(
        now + delay,
        () -> {
          if (n.incarnation != inc || !n.up) {
            return;
          }
          if (!n.paused) {
            n.store.tick();
            n.store.process();
            checkStores();
          }
          scheduleTick(n, TICK_MS);
        });
  }

  private boolean linked(long a, long b) {
    return !partitioned || partitionA.contains(a) == partitionA.contains(b);
  }

  private void deliverRaft(SimNode from, long to, RaftMessage m) {
    stats.messages++;
    if (!linked(from.id, to) || random.nextDouble() < dropRate(from.id, to)) {
      stats.dropped++;
      return;
    }
    int copies = random.nextDouble() < 0.01 ? 2 : 1;
    for (int c = 0; c < copies; c++) {
      long delay = 1 + random.nextInt(random.nextDouble() < 0.05 ? 40 : 5);
      SimNode target = nodes[(int) to];
      int inc = target.incarnation;
      at(
          now + delay,
          () -> {
            if (target.incarnation != inc || !target.up || !linked(from.id, to)) {
              return;
            }
            if (target.paused) {
              // A stalled process reads its socket when it resumes.
              deliverLater(target, () -> target.store.receive(from.id, m));
              return;
            }
            target.store.receive(from.id, m);
            target.store.process();
            checkStores();
          });
    }
  }

  /** Chunks travel in order on a connection (TCP), so each is delayed past the previous one. */
  private final long[][] lastChunkAt = new long[8][8];

  /** Sends one chunk of a stream; false if it was lost (the connection broke). */
  private boolean deliverChunk(SimNode from, long to, SnapshotChunk c) {
    stats.messages++;
    if (!linked(from.id, to) || random.nextDouble() < dropRate / 10) {
      stats.dropped++;
      return false;
    }
    SimNode target = nodes[(int) to];
    int inc = target.incarnation;
    long at = Math.max(now + 1 + random.nextInt(5), lastChunkAt[(int) from.id][(int) to] + 1);
    lastChunkAt[(int) from.id][(int) to] = at;
    at(
        at,
        () -> {
          if (target.incarnation != inc || !target.up || !linked(from.id, to)) {
            return;
          }
          if (target.paused) {
            deliverLater(target, () -> target.store.receiveSnapshotChunk(from.id, c));
            return;
          }
          target.store.receiveSnapshotChunk(from.id, c);
          target.store.process();
          checkStores();
        });
    return true;
  }

  private final TreeMap<Long, List<Runnable>> backlog = new TreeMap<>();

  private void deliverLater(SimNode target, Runnable r) {
    backlog.computeIfAbsent(target.id, k -> new ArrayList<>()).add(r);
  }

  private void deliverPing(SimNode from, long to) {
    if (!linked(from.id, to)) {
      return;
    }
    SimNode target = nodes[(int) to];
    at(
        now + 1 + random.nextInt(5),
        () -> {
          if (!target.running() || !linked(from.id, to)) {
            return;
          }
          target.store.heardFrom(from.id);
          at(
              now + 1 + random.nextInt(5),
              () -> {
                if (from.running() && linked(from.id, to)) {
                  from.store.heardFrom(to);
                }
              });
        });
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  private void scheduleFault() {
    at(
        now + 100 + random.nextInt(600),
        () -> {
          if (!faultsOn) {
            return;
          }
          int kind = random.nextInt(14);
          SimNode n = nodes[1 + random.nextInt(nodeCount)];
          if (kind < 3 && n.up && !n.paused) {
            crash(n, 50 + random.nextInt(1500));
          } else if (kind < 6 && !partitioned) {
            partition(200 + random.nextInt(2000));
          } else if (kind < 8 && n.up && !n.paused) {
            pause(n, 100 + random.nextInt(1500));
          } else if (kind < 11 && !partitioned) {
            isolateLeader(100 + random.nextInt(1000));
          } else if (kind < 13) {
            lossyBurst(100 + random.nextInt(800));
          }
          scheduleFault();
        });
  }

  private void crash(SimNode n, long downFor) {
    stats.crashes++;
    n.up = false;
    n.incarnation++;
    // A paused process can be killed too: what it had not read yet dies with it, and the process
    // that restarts is not paused.
    n.paused = false;
    backlog.remove(n.id);
    // A crash keeps a random prefix of the writes since the last sync (none to all of them).
    int kept = crashRandom.nextInt(n.engine.unsyncedWrites() + 1);
    if (kept > 0) {
      stats.crashesKeepingUnsynced++;
    }
    n.engine = n.engine.crash(kept);
    at(now + downFor, () -> restart(n));
  }

  private void restart(SimNode n) {
    if (n.up) {
      return;
    }
    n.up = true;
    n.start();
    scheduleTick(n, 1);
  }

  private void partition(long healAfter) {
    stats.partitions++;
    partitioned = true;
    partitionA.clear();
    for (long i = 1; i <= nodeCount; i++) {
      if (random.nextBoolean()) {
        partitionA.add(i);
      }
    }
    healLater(healAfter);
  }

  /**
   * Cuts the leader of a random range off from the rest, alone or with one other node: it goes on
   * taking proposals that reach at most that one node while the others elect a new leader, so logs
   * diverge on more than one replica (what overwrites, re-elections and lost proposals need).
   */
  private void isolateLeader(long healAfter) {
    RangeDescriptor d = ranges.get(random.nextInt(ranges.size()));
    long leader = 0;
    for (ReplicaDescriptor r : d.getReplicasList()) {
      SimNode n = nodes[(int) r.getNodeId()];
      if (n.up && n.store.isLeader(d.getRangeId())) {
        leader = n.id;
      }
    }
    if (leader == 0) {
      return;
    }
    stats.partitions++;
    partitioned = true;
    partitionA.clear();
    partitionA.add(leader);
    if (random.nextBoolean()) {
      partitionA.add(d.getReplicas(random.nextInt(d.getReplicasCount())).getNodeId());
    }
    healLater(healAfter);
  }

  /**
   * Steers one range, when its leaders happen to be elected, through the schedule in which a new
   * leader's log lacks a proposal that another replica still holds (Raft paper, Figure 8; the
   * safety issue's five-replica case): the leader L and one follower X are cut off together, so L's
   * proposals reach only X; a leader Y elected by the rest is put with L alone, so its first
   * entries overwrite L's; Y crashes and X is cut off, so L is elected again by the two others; L
   * is cut off at once, so X, still holding L's proposals, is elected and commits them. Each step
   * waits for the election the previous one provokes; a step whose election does not come in time
   * (or comes for another node) ends the schedule, and the next election starts it again.
   */
  private final class LostProposalNemesis {
    private int step;
    private long rangeId;
    private long l;
    private long x;
    private int attempt;

    void elected(long node, long range) {
      if (range == KeySpace.META_RANGE_ID) {
        return;
      }
      switch (step) {
        case 0 -> {
          if (partitioned || random.nextInt(4) != 0) {
            return;
          }
          // Once clients have found the new leader and have writes in flight there.
          rangeId = range;
          l = node;
          x = otherReplica(range, Set.of(l));
          step = 1;
          int a = attempt;
          at(
              now + 100 + random.nextInt(300),
              () -> {
                if (attempt == a && !partitioned && faultsOn && nodes[(int) l].up) {
                  isolate(Set.of(l, x));
                  giveUpAfter(3_000);
                } else if (attempt == a) {
                  end();
                }
              });
        }
        case 1 -> {
          if (range != rangeId || node == l || node == x || !partitioned) {
            return;
          }
          long y = node;
          isolate(Set.of(y, l));
          step = 2;
          int a = attempt;
          at(
              now + 20 + random.nextInt(80),
              () -> {
                if (attempt == a && step == 2 && faultsOn) {
                  if (nodes[(int) y].up) {
                    crash(nodes[(int) y], 2_000 + random.nextInt(1_000));
                  }
                  isolate(Set.of(x));
                }
              });
        }
        case 2 -> {
          if (range != rangeId) {
            return;
          }
          if (node == l) {
            stats.lostProposalSchedules++;
            isolate(Set.of(l));
            step = 3;
          } else {
            end();
          }
        }
        default -> {}
      }
    }

    private long otherReplica(long range, Set<Long> not) {
      List<Long> candidates = new ArrayList<>();
      for (ReplicaDescriptor r : rangeById(range).getReplicasList()) {
        if (!not.contains(r.getNodeId())) {
          candidates.add(r.getNodeId());
        }
      }
      return candidates.get(random.nextInt(candidates.size()));
    }

    private void giveUpAfter(long ms) {
      int a = attempt;
      at(
          now + ms,
          () -> {
            if (attempt == a) {
              end();
            }
          });
    }

    private void end() {
      attempt++;
      step = 0;
      partitioned = false;
    }
  }

  /** Ends the partition begun last after {@code ms}, unless another has begun since. */
  private void healLater(long ms) {
    long epoch = ++partitionEpoch;
    at(
        now + ms,
        () -> {
          if (partitionEpoch == epoch) {
            partitioned = false;
          }
        });
  }

  /** Cuts {@code side} off from every other node (clients still reach all). */
  private void isolate(Set<Long> side) {
    partitionEpoch++;
    stats.partitions++;
    partitioned = true;
    partitionA.clear();
    partitionA.addAll(side);
  }

  /**
   * A while of flaky links: each one-way link loses none, some, most or all of its messages, so
   * appends and votes reach some replicas and not others.
   */
  private void lossyBurst(long forMs) {
    stats.lossyBursts++;
    double[] rates = {0, 0.3, 0.9, 1.0};
    for (int a = 1; a <= nodeCount; a++) {
      for (int b = 1; b <= nodeCount; b++) {
        linkDropRate[a][b] = rates[random.nextInt(rates.length)];
      }
    }
    at(now + forMs, this::endLossyBurst);
  }

  private void endLossyBurst() {
    for (double[] row : linkDropRate) {
      Arrays.fill(row, 0);
    }
  }

  private final double[][] linkDropRate = new double[6][6];

  private double dropRate(long from, long to) {
    return Math.max(dropRate, linkDropRate[(int) from][(int) to]);
  }

  private void pause(SimNode n, long forMs) {
    stats.pauses++;
    n.paused = true;
    n.pausedAt = now;
    int inc = n.incarnation;
    at(now + forMs, () -> resume(n, inc));
  }

  private void resume(SimNode n, int inc) {
    if (n.incarnation != inc || !n.paused) {
      return;
    }
    n.paused = false;
    // The stalled process first catches up on the ticks it missed, then reads what arrived.
    long missed = (now - n.pausedAt) / TICK_MS;
    for (long i = 0; i < missed; i++) {
      n.store.tick();
    }
    List<Runnable> queued = backlog.remove(n.id);
    if (queued != null) {
      queued.forEach(Runnable::run);
    }
    n.store.process();
    checkStores();
  }

  private void healAll() {
    faultsOn = false;
    endLossyBurst();
    partitioned = false;
    for (int i = 1; i <= nodeCount; i++) {
      SimNode n = nodes[i];
      if (!n.up) {
        restart(n);
      } else if (n.paused) {
        resume(n, n.incarnation);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  private final class Client {
    final int id;

    /** The process id its operations are recorded under; a new one after an unknown outcome. */
    long process;

    /** The node this client believes leads each range (absent: unknown). */
    final Map<Long, Long> leaderGuess = new HashMap<>();

    Client(int id) {
      this.id = id;
      this.process = nextProcess++;
    }

    void next(long stopAt) {
      at(
          now + random.nextInt(20),
          () -> {
            if (now < stopAt) {
              issue(stopAt);
            }
          });
    }

    void issue(long stopAt) {
      String key = keys.get(random.nextInt(keys.size()));
      int kind = random.nextInt(100);
      String value = "c" + id + "-" + (++clientSeq);
      RegisterModel.Op op;
      KvRequest.Builder req = KvRequest.newBuilder();
      ByteString k = ByteString.copyFromUtf8(key);
      if (kind < 40) {
        op = new RegisterModel.Read();
        req.setGet(GetRequest.newBuilder().setKey(k));
      } else if (kind < 70) {
        op = new RegisterModel.Write(value);
        req.setPut(PutRequest.newBuilder().setKey(k).setValue(ByteString.copyFromUtf8(value)));
      } else if (kind < 85) {
        op = new RegisterModel.Write(null);
        req.setDelete(DeleteRequest.newBuilder().setKey(k));
      } else {
        String expected = lastSeen(key);
        op = new RegisterModel.Cas(expected, value);
        ConditionalPutRequest.Builder c =
            ConditionalPutRequest.newBuilder().setKey(k).setValue(ByteString.copyFromUtf8(value));
        if (expected == null) {
          c.setExpectAbsent(true);
        } else {
          c.setExpectedValue(ByteString.copyFromUtf8(expected));
        }
        req.setConditionalPut(c);
      }
      RangeDescriptor range = rangeOf(key);
      byte[] requestId = ByteBuffer.allocate(16).putLong(id).putLong(clientSeq).array();
      req.setHeader(
          RequestHeader.newBuilder()
              .setRangeId(range.getRangeId())
              .setRequestId(ByteString.copyFrom(requestId)));
      Attempt a = new Attempt(this, key, op, req.build(), now, now + 2_000, stopAt);
      // A quarter of the operations give up after one to three attempts, as a client whose
      // remaining attempts failed before its deadline: the answer it last got is what it reports.
      if (random.nextInt(4) == 0) {
        a.maxAttempts = 1 + random.nextInt(3);
      }
      a.send();
    }
  }

  private final TreeMap<String, String> lastSeen = new TreeMap<>();

  private String lastSeen(String key) {
    return lastSeen.get(key);
  }

  String storesDump() {
    StringBuilder b = new StringBuilder();
    for (int n = 1; n <= nodeCount; n++) {
      b.append(" n").append(n).append(nodes[n].running() ? "" : "(down)").append(":");
      for (var st : nodes[n].store.status()) {
        var d = st.getRange();
        b.append(" ")
            .append(d.getRangeId())
            .append("@")
            .append(d.getGeneration())
            .append("[")
            .append(d.getStartKey().toStringUtf8())
            .append(",")
            .append(d.getEndKey().toStringUtf8())
            .append(")")
            .append(st.getFrozenMergeId() != 0 ? "F" : "")
            .append(st.getPreparedMergeId() != 0 ? "P" : "");
      }
    }
    return b.toString();
  }

  RangeDescriptor rangeOf(String key) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    for (int attempt = 0; attempt < 2; attempt++) {
      for (RangeDescriptor d : ranges) {
        if (d.getRangeId() != KeySpace.META_RANGE_ID && KeySpace.contains(d, k)) {
          return d;
        }
      }
      refreshRanges(); // (a merge removed the range, and a split the simulation missed took it)
    }
    throw new IllegalStateException(
        "no range for "
            + key
            + " stores: "
            + storesDump()
            + " among "
            + ranges.stream()
                .map(d ->
                    d.getRangeId()
                        + "@"
                        + d.getGeneration()
                        + "["
                        + d.getStartKey().toStringUtf8()
                        + ","
                        + d.getEndKey().toStringUtf8()
                        + ")")
                .toList());
  }

  /** One logical operation, retried (same request id) until it completes or its deadline. */
  private final class Attempt {
    final Client client;
    final String key;
    final RegisterModel.Op op;

    /** What it sends: the range in its header changes when a split moves its key. */
    KvRequest request;

    final long invokedAt;
    final long deadline;
    final long stopAt;
    boolean finished;
    boolean unknown;

    /** The client ran out of time and stopped retrying: finished, but nothing was answered. */
    boolean gaveUp;

    String lastError = "no answer";
    int attempt;

    /**
     * Attempts answered with an error that promises the write was not applied (NotLeader,
     * Unavailable, RangeNotFound, NOT_SERVING...). Only when every attempt got one is the operation
     * a definite failure; an attempt with no answer (lost, dropped, superseded by a retry) or a
     * Timeout leaves the outcome unknown.
     */
    int definiteRefusals;

    /** The invocation's place among all invocations and returns (virtual time is coarse). */
    final long callSeq;

    /** Attempts before the client gives up even if its deadline has not passed. */
    int maxAttempts = Integer.MAX_VALUE;

    /** Retries until its deadline whatever the answers (the checks after the heal). */
    boolean persistent;

    Attempt(
        Client client,
        String key,
        RegisterModel.Op op,
        KvRequest request,
        long invokedAt,
        long deadline,
        long stopAt) {
      this.client = client;
      this.key = key;
      this.op = op;
      this.request = request;
      this.invokedAt = invokedAt;
      this.deadline = deadline;
      this.stopAt = stopAt;
      this.callSeq = ++opEventSeq;
    }

    boolean isWrite() {
      return !(op instanceof RegisterModel.Read);
    }

    void send() {
      if (finished) {
        return;
      }
      if (now >= deadline || attempt >= maxAttempts) {
        giveUp();
        return;
      }
      int myAttempt = ++attempt;
      if (myAttempt > 1) {
        stats.retries++;
      }
      long rangeId = request.getHeader().getRangeId();
      long target = client.leaderGuess.getOrDefault(rangeId, 0L);
      if (target == 0 || random.nextInt(10) == 0) {
        target = 1 + random.nextInt(nodeCount);
      }
      SimNode node = nodes[(int) target];
      at(
          now + 1 + random.nextInt(3),
          () -> {
            if (!node.running()) {
              return; // lost; the attempt timer retries
            }
            // Every request a running store takes is answered exactly once (or its store crashed).
            long[] answers = new long[1];
            int incarnation = node.incarnation;
            long submittedAt = now;
            unanswered.add(() ->
                answers[0] == 0 && node.incarnation == incarnation && now - submittedAt > 2_000);
            node.store.submit(
                request,
                response -> {
                  if (++answers[0] > 1) {
                    throw new AssertionError("a request was answered twice: " + request);
                  }
                  at(
                      now + 1 + random.nextInt(3),
                      () -> {
                        if (attempt == myAttempt && random.nextDouble() >= dropRate) {
                          onResponse(node.id, response);
                        }
                      });
                });
            node.store.process();
            checkStores();
          });
      at(
          now + attemptTimeoutMs,
          () -> {
            if (!finished && attempt == myAttempt) {
              send();
            }
          });
    }

    void onResponse(long fromNode, KvResponse r) {
      if (finished) {
        return;
      }
      long rangeId = request.getHeader().getRangeId();
      if (r.hasError()) {
        var e = r.getError();
        lastError =
            (lastError.length() > 600 ? lastError.substring(lastError.length() - 600) : lastError)
                + " | t="
                + now
                + " node "
                + fromNode
                + ": "
                + e.toString().replace('\n', ' ');
        if (e.hasNotLeader()) {
          long hint = e.getNotLeader().getLeaderHint().getNodeId();
          client.leaderGuess.put(rangeId, hint);
          definiteRefusals++;
        } else if (e.hasTimeout()) {
          client.leaderGuess.put(rangeId, 0L);
        } else if (e.hasKeyNotInRange()) {
          // A split moved the key: to the range the node names, or the one the client now
          // believes holds it (its cache may be stale too: then this happens again).
          long to =
              e.getKeyNotInRange().hasCovering()
                  ? e.getKeyNotInRange().getCovering().getRangeId()
                  : rangeOf(key).getRangeId();
          request =
              request.toBuilder().setHeader(request.getHeader().toBuilder().setRangeId(to)).build();
          stats.redirects++;
          definiteRefusals++;
        } else if (e.hasRangeNotFound() || e.hasUnavailable()) {
          client.leaderGuess.put(rangeId, 0L);
          definiteRefusals++;
        } else if (e.hasGeneric()
            && (e.getGeneric().getCode().equals(Errors.NOT_SERVING)
                || e.getGeneric().getCode().equals(Errors.NOT_INITIALIZED))) {
          client.leaderGuess.put(rangeId, 0L);
          definiteRefusals++;
        } else {
          throw new AssertionError("unexpected error for " + request + ": " + r);
        }
        if (!persistent && definiteRefusals == attempt && random.nextInt(3) == 0) {
          giveUp(); // its caller stops here: the refusal is the answer it reports
          return;
        }
        at(now + 5 + random.nextInt(20), this::send);
        return;
      }
      client.leaderGuess.put(rangeId, fromNode);
      Object output;
      switch (op) {
        case RegisterModel.Read read -> {
          output = r.getGet().getFound() ? r.getGet().getKv().getValue().toStringUtf8() : null;
          lastSeen.put(key, (String) output);
          if (output == null) {
            lastSeen.remove(key);
            output = RegisterModel.ABSENT;
          }
        }
        case RegisterModel.Write w -> output = null;
        case RegisterModel.Cas c -> output = r.getConditionalPut().getSucceeded();
      }
      finish(output, now);
    }

    void giveUp() {
      gaveUp = true;
      if (isWrite() && definiteRefusals < attempt) {
        finish(null, Operation.UNKNOWN);
      } else {
        // A definite failure: left out of the history, so a read of its value cannot be
        // linearized; and checked against every replica's versions at the end.
        finished = true;
        stats.opsFailed++;
        if (isWrite()) {
          stats.writesFailed++;
          definitelyFailed.add(this);
        }
        client.next(stopAt);
      }
    }

    void finish(Object output, long returnTime) {
      finished = true;
      unknown = returnTime == Operation.UNKNOWN;
      if (returnTime == Operation.UNKNOWN) {
        stats.opsUnknown++;
      } else {
        stats.opsOk++;
      }
      history.add(
          new Operation<>(
              client.process,
              key,
              op,
              output,
              invokedAt,
              returnTime,
              callSeq,
              unknown ? Long.MAX_VALUE : ++opEventSeq));
      if (unknown) {
        client.process = nextProcess++; // an unknown outcome ends its process
      }
      client.next(stopAt);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** Runs the workload with faults for {@code faultyMs}, heals, and lets everything settle. */
  void run(long faultyMs, int clientCount) {
    if (txns != null) {
      txns.start(4, faultyMs);
    }
    List<Client> clients = new ArrayList<>();
    for (int i = 0; i < clientCount; i++) {
      Client c = new Client(i + 1);
      clients.add(c);
      c.next(faultyMs);
    }
    scheduleFault();
    if (chaos != null) {
      chaos.start(faultyMs);
    }
    at(faultyMs, this::healAll);
    runUntil(faultyMs + 3_000);
    if (txns != null) {
      txns.startFinal();
    }
    // After healing: one final read of every key must succeed (liveness), and is checked too.
    long stopAt = now + 5_000;
    for (String key : keys) {
      Client c = clients.get(0);
      KvRequest req =
          KvRequest.newBuilder()
              .setHeader(RequestHeader.newBuilder().setRangeId(rangeOf(key).getRangeId()))
              .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
              .build();
      finalReads.add(new Attempt(c, key, new RegisterModel.Read(), req, now, now + 5_000, 0));
    }
    for (Attempt a : finalReads) {
      a.persistent = true;
      a.send();
    }
    runUntil(stopAt);
    // Then one write of every key must succeed too (no key is left latched, no range stuck).
    stopAt = now + 5_000;
    for (String key : keys) {
      Client c = clients.get(0);
      String value = "final-" + key;
      KvRequest req =
          KvRequest.newBuilder()
              .setHeader(
                  RequestHeader.newBuilder()
                      .setRangeId(rangeOf(key).getRangeId())
                      .setRequestId(ByteString.copyFromUtf8("final/" + key)))
              .setPut(
                  PutRequest.newBuilder()
                      .setKey(ByteString.copyFromUtf8(key))
                      .setValue(ByteString.copyFromUtf8(value)))
              .build();
      finalWrites.add(
          new Attempt(c, key, new RegisterModel.Write(value), req, now, now + 5_000, 0));
    }
    for (Attempt a : finalWrites) {
      a.persistent = true;
      a.send();
    }
    runUntil(stopAt);
    if (txns != null) {
      // The final transactions may wait out an abandoned transaction's expiry (TxnSimWorkload).
      runUntil(now + 8_000);
    }
    if (chaos != null) {
      refreshRanges();
    }
  }

  final List<Attempt> finalReads = new ArrayList<>();
  private final List<Attempt> definitelyFailed = new ArrayList<>();

  /**
   * Messages the stores dropped, by node, range and reason (digits folded), for failure reports.
   */
  final TreeMap<String, Long> drops = new TreeMap<>();

  /**
   * Writes whose client was told, by every attempt's answer, that they were not applied, and whose
   * value some replica holds as a version of their key (puts and compare-and-sets: each writes a
   * value no other operation writes). Empty when every definite failure kept its promise.
   */
  List<String> definiteFailuresApplied() {
    List<String> out = new ArrayList<>();
    for (Attempt a : definitelyFailed) {
      String value =
          switch (a.op) {
            case RegisterModel.Write w -> w.value();
            case RegisterModel.Cas c -> c.value();
            case RegisterModel.Read r -> null;
          };
      if (value == null) {
        continue; // a delete writes no value of its own
      }
      byte[] k = a.key.getBytes(StandardCharsets.UTF_8);
      byte[] v = value.getBytes(StandardCharsets.UTF_8);
      for (int n = 1; n <= nodeCount; n++) {
        for (MvccStore.Version version : allVersions(nodes[n].engine, k)) {
          if (Arrays.equals(version.value(), v)) {
            out.add(
                a.key
                    + " = "
                    + value
                    + " on node "
                    + n
                    + " at "
                    + version.timestamp()
                    + ", though every attempt was refused: "
                    + a.lastError);
          }
        }
      }
    }
    return out;
  }

  /** Every version of {@code key} on {@code node}, newest first, as "timestamp=value ". */
  String versions(int node, String key) {
    StringBuilder sb = new StringBuilder();
    for (MvccStore.Version v :
        allVersions(nodes[node].engine, key.getBytes(StandardCharsets.UTF_8))) {
      sb.append(v.timestamp())
          .append('=')
          .append(v.value() == null ? "null" : new String(v.value(), StandardCharsets.UTF_8))
          .append(' ');
    }
    return sb.toString();
  }

  /** Every version of {@code key} in {@code engine}, newest first. */
  private static List<MvccStore.Version> allVersions(MemEngine engine, byte[] key) {
    List<MvccStore.Version> out = new ArrayList<>();
    Timestamp ts = Timestamp.MAX;
    Optional<MvccStore.Version> v;
    while ((v = MvccStore.getVersion(engine, key, ts)).isPresent()) {
      out.add(v.get());
      Timestamp t = v.get().timestamp();
      if (t.logical() > 0) {
        ts = new Timestamp(t.wallNanos(), t.logical() - 1);
      } else if (t.wallNanos() > 0) {
        ts = new Timestamp(t.wallNanos() - 1, Integer.MAX_VALUE);
      } else {
        break;
      }
    }
    return out;
  }

  /**
   * Replicas whose applied index is not their range's highest once everything has settled: every
   * replica of every range must catch up after the faults stop. Empty when all did.
   */
  List<String> laggingReplicas() {
    List<String> out = new ArrayList<>();
    for (RangeDescriptor d : ranges) {
      long max = 0;
      for (ReplicaDescriptor r : d.getReplicasList()) {
        max = Math.max(max, nodes[(int) r.getNodeId()].store.appliedIndex(d.getRangeId()));
      }
      for (ReplicaDescriptor r : d.getReplicasList()) {
        SimNode n = nodes[(int) r.getNodeId()];
        long applied = n.store.appliedIndex(d.getRangeId());
        if (applied != max) {
          out.add(
              "range "
                  + d.getRangeId()
                  + " on node "
                  + n.id
                  + " applied "
                  + applied
                  + " of "
                  + max
                  + ": "
                  + n.store.debugRange(d.getRangeId())
                  + "\n  dropped: "
                  + drops);
        }
      }
    }
    return out;
  }

  final List<Attempt> finalWrites = new ArrayList<>();
  private final List<java.util.function.BooleanSupplier> unanswered = new ArrayList<>();

  /** How many requests a store took and never answered, though it kept running. */
  long unansweredRequests() {
    return unanswered.stream().filter(java.util.function.BooleanSupplier::getAsBoolean).count();
  }

  /**
   * Runs the workload as the CI does ({@link #run} for 8 s with 6 clients) and names every check
   * that failed: {@code exception} (a store or simulator invariant threw), {@code linearizability},
   * {@code definite failure applied}, {@code unreadable after heal}, {@code unwritable after heal},
   * {@code unanswered request}, {@code replicas disagree}, {@code replica lagging}. Each name maps
   * to its details.
   */
  java.util.LinkedHashMap<String, String> runAndCheck() {
    java.util.LinkedHashMap<String, String> failed = new java.util.LinkedHashMap<>();
    try {
      run(8_000, 6);
    } catch (RuntimeException | AssertionError e) {
      failed.put("exception", String.valueOf(e));
      return failed;
    }
    var lin =
        new io.basalt.range.check.LinearizabilityChecker().check(new RegisterModel(), history);
    if (!lin.linearizable()) {
      failed.put("linearizability", lin.describe());
    }
    putIfAny(failed, "definite failure applied", definiteFailuresApplied());
    putIfAny(failed, "unreadable after heal", unreadKeysAfterHeal());
    putIfAny(failed, "unwritable after heal", unwritableKeysAfterHeal());
    if (unansweredRequests() > 0) {
      failed.put("unanswered request", unansweredRequests() + " requests");
    }
    putIfAny(failed, "replicas disagree", divergence());
    putIfAny(failed, "replica state differs", stateDivergence());
    putIfAny(failed, "replica lagging", laggingReplicas());
    if (chaos != null) {
      putIfAny(failed, "configurations disagree", configurationsDisagree());
    }
    if (txns != null) {
      failed.putAll(txns.check());
    }
    return failed;
  }

  private static void putIfAny(
      java.util.Map<String, String> failed, String check, List<String> problems) {
    if (!problems.isEmpty()) {
      failed.put(check, String.join("\n", problems));
    }
  }

  /** Keys whose final write did not succeed after the cluster healed. */
  List<String> unwritableKeysAfterHeal() {
    List<String> out = new ArrayList<>();
    for (Attempt a : finalWrites) {
      if (!a.finished || a.unknown || a.gaveUp) {
        StringBuilder state = new StringBuilder();
        for (int n = 1; n <= nodeCount; n++) {
          state
              .append("\n  node ")
              .append(n)
              .append(": ")
              .append(nodes[n].store.debugRange(rangeOf(a.key).getRangeId()));
        }
        out.add(a.key + " (" + a.attempt + " attempts, last: " + a.lastError + ")" + state);
      }
    }
    return out;
  }

  /**
   * Keys whose final read did not return a value after the cluster healed: never completed, never
   * sent, or given up on (a read the client abandoned is a failure, not a success).
   */
  List<String> unreadKeysAfterHeal() {
    List<String> out = new ArrayList<>();
    for (Attempt a : finalReads) {
      if (!a.finished || a.attempt == 0 || a.gaveUp) {
        out.add(
            a.key
                + (a.gaveUp ? " (gave up after " + a.attempt + " attempts, last: " : " (")
                + a.lastError
                + ")");
      }
    }
    return out;
  }

  private void runUntil(long end) {
    Event e;
    while ((e = events.peek()) != null && e.time <= end) {
      events.poll();
      now = e.time;
      stats.events++;
      e.action.run();
    }
    now = end;
  }

  /**
   * Replicas of a range at the same applied index whose replicated state differs byte for byte,
   * described: every key a snapshot of the range carries (versions and intents, the transaction
   * records anchored in it, the range-local records), compared once everything has settled. The
   * state machine is deterministic, so equal indexes mean equal state, whether a replica got there
   * by applying entries or by installing a snapshot.
   */
  List<String> stateDivergence() {
    List<String> out = new ArrayList<>();
    for (RangeDescriptor d : ranges) {
      Map<Long, List<Long>> byApplied = new TreeMap<>();
      for (ReplicaDescriptor r : d.getReplicasList()) {
        long n = r.getNodeId();
        byApplied
            .computeIfAbsent(
                nodes[(int) n].store.appliedIndex(d.getRangeId()), a -> new ArrayList<>())
            .add(n);
      }
      for (var e : byApplied.entrySet()) {
        List<Long> same = e.getValue();
        List<String> first = replicatedState(nodes[(int) (long) same.get(0)].store, d);
        for (long n : same.subList(1, same.size())) {
          List<String> other = replicatedState(nodes[(int) n].store, d);
          if (!first.equals(other)) {
            int i = 0;
            while (i < first.size() && i < other.size() && first.get(i).equals(other.get(i))) {
              i++;
            }
            out.add(
                "range "
                    + d.getRangeId()
                    + " at applied index "
                    + e.getKey()
                    + ": node "
                    + n
                    + " holds "
                    + (i < other.size() ? other.get(i) : "nothing more")
                    + " where node "
                    + same.get(0)
                    + " holds "
                    + (i < first.size() ? first.get(i) : "nothing more"));
          }
        }
      }
    }
    return out;
  }

  /** Every key and value of {@code d}'s replicated state in {@code store}'s engine, in order. */
  private static List<String> replicatedState(Store store, RangeDescriptor d) {
    List<String> out = new ArrayList<>();
    var span =
        new io.basalt.range.snapshot.RangeSpan(
            d.getRangeId(), d.getStartKey().toByteArray(), d.getEndKey().toByteArray());
    for (var s : span.engineSpans()) {
      try (var it = store.engine.newIterator(s.cf(), s.lower(), s.upper())) {
        for (it.seekToFirst(); it.valid(); it.next()) {
          out.add(s.cf() + " " + hex(it.key()) + " = " + hex(it.value()));
        }
      }
    }
    return out;
  }

  private static String hex(byte[] bytes) {
    return java.util.HexFormat.of().formatHex(bytes);
  }

  /**
   * Replicas of each data range that disagree on a key once everything has settled (every replica
   * applied the same log), described; empty when all agree.
   */
  List<String> divergence() {
    List<String> out = new ArrayList<>();
    for (RangeDescriptor d : ranges) {
      if (d.getRangeId() == KeySpace.META_RANGE_ID) {
        continue;
      }
      long[] replicas = d.getReplicasList().stream().mapToLong(r -> r.getNodeId()).toArray();
      long applied = -1;
      boolean sameApplied = true;
      for (long n : replicas) {
        long a = nodes[(int) n].store.appliedIndex(d.getRangeId());
        if (applied >= 0 && a != applied) {
          sameApplied = false;
        }
        applied = Math.max(applied, a);
      }
      if (!sameApplied) {
        continue; // a replica still catching up is not a divergence; values are compared below
      }
      List<String> all = new ArrayList<>(keys);
      if (txns != null) {
        all.addAll(txns.keys());
      }
      for (String key : all) {
        if (!rangeOf(key).equals(d)) {
          continue;
        }
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        Optional<byte[]> first = null;
        for (long n : replicas) {
          Optional<byte[]> v = nodes[(int) n].store.readLocal(d.getRangeId(), k);
          if (first == null) {
            first = v;
          } else if (first.isPresent() != v.isPresent()
              || (v.isPresent() && !Arrays.equals(first.get(), v.get()))) {
            out.add("range " + d.getRangeId() + " key " + key + " differs on node " + n);
          }
        }
      }
    }
    return out;
  }
}
