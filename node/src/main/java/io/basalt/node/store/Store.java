package io.basalt.node.store;

import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RaftCommand;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.Ready;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.eval.Commands;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;

/**
 * The Multi-Raft store: every range replica of one node, driven together (DESIGN.md decisions 2–5).
 *
 * <p><b>Deterministic and single-threaded.</b> The store has no threads, sockets or timers of its
 * own: its host feeds it {@link #tick()}, {@link #receive}, {@link #submit} and {@link #heardFrom},
 * and calls {@link #process()} to do the work those inputs created. The real node drives it from
 * one thread ({@code StoreLoop}); the whole-cluster simulator drives many stores from one thread
 * with a simulated network and crashing disks. Only the injected {@code nanoTime} (for metrics and
 * the load counts of load-based splits) and the engine's contents differ between the two.
 *
 * <p><b>One group commit per round.</b> {@link #process()} collects the {@link Ready} of every
 * replica with work, stages all their log entries and hard states in one {@link WriteBatch}, writes
 * it with one fsync, and only then sends the messages Raft allows after persistence, applies
 * committed entries and answers clients. Leaders' replication traffic goes out before the fsync
 * (thesis §10.2.1).
 *
 * <p><b>Requests</b> are handled by each range's {@link Replica}, through the {@link Commands}
 * table. Writes are evaluated by the leader into a {@link RaftCommand} (decision 3) after it has
 * applied everything up to its first entry of its term, under per-key latches held from evaluation
 * until the command is applied or known to be lost, so that concurrent writes to a key evaluate in
 * log order. A retried request id is answered from its dedupe record. Reads go through ReadIndex,
 * which the core answers at once under a valid lease, and are served once the read index is
 * applied. A write is answered NotLeader (it was not applied, retry is safe) only once that is
 * certain: another entry was committed at its index, or an entry of a later term was committed
 * before it; one that outlives its deadline is answered Timeout (its outcome is unknown).
 *
 * <p><b>Snapshots</b> leave as {@link SnapshotStream}s that the network pulls chunk by chunk; the
 * leader waits for the follower's answer, and reports a stream that failed to its core, which sends
 * another. <b>Serving</b> stops while the node is told so ({@link #setNotServing}) or its clock is
 * behind the bound its data was written under (after a restart with the clock stepped back);
 * meanwhile it hands the ranges it leads to followers.
 */
public final class Store {
  /** Where the store's outbound traffic goes. */
  public interface Network {
    void send(long toNode, RaftMessage message);

    /** A liveness (and clock) probe to a peer node; the peer answers with {@link #heardFrom}. */
    void ping(long toNode);

    /**
     * Starts streaming a snapshot to {@code toNode}: the network pulls its chunks, in order, as the
     * connection takes them, and {@link SnapshotStream#abort aborts} it if the connection fails.
     * Returns false if it cannot take the stream at all (no connection to that node); the store
     * then releases it.
     */
    boolean sendSnapshot(long toNode, SnapshotStream stream);

    /**
     * Sends what was queued so far. A network may hold what the store thread queues until this is
     * called, which the store does at every point of a round where waiting would cost latency:
     * after the messages that go out before the fsync, after the answers, and at the round's end.
     */
    default void flush() {}
  }

  private StoreRules rules = StoreRules.CORRECT;

  /** The rules in force (always {@link StoreRules#CORRECT} outside this package's tests). */
  StoreRules rules() {
    return rules;
  }

  /** Test hook: substitutes deliberately broken rules (see {@link StoreRules}). */
  void testOnlyRules(StoreRules rules) {
    this.rules = Objects.requireNonNull(rules);
  }

  /** The identity a store was initialized with. */
  public record Identity(String clusterId, long nodeId) {}

  private final long nodeId;
  final Engine engine;
  final HybridClock clock;
  final Network network;

  /** Whether a round is running: its answers go out before its write, so inputs must wait. */
  private boolean inRound;

  private final ArrayDeque<Runnable> heldInputs = new ArrayDeque<>();

  /** How a round's batch gets to disk (see {@link Persister}); synchronous unless set. */
  private Persister persister;

  /** Batches handed to the persister and not yet reported, oldest first. */
  private final ArrayDeque<Batch> writesInFlight = new ArrayDeque<>();

