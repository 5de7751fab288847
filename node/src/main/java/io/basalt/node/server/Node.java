package io.basalt.node.server;

import io.basalt.api.BootstrapRequest;
import io.basalt.api.BootstrapResponse;
import io.basalt.api.DrainNodeResponse;
import io.basalt.api.Errors;
import io.basalt.api.InitClusterRequest;
import io.basalt.api.InitialLeaders;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.NodeInfoRequest;
import io.basalt.api.NodeInfoResponse;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.api.StatusResponse;
import io.basalt.node.cli.WireClient;
import io.basalt.node.metrics.HttpEndpoint;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.node.store.SnapshotStream;
import io.basalt.node.store.Store;
import io.basalt.node.store.StoreOptions;
import io.basalt.node.tls.NodeTls;
import io.basalt.node.transport.ConnectionGuard;
import io.basalt.node.transport.Heartbeats;
import io.basalt.node.transport.NodeTransport;
import io.basalt.node.transport.TransportOptions;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.txn.hlc.Clock;
import io.basalt.txn.hlc.ClockOffsetException;
import io.basalt.txn.hlc.ClockOffsetMonitor;
import io.basalt.txn.hlc.HybridClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Basalt node process: one RocksDB store, the {@link Store} on its {@link StoreLoop}, the {@link
 * NodeTransport} for peers and clients on one port, node discovery through {@code --join}, cluster
 * initialization, and the clock-offset guard (decision 5).
 *
 * <p><b>Identity.</b> A store remembers the cluster id and node id it was initialized with. A
 * restart with the same store resumes both (and its replicas); a restart with another {@code --id}
 * is refused, and so is joining nodes of another cluster.
 *
 * <p><b>Discovery.</b> Every second the node asks each {@code --join} address (and every node it
 * has heard of) for its {@code NodeInfo}: id, address, cluster id and the nodes it knows. Once the
 * node is initialized, each known node becomes a transport peer.
 *
 * <p><b>Init.</b> {@code init} on any node creates the cluster: a new cluster id, the meta range
 * and {@code data_ranges} data ranges pre-split evenly over the first byte of the user key space,
 * each replicated on the {@code replication} lowest-numbered known nodes, sent to each of them as a
 * {@code Bootstrap} request. A node that is, or knows of, an initialized node refuses a second
 * init.
 */
