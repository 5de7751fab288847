package io.basalt.node.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.ConditionalPutResponse;
import io.basalt.api.DeleteResponse;
import io.basalt.api.GetResponse;
import io.basalt.api.KeySpace;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.PutResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.ResponseHeader;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.SnapshotChunk;
import io.basalt.api.WriteBatchResponse;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.Config;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.Entry;
import io.basalt.range.raft.EntryType;
import io.basalt.range.raft.Message;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.raft.ReadState;
import io.basalt.range.raft.Ready;
import io.basalt.range.replica.ReplicaStateMachine;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.snapshot.SnapshotReceiver;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.hlc.HybridClock;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
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
 * with a simulated network and crashing disks. Only the injected {@code nanoTime} (for metrics) and
 * the engine's contents differ between the two.
 *
 * <p><b>One group commit per round.</b> {@link #process()} collects the {@link Ready} of every
 * replica with work, stages all their log entries and hard states in one {@link WriteBatch}, writes
 * it with one fsync, and only then sends the messages Raft allows after persistence, applies
 * committed entries and answers clients. Leaders' replication traffic goes out before the fsync
 * (thesis §10.2.1).
 *
 * <p><b>Requests.</b> Writes are evaluated by the leader into a {@link RaftCommand} (decision 3)
 * after it has applied everything up to its first entry of its term, under per-key latches held
 * from evaluation until the command is applied or known to be lost, so that concurrent writes to a
 * key evaluate in log order. A retried request id is answered from its dedupe record. Reads go
 * through ReadIndex, which the core answers at once under a valid lease, and are served once the
 * read index is applied. A write is answered NotLeader (it was not applied, retry is safe) only
 * once that is certain: another entry was committed at its index, or an entry of a later term was
 * committed before it; one that outlives its deadline is answered Timeout (its outcome is unknown).
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

  /**
   * Writes a round's batch: its new log entries, hard states, applied state and snapshots.
   *
   * <p>The default writes on the store's thread and reports at once. A node hands the batch to a
   * writer thread instead (TiKV's asynchronous log writes): the store goes on with the next round
   * while the fsync runs, and learns of it through {@code written}, run on the store's thread.
   * Batches are written, and reported, in the order they were handed over; once one is reported, so
   * is every earlier one.
   */
  public interface Persister {
    /**
     * Writes {@code batch} (synced if {@code sync}), then runs {@code written} with the write's
     * duration in nanoseconds on the store's thread (-1 for a batch whose write was shared with a
     * later batch, which reports the duration).
     */
    void persist(WriteBatch batch, boolean sync, java.util.function.LongConsumer written);
  }

  /**
   * Timing, in ticks.
   *
   * @param electionTicks Raft election timeout
   * @param heartbeatTicks Raft heartbeat interval
   * @param quiesceAfterTicks idle ticks before a range stops heartbeating (0: never)
   * @param leaseDriftTicks the clock-drift allowance subtracted from the lease
   * @param requestTimeoutTicks how long a request may wait before it is answered Timeout
   * @param pingEveryTicks how often peer nodes are probed
   * @param livenessTicks how long without hearing from a node before its ranges' followers wake
   * @param compactLogAfter log entries a range keeps before it compacts its log to the applied
   *     index less half of this (0: never); followers further behind get a snapshot
   * @param snapshotChunkBytes the size of the chunks a snapshot is streamed in
   * @param dedupeRetentionMillis how long a write's dedupe record is kept (0: forever); a retry of
   *     a request id older than this would be applied again, so it must exceed any client's retry
   *     horizon by far
   * @param dedupeCollectEveryTicks how often a leader proposes collecting old dedupe records
   */
  public record Options(
      int electionTicks,
      int heartbeatTicks,
      int quiesceAfterTicks,
      int leaseDriftTicks,
      int requestTimeoutTicks,
      int pingEveryTicks,
      int livenessTicks,
      int compactLogAfter,
      int snapshotChunkBytes,
      long dedupeRetentionMillis,
      int dedupeCollectEveryTicks) {
    /**
     * For a 100 ms tick: 1 s election timeout, 5 s request deadline, dedupe records kept 10 minutes
     * and collected every minute.
     */
    public static Options defaults() {
      return new Options(10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600);
    }
  }

  private StoreRules rules = StoreRules.CORRECT;

  /** Test hook: substitutes deliberately broken rules (see {@link StoreRules}). */
  void testOnlyRules(StoreRules rules) {
    this.rules = Objects.requireNonNull(rules);
  }

  /** The identity a store was initialized with. */
  public record Identity(String clusterId, long nodeId) {}

  /** The first log position of a bootstrapped range (as in CockroachDB, leaving room below). */
  static final long BOOTSTRAP_INDEX = 10;

  static final long BOOTSTRAP_TERM = 5;

  /** The MVCC timestamp of data written at bootstrap: the same on every initial replica. */
  static final Timestamp BOOTSTRAP_TS = new Timestamp(1, 0);

  private static final byte[] IDENTITY_KEY = storeKey('i');

  /**
   * An upper bound of every HLC reading this store's data may hold (wall nanos, 8 bytes): written
   * in a round's batch whenever the clock passes the last one, with a margin of 100 ms.
   */
  private static final byte[] CLOCK_BOUND_KEY = storeKey('c');

  private static final long CLOCK_BOUND_MARGIN_NANOS = 100_000_000L;
  private static final byte[] REPLICA_LIST_PREFIX = storeKey('R');

  private final long nodeId;
  private final Engine engine;
  private final HybridClock clock;
  private final Network network;

  /** Whether a round is running: its answers go out before its write, so inputs must wait. */
  private boolean inRound;

  private final ArrayDeque<Runnable> heldInputs = new ArrayDeque<>();

  /** How a round's batch gets to disk (see {@link Persister}); synchronous unless set. */
  private Persister persister;

  /** Batches handed to the persister and not yet reported, oldest first. */
  private final ArrayDeque<Batch> writesInFlight = new ArrayDeque<>();

  /** A batch in flight longer than this stops the store (a stalled disk, a dead writer). */
  static final long WRITE_STALL_NANOS = 5_000_000_000L;

  /** What a write's allowance grows by per byte: a disk writes at least 20 MB/s. */
  private static final long STALL_NANOS_PER_BYTE = 50;

  /** A gap this long between ticks means the process itself was stalled. */
  private static final long STALL_GAP_NANOS = 1_000_000_000L;

  private long lastTickNanos = Long.MIN_VALUE / 2;
  private long stallClockFrom = Long.MIN_VALUE / 2;

  private final Options options;
  private final RandomGenerator random;
  private final StoreListener listener;
  private final LongSupplier nanoTime;
  private final TreeMap<Long, Replica> replicas = new TreeMap<>();
  private final LinkedHashSet<Replica> dirty = new LinkedHashSet<>();
  // Every request gets the same timeout, so deadlines arrive in submission order.
  private final ArrayDeque<Pending> deadlines = new ArrayDeque<>();
  private final Map<Long, Long> lastHeard = new HashMap<>();
  private final Map<Long, String> addresses = new HashMap<>();
  private Identity identity;
  private long ticks;
  private long readSeq;
  private String notServingReason;

  /** The clock bound last staged for writing (see CLOCK_BOUND_KEY). */
  private long clockBoundNanos;

  /**
   * The clock bound found at start: until the physical clock passes it, this node refuses to serve
   * (it restarted with its clock behind a time its data may already hold).
   */
  private long clockBoundAtStart;

  public Store(
      long nodeId,
      Engine engine,
      HybridClock clock,
      Network network,
      Options options,
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

  private static byte[] storeKey(char kind) {
    // Range-local keys start with a range id >= 1; the store's own keys use id 0.
    return ByteBuffer.allocate(9).putLong(0).put((byte) kind).array();
  }

  /** The identity recorded in {@code engine}, if the store was ever initialized. */
  public static Optional<Identity> readIdentity(Engine engine) {
    byte[] v = engine.get(ColumnFamily.LOCAL, IDENTITY_KEY);
    if (v == null) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(v);
    long id = b.getLong();
    byte[] cluster = new byte[b.remaining()];
    b.get(cluster);
    return Optional.of(new Identity(new String(cluster, StandardCharsets.UTF_8), id));
  }

  /**
   * Loads the replicas this store holds (after a restart).
   *
   * @throws IllegalStateException if the store belongs to another node id
   */
  public void load() {
    byte[] bound = engine.get(ColumnFamily.LOCAL, CLOCK_BOUND_KEY);
    if (bound != null && bound.length == 8) {
      clockBoundAtStart = ByteBuffer.wrap(bound).getLong();
      clockBoundNanos = clockBoundAtStart;
    }
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
    byte[] end = REPLICA_LIST_PREFIX.clone();
    end[end.length - 1]++;
    List<Long> ids = new ArrayList<>();
    try (EngineIterator it = engine.newIterator(ColumnFamily.LOCAL, REPLICA_LIST_PREFIX, end)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        ids.add(ByteBuffer.wrap(it.key(), REPLICA_LIST_PREFIX.length, 8).getLong());
      }
    }
    for (long rangeId : ids) {
      byte[] d = engine.get(ColumnFamily.LOCAL, LocalKeys.descriptor(rangeId));
      try {
        RangeDescriptor descriptor = RangeDescriptor.parseFrom(d);
        Replica r = new Replica(descriptor);
        replicas.put(rangeId, r);
        dirty.add(r);
        listener.replicaCreated(rangeId, true);
      } catch (InvalidProtocolBufferException | NullPointerException e) {
        throw new IllegalStateException("range " + rangeId + " has no readable descriptor", e);
      }
    }
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
      putIdentity(batch, new Identity(clusterId, nodeId));
    }
    List<RangeDescriptor> mine = new ArrayList<>();
    for (RangeDescriptor d : ranges) {
      if (d.getReplicasList().stream().noneMatch(r -> r.getNodeId() == nodeId)
          || replicas.containsKey(d.getRangeId())) {
        continue;
      }
      mine.add(d);
      long[] voters = d.getReplicasList().stream().mapToLong(r -> r.getNodeId()).toArray();
      new EngineRaftStorage(engine, d.getRangeId())
          .bootstrap(
              batch, BOOTSTRAP_INDEX, BOOTSTRAP_TERM, ConfState.ofVoters(voters), new byte[0]);
      batch.put(
          ColumnFamily.LOCAL,
          LocalKeys.appliedIndex(d.getRangeId()),
          ByteBuffer.allocate(8).putLong(BOOTSTRAP_INDEX).array());
      putDescriptor(batch, d);
      if (d.getRangeId() == KeySpace.META_RANGE_ID) {
        for (RangeDescriptor r : ranges) {
          MvccStore.put(
              batch,
              KeySpace.rangeDescriptorKey(r.getEndKey().toByteArray()),
              BOOTSTRAP_TS,
              r.toByteArray());
        }
        for (NodeDescriptor n : nodes) {
          MvccStore.put(batch, KeySpace.nodeKey(n.getNodeId()), BOOTSTRAP_TS, n.toByteArray());
        }
      }
    }
    engine.write(batch, true);
    identity = new Identity(clusterId, nodeId);
    for (RangeDescriptor d : mine) {
      Replica r = new Replica(d);
      replicas.put(d.getRangeId(), r);
      dirty.add(r);
      listener.replicaCreated(d.getRangeId(), false);
    }
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
    putIdentity(batch, new Identity(clusterId, nodeId));
    engine.write(batch, true);
    identity = new Identity(clusterId, nodeId);
  }

  private void putIdentity(WriteBatch batch, Identity id) {
    byte[] cluster = id.clusterId().getBytes(StandardCharsets.UTF_8);
    batch.put(
        ColumnFamily.LOCAL,
        IDENTITY_KEY,
        ByteBuffer.allocate(8 + cluster.length).putLong(id.nodeId()).put(cluster).array());
  }

  private static void putDescriptor(WriteBatch batch, RangeDescriptor d) {
    batch.put(ColumnFamily.LOCAL, LocalKeys.descriptor(d.getRangeId()), d.toByteArray());
    batch.put(
        ColumnFamily.LOCAL,
        ByteBuffer.allocate(REPLICA_LIST_PREFIX.length + 8)
            .put(REPLICA_LIST_PREFIX)
            .putLong(d.getRangeId())
            .array(),
        new byte[0]);
  }

  /** Where node {@code id} listens, for NotLeader hints. */
  public void setAddress(long id, String address) {
    addresses.put(id, address);
  }

  /**
   * Stops (reason non-null) or resumes (null) serving KV requests, e.g. while this node's clock
   * offset to the cluster is too large. Raft keeps running; clients are refused, and every range
   * this node leads hands its leadership to a follower (at each tick until one takes it): a leader
   * that cannot serve must not hold a range, quiesced or not, whose followers would otherwise never
   * elect another.
   */
  public void setNotServing(String reason) {
    notServingReason = reason;
  }

  /**
   * Why this node must not serve clients now, or null: the reason set by {@link #setNotServing}, or
   * a clock still behind the bound its data was written under before a restart (a node whose clock
   * was stepped back would otherwise write versions below ones it already holds).
   */
  private String servingRefusal() {
    if (notServingReason != null) {
      return notServingReason;
    }
    if (clockBoundAtStart != 0) {
      long behind = clockBoundAtStart - clock.physicalNanos();
      if (behind < 0) {
        clockBoundAtStart = 0;
      } else {
        return "this node's clock is "
            + behind / 1_000_000
            + " ms behind a time its data may already hold (it restarted with its clock stepped"
            + " back); it serves once its clock passes that time";
      }
    }
    return null;
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
    String refusal = servingRefusal();
    long t = nanoTime.getAsLong();
    if (t - lastTickNanos > STALL_GAP_NANOS) {
      // The whole process was stalled (SIGSTOP, a long pause), the writer with it: its writes'
      // age says nothing about the disk. Count from now.
      stallClockFrom = t;
    }
    lastTickNanos = t;
    Batch oldestBatch = writesInFlight.peekFirst();
    long oldest = oldestBatch == null ? t : oldestBatch.handedOverNanos();
    // A large write (a snapshot being installed) may take longer: 5 s plus 50 ns a byte.
    long allowance =
        WRITE_STALL_NANOS + (oldestBatch == null ? 0 : oldestBatch.bytes() * STALL_NANOS_PER_BYTE);
    if (t - Math.max(oldest, stallClockFrom) > allowance) {
      // A disk that does not finish a write stalls every range here while heartbeats still go out
      // and keep this node's leases: give the ranges up (the node stops, others take over).
      throw new StorageException(
          "a write has not completed in " + (t - oldest) / 1_000_000 + " ms: the disk is stalled");
    }
    for (Replica r : replicas.values()) {
      r.raft.tick();
      r.checkOutgoingSnapshots();
      if (refusal != null && r.isLeader) {
        r.handOverLeadership();
      }
      if (r.raft.hasReady()) {
        dirty.add(r);
      }
    }
    if (options.dedupeRetentionMillis() > 0 && ticks % options.dedupeCollectEveryTicks() == 0) {
      long before = dedupeCutoff(t);
      if (before > 0 && refusal == null) {
        for (Replica r : replicas.values()) {
          r.maybeCollectDedupe(before);
        }
      }
    }
    if (ticks % options.pingEveryTicks() == 0) {
      for (long peer : peerNodes()) {
        network.ping(peer);
      }
      wakeFollowersOfSilentNodes();
    }
    expireDeadlines();
  }

  /**
   * Clock readings (monotonic nanos, HLC wall nanos) taken at each collection tick, oldest first:
   * the cutoff for collecting dedupe records is an HLC reading taken at least the retention ago by
   * the monotonic clock.
   */
  private final ArrayDeque<long[]> clockSamples = new ArrayDeque<>();

  /**
   * The proposal time before which dedupe records may be collected, or 0 if none yet: the HLC
   * reading this node took at least the retention ago, as its monotonic clock measures it (less the
   * maximum clock offset, for records proposed by other leaders). A step of the wall clock moves
   * later readings only, never the ones the cutoff is taken from, so a forward step cannot make a
   * fresh record look old; a node that just started has no reading that old and collects nothing
   * until it has one. (A whole-VM pause that stops the monotonic clock only delays it.)
   */
  private long dedupeCutoff(long monotonicNanos) {
    long retentionNanos = options.dedupeRetentionMillis() * 1_000_000L;
    clockSamples.addLast(new long[] {monotonicNanos, clock.now().wallNanos()});
    while (clockSamples.size() > 1) {
      Iterator<long[]> it = clockSamples.iterator();
      it.next();
      if (monotonicNanos - it.next()[0] < retentionNanos) {
        break;
      }
      clockSamples.removeFirst(); // the next one is old enough as well, and later
    }
    long[] oldest = clockSamples.peekFirst();
    if (monotonicNanos - oldest[0] < retentionNanos) {
      return 0;
    }
    return Math.max(0, oldest[1] - clock.maxOffsetNanos());
  }

  /** Records that {@code node} was heard from (any message or probe answer). */
  public void heardFrom(long node) {
    lastHeard.put(node, ticks);
  }

  private void wakeFollowersOfSilentNodes() {
    for (Replica r : replicas.values()) {
      long leader = r.leader;
      if (leader != 0 && leader != nodeId) {
        long heard = lastHeard.getOrDefault(leader, 0L);
        if (ticks - heard > options.livenessTicks()) {
          r.raft.wake();
          dirty.add(r);
        }
      }
    }
  }

  /** Steps a Raft message from {@code fromNode} into its replica; drops malformed ones. */
  public void receive(long fromNode, RaftMessage m) {
    heardFrom(fromNode);
    Replica r = replicas.get(m.getRangeId());
    if (r == null) {
      // Not (yet, or no longer) a replica here; replica creation by message comes with placement.
      listener.droppedMessage(fromNode, m.getRangeId(), "no replica of this range here");
      return;
    }
    if (m.getRangeGeneration() < r.descriptor.getGeneration()) {
      // Sent under an older descriptor of the range, or naming none (0): not the current one.
      listener.droppedMessage(
          fromNode,
          m.getRangeId(),
          "range generation " + m.getRangeGeneration() + " < " + r.descriptor.getGeneration());
      return;
    }
    Message msg;
    try {
      msg = RaftMessages.fromProto(m);
      if (msg.to() != nodeId || msg.from() != fromNode) {
        listener.droppedMessage(
            fromNode, m.getRangeId(), "addressed from " + msg.from() + " to " + msg.to());
        return;
      }
      if (msg.type() == Message.Type.SNAPSHOT) {
        // Snapshots travel as chunk streams (receiveSnapshotChunk), never as bare messages.
        listener.droppedMessage(fromNode, m.getRangeId(), "snapshot message without its data");
        return;
      }
      r.raft.step(msg);
    } catch (IllegalArgumentException e) {
      listener.droppedMessage(fromNode, m.getRangeId(), "malformed: " + e.getMessage());
      return;
    }
    dirty.add(r);
  }

  /**
   * Takes one chunk of a snapshot stream from {@code fromNode}; the last chunk, once the stream
   * checks out, is stepped into the replica as the leader's snapshot. A broken stream is dropped
   * (the leader's snapshot times out and it sends a new one).
   */
  public void receiveSnapshotChunk(long fromNode, SnapshotChunk chunk) {
    heardFrom(fromNode);
    Replica r = replicas.get(chunk.getRangeId());
    if (r == null) {
      listener.droppedMessage(fromNode, chunk.getRangeId(), "snapshot for no replica here");
      return;
    }
    if (chunk.getTo() != nodeId || chunk.getFrom() != fromNode) {
      listener.droppedMessage(fromNode, chunk.getRangeId(), "misaddressed snapshot chunk");
      return;
    }
    r.receiveChunk(chunk);
    dirty.add(r);
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
    String method = method(request);
    Consumer<KvResponse> done =
        response -> {
          KvResponse withHeader =
              response.toBuilder()
                  .setHeader(ResponseHeader.newBuilder().setTimestamp(toProto(clock.now())))
                  .build();
          listener.requestDone(method, nanoTime.getAsLong() - start, !withHeader.hasError());
          reply.accept(withHeader);
        };
    if (request.getHeader().hasTimestamp()) {
      try {
        clock.update(fromProto(request.getHeader().getTimestamp()));
      } catch (RuntimeException e) {
        done.accept(Errors.unavailable("request timestamp refused: " + e.getMessage()));
        return;
      }
    }
    if (identity == null) {
      done.accept(Errors.generic(Errors.NOT_INITIALIZED, "this node is not initialized"));
      return;
    }
    String refusal = servingRefusal();
    if (refusal != null) {
      done.accept(Errors.generic(Errors.NOT_SERVING, refusal));
      return;
    }
    long rangeId = request.getHeader().getRangeId();
    Replica r = replicas.get(rangeId);
    if (r == null) {
      done.accept(Errors.rangeNotFound(rangeId));
      return;
    }
    KvResponse invalid = r.validate(request);
    if (invalid != null) {
      done.accept(invalid);
      return;
    }
    Pending p = new Pending(r, request, done, ticks + options.requestTimeoutTicks());
    deadlines.add(p);
    r.handle(p);
    dirty.add(r);
  }

  private static String method(KvRequest request) {
    return switch (request.getRequestCase()) {
      case GET -> "get";
      case PUT -> "put";
      case DELETE -> "delete";
      case SCAN -> "scan";
      case CONDITIONAL_PUT -> "conditional_put";
      case WRITE_BATCH -> "write_batch";
      default -> "other";
    };
  }

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
                p.isWrite()
                    ? "the write was not confirmed in time; its outcome is unknown"
                    : "the read was not served in time"));
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
  private record InFlight(
      Replica replica, Ready ready, long appliedTo, List<Set<ByteString>> latches) {}

  /** A round's batch on its way to disk: when it was handed over, and its replicas' Readies. */
  private record Batch(long handedOverNanos, long bytes, List<InFlight> items) {}

  private void processReady() {
    while (!dirty.isEmpty()) {
      List<Replica> ready = new ArrayList<>();
      List<Ready> readies = new ArrayList<>();
      for (Replica r : dirty) {
        if (r.raft.hasReady()) {
          ready.add(r);
        }
      }
      dirty.clear();
      if (ready.isEmpty()) {
        return;
      }
      for (Replica r : ready) {
        Ready rd = r.raft.ready();
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
        if (readies.get(i).snapshot() == null) {
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
        if (rd.snapshot() != null) {
          r.stageSnapshotData(batch, rd.snapshot());
        }
        r.storage.stage(batch, rd);
        sync |= rd.mustSync();
        if (rd.snapshot() == null) {
          r.raft.accept(rd);
        }
        List<Set<ByteString>> latches = r.stagedLatches;
        r.stagedLatches = new ArrayList<>();
        inFlight.add(new InFlight(r, rd, r.sm.appliedIndex(), latches));
      }
      long reading = clock.now().wallNanos();
      if (reading >= clockBoundNanos) {
        // Every timestamp this round's entries carry is below the reading: the bound travels in
        // the same write as they do.
        clockBoundNanos = reading + CLOCK_BOUND_MARGIN_NANOS;
        batch.put(
            ColumnFamily.LOCAL,
            CLOCK_BOUND_KEY,
            ByteBuffer.allocate(8).putLong(clockBoundNanos).array());
      }
      boolean synced = sync;
      writesInFlight.add(new Batch(nanoTime.getAsLong(), batch.byteSize(), inFlight));
      persister.persist(batch, sync, nanos -> written(batch, synced, inFlight, nanos));
    }
  }

  /** A round's batch is durable: what waited for it happens now, on the store's thread. */
  private void written(WriteBatch batch, boolean sync, List<InFlight> inFlight, long nanos) {
    writesInFlight.pollFirst();
    if (!batch.isEmpty() && nanos >= 0) {
      listener.raftStateWritten(nanos, inFlight.size(), sync);
    }
    List<Replica> withSnapshot = new ArrayList<>();
    List<Ready> snapshotReadies = new ArrayList<>();
    for (InFlight f : inFlight) {
      Replica r = f.replica();
      Ready rd = f.ready();
      f.latches().forEach(r.latched::removeAll);
      if (rd.snapshot() == null) {
        r.raft.persisted(rd);
        r.sm.batchWritten(batch);
        r.writtenApplied = Math.max(r.writtenApplied, f.appliedTo());
        r.serveReads(rd);
      } else {
        r.sm.reload();
        withSnapshot.add(r);
        snapshotReadies.add(rd);
      }
      // 3. Only now what Raft allows after persistence: votes and acknowledgements.
      r.send(rd.messagesAfterPersist());
    }
    applySnapshotReadies(withSnapshot, snapshotReadies);
    for (InFlight f : inFlight) {
      Replica r = f.replica();
      if (f.ready().snapshot() != null) {
        r.raft.advance(f.ready());
      }
      r.afterAdvance();
      r.maybeCompactLog();
      if (r.raft.hasReady()) {
        dirty.add(r);
      }
    }
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
    for (Replica r : ready) {
      r.sm.batchWritten(applyBatch);
      r.stagedLatches.forEach(r.latched::removeAll);
      r.stagedLatches = new ArrayList<>();
      r.writtenApplied = r.sm.appliedIndex();
    }
    answers.forEach(Runnable::run);
    for (int i = 0; i < ready.size(); i++) {
      ready.get(i).serveReads(readies.get(i));
    }
  }

  /** The state of every replica, for {@code status}. */
  public List<ReplicaStatus> status() {
    List<ReplicaStatus> out = new ArrayList<>();
    for (Replica r : replicas.values()) {
      RaftNode.Status s = r.raft.status();
      out.add(
          ReplicaStatus.newBuilder()
              .setRange(r.descriptor)
              .setRole(s.role().name())
              .setLeaderNode(s.leaderId())
              .setTerm(s.term())
              .setCommit(s.commit())
              .setApplied(r.sm.appliedIndex())
              .setLastIndex(s.lastIndex())
              .setQuiesced(s.quiesced())
              .setLeaseValid(s.leaseValid())
              .build());
    }
    return out;
  }

  /**
   * The newest value of {@code key} in this node's engine, read without Raft (for checks that
   * compare replicas); empty if this node holds no replica of the key's range.
   */
  public Optional<byte[]> readLocal(long rangeId, byte[] key) {
    Replica r = replicas.get(rangeId);
    if (r == null || !KeySpace.contains(r.descriptor, key)) {
      return Optional.empty();
    }
    return MvccStore.get(engine, key, Timestamp.MAX).map(Version::value);
  }

  /**
   * Checks the store's own bookkeeping (for the simulator, after every step): a key is latched
   * exactly when a pending proposal holds it.
   *
   * @throws IllegalStateException naming the range and keys if not
   */
  void checkInvariants() {
    Map<Replica, Set<ByteString>> awaitingWrite = new HashMap<>();
    for (Batch b : writesInFlight) {
      for (InFlight f : b.items()) {
        f.latches()
            .forEach(awaitingWrite.computeIfAbsent(f.replica(), k -> new HashSet<>())::addAll);
      }
    }
    for (Replica r : replicas.values()) {
      Set<ByteString> held = new HashSet<>();
      r.proposals.values().forEach(p -> held.addAll(p.pending().latches));
      r.stagedLatches.forEach(held::addAll);
      held.addAll(awaitingWrite.getOrDefault(r, Set.of()));
      if (!held.equals(r.latched)) {
        throw new IllegalStateException(
            "range "
                + r.rangeId
                + " latches "
                + r.latched
                + " but its proposals hold "
                + held
                + ": "
                + debugRange(r.rangeId));
      }
      Map<ByteString, Integer> ids = new HashMap<>();
      r.proposals.values().stream()
          .map(p -> p.pending().request.getHeader().getRequestId())
          .filter(id -> !id.isEmpty())
          .forEach(id -> ids.merge(id, 1, Integer::sum));
      if (!ids.equals(r.requestIdsInFlight)) {
        throw new IllegalStateException(
            "range "
                + r.rangeId
                + " has "
                + r.requestIdsInFlight.size()
                + " request ids in flight but its proposals carry "
                + ids.size()
                + ": "
                + debugRange(r.rangeId));
      }
    }
  }

  /** A range replica's request state, for a failing test's report. */
  String debugRange(long rangeId) {
    Replica r = replicas.get(rangeId);
    if (r == null) {
      return "no replica";
    }
    StringBuilder b = new StringBuilder();
    b.append(r.raft.status()).append(" smApplied=").append(r.sm.appliedIndex());
    b.append(" isLeader=").append(r.isLeader).append(" readyIndex=").append(r.leaderReadyIndex);
    b.append(" latched=").append(r.latched.stream().map(ByteString::toStringUtf8).toList());
    r.proposals.forEach((i, p) ->
        b.append(" proposal@")
            .append(i)
            .append("/t")
            .append(p.term())
            .append(p.pending().latches.stream().map(ByteString::toStringUtf8).toList()));
    b.append(" blocked=").append(r.blocked.size());
    b.append(" awaitingReady=").append(r.awaitingLeaderReady.size());
    return b.toString();
  }

  /** Starts an election for a range's replica now (scripted tests place leaders with it). */
  void campaign(long rangeId) {
    Replica r = replicas.get(rangeId);
    r.raft.campaign();
    dirty.add(r);
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

  /** The wire form of an HLC timestamp. */
  public static io.basalt.api.Timestamp toProto(Timestamp ts) {
    return io.basalt.api.Timestamp.newBuilder()
        .setWallNanos(ts.wallNanos())
        .setLogical(ts.logical())
        .build();
  }

  /** An HLC timestamp from its wire form. */
  public static Timestamp fromProto(io.basalt.api.Timestamp ts) {
    return new Timestamp(ts.getWallNanos(), ts.getLogical());
  }

  /** A request in flight: answered once, by whichever of apply, error or deadline comes first. */
  private static final class Pending {
    final Replica replica;
    final KvRequest request;
    final Consumer<KvResponse> reply;
    final long deadline;
    boolean done;
    Set<ByteString> latches = Set.of();

    /** The ReadIndex context of a read waiting for its read state, else null. */
    ByteString readContext;

    Pending(Replica replica, KvRequest request, Consumer<KvResponse> reply, long deadline) {
      this.replica = replica;
      this.request = request;
      this.reply = reply;
      this.deadline = deadline;
    }

    boolean isWrite() {
      return switch (request.getRequestCase()) {
        case PUT, DELETE, CONDITIONAL_PUT, WRITE_BATCH -> true;
        default -> false;
      };
    }

    void reply(KvResponse response) {
      if (!done) {
        done = true;
        reply.accept(response);
      }
    }
  }

  /**
   * A proposed command: answered and unlatched when its index is applied. The command is kept so
   * that applying this leader's own entry does not parse it again.
   */
  private record Proposal(long term, Pending pending, RaftCommand command) {}

  /** A read waiting for its read index to be applied. */
  private record WaitingRead(long index, Pending pending) {}

  /** One range replica: Raft core, storage, state machine, and the requests it is working on. */
  private final class Replica implements StoreRules.NewLeader {
    RangeDescriptor descriptor;
    final long rangeId;
    final RaftNode raft;
    final EngineRaftStorage storage;
    final ReplicaStateMachine sm;
    long leader;
    boolean isLeader;

    /** The index of this leader's first entry; it serves once it has applied up to there. */
    long leaderReadyIndex = Long.MAX_VALUE;

    final TreeMap<Long, Proposal> proposals = new TreeMap<>();

    /**
     * The request ids of {@link #proposals}, with how many proposals carry each. A write whose id
     * is here may have a copy in the log beyond the applied index, so it is not first in the log.
     */
    final Map<ByteString, Integer> requestIdsInFlight = new HashMap<>();

    final Map<ByteString, Pending> readIndexWaiting = new HashMap<>();
    final PriorityQueue<WaitingRead> readsAwaitingApply =
        new PriorityQueue<>((a, b) -> Long.compare(a.index, b.index));
    final ArrayDeque<Pending> awaitingLeaderReady = new ArrayDeque<>();
    final Set<ByteString> latched = new HashSet<>();
    final ArrayDeque<Pending> blocked = new ArrayDeque<>();

    /**
     * The applied index whose writes are in the engine. Reads and the evaluation of writes read the
     * engine, so they wait for it (the state machine's own applied index counts staged writes).
     */
    long writtenApplied;

    /** Latches of proposals applied into the batch being built: released once it is written. */
    List<Set<ByteString>> stagedLatches = new ArrayList<>();

    /** The last applied conf change: the log is compacted only past it (see maybeCompactLog). */
    long lastConfChangeIndex;

    /** A snapshot stream being received, by sender, with the stream's id. */
    final Map<Long, Map.Entry<Long, SnapshotReceiver>> receiving = new HashMap<>();

    /** The snapshot stream last started to each follower (leader), until it ends. */
    final Map<Long, OutgoingSnapshot> outgoingSnapshots = new TreeMap<>();

    /**
     * The data of the received snapshot the core accepted and has not installed yet, by (index,
     * term): a snapshot the core refuses must not displace the one it accepted.
     */
    final TreeMap<String, WriteBatch> pendingSnapshots = new TreeMap<>();

    Replica(RangeDescriptor descriptor) {
      this.descriptor = descriptor;
      this.rangeId = descriptor.getRangeId();
      this.storage = new EngineRaftStorage(engine, rangeId);
      this.sm = new ReplicaStateMachine(engine, rangeId);
      Config config =
          Config.builder(nodeId, random)
              .electionTimeoutTicks(options.electionTicks())
              .heartbeatTicks(options.heartbeatTicks())
              .quiesceAfterTicks(options.quiesceAfterTicks())
              .leaseClockDriftTicks(options.leaseDriftTicks())
              .readOnlyOption(Config.ReadOnlyOption.LEASE_BASED)
              .preVote(true)
              .checkQuorum(true)
              .maxUncommittedEntriesBytes(64L << 20)
              .build();
      this.raft = RaftNode.create(config, storage);
      this.writtenApplied = sm.appliedIndex();
      // Any conf change still in the log is at or below its last index.
      this.lastConfChangeIndex = raft.status().lastIndex();
    }

    void send(List<Message> messages) {
      for (Message m : messages) {
        if (m.type() == Message.Type.SNAPSHOT) {
          sendSnapshot(m);
        } else {
          network.send(m.to(), RaftMessages.toProto(rangeId, descriptor.getGeneration(), m));
        }
      }
    }

    /**
     * Streams a snapshot to a follower. The core names the compaction point (index, term,
     * membership); the data is the range's current state, read from one consistent view. That state
     * is at the applied index, at or past the compaction point, and carries its own applied index,
     * so the follower's state machine skips the entries between the two when the leader sends them
     * after the snapshot (apply is idempotent by index).
     */
    private void sendSnapshot(Message m) {
      io.basalt.range.raft.SnapshotMetadata md = m.snapshot().metadata();
      long snapshotId = (rangeId << 32) ^ (md.index() * 31 + ticks);
      OutgoingSnapshot stream =
          new OutgoingSnapshot(
              engine,
              span(),
              options.snapshotChunkBytes(),
              SnapshotChunk.newBuilder()
                  .setRangeId(rangeId)
                  .setFrom(m.from())
                  .setTo(m.to())
                  .setTerm(m.term())
                  .setSnapshotId(snapshotId)
                  .build(),
              io.basalt.api.SnapshotMetadata.newBuilder()
                  .setIndex(md.index())
                  .setTerm(md.term())
                  .setConfState(RaftMessages.toProto(md.confState()))
                  .build());
      OutgoingSnapshot previous = outgoingSnapshots.put(m.to(), stream);
      if (previous != null) {
        previous.cancel();
      }
      if (!network.sendSnapshot(m.to(), stream)) {
        stream.abort("no connection to node " + m.to());
      }
      checkOutgoingSnapshots();
    }

    /**
     * Reports the snapshot streams that ended: a failed one to the core (it probes again and sends
     * another) and to the listener (logged, counted); a sent one only to the listener: the core
     * waits for the follower's answer once it installed it (its own timeout covers a follower that
     * dropped the stream). Until then the core sends this follower no appends, which it could not
     * use before the snapshot is in.
     */
    void checkOutgoingSnapshots() {
      if (outgoingSnapshots.isEmpty()) {
        return;
      }
      for (Iterator<Map.Entry<Long, OutgoingSnapshot>> it = outgoingSnapshots.entrySet().iterator();
          it.hasNext(); ) {
        Map.Entry<Long, OutgoingSnapshot> e = it.next();
        OutgoingSnapshot s = e.getValue();
        switch (s.state()) {
          case SENDING -> raft.snapshotInProgress(e.getKey());
          case SENT -> {
            it.remove();
            listener.snapshotSent(rangeId, e.getKey(), s.chunksSent(), s.bytesSent());
          }
          case FAILED -> {
            it.remove();
            raft.reportSnapshot(e.getKey(), false);
            listener.snapshotNotSent(rangeId, e.getKey(), s.failure());
            dirty.add(this);
          }
          case CANCELLED -> it.remove();
        }
      }
    }

    private RangeSpan span() {
      return new RangeSpan(
          rangeId, descriptor.getStartKey().toByteArray(), descriptor.getEndKey().toByteArray());
    }

    void receiveChunk(SnapshotChunk chunk) {
      long from = chunk.getFrom();
      Message message;
      try {
        Map.Entry<Long, SnapshotReceiver> current = receiving.get(from);
        SnapshotReceiver rx;
        if (chunk.getSequence() == 0) {
          // A new stream replaces any unfinished one from the same sender (which abandoned it).
          rx = new SnapshotReceiver(span());
          receiving.put(from, Map.entry(chunk.getSnapshotId(), rx));
        } else if (current == null || current.getKey() != chunk.getSnapshotId()) {
          // The rest of a stream that a newer one replaced, or whose start was lost: not an error
          // of the stream being received.
          listener.droppedMessage(from, rangeId, "snapshot chunk of an abandoned stream");
          return;
        } else {
          rx = current.getValue();
        }
        rx.accept(chunk.getSequence(), chunk.getData().toByteArray());
        if (!chunk.getLast()) {
          return;
        }
        receiving.remove(from);
        WriteBatch data = rx.finish(chunk.getStreamCrc32C());
        io.basalt.api.SnapshotMetadata md = chunk.getMetadata();
        pendingSnapshots.put(snapshotKey(md.getIndex(), md.getTerm()), data);
        message =
            Message.builder(Message.Type.SNAPSHOT, from, nodeId, chunk.getTerm())
                .snapshot(
                    new io.basalt.range.raft.Snapshot(
                        new io.basalt.range.raft.SnapshotMetadata(
                            md.getIndex(), md.getTerm(), RaftMessages.fromProto(md.getConfState())),
                        new byte[0]))
                .build();
      } catch (RuntimeException e) {
        // A bad stream (gap, corrupt record, checksum) is dropped; the leader sends another.
        receiving.remove(from);
        listener.droppedMessage(from, rangeId, "snapshot stream refused: " + e.getMessage());
        return;
      }
      try {
        raft.step(message);
      } catch (IllegalArgumentException malformed) {
        listener.droppedMessage(from, rangeId, "snapshot refused: " + malformed.getMessage());
      }
      // Keep the data of exactly the snapshot the core now means to install (this one if it
      // accepted it, an earlier one if it refused this one), and nothing else.
      long accepted = raft.pendingSnapshotIndex();
      pendingSnapshots
          .keySet()
          .removeIf(k -> Long.parseLong(k.substring(0, k.indexOf('/'))) != accepted);
      // Anything else the core throws is a broken invariant: it stops the store (decision 10).
    }

    private static String snapshotKey(long index, long term) {
      // Zero-padded so that the map's order is the index order.
      return String.format(java.util.Locale.ROOT, "%020d/%020d", index, term);
    }

    /** Stages the data of the snapshot the core is installing, in the round's write. */
    void stageSnapshotData(WriteBatch batch, io.basalt.range.raft.Snapshot snapshot) {
      long index = snapshot.metadata().index();
      String key = snapshotKey(index, snapshot.metadata().term());
      WriteBatch data = pendingSnapshots.get(key);
      if (data == null) {
        throw new IllegalStateException(
            "range "
                + rangeId
                + " installs snapshot "
                + key
                + " without its data (holding "
                + pendingSnapshots.keySet()
                + ")");
      }
      batch.addAll(rules.snapshotDataToInstall(data));
      pendingSnapshots.clear();
      listener.snapshotInstalled(rangeId, index);
    }

    /**
     * Asks the follower with the most of the log to take over (the core wakes a quiesced range,
     * catches the follower up and tells it to campaign at once). A transfer that does not finish
     * within an election timeout aborts in the core, and the next tick tries again.
     */
    void handOverLeadership() {
      RaftNode.Status st = raft.status();
      if (st.leadTransferee() != 0) {
        return;
      }
      long target = 0;
      long best = -1;
      for (Map.Entry<Long, Long> e : st.matchIndex().entrySet()) {
        if (e.getKey() != nodeId
            && st.confState().voters().contains(e.getKey())
            && e.getValue() > best) {
          target = e.getKey();
          best = e.getValue();
        }
      }
      if (target != 0 && raft.transferLeader(target)) {
        dirty.add(this);
      }
    }

    /** The index of this leader's last collection of dedupe records. */
    long dedupeCollectedAt = -1;

    /**
     * As leader, proposes deleting the dedupe records proposed before {@code beforeNanos}, unless
     * nothing was applied since the last time and no record it kept is due (an idle, possibly
     * quiesced range is left alone).
     */
    void maybeCollectDedupe(long beforeNanos) {
      if (!isLeader
          || writtenApplied < leaderReadyIndex
          || (sm.appliedIndex() == dedupeCollectedAt
              && beforeNanos <= sm.oldestKeptRecordNanos())) {
        return; // nothing applied since the last collection, and nothing it kept is due yet
      }
      RaftNode.ProposeResult pr =
          raft.propose(
              RaftCommand.newBuilder()
                  .setCollectDedupeBeforeNanos(beforeNanos)
                  .build()
                  .toByteArray());
      if (pr.accepted()) {
        dedupeCollectedAt = pr.index();
        dirty.add(this);
      }
    }

    /**
     * Compacts the log once it holds more than {@code compactLogAfter} entries, to a point half
     * that far behind the applied index, so that followers a little behind still catch up from the
     * log. The point's recorded membership is the current one, so the point is never before the
     * last conf change (after a restart, conservatively, before the last index at restart).
     */
    void maybeCompactLog() {
      int after = options.compactLogAfter();
      if (after <= 0) {
        return;
      }
      // Only what is applied in the engine: entries whose applied writes are still on their way
      // to disk would be needed again after a crash.
      long applied = writtenApplied;
      long first = storage.firstIndex();
      if (applied - first + 1 <= after) {
        return;
      }
      // After a snapshot the state machine can be ahead of the log (the data carried a later
      // applied index than the snapshot's point); compact only what the core itself applied.
      RaftNode.Status status = raft.status();
      long to = Math.min(applied, status.applied()) - after / 2;
      if (to < first || to < lastConfChangeIndex || to <= storage.snapshot().metadata().index()) {
        return;
      }
      WriteBatch batch = new WriteBatch();
      storage.saveSnapshot(
          batch,
          new io.basalt.range.raft.Snapshot(
              new io.basalt.range.raft.SnapshotMetadata(to, storage.term(to), status.confState()),
              new byte[0]),
          to);
      // Not synced: losing it in a crash only leaves a longer log (the writes it follows in the
      // engine's write-ahead log are durable whenever it is).
      engine.write(batch, false);
    }

    KvResponse validate(KvRequest request) {
      boolean meta = rangeId == KeySpace.META_RANGE_ID;
      List<byte[]> keys = new ArrayList<>();
      switch (request.getRequestCase()) {
        case GET -> keys.add(request.getGet().getKey().toByteArray());
        case PUT -> keys.add(request.getPut().getKey().toByteArray());
        case DELETE -> keys.add(request.getDelete().getKey().toByteArray());
        case CONDITIONAL_PUT -> keys.add(request.getConditionalPut().getKey().toByteArray());
        case WRITE_BATCH -> {
          if (request.getWriteBatch().getMutationsCount() == 0) {
            return Errors.invalid("a write batch needs at least one mutation");
          }
          for (Mutation m : request.getWriteBatch().getMutationsList()) {
            switch (m.getOpCase()) {
              case PUT -> keys.add(m.getPut().getKey().toByteArray());
              case DELETE -> keys.add(m.getDelete().getKey().toByteArray());
              default -> {
                return Errors.invalid("a mutation must be a put or a delete");
              }
            }
          }
        }
        case SCAN -> {
          ScanRequest s = request.getScan();
          byte[] start = s.getStartKey().toByteArray();
          byte[] end = s.getEndKey().toByteArray();
          if (end.length > 0 && Arrays.compareUnsigned(start, end) >= 0) {
            return Errors.invalid("scan start key must be below its end key");
          }
          // The whole span must lie in this range: a client routes each page by its cached
          // descriptor, and a range that shrank (a split) must say so rather than serve less.
          byte[] rangeEnd = descriptor.getEndKey().toByteArray();
          boolean endInside =
              rangeEnd.length == 0
                  || (end.length > 0 && Arrays.compareUnsigned(end, rangeEnd) <= 0);
          if (!KeySpace.contains(descriptor, start) || !endInside) {
            return Errors.keyNotInRange(start, descriptor);
          }
          return null;
        }
        case REQUEST_NOT_SET -> {
          return Errors.invalid("the request names no operation");
        }
        default -> {
          return Errors.invalid("not a KV operation: " + request.getRequestCase());
        }
      }
      if (meta && request.getRequestCase() != KvRequest.RequestCase.GET) {
        return Errors.invalid("the meta range is written by the system only");
      }
      for (byte[] key : keys) {
        String why = meta ? null : KeySpace.invalidUserKey(key);
        if (why != null) {
          return Errors.invalid(why);
        }
        if (!KeySpace.contains(descriptor, key)) {
          return Errors.keyNotInRange(key, descriptor);
        }
      }
      return null;
    }

    void handle(Pending p) {
      if (!p.isWrite() && !rules.readsNeedReadIndex()) {
        p.reply(serveRead(p.request));
        return;
      }
      if (!isLeader) {
        p.reply(
            leader == 0
                ? Errors.unavailable(
                    "range "
                        + rangeId
                        + " has no leader here: an election is under way or a quorum is"
                        + " unreachable")
                : Errors.notLeader(rangeId, leader, addresses.get(leader)));
        return;
      }
      if (!p.isWrite()) {
        byte[] ctx = ByteBuffer.allocate(8).putLong(++readSeq).array();
        if (!raft.readIndex(ctx)) {
          p.reply(Errors.notLeader(rangeId, leader, addresses.get(leader)));
          return;
        }
        p.readContext = ByteString.copyFrom(ctx);
        readIndexWaiting.put(p.readContext, p);
        return;
      }
      if (writtenApplied < leaderReadyIndex && rules.awaitLeaderReady()) {
        awaitingLeaderReady.add(p);
        return;
      }
      evaluateWrite(p);
    }

    private Set<ByteString> writeKeys(KvRequest request) {
      Set<ByteString> keys = new HashSet<>();
      switch (request.getRequestCase()) {
        case PUT -> keys.add(request.getPut().getKey());
        case DELETE -> keys.add(request.getDelete().getKey());
        case CONDITIONAL_PUT -> keys.add(request.getConditionalPut().getKey());
        case WRITE_BATCH -> {
          for (Mutation m : request.getWriteBatch().getMutationsList()) {
            keys.add(m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey());
          }
        }
        default -> {}
      }
      return keys;
    }

    void evaluateWrite(Pending p) {
      if (p.done) {
        return;
      }
      Set<ByteString> keys = writeKeys(p.request);
      for (ByteString k : keys) {
        if (latched.contains(k)) {
          blocked.add(p);
          return;
        }
      }
      ByteString requestId = p.request.getHeader().getRequestId();
      boolean firstInLog = false;
      if (!requestId.isEmpty()) {
        Optional<ByteString> recorded = sm.recordedResult(requestId);
        if (recorded.isPresent()) {
          p.reply(parseResult(recorded.get()));
          return;
        }
        // This leader applied every entry of earlier terms before evaluating (leaderReadyIndex),
        // and the record lookup covers everything applied; the rest of the log is this leader's
        // own proposals. So with no proposal of this id in flight, no entry before the one
        // proposed now carries it, and replicas may skip their own lookup.
        firstInLog = rules.firstInLog(requestIdsInFlight.containsKey(requestId));
      }
      Timestamp ts = clock.now();
      RaftCommand.Builder cmd =
          RaftCommand.newBuilder()
              .setRequestId(requestId)
              .setProposedAtNanos(ts.wallNanos())
              .setFirstInLog(firstInLog);
      KvResponse result = evaluate(p.request, ts, cmd);
      RaftCommand command = cmd.setResult(result.toByteString()).build();
      RaftNode.ProposeResult pr = raft.propose(command.toByteArray());
      listener.proposed(1);
      if (!pr.accepted()) {
        p.reply(
            switch (pr.outcome()) {
              case NOT_LEADER, TRANSFER_IN_PROGRESS ->
                  Errors.notLeader(rangeId, leader, addresses.get(leader));
              default -> Errors.unavailable("proposal refused: " + pr.outcome());
            });
        return;
      }
      // An older proposal at this index (of an earlier term) is lost for certain: the index now
      // holds this entry. Answer it and release its latches, whatever path left it here.
      // (Once this term's no-op is applied, earlier terms' proposals past it are already answered,
      // so this is only a guard: the displaced entry is not committed, so its outcome is unknown.)
      Proposal displaced = proposals.get(pr.index());
      if (displaced != null && rules.releaseLostProposals()) {
        latched.removeAll(displaced.pending.latches);
        displaced.pending.reply(
            Errors.timeout("the write's log position was taken over; its outcome is unknown"));
      }
      latched.addAll(keys);
      p.latches = keys;
      Proposal proposal = new Proposal(pr.term(), p, command);
      forget(proposals.put(pr.index(), proposal));
      if (!requestId.isEmpty()) {
        requestIdsInFlight.merge(requestId, 1, Integer::sum);
      }
      if (!rules.acknowledgeWhenApplied()) {
        p.reply(result);
      }
    }

    private KvResponse evaluate(KvRequest request, Timestamp ts, RaftCommand.Builder cmd) {
      io.basalt.api.Timestamp pts = toProto(ts);
      switch (request.getRequestCase()) {
        case PUT -> {
          cmd.addWrites(put(request.getPut().getKey(), request.getPut().getValue(), pts));
          return KvResponse.newBuilder().setPut(PutResponse.getDefaultInstance()).build();
        }
        case DELETE -> {
          ByteString key = request.getDelete().getKey();
          boolean existed = current(key).isPresent();
          if (existed) {
            cmd.addWrites(tombstone(key, pts));
          }
          return KvResponse.newBuilder()
              .setDelete(DeleteResponse.newBuilder().setExisted(existed))
              .build();
        }
        case CONDITIONAL_PUT -> {
          ConditionalPutRequest c = request.getConditionalPut();
          Optional<Version> cur = current(c.getKey());
          boolean ok =
              c.getExpectAbsent()
                  ? cur.isEmpty()
                  : cur.isPresent()
                      && Arrays.equals(cur.get().value(), c.getExpectedValue().toByteArray());
          ConditionalPutResponse.Builder r = ConditionalPutResponse.newBuilder().setSucceeded(ok);
          if (ok) {
            cmd.addWrites(put(c.getKey(), c.getValue(), pts));
          } else if (cur.isPresent()) {
            r.setFound(true).setActualValue(ByteString.copyFrom(cur.get().value()));
          }
          return KvResponse.newBuilder().setConditionalPut(r).build();
        }
        case WRITE_BATCH -> {
          for (Mutation m : request.getWriteBatch().getMutationsList()) {
            cmd.addWrites(
                m.hasPut()
                    ? put(m.getPut().getKey(), m.getPut().getValue(), pts)
                    : tombstone(m.getDelete().getKey(), pts));
          }
          return KvResponse.newBuilder()
              .setWriteBatch(WriteBatchResponse.getDefaultInstance())
              .build();
        }
        default -> throw new IllegalStateException("not a write: " + request.getRequestCase());
      }
    }

    private Optional<Version> current(ByteString key) {
      return MvccStore.get(engine, key.toByteArray(), Timestamp.MAX);
    }

    private static ReplicatedWrite put(
        ByteString key, ByteString value, io.basalt.api.Timestamp ts) {
      return ReplicatedWrite.newBuilder().setKey(key).setValue(value).setTimestamp(ts).build();
    }

    private static ReplicatedWrite tombstone(ByteString key, io.basalt.api.Timestamp ts) {
      return ReplicatedWrite.newBuilder().setKey(key).setTombstone(true).setTimestamp(ts).build();
    }

    private KvResponse parseResult(ByteString bytes) {
      try {
        return KvResponse.parseFrom(bytes);
      } catch (InvalidProtocolBufferException e) {
        // The write took effect; only its answer is lost. Not a failure: its outcome is unknown
        // to the client.
        return Errors.timeout(
            "the write was applied but its recorded result in range "
                + rangeId
                + " is unreadable; its outcome is unknown");
      }
    }

    KvResponse serveRead(KvRequest request) {
      switch (request.getRequestCase()) {
        case GET -> {
          Optional<Version> v = current(request.getGet().getKey());
          GetResponse.Builder g = GetResponse.newBuilder().setFound(v.isPresent());
          v.ifPresent(ver ->
              g.setKv(
                  KeyValue.newBuilder()
                      .setKey(request.getGet().getKey())
                      .setValue(ByteString.copyFrom(ver.value()))
                      .setVersion(toProto(ver.timestamp()))));
          return KvResponse.newBuilder().setGet(g).build();
        }
        case SCAN -> {
          ScanRequest s = request.getScan();
          byte[] start = max(s.getStartKey().toByteArray(), descriptor.getStartKey().toByteArray());
          byte[] end = minEnd(s.getEndKey().toByteArray(), descriptor.getEndKey().toByteArray());
          int limit = s.getLimit() <= 0 ? 1000 : Math.min(s.getLimit(), 10_000);
          long maxBytes = s.getMaxBytes() == 0 ? 4L << 20 : Math.min(s.getMaxBytes(), 16L << 20);
          ScanResponse.Builder out = ScanResponse.newBuilder();
          if (end.length == 0 || Arrays.compareUnsigned(start, end) < 0) {
            MvccStore.ScanResult res =
                MvccStore.scan(engine, start, end, Timestamp.MAX, limit, maxBytes);
            for (Version v : res.versions()) {
              out.addKvs(
                  KeyValue.newBuilder()
                      .setKey(ByteString.copyFrom(v.key()))
                      .setValue(ByteString.copyFrom(v.value()))
                      .setVersion(toProto(v.timestamp())));
            }
            if (res.resumeKey() != null) {
              out.setResumeKey(ByteString.copyFrom(res.resumeKey()));
            }
          }
          return KvResponse.newBuilder().setScan(out).build();
        }
        default -> throw new IllegalStateException("not a read: " + request.getRequestCase());
      }
    }

    /** Takes in a Ready's role change and applies its committed entries into {@code applyBatch}. */
    void onReady(Ready rd, WriteBatch applyBatch, List<Runnable> answers) {
      if (rd.softState() != null) {
        long newLeader = rd.softState().leaderId();
        boolean nowLeader = rd.softState().role() == RaftNode.Role.LEADER;
        if (nowLeader && !isLeader) {
          // The last index now is this term's no-op: once it is applied, this replica's state holds
          // every earlier term's committed entry.
          leaderReadyIndex = raft.status().lastIndex();
          rules.onBecameLeader(this, leaderReadyIndex, answers);
        }
        boolean lost = !nowLeader && isLeader;
        if (newLeader != leader || nowLeader != isLeader) {
          listener.leaderChanged(rangeId, newLeader, nowLeader);
        }
        leader = newLeader;
        isLeader = nowLeader;
        if (lost) {
          leaderReadyIndex = Long.MAX_VALUE;
          lostLeadership();
        }
      }
      apply(rd.committedEntries(), applyBatch, answers);
    }

    /** Serves the reads this Ready confirmed, and any others whose index is now applied. */
    void serveReads(Ready rd) {
      for (ReadState rs : rd.readStates()) {
        Pending p = readIndexWaiting.remove(ByteString.copyFrom(rs.context()));
        if (p != null && !p.done) {
          readsAwaitingApply.add(new WaitingRead(rs.index(), p));
        }
      }
      serveReads();
    }

    // StoreRules.NewLeader: what a rule may see and do at election (the correct rules use none).

    @Override
    public long[] proposalIndexes() {
      return proposals.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    @Override
    public long proposalTerm(long index) {
      return proposals.get(index).term();
    }

    @Override
    public long logTerm(long index) {
      return storage.term(index);
    }

    @Override
    public void answerNotLeader(long index, List<Runnable> answers) {
      Proposal prop = forget(proposals.remove(index));
      latched.removeAll(prop.pending().latches);
      Pending p = prop.pending();
      answers.add(() -> p.reply(Errors.notLeader(rangeId, 0, null)));
    }

    /**
     * Answers the proposals that can no longer commit, now that an entry of term {@code
     * appliedTerm} at {@code appliedIndex} is committed: those of earlier terms at later indexes.
     * Every later leader's log holds that entry, and a log's terms never decrease along its
     * indexes, so no entry of an earlier term can ever commit after it: NotLeader (not applied,
     * safe to retry) is certain. (Proposals at or below it were answered when their index was
     * applied.) Until such an entry commits, a proposal missing from this replica's log may still
     * be in another replica's and commit there, so it is not answered when leadership changes: only
     * once its index is applied, or this, or its deadline (Timeout, outcome unknown).
     */
    private void releaseLostProposals(long appliedIndex, long appliedTerm, List<Runnable> answers) {
      if (proposals.isEmpty() || !rules.releaseLostProposals()) {
        return;
      }
      List<Long> lost = new ArrayList<>();
      proposals
          .tailMap(appliedIndex, false)
          .forEach((index, prop) -> {
            if (prop.term() < appliedTerm) {
              lost.add(index);
            }
          });
      for (long index : lost) {
        // (Removing through the map, not an entry iterator: a TreeMap may reuse a removed entry
        // for its successor.)
        Proposal prop = forget(proposals.remove(index));
        latched.removeAll(prop.pending().latches);
        Pending p = prop.pending();
        long hint = leader == nodeId ? 0 : leader;
        answers.add(() -> p.reply(Errors.notLeader(rangeId, hint, addresses.get(hint))));
      }
    }

    /**
     * The answer to a proposal whose index was covered by a snapshot rather than applied here: the
     * result recorded for its request id if it took effect; NotLeader if it has a request id and no
     * record (it did not take effect: records travel with the snapshot); Timeout if it has no
     * request id (its outcome cannot be known).
     */
    private KvResponse answerAfterSnapshot(Pending p) {
      ByteString requestId = p.request.getHeader().getRequestId();
      if (requestId.isEmpty()) {
        return Errors.timeout(
            "the write's index was covered by a snapshot; its outcome is unknown");
      }
      return sm.recordedResult(requestId)
          .map(this::parseResult)
          .orElseGet(() -> Errors.notLeader(rangeId, leader, addresses.get(leader)));
    }

    private void apply(List<Entry> entries, WriteBatch applyBatch, List<Runnable> answers) {
      if (entries.isEmpty()) {
        return;
      }
      long t0 = nanoTime.getAsLong();
      for (Entry e : entries) {
        byte[] data = e.type() == EntryType.NORMAL ? e.data() : new byte[0];
        if (e.type() == EntryType.CONF_CHANGE) {
          lastConfChangeIndex = e.index();
        }
        Proposal prop = forget(proposals.remove(e.index()));
        RaftCommand command = null;
        if (prop != null && prop.term == e.term()) {
          command = prop.command; // our own entry: the command it was built from
        } else if (data.length > 0) {
          // (Also an entry at or below the applied index, one a snapshot's data covered: the
          // state machine skips it, but its timestamps still reach the clock.)
          command = ReplicaStateMachine.parse(rangeId, e.index(), data);
          if (!isLeader) {
            observeTimestamps(command);
          }
        }
        Optional<ReplicaStateMachine.Applied> applied = sm.stage(applyBatch, e.index(), command);
        if (prop != null) {
          // Held until the batch holding this entry's writes is in the engine: a write to the
          // same keys evaluated before would read the state before it.
          if (!rules.holdLatchesUntilWritten()) {
            latched.removeAll(prop.pending.latches);
          } else {
            stagedLatches.add(prop.pending.latches);
          }
          Pending p = prop.pending;
          KvResponse answer;
          if (prop.term != e.term()) {
            answer =
                Errors.notLeader(rangeId, leader == nodeId ? 0 : leader, addresses.get(leader));
          } else if (applied.isPresent()) {
            answer = parseResult(applied.get().result());
          } else {
            answer = answerAfterSnapshot(p); // our entry, already in a snapshot's data
          }
          answers.add(() -> p.reply(answer));
        }
      }
      Entry last = entries.get(entries.size() - 1);
      releaseLostProposals(last.index(), last.term(), answers);
      // Proposals at or below the applied index that were not met above: a snapshot covered
      // their index.
      while (!proposals.isEmpty() && proposals.firstKey() <= sm.appliedIndex()) {
        Proposal prop = forget(proposals.pollFirstEntry().getValue());
        latched.removeAll(prop.pending.latches);
        Pending p = prop.pending;
        KvResponse answer = answerAfterSnapshot(p);
        answers.add(() -> p.reply(answer));
      }
      listener.applied(entries.size(), nanoTime.getAsLong() - t0);
    }

    private void observeTimestamps(RaftCommand command) {
      try {
        for (ReplicatedWrite w : command.getWritesList()) {
          clock.update(fromProto(w.getTimestamp()));
        }
      } catch (RuntimeException e) {
        // A timestamp ahead of our clock by more than the maximum offset is the offset monitor's
        // business, not apply's.
      }
    }

    /** {@code prop} (if any) left {@link #proposals}: its request id is no longer in flight. */
    private Proposal forget(Proposal prop) {
      if (prop != null) {
        requestIdsInFlight.computeIfPresent(
            prop.pending.request.getHeader().getRequestId(), (id, n) -> n == 1 ? null : n - 1);
      }
      return prop;
    }

    private void serveReads() {
      WaitingRead w;
      while ((w = readsAwaitingApply.peek()) != null && w.index <= writtenApplied) {
        readsAwaitingApply.poll();
        if (!w.pending.done) {
          w.pending.reply(serveRead(w.pending.request));
        }
      }
    }

    void afterAdvance() {
      if (isLeader && writtenApplied >= leaderReadyIndex && !awaitingLeaderReady.isEmpty()) {
        ArrayDeque<Pending> waiting = new ArrayDeque<>(awaitingLeaderReady);
        awaitingLeaderReady.clear();
        for (Pending p : waiting) {
          evaluateWrite(p);
        }
      }
      if (!blocked.isEmpty() && isLeader) {
        ArrayDeque<Pending> waiting = new ArrayDeque<>(blocked);
        blocked.clear();
        for (Pending p : waiting) {
          evaluateWrite(p);
        }
      }
    }

    private void lostLeadership() {
      long hint = leader;
      failAll(readIndexWaiting.values(), hint);
      readIndexWaiting.clear();
      List<Pending> reads = new ArrayList<>();
      readsAwaitingApply.forEach(w -> reads.add(w.pending));
      readsAwaitingApply.clear();
      failAll(reads, hint);
      failAll(awaitingLeaderReady, hint);
      awaitingLeaderReady.clear();
      failAll(blocked, hint);
      blocked.clear();
      outgoingSnapshots.values().forEach(OutgoingSnapshot::cancel);
      outgoingSnapshots.clear();
      // Proposals stay: they may still commit; each is answered when its index is applied or its
      // deadline passes.
    }

    private void failAll(Collection<Pending> pendings, long hint) {
      for (Iterator<Pending> it = pendings.iterator(); it.hasNext(); ) {
        it.next().reply(Errors.notLeader(rangeId, hint, addresses.get(hint)));
      }
    }
  }

  private static byte[] max(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(a, b) >= 0 ? a : b;
  }

  private static byte[] minEnd(byte[] a, byte[] b) {
    if (a.length == 0) {
      return b;
    }
    if (b.length == 0) {
      return a;
    }
    return Arrays.compareUnsigned(a, b) <= 0 ? a : b;
  }

  @Override
  public String toString() {
    return "Store[node " + nodeId + ", " + replicas.size() + " replicas]";
  }
}