  private final WriteStallWatch stallWatch = new WriteStallWatch();

  private final Collector collector;

  final StoreOptions options;
  final RandomGenerator random;
  final StoreListener listener;
  final LongSupplier nanoTime;
  private final TreeMap<Long, Replica> replicas = new TreeMap<>();

  /** Which replicas are ticked. */
  final Hibernation hibernation = new Hibernation(this);

  /** Replicas with work for the next round. */
  final LinkedHashSet<Replica> dirty = new LinkedHashSet<>();

  // Every request gets the same timeout, so deadlines arrive in submission order.
  private final ArrayDeque<Pending> deadlines = new ArrayDeque<>();
  private final Map<Long, Long> lastHeard = new HashMap<>();
  private final Map<Long, String> addresses = new HashMap<>();
  private Identity identity;
  private long ticks;
  private long readSeq;
  private final ServingGate serving;

  /** The clock bound last staged for writing (see CLOCK_BOUND_KEY). */
  private long clockBoundNanos;

  public Store(
      long nodeId,
      Engine engine,
      HybridClock clock,
      Network network,
      StoreOptions options,
      RandomGenerator random,
      StoreListener listener,
      LongSupplier nanoTime) {
    if (nodeId <= 0) {
      throw new IllegalArgumentException("node id must be positive, got " + nodeId);
    }
    this.nodeId = nodeId;
    this.engine = engine;
    this.clock = clock;
    this.network = network;
    this.options = options;
    this.random = random;
    this.listener = listener;
    this.nanoTime = nanoTime;
    this.serving = new ServingGate(clock);
    this.collector = new Collector(options, clock);
    this.persister =
        (batch, sync, written) -> {
          long t0 = nanoTime.getAsLong();
          if (!batch.isEmpty() || sync) {
            engine.write(batch, sync);
          }
          written.accept(nanoTime.getAsLong() - t0);
        };
  }

  /**
   * Writes rounds' batches through {@code persister} from now on (before the first round): a node's
   * writer thread, so that rounds overlap their fsyncs.
   */
  public void setPersister(Persister persister) {
    this.persister = Objects.requireNonNull(persister, "persister");
  }

  /** The identity recorded in {@code engine}, if the store was ever initialized. */
  public static Optional<Identity> readIdentity(Engine engine) {
    return StoreRecords.readIdentity(engine);
  }

  /** The nodes recorded in {@code engine} as decommissioned (refused for good). */
  public static List<Long> decommissionedNodes(Engine engine) {
    return StoreRecords.decommissioned(engine);
  }

  /** Records in {@code engine}, synced, that node {@code nodeId} is decommissioned. */
  public static void recordDecommissioned(Engine engine, long nodeId) {
    StoreRecords.putDecommissioned(engine, nodeId);
  }

  /**
   * Loads the replicas this store holds (after a restart).
   *
   * @throws IllegalStateException if the store belongs to another node id
   */
  public void load() {
    clockBoundNanos = StoreRecords.readClockBound(engine);
    serving.setClockBoundAtStart(clockBoundNanos);
    Optional<Identity> stored = readIdentity(engine);
    if (stored.isEmpty()) {
      return;
    }
    if (stored.get().nodeId() != nodeId) {
      throw new IllegalStateException(
          "this store belongs to node "
              + stored.get().nodeId()
              + ", not node "
              + nodeId
              + "; start it with --id "
              + stored.get().nodeId());
    }
    identity = stored.get();
    ReplicaLifecycle.loadAll(this);
  }

  public Optional<Identity> identity() {
    return Optional.ofNullable(identity);
  }

  public long nodeId() {
    return nodeId;
  }

