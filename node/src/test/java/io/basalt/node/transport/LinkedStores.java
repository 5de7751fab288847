package io.basalt.node.transport;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.PutRequest;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.SnapshotChunk;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.node.store.Persister;
import io.basalt.node.store.SnapshotStream;
import io.basalt.node.store.Store;
import io.basalt.node.store.StoreListener;
import io.basalt.node.store.StoreOptions;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.ReadView;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.hlc.HybridClock;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Three {@link Store}s, each on its own real {@link NodeTransport} on 127.0.0.1, holding one range
 * (id {@link #RANGE}, every user key) replicated on all three: what a node wires, minus the
 * process. The link between nodes 1 and 2 runs through a {@link LinkProxy}; the others are direct.
 *
 * <p>Each store runs on its transport's one event loop, which also hands it what arrives (as a node
 * does with one I/O thread), so a store never runs on two threads. Time is virtual: each node's
 * monotonic and wall clocks move only by {@link #tick} (100 ms a tick), and after every tick each
 * open link carries one ping each way whose answer returns behind everything sent before it, so a
 * tick leaves room for one round trip on every link, as on a network much faster than a tick.
 * Randomness is seeded (node {@code i} uses seed {@code i}); a test's outcome depends on the order
 * in which the event loops run only through timing that Raft tolerates.
 *
 * <p>Snapshot streams a store hands its network are observed on their way to the transport ({@link
 * ObservedStream}); each node's engine counts the read views it has open (a stream holds one until
 * it ends); each node's listener feeds the node's real {@link NodeMetrics} and records the snapshot
 * events; each node's writes go through a {@link HoldingPersister} that can stop completing them.
 */
final class LinkedStores implements AutoCloseable {
  static final long RANGE = 2;
  static final long TICK_NANOS = 100_000_000L;

  /**
   * The store's defaults except: no quiescence (a follower cut off must keep being probed), a log
   * compacted after 20 entries (a follower that misses a few dozen needs a snapshot) and 64 KiB
   * snapshot chunks (a stream of a few MiB has many).
   */
  static final StoreOptions STORE_OPTIONS =
      new StoreOptions(10, 2, 0, 2, 50, 5, 20, 20, 64 * 1024, 600_000, 600, 5_000, 0, 600, false);

  /**
   * 2 MiB frames (an append of 1 MiB of entries fits), whose high water mark of 2 MiB bounds what a
   * connection buffers; a peer queue of one frame, so a node cut off is not sent a backlog of
   * appends when it comes back.
   */
  private static TransportOptions transportOptions(long nodeId) {
    return new TransportOptions("c", nodeId, 2 << 20, 2 << 20, 10, 200, 1);
  }

  private static final long WALL_START_NANOS = 1_700_000_000_000_000_000L;
  private static final InetSocketAddress ANY = new InetSocketAddress("127.0.0.1", 0);

  final NodeTransport[] transports = new NodeTransport[4];
  final Store[] stores = new Store[4];
  final NodeMetrics[] metrics = new NodeMetrics[4];
  final CountingEngine[] engines = new CountingEngine[4];
  final HoldingPersister[] persisters = new HoldingPersister[4];
  final AtomicLong[] nanos = new AtomicLong[4];

  /**
   * Snapshot events per node, in order: "sent to 2: …", "not sent to 2: reason", "installed at
   * 123".
   */
  final List<List<String>> snapshotEvents = new ArrayList<>();

  /** Snapshot chunks each node's store dropped, counted by sender and reason. */
  final List<Map<String, Integer>> droppedSnapshotChunks = new ArrayList<>();

  /** Snapshot chunks received per node, in order. */
  final List<List<SnapshotChunk>> chunksReceived = new ArrayList<>();

  /** Every snapshot stream a store handed its network, in order. */
  final List<ObservedStream> streams = new CopyOnWriteArrayList<>();

  /** Whatever a store threw on its event loop while handling what arrived. */
  final List<Throwable> inboundFailures = new CopyOnWriteArrayList<>();

  final LinkProxy link;

  /** While set, the stores are handed nothing that arrives (see {@link #elect}). */
  private volatile boolean deaf;

  /** Whether {@link #tick} sends its pings over the proxied link (off while a test holds it). */
  volatile boolean pingLinkOneTwo = true;

  private final Map<Long, CompletableFuture<Void>> pongs = new ConcurrentHashMap<>();
  private final AtomicLong pingIds = new AtomicLong();
  private final AtomicLong requestIds = new AtomicLong();

  LinkedStores() throws Exception {
    snapshotEvents.add(null);
    droppedSnapshotChunks.add(null);
    chunksReceived.add(null);
    InetSocketAddress[] addresses = new InetSocketAddress[4];
    for (int i = 1; i <= 3; i++) {
      snapshotEvents.add(new CopyOnWriteArrayList<>());
      droppedSnapshotChunks.add(new ConcurrentHashMap<>());
      chunksReceived.add(new CopyOnWriteArrayList<>());
      nanos[i] = new AtomicLong(1_000_000_000L);
      engines[i] = new CountingEngine(new MemEngine());
      metrics[i] = new NodeMetrics(i);
      int id = i;
      transports[i] =
          new NodeTransport(
              transportOptions(i),
              (from, batch) -> inbound(id, from, batch),
              new ConnectionGuard());
      AtomicLong clock = nanos[i];
      stores[i] =
          new Store(
              i,
              engines[i],
              new HybridClock(() -> WALL_START_NANOS + clock.get(), 500_000_000L),
              network(i),
              STORE_OPTIONS,
              new SplittableRandom(i),
              listener(i),
              clock::get);
      persisters[i] = new HoldingPersister(engines[i], clock);
      stores[i].setPersister(persisters[i]);
      addresses[i] = transports[i].start(ANY);
    }
    link = new LinkProxy(addresses[2]);
    transports[1].addPeer(2, link.address());
    transports[2].addPeer(1, addresses[1]);
    transports[1].addPeer(3, addresses[3]);
    transports[3].addPeer(1, addresses[1]);
    transports[2].addPeer(3, addresses[3]);
    transports[3].addPeer(2, addresses[2]);
    awaitConnected(1, 2);
    awaitConnected(1, 3);
    awaitConnected(2, 3);
    List<NodeDescriptor> nodes = new ArrayList<>();
    RangeDescriptor.Builder range =
        RangeDescriptor.newBuilder()
            .setRangeId(RANGE)
            .setGeneration(1)
            .setStartKey(ByteString.copyFrom(KeySpace.USER_START));
    for (long i = 1; i <= 3; i++) {
      nodes.add(NodeDescriptor.newBuilder().setNodeId(i).setAddress("n" + i).build());
      // Replica ids of their own (node i holds replica 10 + i): snapshots stream to nodes, and
      // name replicas.
      range.addReplicas(ReplicaDescriptor.newBuilder().setNodeId(i).setReplicaId(10 + i));
    }
    range.setNextReplicaId(14);
    for (int i = 1; i <= 3; i++) {
      Store s = stores[i];
      onStore(
          i,
          () -> {
            s.bootstrap("c", List.of(range.build()), nodes);
            s.process();
            return null;
          });
    }
  }

  private Store.Network network(int id) {
    return new Store.Network() {
      @Override
      public void send(long toNode, RaftMessage message) {
        transports[id].send(toNode, message); // refused when the queue is full: Raft retries
      }

      @Override
      public void ping(long toNode) {}

      @Override
      public boolean sendSnapshot(long toNode, SnapshotStream stream) {
        ObservedStream observed = new ObservedStream(id, toNode, stream);
        streams.add(observed);
        return transports[id].sendSnapshot(toNode, observed);
      }
    };
  }

  private StoreListener listener(int id) {
    NodeMetrics m = metrics[id];
    List<String> events = snapshotEvents.get(id);
    return new StoreListener() {
      @Override
      public void snapshotSent(long rangeId, long toNode, int chunks, long bytes) {
        m.snapshotSent(rangeId, toNode, chunks, bytes);
        events.add("sent to " + toNode + ": " + chunks + " chunks, " + bytes + " bytes");
      }

      @Override
      public void snapshotNotSent(long rangeId, long toNode, String reason) {
        m.snapshotNotSent(rangeId, toNode, reason);
        events.add("not sent to " + toNode + ": " + reason);
      }

      @Override
      public void snapshotInstalled(long rangeId, long index) {
        m.snapshotInstalled(rangeId, index);
        events.add("installed at " + index);
      }

      @Override
      public void droppedMessage(long fromNode, long rangeId, String reason) {
        m.droppedMessage(fromNode, rangeId, reason);
        if (reason.contains("snapshot")) {
          droppedSnapshotChunks.get(id).merge("from " + fromNode + ": " + reason, 1, Integer::sum);
        }
      }
    };
  }

  /** What node {@code id}'s transport received: handed to its store, on the store's thread. */
  private void inbound(int id, long from, RaftBatch batch) {
    try {
      if (deaf) {
        answerPing(id, from, batch);
        return;
      }
      Store s = stores[id];
      s.heardFrom(from);
      for (RaftMessage m : batch.getMessagesList()) {
        s.receive(from, m);
      }
      for (var h : batch.getHeartbeatsList()) {
        s.receive(from, Heartbeats.expand(h, false));
      }
      for (var h : batch.getHeartbeatResponsesList()) {
        s.receive(from, Heartbeats.expand(h, true));
      }
      for (SnapshotChunk chunk : batch.getSnapshotChunksList()) {
        chunksReceived.get(id).add(chunk);
        s.receiveSnapshotChunk(from, chunk);
        if (chunk.getLast()) {
          persisters[id].lastChunkArrived();
        }
      }
      s.process();
      answerPing(id, from, batch);
    } catch (RuntimeException | Error e) {
      inboundFailures.add(e);
      throw e;
    }
  }

  private void answerPing(int id, long from, RaftBatch batch) {
    if (batch.getPingSentNanos() != 0) {
      transports[id].sendPong(from, batch.getPingSentNanos(), 1);
    }
    if (batch.getPongEchoNanos() != 0) {
      pongs.remove(batch.getPongEchoNanos()).complete(null);
    }
  }

  /** Runs {@code task} on node {@code id}'s store thread and returns its result. */
  <T> T onStore(int id, Callable<T> task) throws Exception {
    try {
      return transports[id].storeExecutor().submit(task).get(20, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  /**
   * One tick (100 ms of both clocks) on each of {@code nodes}, each followed by its store's round;
   * then one round trip on every open link.
   */
  void tick(int... nodes) throws Exception {
    for (int id : nodes) {
      nanos[id].addAndGet(TICK_NANOS);
      Store s = stores[id];
      onStore(
          id,
          () -> {
            s.tick();
            s.process();
            return null;
          });
    }
    roundTrips();
  }

  void tickAll() throws Exception {
    tick(1, 2, 3);
  }

  /**
   * A ping each way on every open link, answered by the receiving node after it handled everything
   * that arrived before the ping; returns once every answer is back.
   */
  void roundTrips() throws Exception {
    List<CompletableFuture<Void>> waiting = new ArrayList<>();
    int[][] links =
        pingLinkOneTwo ? new int[][] {{1, 2}, {1, 3}, {2, 3}} : new int[][] {{1, 3}, {2, 3}};
    for (int[] l : links) {
      waiting.add(ping(l[0], l[1]));
      waiting.add(ping(l[1], l[0]));
    }
    for (CompletableFuture<Void> f : waiting) {
      try {
        f.get(20, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        throw new AssertionError("a ping was not answered within 20 s", e);
      }
    }
  }

  /** The snapshot streams and events so far, for a failure's message. */
  String describeSnapshots() {
    StringBuilder b = new StringBuilder();
    for (ObservedStream st : streams) {
      b.append("\n  stream ")
          .append(st.fromNode)
          .append(" -> ")
          .append(st.toNode)
          .append(": ")
          .append(st.chunksPulled.get())
          .append(" chunks pulled")
          .append(st.lastPulled ? " (whole)" : "")
          .append(st.abortReason == null ? "" : ", aborted: " + st.abortReason);
    }
    for (int i = 1; i <= 3; i++) {
      b.append("\n  node ").append(i).append(": ").append(snapshotEvents.get(i));
      if (!droppedSnapshotChunks.get(i).isEmpty()) {
        b.append(", chunks dropped ").append(droppedSnapshotChunks.get(i));
      }
    }
    return b.toString();
  }

  /** A ping from {@code from} to {@code to}; completes when its answer is back. */
  CompletableFuture<Void> ping(int from, int to) {
    long id = pingIds.incrementAndGet();
    CompletableFuture<Void> answered = new CompletableFuture<>();
    pongs.put(id, answered);
    if (!transports[from].sendPing(to, id)) {
      throw new AssertionError("node " + from + " has no connection to node " + to);
    }
    return answered;
  }

  /**
   * Makes node {@code leader} the range's leader. A replica that starts with a term treats itself
   * as having heard from a leader until an election timeout passed (Raft's restart quarantine), so
   * every node first ticks past it with what arrives dropped (a node whose timer fires meanwhile
   * campaigns to nobody); then only {@code leader} ticks until it wins (at most 100 ticks).
   */
  void elect(int leader) throws Exception {
    deaf = true;
    for (int t = 0; t < STORE_OPTIONS.electionTicks(); t++) {
      tickAll();
    }
    deaf = false;
    for (int t = 0; t < 100; t++) {
      tick(leader);
      if (onStore(leader, stores[leader]::leaderCount) == 1) {
        tickAll(); // the others hear of it
        // Its first write waits for the entry of its term: once one is applied it is ready. It
        // lands above the leader's clock (a new leader's timestamp cache starts the max offset
        // above it) and is answered once the clock has passed it (commit wait): time moves on.
        CompletableFuture<KvResponse> ready = put(leader, "ready", new byte[1]);
        for (int w = 0; w < 20 && !ready.isDone(); w++) {
          tick(leader);
        }
        KvResponse r = ready.get(20, TimeUnit.SECONDS);
        if (r.hasError()) {
          throw new AssertionError("node " + leader + " refused a write: " + r.getError());
        }
        return;
      }
    }
    StringBuilder status = new StringBuilder();
    for (int i = 1; i <= 3; i++) {
      int id = i;
      status.append("\n  node ").append(i).append(": ").append(onStore(id, stores[id]::status));
    }
    throw new AssertionError("node " + leader + " did not become leader in 100 ticks:" + status);
  }

  /** Puts {@code key} through node {@code id}; the future completes with the answer. */
  CompletableFuture<KvResponse> put(int id, String key, byte[] value) throws Exception {
    KvRequest request =
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(RANGE)
                    .setRequestId(
                        ByteString.copyFrom(
                            ByteBuffer.allocate(16)
                                .putLong(7)
                                .putLong(requestIds.incrementAndGet())
                                .array())))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8(key))
                    .setValue(ByteString.copyFrom(value)))
            .build();
    CompletableFuture<KvResponse> answer = new CompletableFuture<>();
    Store s = stores[id];
    onStore(
        id,
        () -> {
          s.submit(request, answer::complete);
          s.process();
          return null;
        });
    return answer;
  }

  /**
   * Writes {@code count} keys {@code key-0000…} of {@code valueBytes} each through node {@code
   * leader}, a few at a time, each acknowledged; returns the keys.
   */
  List<String> write(int leader, int count, int valueBytes) throws Exception {
    List<String> keys = new ArrayList<>();
    List<CompletableFuture<KvResponse>> window = new ArrayList<>();
    for (int k = 0; k < count; k++) {
      String key = String.format(java.util.Locale.ROOT, "key-%04d", k);
      keys.add(key);
      window.add(put(leader, key, value(k, valueBytes)));
      if (window.size() == 4 || k == count - 1) {
        for (CompletableFuture<KvResponse> f : window) {
          KvResponse r = f.get(20, TimeUnit.SECONDS);
          if (r.hasError()) {
            throw new AssertionError("a put failed: " + r.getError());
          }
        }
        window.clear();
      }
    }
    return keys;
  }

  /** The value written to key number {@code k}: recognisable, not compressible to nothing. */
  static byte[] value(int k, int bytes) {
    byte[] v = new byte[bytes];
    for (int i = 0; i < bytes; i++) {
      v[i] = (byte) (k * 31 + i * 7 + (i >> 8));
    }
    return v;
  }

  long applied(int id) throws Exception {
    return onStore(id, () -> stores[id].appliedIndex(RANGE));
  }

  byte[] readLocal(int id, String key) throws Exception {
    return onStore(
        id,
        () ->
            stores[id].readLocal(RANGE, key.getBytes(StandardCharsets.UTF_8)).orElse(new byte[0]));
  }

  /** The value of a counter in node {@code id}'s Prometheus exposition (0 if absent). */
  double counter(int id, String name) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*\\} (\\S+)$")
            .matcher(metrics[id].scrape());
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  /** Waits (at most 20 s, as a failure bound) until nodes {@code a} and {@code b} are connected. */
  void awaitConnected(int a, int b) throws InterruptedException {
    NodeTransportTest.await(
        () -> transports[a].connected(b) && transports[b].connected(a),
        "nodes " + a + " and " + b + " are connected");
  }

  void awaitDisconnected(int a, int b) throws InterruptedException {
    NodeTransportTest.await(
        () -> !transports[a].connected(b) && !transports[b].connected(a),
        "nodes " + a + " and " + b + " see their connection gone");
  }

  @Override
  public void close() throws Exception {
    link.close();
    for (int i = 1; i <= 3; i++) {
      transports[i].close();
    }
  }

  /**
   * A snapshot stream on its way from a store to the transport: what the transport pulled and
   * whether it aborted the stream. It only passes calls on.
   */
  static final class ObservedStream implements SnapshotStream {
    final long fromNode;
    final long toNode;
    private final SnapshotStream stream;
    final AtomicInteger chunksPulled = new AtomicInteger();
    final AtomicLong dataBytesPulled = new AtomicLong();
    volatile boolean lastPulled;
    volatile String abortReason;

    ObservedStream(long fromNode, long toNode, SnapshotStream stream) {
      this.fromNode = fromNode;
      this.toNode = toNode;
      this.stream = stream;
    }

    @Override
    public long rangeId() {
      return stream.rangeId();
    }

    @Override
    public SnapshotChunk next() {
      SnapshotChunk chunk = stream.next();
      if (chunk != null) {
        chunksPulled.incrementAndGet();
        dataBytesPulled.addAndGet(chunk.getData().size());
        lastPulled |= chunk.getLast();
      }
      return chunk;
    }

    @Override
    public void abort(String reason) {
      abortReason = reason;
      stream.abort(reason);
    }
  }

  /** An engine that counts its open read views (a snapshot stream holds one until it ends). */
  static final class CountingEngine implements Engine {
    private final Engine engine;
    final AtomicInteger openViews = new AtomicInteger();

    CountingEngine(Engine engine) {
      this.engine = engine;
    }

    @Override
    public byte[] get(ColumnFamily cf, byte[] key) {
      return engine.get(cf, key);
    }

    @Override
    public EngineIterator newIterator(ColumnFamily cf, byte[] lower, byte[] upper) {
      return engine.newIterator(cf, lower, upper);
    }

    @Override
    public void write(WriteBatch batch, boolean sync) {
      engine.write(batch, sync);
    }

    @Override
    public void sync() {
      engine.sync();
    }

    @Override
    public ReadView newReadView() {
      ReadView view = engine.newReadView();
      openViews.incrementAndGet();
      return new ReadView() {
        private boolean closed;

        @Override
        public byte[] get(ColumnFamily cf, byte[] key) {
          return view.get(cf, key);
        }

        @Override
        public EngineIterator newIterator(ColumnFamily cf, byte[] lower, byte[] upper) {
          return view.newIterator(cf, lower, upper);
        }

        @Override
        public synchronized void close() {
          if (!closed) {
            closed = true;
            openViews.decrementAndGet();
          }
          view.close();
        }
      };
    }

    @Override
    public void close() {
      engine.close();
    }
  }

  /**
   * Writes each batch at once on the store's thread (the store's own default), until it is told to
   * hold: then the first batch handed over after a snapshot's last chunk arrived (the batch that
   * installs it) and every later one are kept, never written nor reported, as by a disk that
   * stopped.
   */
  static final class HoldingPersister implements Persister {
    private final Engine engine;
    private final AtomicLong clock;
    private volatile boolean holdInstall;
    private volatile boolean armed;
    private volatile boolean holding;
    volatile long heldBytes = -1;
    volatile long heldSinceNanos;

    HoldingPersister(Engine engine, AtomicLong clock) {
      this.engine = engine;
      this.clock = clock;
    }

    /** From the write that installs the next snapshot received on, nothing completes. */
    void holdTheNextInstall() {
      holdInstall = true;
    }

    void lastChunkArrived() {
      armed = holdInstall;
    }

    boolean holding() {
      return holding;
    }

    @Override
    public void persist(WriteBatch batch, boolean sync, LongConsumer written) {
      if (armed && !holding) {
        holding = true;
        heldBytes = batch.byteSize();
        heldSinceNanos = clock.get();
      }
      if (holding) {
        return;
      }
      if (!batch.isEmpty() || sync) {
        engine.write(batch, sync);
      }
      written.accept(0);
    }
  }
}