public final class Node implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Node.class);

  /** The placement driver's thread, when it runs (see {@link PlacementDriver#start}). */
  private AutoCloseable placement = () -> {};

  private final NodeConfig config;
  private final RocksDbEngine engine;
  private final HybridClock clock;
  private final Clock physical;
  private final ClockOffsetMonitor offsets;
  private final Store store;
  private final StoreLoop loop;

  /** Writes the store's rounds to disk (null: the store writes them itself). */
  private final StoreWriter writer;

  private final NodeTransport transport;
  private final NodeTls tls;
  private final ScheduledExecutorService background =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "node-background");
        t.setDaemon(true);
        return t;
      });
  private final Map<Long, String> knownNodes = new ConcurrentHashMap<>();

  private final DecommissionedNodes decommissioned;
  private final NodeMetrics metrics;
  private volatile HttpEndpoint http;
  private volatile String clusterId;
  private volatile String advertise;
  private volatile String notServing;
  private volatile String fatal;

  /** Whether a node of this node's own cluster answered discovery since start. */
  private volatile boolean heardFromOwnCluster;

  private volatile Consumer<String> onFatal = reason -> {};

  public Node(NodeConfig config) {
    this.config = config;
    this.engine = RocksDbEngine.open(config.storeDir());
    this.physical = Clock.system();
    long maxOffset = config.maxClockOffset().toNanos();
    this.clock = new HybridClock(physical, maxOffset);
    this.offsets = new ClockOffsetMonitor(maxOffset, 10L * 1_000_000_000L);
    Optional<Store.Identity> identity = Store.readIdentity(engine);
    if (identity.isPresent() && identity.get().nodeId() != config.nodeId()) {
      engine.close();
      throw new IllegalStateException(
          "the store at "
              + config.storeDir()
              + " belongs to node "
              + identity.get().nodeId()
              + " of cluster "
              + identity.get().clusterId()
              + ", not node "
              + config.nodeId());
    }
    this.clusterId = identity.map(Store.Identity::clusterId).orElse("");
    this.metrics = new NodeMetrics(config.nodeId());
    TransportOptions topts =
        TransportOptions.defaults(clusterId, config.nodeId()).withIoThreads(config.ioThreads());
    this.transport = new NodeTransport(topts, new Inbound(), new ConnectionGuard());
    if (config.security().tls()) {
      Path certs = config.security().certsDir();
      try {
        this.tls = NodeTls.load(certs, config.security().allowedPeerNames());
        WireClient.useTlsContext(tls.jdk());
      } catch (IOException | java.io.UncheckedIOException e) {
        throw new IllegalStateException("TLS: " + e.getMessage(), e);
      }
      transport.setTls(tls);
    } else {
      this.tls = null;
      WireClient.useTlsContext(null);
      log.warn(
          "node {} runs without TLS (--insecure): any process that reaches {} can join as a peer"
              + " or read and write every key",
          config.nodeId(),
          config.listen());
    }
    this.decommissioned = new DecommissionedNodes(config.nodeId(), engine, transport);
    StoreOptions storeOptions = storeOptions(StoreOptions.defaults(), config);
    // Leases are counted in ticks: peers must tick alike (the handshake refuses those that don't).
    this.transport.setLeaseTiming(
        io.basalt.api.LeaseTiming.newBuilder()
            .setTickMs((int) config.tick().toMillis())
            .setElectionTicks(storeOptions.electionTicks())
            .setHeartbeatTicks(storeOptions.heartbeatTicks())
            .setLeaseDriftTicks(storeOptions.leaseDriftTicks())
            .setMaxOffsetMs(config.maxClockOffset().toMillis())
            .build());
    this.transport.setClock(() -> clock.now().toProto());
    this.store =
        new Store(
            config.nodeId(),
            engine,
            clock,
            new Store.Network() {
              @Override
              public void send(long toNode, RaftMessage message) {
                NodeMetrics.Peer p = metrics.peer(toNode);
                p.messagesSent().increment();
                p.bytesSent().increment(message.getSerializedSize());
                transport.send(toNode, message);
              }

              @Override
              public void ping(long toNode) {
                transport.sendPing(toNode, physical.wallNanos());
              }

              @Override
              public boolean sendSnapshot(long toNode, SnapshotStream stream) {
                return transport.sendSnapshot(toNode, stream);
              }

              @Override
              public void flush() {
                transport.flushDeferred();
              }
            },
            storeOptions,
            new SplittableRandom(),
            new Listeners(new LoggingListener(config.nodeId()), metrics),
            System::nanoTime);
    this.store.load();
    this.loop =
        new StoreLoop(
            store,
            transport.storeExecutor(),
            config.tick().toNanos(),
            System::nanoTime,
            // A round's messages and answers are written once per round step, not one by one.
            () -> transport.deferFlushesOn(Thread.currentThread()),
            () -> {
              transport.flushDeferred();
              transport.deferFlushesOn(null);
            });
    // Rounds hand their batch to a writer thread and go on (asynchronous log writes). The
    // system property keeps every write on the store's thread, for comparisons.
    if (Boolean.getBoolean("basalt.node.writeOnStoreThread")) {
      this.writer = null;
    } else {
      this.writer = new StoreWriter(config.nodeId(), engine, loop::execute);
      store.setPersister(writer);
    }
  }

  /** Starts serving; returns the bound address. */
  public InetSocketAddress start() throws InterruptedException {
    InetSocketAddress bound = transport.start(config.listen());
    advertise =
        config.advertise() != null
            ? config.advertise()
            : bound.getHostString() + ":" + bound.getPort();
    knownNodes.put(config.nodeId(), advertise);
    if (writer != null) {
      writer.start();
    }
    loop.start();
    loop.execute(() -> store.setAddress(config.nodeId(), advertise));
    loop.execute(() -> {
      if (!clusterId.isEmpty()) {
        log.info(
            "node {} resumes in cluster {} with {} replicas",
            config.nodeId(),
            clusterId,
            store.replicaCount());
      } else {
        log.info(
            "node {} is not initialized; waiting for init or to join a cluster", config.nodeId());
      }
    });
    background.scheduleWithFixedDelay(this::discover, 0, 1, TimeUnit.SECONDS);
    background.scheduleWithFixedDelay(this::checkHealth, 1, 1, TimeUnit.SECONDS);
    if (tls != null) {
      background.scheduleWithFixedDelay(
          () -> {
            if (tls.reloadIfChanged()) {
              WireClient.useTlsContext(tls.jdk());
              if (http != null) {
                http.setTls(tls.jdk());
              }
            }
          },
          5,
          5,
          TimeUnit.SECONDS);
    }
    if (config.placement().enabled()) {
      placement =
          PlacementDriver.start(
              config.nodeId(),
              config.placement(),
              () -> Map.copyOf(knownNodes),
              this::learnDecommissioned,
              metrics);
    }
    return bound;
  }

  public long nodeId() {
    return config.nodeId();
  }

  public String clusterId() {
    return clusterId;
  }

  /** Why the node does not serve (not initialized, clock offset, storage failure), or empty. */
  public Optional<String> notReadyReason() {
    if (fatal != null) {
      return Optional.of(fatal);
    }
    if (decommissioned.selfReason().isPresent()) {
      return decommissioned.selfReason();
    }
    if (clusterId.isEmpty()) {
      return Optional.of("not initialized");
    }
    return Optional.ofNullable(notServing);
  }

  /**
   * Called once, from a background thread, when the node cannot go on (its store failed, or it
   * found itself among another cluster's nodes). The CLI exits the process.
   */
  public void onFatal(Consumer<String> handler) {
    this.onFatal = handler;
  }

  /** Why the node is unhealthy (its store failed), or empty. */
  public Optional<String> unhealthyReason() {
    return Optional.ofNullable(fatal);
  }

  /** Runs {@code f} on the store thread and waits for its result. */
  private <T> T onStore(java.util.function.Supplier<T> f) {
    CompletableFuture<T> result = new CompletableFuture<>();
    loop.execute(() -> {
      try {
        result.complete(f.get());
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
    try {
      return result.get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the store did not answer in 10 s", e);
    }
  }

  /** Serves /metrics, /health and /ready on {@code address}; returns the bound address. */
  public InetSocketAddress startHttp(InetSocketAddress address) throws java.io.IOException {
    http =
        new HttpEndpoint(
            address,
            metrics::scrape,
            this::unhealthyReason,
            this::notReadyReason,
            tls == null ? null : tls.jdk());
    return http.start();
  }

  // ---------------------------------------------------------------------------------------------

  private final class Inbound implements NodeTransport.Inbound {
    @Override
    public void onPeerLost(long node) {
      try {
        loop.execute(() -> store.suspect(node));
      } catch (IllegalStateException e) {
        // (stopping)
      }
    }

    @Override
    public void onRaftBatch(long fromNode, RaftBatch batch) {
      NodeMetrics.Peer peer = metrics.peer(fromNode);
      peer.messagesReceived()
          .increment(
              batch.getMessagesCount()
                  + batch.getHeartbeatsCount()
                  + batch.getHeartbeatResponsesCount()
                  + batch.getSnapshotChunksCount());
      peer.bytesReceived().increment(batch.getSerializedSize());
      if (batch.getPingSentNanos() != 0) {
        transport.sendPong(fromNode, batch.getPingSentNanos(), physical.wallNanos());
      }
      if (batch.getPongEchoNanos() != 0) {
        long received = physical.wallNanos();
        if (received >= batch.getPongEchoNanos()) {
          offsets.record(fromNode, batch.getPongEchoNanos(), batch.getPongRemoteNanos(), received);
        }
      }
      if (batch.hasTimestamp()) {
        try {
          clock.update(Timestamp.fromProto(batch.getTimestamp()));
        } catch (ClockOffsetException e) {
          log.warn("dropping a batch from node {}: {}", fromNode, e.getMessage());
          return;
        }
      }
      loop.execute(() -> {
        store.heardFrom(fromNode);
        for (RaftMessage m : batch.getMessagesList()) {
          store.receive(fromNode, m);
        }
        for (var h : batch.getHeartbeatsList()) {
          store.receive(fromNode, Heartbeats.expand(h, false));
        }
        for (var h : batch.getHeartbeatResponsesList()) {
          store.receive(fromNode, Heartbeats.expand(h, true));
        }
        for (SnapshotChunk chunk : batch.getSnapshotChunksList()) {
          store.receiveSnapshotChunk(fromNode, chunk);
        }
      });
    }

    @Override
    public void onKvRequest(KvRequest request, Consumer<KvResponse> reply) {
      try {
        switch (request.getRequestCase()) {
          case NODE_INFO -> reply.accept(KvResponse.newBuilder().setNodeInfo(nodeInfo()).build());
          case STATUS -> loop.execute(() -> reply.accept(statusOnStore()));
          case INIT_CLUSTER ->
              background.execute(() -> reply.accept(initCluster(request.getInitCluster())));
          case BOOTSTRAP ->
              background.execute(() -> reply.accept(bootstrap(request.getBootstrap())));
          case DRAIN_NODE ->
              Thread.ofVirtual()
                  .start(() -> {
                    int seconds = request.getDrainNode().getTimeoutSeconds();
                    boolean drained = drain(Duration.ofSeconds(seconds == 0 ? 10 : seconds));
                    reply.accept(
                        KvResponse.newBuilder()
                            .setDrainNode(DrainNodeResponse.newBuilder().setDrained(drained))
                            .build());
                  });
          default -> loop.execute(() -> store.submit(request, reply));
        }
      } catch (IllegalStateException e) {
        reply.accept(Errors.unavailable("node is stopping: " + e.getMessage()));
      }
    }
  }

  private NodeInfoResponse nodeInfo() {
    NodeInfoResponse.Builder b =
        NodeInfoResponse.newBuilder()
            .setClusterId(clusterId)
            .setNode(self())
            .addAllDecommissioned(decommissioned.all());
    new TreeMap<>(knownNodes)
        .forEach(
            (id, addr) -> b.addNodes(NodeDescriptor.newBuilder().setNodeId(id).setAddress(addr)));
    return b.build();
  }

  /** This node's descriptor: id, address, locality. */
  private NodeDescriptor self() {
    return NodeDescriptor.newBuilder()
        .setNodeId(config.nodeId())
        .setAddress(advertise)
        .setLocality(config.placement().locality())
        .build();
  }

  private KvResponse statusOnStore() {
    StatusResponse.Builder b =
        StatusResponse.newBuilder()
            .setClusterId(clusterId)
            .setNode(self())
            .addAllReplicas(store.status())
            .setServing(notReadyReason().isEmpty())
            .setNotServingReason(notReadyReason().orElse(""))
            .addAllConnected(transport.connectedPeers());
    new TreeMap<>(knownNodes)
        .forEach(
            (id, addr) -> b.addNodes(NodeDescriptor.newBuilder().setNodeId(id).setAddress(addr)));
    return KvResponse.newBuilder().setStatus(b).build();
  }

  // ---------------------------------------------------------------------------------------------
  // Discovery, init and bootstrap (on the background thread)

  private void discover() {
    try {
      List<String> targets = new ArrayList<>(config.join());
      knownNodes.forEach((id, addr) -> {
        if (id != config.nodeId() && !targets.contains(addr)) {
          targets.add(addr);
        }
      });
      for (String target : targets) {
        if (target.equals(advertise)) {
          continue;
        }
        NodeInfoResponse info;
        try (WireClient c = WireClient.connect(target, Duration.ofSeconds(2))) {
          info =
              c.call(
                      KvRequest.newBuilder()
                          .setNodeInfo(NodeInfoRequest.getDefaultInstance())
                          .build())
                  .getNodeInfo();
        } catch (RuntimeException e) {
          continue; // not up yet; next round
        }
        learn(info);
      }
    } catch (RuntimeException e) {
      log.warn("discovery round failed", e);
    }
  }

  /** Refuses {@code ids} for good from now on, and forgets where they are. */
  private void learnDecommissioned(java.util.Collection<Long> ids) {
    decommissioned.learn(ids);
    knownNodes.keySet().removeAll(ids);
  }

  private void learn(NodeInfoResponse info) {
    String theirs = info.getClusterId();
    if (!theirs.isEmpty() && !clusterId.isEmpty() && !theirs.equals(clusterId)) {
      String what =
          "this node's store belongs to cluster "
              + clusterId
              + " but node "
              + info.getNode().getNodeId()
              + " at "
              + info.getNode().getAddress()
              + " belongs to cluster "
              + theirs;
      if (!heardFromOwnCluster) {
        // Started against another cluster's nodes: refuse to run rather than guess.
        fail(what + "; refusing to join it");
      } else {
        // A node of ours that knows its cluster: an address that now belongs to someone else
        // (a reused address) is forgotten, not a reason to stop.
        log.warn("{}; forgetting that address", what);
        knownNodes.values().remove(info.getNode().getAddress());
      }
      return;
    }
    if (!theirs.isEmpty() && theirs.equals(clusterId)) {
      heardFromOwnCluster = true;
    }
    learnDecommissioned(info.getDecommissionedList());
    for (NodeDescriptor n : info.getNodesList()) {
      if (decommissioned.contains(n.getNodeId())) {
        continue;
      }
      if (n.getNodeId() == config.nodeId()) {
        if (!n.getAddress().equals(advertise)) {
          log.warn(
              "node {} at {} claims node id {} too",
              info.getNode().getNodeId(),
              info.getNode().getAddress(),
              n.getNodeId());
        }
        continue;
      }
      String before = knownNodes.put(n.getNodeId(), n.getAddress());
      if (before == null) {
        log.info(
            "node {} learned of node {} at {}", config.nodeId(), n.getNodeId(), n.getAddress());
      }
    }
    if (!theirs.isEmpty() && clusterId.isEmpty()) {
      log.warn(
          "node {} joins cluster {} with an empty store: if this node held replicas before (a"
              + " wiped or replaced disk), they are gone and their ranges are short of a replica",
          config.nodeId(),
          theirs);
      onStore(() -> {
        store.adopt(theirs);
        return null;
      });
      clusterId = theirs;
      transport.setClusterId(theirs);
    }
    connectPeers();
  }

  private void connectPeers() {
    if (clusterId.isEmpty()) {
      return;
    }
    knownNodes.forEach((id, addr) -> {
      if (id != config.nodeId()) {
        transport.addPeerIfAbsent(id, WireClient.parse(addr));
        loop.execute(() -> store.setAddress(id, addr));
      }
    });
  }

  private synchronized KvResponse initCluster(InitClusterRequest request) {
    if (!clusterId.isEmpty()) {
      return Errors.generic(
          Errors.ALREADY_INITIALIZED, "the cluster is already initialized (" + clusterId + ")");
    }
    discover();
    if (!clusterId.isEmpty()) {
      return Errors.generic(
          Errors.ALREADY_INITIALIZED,
          "a node this node knows of belongs to cluster " + clusterId + " already");
    }
    return ClusterInit.run(request, config.nodeId(), new TreeMap<>(knownNodes), this::bootstrap);
  }

  private synchronized KvResponse bootstrap(BootstrapRequest request) {
    // The node may have learned the cluster id from a peer already (discovery races with init);
    // it still creates its replicas. Another cluster's bootstrap is refused.
    if (!clusterId.isEmpty() && !clusterId.equals(request.getClusterId())) {
      return Errors.generic(
          Errors.ALREADY_INITIALIZED, "this node belongs to cluster " + clusterId + " already");
    }
    try {
      onStore(() -> {
        store.bootstrap(request.getClusterId(), request.getRangesList(), request.getNodesList());
        switch (request.getInitialLeaders()) {
          case INITIAL_LEADERS_VOTE -> store.readyInitialVoters();
          case INITIAL_LEADERS_ELECT -> store.spreadInitialLeaders();
          default -> {}
        }
        return null;
      });
    } catch (IllegalStateException e) {
      return Errors.generic(Errors.ALREADY_INITIALIZED, e.getMessage());
    }
    if (request.getInitialLeaders() != InitialLeaders.INITIAL_LEADERS_NONE) {
      return KvResponse.newBuilder().setBootstrap(BootstrapResponse.getDefaultInstance()).build();
    }
    for (NodeDescriptor n : request.getNodesList()) {
      if (n.getNodeId() != config.nodeId()) {
        knownNodes.put(n.getNodeId(), n.getAddress());
      }
    }
    clusterId = request.getClusterId();
    transport.setClusterId(clusterId);
    log.info(
        "node {} bootstrapped into cluster {} with {} ranges",
        config.nodeId(),
        clusterId,
        request.getRangesCount());
    connectPeers();
    return KvResponse.newBuilder().setBootstrap(BootstrapResponse.getDefaultInstance()).build();
  }

  // ---------------------------------------------------------------------------------------------

  private void checkHealth() {
    try {
      if (!loop.isRunning() && fatal == null) {
        Throwable t = loop.failure();
        fail("the store failed: " + (t == null ? "stopped" : t));
        return;
      }
      String reason = null;
      offsets
          .measurements(physical.wallNanos())
          .forEach((peer, m) -> metrics.recordClockOffset(peer, m.offsetNanos()));
      loop.execute(() -> metrics.setCounts(store.replicaCount(), store.leaderCount()));
      metrics.setServing(notReadyReason().isEmpty());
      if (draining) {
        return; // (drain() set the store not serving for good)
      }
      if (!offsets.healthy(physical.wallNanos())) {
        reason =
            "clock offset to most of the cluster exceeds the tolerated "
                + offsets.toleratedNanos() / 1_000_000
                + " ms (four fifths of the maximum offset, "
                + config.maxClockOffset().toMillis()
                + " ms): "
                + offsets.measurements(physical.wallNanos());
      }
      if (!java.util.Objects.equals(reason, notServing)) {
        if (reason != null && notServing == null) {
          log.error("node {} stops serving: {}", config.nodeId(), reason);
        } else if (reason != null) {
          // Still not serving; only the measurements changed: one ERROR line per episode.
          log.debug("node {} still does not serve: {}", config.nodeId(), reason);
        } else {
          log.info("node {} serves again: its clock offset is within bounds", config.nodeId());
        }
        notServing = reason;
        String r = reason;
        loop.execute(() -> store.setNotServing(r));
      }
    } catch (RuntimeException e) {
      log.warn("health check failed", e);
    }
  }

  /** Set by {@link #drain}: the node serves no more, and its health check leaves that alone. */
  private volatile boolean draining;

  /**
   * Drains the node before it stops (SIGTERM, {@code node drain}): it refuses clients from now on
   * (NOT_SERVING: not applied, to be retried on another node) and every range it leads hands its
   * leadership to a follower, at each tick until one takes it. Returns once it leads no range, or
   * after {@code timeout}; whether it got there.
   */
  public boolean drain(Duration timeout) {
    if (transport.connectedPeers().isEmpty()) {
      return false; // nobody to hand a leadership to (the last node of a cluster stopping)
    }
    draining = true;
    notServing = "the node is draining before it stops";
    loop.execute(() -> store.setNotServing(notServing));
    log.info("node {} drains: its leaderships move to other nodes", config.nodeId());
    long deadline = System.nanoTime() + timeout.toNanos();
    int leads = Integer.MAX_VALUE;
    while (System.nanoTime() < deadline && loop.isRunning()) {
      CompletableFuture<Integer> count = new CompletableFuture<>();
      loop.execute(() -> count.complete(store.leaderCount()));
      try {
        leads = count.get(1, TimeUnit.SECONDS);
      } catch (Exception e) {
        break;
      }
      if (leads == 0) {
        log.info("node {} is drained: it leads no range", config.nodeId());
        return true;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    }
    log.warn(
        "node {} still leads {} ranges after draining for {}", config.nodeId(), leads, timeout);
    return false;
  }

  private void fail(String reason) {
    if (fatal == null) {
      fatal = reason;
      log.error("node {}: {}", config.nodeId(), reason);
      try {
        loop.execute(() -> store.setNotServing(reason));
      } catch (IllegalStateException ignored) {
        // the loop is already dead
      }
      onFatal.accept(reason);
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
    background.shutdownNow();
    try {
      placement.close();
    } catch (Exception e) {
      log.warn("placement driver did not stop cleanly: {}", e.toString());
    }
    transport.close();
    // The writer stops reporting before the store loop goes, and the engine closes only once no
    // write is in progress (RocksDB must not be closed under one).
    boolean idle = writer == null || writer.stop(30_000);
    loop.close();
    if (idle) {
      engine.close();
    } else {
      log.warn(
          "node {}: the store's writer is stuck in a write; the engine is left open", nodeId());
    }
  }

  private static StoreOptions storeOptions(StoreOptions o, NodeConfig config) {
    return new StoreOptions(
        o.electionTicks(),
        o.heartbeatTicks(),
        o.quiesceAfterTicks(),
        o.leaseDriftTicks(),
        o.requestTimeoutTicks(),
        o.pingEveryTicks(),
        o.livenessTicks(),
        config.compactLogAfter(),
        o.snapshotChunkBytes(),
        o.dedupeRetentionMillis(),
        o.dedupeCollectEveryTicks(),
        o.txnExpiryMillis(),
        config.gcTtl().toMillis(),
        o.gcEveryTicks(),
        true); // (a dead leader's followers campaign in turn: see DESIGN.md, "Failover")
  }
}