  /**
   * Initializes this store as one of the first nodes of cluster {@code clusterId}: records the
   * identity and creates a replica of every range in {@code ranges} that names this node, all in
   * one synced write. The meta range's replica also gets the range and node directories. Every
   * initial replica of a range writes exactly the same state, so they start in agreement.
   * Idempotent: ranges this store already holds are left alone (a repeated bootstrap request, or
   * one that arrives after the node learned the cluster id from a peer).
   *
   * @throws IllegalStateException if the store belongs to another cluster
   */
  public void bootstrap(
      String clusterId, List<RangeDescriptor> ranges, List<NodeDescriptor> nodes) {
    if (identity != null && !identity.clusterId().equals(clusterId)) {
      throw new IllegalStateException(
          "this store already belongs to cluster " + identity.clusterId());
    }
    WriteBatch batch = new WriteBatch();
    if (identity == null) {
      StoreRecords.putIdentity(batch, new Identity(clusterId, nodeId));
    }
    List<RangeDescriptor> mine = new ArrayList<>();
    for (RangeDescriptor d : ranges) {
      if (d.getReplicasList().stream().noneMatch(r -> r.getNodeId() == nodeId)
          || replicas.containsKey(d.getRangeId())
          || StoreRecords.readTombstone(engine, d.getRangeId()) > 0) {
        // (A late bootstrap must not bring back an initial replica destroyed since.)
        continue;
      }
      mine.add(d);
      StoreRecords.stageInitialReplica(engine, batch, d, ranges, nodes);
    }
    engine.write(batch, true);
    identity = new Identity(clusterId, nodeId);
    for (RangeDescriptor d : mine) {
      Replica r = new Replica(this, d);
      replicas.put(d.getRangeId(), r);
      dirty.add(r);
      listener.replicaCreated(d.getRangeId(), false);
      initialLeaders.add(r);
    }
  }

  /** The replicas created by this store's bootstrap, until init spreads their leaders. */
  final InitialLeaders initialLeaders = new InitialLeaders();

  /** See {@link InitialLeaders#readyVoters}. */
  public void readyInitialVoters() {
    initialLeaders.readyVoters();
  }

  /** See {@link InitialLeaders#spread}. */
  public void spreadInitialLeaders() {
    initialLeaders.spread(this);
  }

  /** Records the cluster this store belongs to, without replicas (a node joining later). */
  public void adopt(String clusterId) {
    if (identity != null && identity.clusterId().equals(clusterId)) {
      return;
    }
    if (identity != null) {
      throw new IllegalStateException(
          "this store already belongs to cluster " + identity.clusterId());
    }
    WriteBatch batch = new WriteBatch();
    StoreRecords.putIdentity(batch, new Identity(clusterId, nodeId));
    engine.write(batch, true);
    identity = new Identity(clusterId, nodeId);
  }

  /** Where node {@code id} listens, for NotLeader hints. */
  public void setAddress(long id, String address) {
    addresses.put(id, address);
  }

  /** Where node {@code id} listens, or null if unknown. */
  String address(long id) {
    return addresses.get(id);
  }

  /** A fresh ReadIndex context number. */
  long nextReadSeq() {
    return ++readSeq;
  }

  /**
   * Stops (reason non-null) or resumes (null) serving KV requests, e.g. while this node's clock
   * offset to the cluster is too large. Raft keeps running; clients are refused, and every range
   * this node leads hands its leadership to a follower (at each tick until one takes it): a leader
   * that cannot serve must not hold a range, quiesced or not, whose followers would otherwise never
   * elect another.
   */
  public void setNotServing(String reason) {
    serving.setNotServing(reason);
  }

  /** The nodes that hold a replica of some range this store has a replica of. */
  public Set<Long> peerNodes() {
    Set<Long> out = new HashSet<>();
    for (Replica r : replicas.values()) {
      for (var rd : r.descriptor.getReplicasList()) {
        if (rd.getNodeId() != nodeId) {
          out.add(rd.getNodeId());
        }
      }
    }
    return out;
  }

  public int replicaCount() {
    return replicas.size();
  }

  public int leaderCount() {
    int n = 0;
    for (Replica r : replicas.values()) {
      if (r.leader == nodeId) {
        n++;
      }
    }
    return n;
  }

  public long ticks() {
    return ticks;
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Advances logical time by one tick for every replica. */
  public void tick() {
    ticks++;
    String refusal = serving.refusal();
    long t = nanoTime.getAsLong();
    Batch oldest = writesInFlight.peekFirst();
    if (oldest == null) {
      stallWatch.check(t, t, 0);
    } else {
      stallWatch.check(t, oldest.handedOverNanos(), oldest.bytes());
    }
    hibernation.tick(refusal);
    if (refusal == null) {
      collector.tick(ticks, t, replicas.values());
    }
    if (ticks % options.pingEveryTicks() == 0) {
      Set<Long> peers = peerNodes();
      for (long peer : peers) {
        network.ping(peer);
      }
      if (peers.stream().anyMatch(this::silent)
          || lastHeard.keySet().stream().anyMatch(this::silent)) {
        hibernation.wakeFollowersOfSilentNodes(this::silent); // (else no range is looked at)
      }
    }
    expireDeadlines();
  }

  /**
   * The connection to {@code node} was lost: the followers of ranges it leads start their election
   * timers now (a quiesced follower's are stopped), rather than once the node has been silent for
   * the liveness timeout. Waking is always safe: voters still refuse while they hear from a leader.
   */
  public void suspect(long node) {
    hibernation.wakeFollowersOfSilentNodes(n -> n == node);
  }

  /** Records that {@code node} was heard from (any message or probe answer). */
  public void heardFrom(long node) {
    lastHeard.put(node, ticks);
  }

  private boolean silent(long node) {
    return ticks - lastHeard.getOrDefault(node, 0L) > options.livenessTicks();
  }

  /** Steps a Raft message from {@code fromNode} into its replica (see {@link RaftInbox}). */
  public void receive(long fromNode, RaftMessage m) {
    heardFrom(fromNode);
    if (splits.hold(m.getRangeId(), () -> receive(fromNode, m))) {
      return; // (its range is being created by a split applied here)
    }
    Replica r = RaftInbox.receive(this, fromNode, m);
    if (r != null) {
      dirty.add(r);
    }
  }

  /** Takes one chunk of a snapshot stream from {@code fromNode} (see {@link RaftInbox}). */
  public void receiveSnapshotChunk(long fromNode, SnapshotChunk chunk) {
    heardFrom(fromNode);
    Replica r = RaftInbox.receiveChunk(this, fromNode, chunk);
    if (r != null) {
      dirty.add(r);
    }
  }

  /**
   * Handles a KV request; {@code reply} is called exactly once, on this store's thread, now or from
   * a later {@link #tick()} or {@link #process()}.
   */
  public void submit(KvRequest request, Consumer<KvResponse> reply) {
    if (inRound) {
      heldInputs.add(() -> submit(request, reply));
      return;
    }
    long start = nanoTime.getAsLong();
    String method = Commands.method(request);
    Consumer<KvResponse> done =
        response -> {
          KvResponse withHeader =
              response.toBuilder()
                  .setHeader(
                      response.getHeader().toBuilder()
                          .setTimestamp(clock.now().toProto())
                          .setPhysicalNanos(clock.physicalNanos()))
                  .build();
          listener.requestDone(method, nanoTime.getAsLong() - start, !withHeader.hasError());
          reply.accept(withHeader);
        };
    if (request.getHeader().hasTimestamp()) {
      try {
        clock.update(Timestamp.fromProto(request.getHeader().getTimestamp()));
      } catch (RuntimeException e) {
        done.accept(Errors.unavailable("request timestamp refused: " + e.getMessage()));
        return;
      }
    }
    if (identity == null) {
      done.accept(Errors.generic(Errors.NOT_INITIALIZED, "this node is not initialized"));
      return;
    }
    String refusal = serving.refusal();
    if (refusal != null) {
      done.accept(Errors.generic(Errors.NOT_SERVING, refusal));
      return;
    }
    long rangeId = request.getHeader().getRangeId();
    if (request.getRequestCase() == KvRequest.RequestCase.RANGE_STATE) {
      done.accept(ReplicaMerges.state(this, rangeId, request.getRangeState()));
      return;
    }
    Replica r = replicas.get(rangeId);
    if (r == null || !r.initialized) {
      // (An added replica waits for its snapshot; a merged one is gone.)
      done.accept(splits.notHere(request, rangeId));
      return;
    }
    r.wake(); // (a request may leave work for ticks: a push that waits, a read the clock holds)
    KvRequest.RequestCase kind = request.getRequestCase();
    KvResponse invalid =
        kind == KvRequest.RequestCase.CHANGE_REPLICAS
                || kind == KvRequest.RequestCase.TRANSFER_LEADER
                || kind == KvRequest.RequestCase.SPLIT_RANGE
                || kind == KvRequest.RequestCase.FREEZE_RANGE
                || kind == KvRequest.RequestCase.MERGE_RANGES
            ? null // not evaluated: the range's own (ReplicaChanges, ReplicaSplits)
            : Commands.validate(request, r.descriptor);
    if (invalid != null) {
      done.accept(splits.withCovering(invalid));
      return;
    }
    if (r.isLeader) {
      r.load.record(request, start); // (a follower answers NotLeader: not its load)
    }
    KvRequest begun = Commands.begin(request, clock.now(), clock.maxOffsetNanos()); // on arrival
    Pending p = new Pending(r, begun, done, ticks + options.requestTimeoutTicks());
    p.checkedAgainst = r.descriptor;
    deadlines.add(p);
    r.handle(p);
    dirty.add(r);
  }

  /** The new replicas of splits applied here whose state is on its way to the engine. */
  final StoreSplits splits = new StoreSplits(this);

  private void expireDeadlines() {
    Pending p;
    while ((p = deadlines.peek()) != null && p.deadline <= ticks) {
      deadlines.poll();
      if (p.readContext != null) {
        p.replica.readIndexWaiting.remove(p.readContext); // no ReadState came: do not keep it
      }
      if (!p.done) {
        p.reply(
            Errors.timeout(
                p.isWrite
                    ? "the write was not confirmed in time; its outcome is unknown"
                    : "the read was not served in time"));
      }
      if (p.replica.latches.isWaiting(p)) {
        // Never proposed or served: it leaves the latch queue, and those behind it go on now.
        p.replica.abandonWaiting(p);
        dirty.add(p.replica);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The round

  /**
   * Does the work the inputs created: persists every ready replica's Raft state in one (synced)
   * write, sends messages, applies committed entries, serves reads and answers requests.
   */
  public void process() {
    while (true) {
      inRound = true;
      try {
        processReady();
      } finally {
        inRound = false;
        network.flush();
      }
      if (heldInputs.isEmpty()) {
        return;
      }
      // Requests submitted from an answer during the round (a callback that asks again at once)
      // run now that the round is over: a write to the keys just applied finds them latched until
      // the batch is written (evaluated during the round, before the latch, a compare-and-set
      // could read the engine before the write it was told succeeded).
      List<Runnable> held = new ArrayList<>(heldInputs);
      heldInputs.clear();
      held.forEach(Runnable::run);
    }
  }

  /**
   * Sends whatever the network holds for this thread; for a store loop that is stopping without
   * finishing its round, so that answers already given still leave.
   */
  public void flushNetwork() {
    network.flush();
  }

  /** A replica's Ready in a batch on its way to disk, and what waits for that batch. */
  private record InFlight(Replica replica, Ready ready, long appliedTo, List<Pending> latches) {}

  /** A round's batch on its way to disk: when it was handed over, and its replicas' Readies. */
  private record Batch(long handedOverNanos, long bytes, List<InFlight> items) {}

  private void processReady() {
    while (!dirty.isEmpty()) {
      List<Replica> ready = new ArrayList<>();
      List<Ready> readies = new ArrayList<>();
      for (Replica r : dirty) {
        if (!r.removed && r.core.hasReady()) {
          ready.add(r);
        }
      }
      dirty.clear();
      if (ready.isEmpty()) {
        return;
      }
      for (Replica r : ready) {
        Ready rd = r.raft().ready();
        readies.add(rd);
        r.send(rd.messages());
      }
      // 1. Apply what is already durable here: the core hands out only committed entries this
      //    replica has persisted, so they are staged, and their writes answered, before this
      //    round's fsync of new entries, not after it. An answer needs only the entry committed:
      //    were this process to die before the write below, the log still holds the entry and the
      //    restart applies it again (applying is idempotent by index). What must see the applied
      //    state waits for the write: reads, and writes to the same keys (their latches are held
      //    until then). A Ready that installs a snapshot is applied after the snapshot is written.
      WriteBatch batch = new WriteBatch();
      List<Runnable> answers = new ArrayList<>();
      for (int i = 0; i < ready.size(); i++) {
        if (readies.get(i).snapshot() == null && !ready.get(i).replaced) {
          ready.get(i).onReady(readies.get(i), batch, answers);
        }
      }
      answers.forEach(Runnable::run);
      // The messages that may go before the fsync (appends to followers) and the answers leave
      // together, while the batch is written.
      network.flush();
      // 2. Persist every ready range's applied state, new entries, hard state and snapshot: one
      //    write, synced if any range needs it (group commit). With a writer thread the next round
      //    does not wait for it: the core hands out what is new meanwhile (accept), and what
      //    needs the write durable (acknowledgements, votes, reads, latches) waits for written().
      boolean sync = false;
      List<InFlight> inFlight = new ArrayList<>(ready.size());
      for (int i = 0; i < ready.size(); i++) {
        Replica r = ready.get(i);
        Ready rd = readies.get(i);
        if (r.replaced) {
          continue; // a split's new replica took its place this round
        }
        if (rd.snapshot() != null) {
          r.snapshots.stageData(batch, rd.snapshot());
          r.snapshotInstalled();
        }
        r.storage.stage(batch, rd);
        sync |= rd.mustSync();
        if (rd.snapshot() == null) {
          r.raft().accept(rd);
        }
        List<Pending> latches = r.stagedLatches;
        r.stagedLatches = new ArrayList<>();
        inFlight.add(new InFlight(r, rd, r.sm.appliedIndex(), latches));
      }
      long reading = clock.now().wallNanos();
      if (reading >= clockBoundNanos) {
        // Every timestamp this round's entries carry is below the reading: the bound travels in
        // the same write as they do.
        clockBoundNanos = reading + StoreRecords.CLOCK_BOUND_MARGIN_NANOS;
        StoreRecords.putClockBound(batch, clockBoundNanos);
      }
      boolean synced = sync;
      writesInFlight.add(new Batch(nanoTime.getAsLong(), batch.byteSize(), inFlight));
      persister.persist(batch, sync, nanos -> written(batch, synced, inFlight, nanos));
    }
  }

  /** A round's batch is durable: what waited for it happens now, on the store's thread. */
  private void written(WriteBatch batch, boolean sync, List<InFlight> inFlight, long nanos) {
    writesInFlight.pollFirst();
    stallWatch.written(nanoTime.getAsLong());
    if (!batch.isEmpty() && nanos >= 0) {
      listener.raftStateWritten(nanos, inFlight.size(), sync);
    }
    List<Replica> withSnapshot = new ArrayList<>();
    List<Ready> snapshotReadies = new ArrayList<>();
    for (InFlight f : inFlight) {
      Replica r = f.replica();
      Ready rd = f.ready();
      f.latches().forEach(r::releaseLatches);
      if (r.replaced) {
        continue; // (a merge absorbed it, or a split's new replica took its place, since)
      }
      if (rd.snapshot() == null) {
        r.raft().persisted(rd);
        r.sm.batchWritten(batch);
        r.writtenApplied = Math.max(r.writtenApplied, f.appliedTo());
        r.serveReads(rd);
      } else {
        r.sm.reload();
        r.frozen = ReplicaMerges.readFrozen(engine, r.rangeId);
        r.prepared = ReplicaMerges.readPrepared(engine, r.rangeId);
        if (r.initializedWhenWritten) {
          r.initialized = true;
          r.initializedWhenWritten = false;
        }
        withSnapshot.add(r);
        snapshotReadies.add(rd);
      }
      // 3. Only now what Raft allows after persistence: votes and acknowledgements.
      r.send(rd.messagesAfterPersist());
    }
    applySnapshotReadies(withSnapshot, snapshotReadies);
    for (InFlight f : inFlight) {
      Replica r = f.replica();
      if (r.replaced) {
        continue;
      }
      if (f.ready().snapshot() != null) {
        r.raft().advance(f.ready());
      }
      r.afterAdvance();
      LogCompaction.maybeCompact(r, options.compactLogAfter());
      if (r.core.hasReady()) {
        dirty.add(r);
      }
    }
    for (InFlight f : inFlight) {
      if (f.replica().removed) {
        ReplicaLifecycle.destroyIfRemoved(this, f.replica()); // its removal is written now
      }
    }
    splits.written(batch);
  }

  /**
   * This store's replicas, by range id (its own map: {@link ReplicaLifecycle} adds and removes).
   */
  TreeMap<Long, Replica> replicaMap() {
    return replicas;
  }

  /**
   * Applies the committed entries of the Readies that installed a snapshot (after it was written),
   * in one unsynced engine write, then answers their clients and serves the reads they confirmed.
   */
  private void applySnapshotReadies(List<Replica> ready, List<Ready> readies) {
    if (ready.isEmpty()) {
      return;
    }
    WriteBatch applyBatch = new WriteBatch();
    List<Runnable> answers = new ArrayList<>();
    for (int i = 0; i < ready.size(); i++) {
      ready.get(i).onReady(readies.get(i), applyBatch, answers);
    }
    if (!applyBatch.isEmpty()) {
      engine.write(applyBatch, false);
    }
    splits.written(applyBatch);
    for (Replica r : ready) {
      r.sm.batchWritten(applyBatch);
      r.stagedLatches.forEach(r::releaseLatches);
      r.stagedLatches = new ArrayList<>();
      r.writtenApplied = r.sm.appliedIndex();
    }
    answers.forEach(Runnable::run);
    for (int i = 0; i < ready.size(); i++) {
      ready.get(i).serveReads(readies.get(i));
    }
  }

  /** The state of every replica holding its range's data, for {@code status}. */
  public List<ReplicaStatus> status() {
    List<ReplicaStatus> out = new ArrayList<>();
    for (Replica r : replicas.values()) {
      if (r.initialized) { // (a replica waiting for its first snapshot has no range yet)
        out.add(ReplicaReports.of(r));
      }
    }
    return out;
  }

  /**
   * The newest value of {@code key} in this node's engine, read without Raft (for checks that
   * compare replicas); empty if this node holds no replica of the key's range.
   */
  public Optional<byte[]> readLocal(long rangeId, byte[] key) {
    Replica r = replicas.get(rangeId);
    if (r == null || !r.initialized || !KeySpace.contains(r.descriptor, key)) {
      return Optional.empty();
    }
    return MvccStore.get(engine, key, Timestamp.MAX).map(Version::value);
  }

  /**
   * Checks the store's own bookkeeping (for the simulator, after every step): a write holds its
   * latches exactly while it is in flight (see {@link ReplicaInvariants#check}).
   *
   * @throws IllegalStateException naming the range and keys if not
   */
  void checkInvariants() {
    Map<Replica, List<Pending>> awaitingWrite = new HashMap<>();
    writesInFlight.forEach(b ->
        b.items()
            .forEach(f ->
                awaitingWrite
                    .computeIfAbsent(f.replica(), k -> new ArrayList<>())
                    .addAll(f.latches())));
    replicas
        .values()
        .forEach(r -> ReplicaInvariants.check(r, awaitingWrite.getOrDefault(r, List.of())));
    ReplicaInvariants.checkStore(this);
  }

  /** A range replica's request state, for a failing test's report. */
  String debugRange(long rangeId) {
    Replica r = replicas.get(rangeId);
    if (r == null) {
      return "no replica";
    }
    return ReplicaInvariants.debug(r);
  }

  /** Starts an election for a range's replica now (scripted tests place leaders with it). */
  void campaign(long rangeId) {
    Replica r = replicas.get(rangeId);
    r.raft().campaign();
    dirty.add(r);
  }

  /** Whether a round's batch holding {@code r}'s state is still on its way to the engine. */
  boolean writing(Replica r) {
    for (Batch b : writesInFlight) {
      for (InFlight f : b.items()) {
        if (f.replica() == r) {
          return true;
        }
      }
    }
    return false;
  }

  /** Whether this store's replica of a range is its leader (for simulators' faults). */
  boolean isLeader(long rangeId) {
    Replica r = replicas.get(rangeId);
    return r != null && r.isLeader;
  }

  /** The applied index of a range's replica (0 if absent). */
  public long appliedIndex(long rangeId) {
    Replica r = replicas.get(rangeId);
    return r == null ? 0 : r.sm.appliedIndex();
  }

  // ---------------------------------------------------------------------------------------------

  @Override
  public String toString() {
    return "Store[node " + nodeId + ", " + replicas.size() + " replicas]";
  }
}
