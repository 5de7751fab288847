package io.basalt.node.server;

import io.basalt.api.AllocateRangeIdRequest;
import io.basalt.api.ChangeReplicasRequest;
import io.basalt.api.DecommissionNodeRequest;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaChangeType;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.ScanRequest;
import io.basalt.api.SplitRangeRequest;
import io.basalt.api.StatusRequest;
import io.basalt.api.StatusResponse;
import io.basalt.api.TransferLeaderRequest;
import io.basalt.api.UpdateRangeDirectoryRequest;
import io.basalt.node.cli.WireClient;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.node.store.RangeMerge;
import io.basalt.placement.PlacementPolicy;
import io.basalt.placement.PlacementPolicy.Operation;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The placement driver (DESIGN.md, "Placement"): on the node leading the meta range, every pass
 * asks each known node for its status (replicas, sizes, loads, locality, serving) and the meta
 * range for the nodes being decommissioned, decides with {@link PlacementPolicy} what to change,
 * sends each replica change, leadership transfer or split to the range's leader (a split with a
 * range id from the meta range), and records changed descriptors in the range directory. Its state
 * is soft: a driver that starts (on a new meta leader) takes every node as heard from at its start,
 * so it replaces nobody's replicas before a full dead timeout has passed. The data plane does not
 * depend on it.
 */
final class PlacementDriver {
  private static final Logger log = LoggerFactory.getLogger(PlacementDriver.class);
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(2);

  /** How far behind its leader's commit a voter may be and still be given the leadership. */
  private static final long CAUGHT_UP_LAG = 100;

  /** Directory updates sent in one pass at most (a new driver records every range once). */
  private static final int DIRECTORY_UPDATES_PER_PASS = 64;

  private final long selfId;
  private final Supplier<Map<Long, String>> knownNodes;
  private final PlacementPolicy.Options options;
  private final LongSupplier millis;
  private final NodeMetrics metrics;

  /** When this node began driving (-1: it does not lead the meta range). */
  private long startedMillis = -1;

  private final Map<Long, Long> lastHeard = new HashMap<>();

  /** Each node's locality, as it last reported it. */
  private final Map<Long, String> localities = new HashMap<>();

  /** The generation of each range's descriptor this driver knows the directory holds. */
  private final Map<Long, Long> recorded = new HashMap<>();

  private final Map<String, WireClient> clients = new HashMap<>();
  private List<Long> lastUnavailable = List.of();
  private List<Long> lastUnderReplicated = List.of();

  PlacementDriver(
      long selfId,
      Supplier<Map<Long, String>> knownNodes,
      java.util.function.Consumer<java.util.Collection<Long>> decommissioned,
      PlacementPolicy.Options options,
      LongSupplier millis,
      NodeMetrics metrics) {
    this.selfId = selfId;
    this.decommissionedSink = decommissioned;
    this.metrics = metrics;
    this.knownNodes = knownNodes;
    this.options = options;
    this.millis = millis;
  }

  /** How often the placement driver looks at the cluster. */
  static final Duration INTERVAL = Duration.ofSeconds(2);

  /**
   * Starts node {@code selfId}'s driver with settings {@code p}: a pass every {@link #INTERVAL} on
   * a thread of its own (it acts only while the node leads the meta range). Closing stops the
   * thread and the driver's connections.
   */
  static AutoCloseable start(
      long selfId,
      NodeConfig.Placement p,
      Supplier<Map<Long, String>> knownNodes,
      java.util.function.Consumer<java.util.Collection<Long>> decommissioned,
      NodeMetrics metrics) {
    PlacementDriver driver =
        new PlacementDriver(
            selfId,
            knownNodes,
            decommissioned,
            new PlacementPolicy.Options(
                p.replicationFactor(),
                p.timeUntilDead().toMillis(),
                // Up: answered in one of the last two passes (a leadership is never moved to a
                // node that stopped answering: the range would refuse writes meanwhile).
                2 * INTERVAL.toMillis() + 500,
                8,
                p.rangeMaxBytes(),
                p.rangeMaxQps(),
                p.mergeDelay() == null ? Long.MAX_VALUE : p.mergeDelay().toMillis()),
            () -> System.nanoTime() / 1_000_000,
            metrics);
    java.util.concurrent.ScheduledExecutorService thread =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "placement-driver");
          t.setDaemon(true);
          return t;
        });
    long every = INTERVAL.toMillis();
    thread.scheduleWithFixedDelay(
        driver::pass, every, every, java.util.concurrent.TimeUnit.MILLISECONDS);
    return () -> {
      thread.shutdownNow();
      thread.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
      driver.close();
    };
  }

  /** One pass; never throws (a failed pass is logged, and the next one starts afresh). */
  void pass() {
    try {
      passOnce();
    } catch (RuntimeException e) {
      log.warn("placement pass failed: {}", e.toString());
    }
  }

  private void passOnce() {
    Map<Long, String> known = new TreeMap<>(knownNodes.get());
    long now = millis.getAsLong();
    StatusResponse self = status(known.get(selfId));
    if (self == null || !leads(self, KeySpace.META_RANGE_ID)) {
      if (startedMillis >= 0) {
        log.info("placement driver stops on node {}: it no longer leads the meta range", selfId);
      }
      startedMillis = -1;
      lastHeard.clear();
      recorded.clear();
      metrics.setPlacement(0, 0, 0);
      return;
    }
    if (startedMillis < 0) {
      startedMillis = now;
      log.info("placement driver starts on node {}", selfId);
    }
    Map<Long, StatusResponse> statuses = new TreeMap<>();
    statuses.put(selfId, self);
    for (Map.Entry<Long, String> e : known.entrySet()) {
      if (e.getKey() != selfId) {
        StatusResponse s = status(e.getValue());
        if (s != null && s.getNode().getNodeId() == e.getKey()) {
          statuses.put(e.getKey(), s);
        }
      }
    }
    statuses.keySet().forEach(id -> lastHeard.put(id, now));

    Map<Long, RangeDescriptor> newest = new TreeMap<>();
    Map<Long, Long> leaders = new HashMap<>();
    // What each node reports of each range (a replica reports its range once its snapshot is in).
    Map<Long, Map<Long, RangeDescriptor>> reported = new HashMap<>();
    Map<Long, Map<Long, Long>> applied = new HashMap<>();
    Map<Long, ReplicaStatus> leaderStatus = new HashMap<>();
    // Merges left unfinished, by id: the right-hand and left-hand ranges, as their leaders say
    // (a follower may not have applied the merge's end yet).
    Map<Long, RangeDescriptor[]> unfinished = new TreeMap<>();
    statuses.forEach((node, s) -> {
      for (ReplicaStatus r : s.getReplicasList()) {
        RangeDescriptor d = r.getRange();
        if (r.getFrozenMergeId() != 0 && r.getRole().equals("LEADER")) {
          unfinished.put(r.getFrozenMergeId(), new RangeDescriptor[] {d, r.getFrozenInto()});
        }
        if (r.getPreparedMergeId() != 0 && r.getRole().equals("LEADER")) {
          unfinished.putIfAbsent(
              r.getPreparedMergeId(), new RangeDescriptor[] {r.getPreparedRight(), d});
        }
        newest.merge(d.getRangeId(), d, (a, b) -> a.getGeneration() >= b.getGeneration() ? a : b);
        reported.computeIfAbsent(d.getRangeId(), k -> new HashMap<>()).put(node, d);
        applied.computeIfAbsent(d.getRangeId(), k -> new HashMap<>()).put(node, r.getApplied());
        if (r.getRole().equals("LEADER")) {
          leaders.put(d.getRangeId(), node);
          leaderStatus.put(d.getRangeId(), r);
        }
      }
    });
    List<PlacementPolicy.RangeView> views = new ArrayList<>();
    newest.forEach((id, d) -> {
      Set<Long> caughtUp = new HashSet<>();
      for (ReplicaDescriptor r : d.getReplicasList()) {
        RangeDescriptor there = reported.getOrDefault(id, Map.of()).get(r.getNodeId());
        if (r.getRole() == ReplicaRole.REPLICA_ROLE_LEARNER
            && there != null
            && there.getReplicasList().stream()
                .anyMatch(
                    x -> x.getNodeId() == r.getNodeId() && x.getReplicaId() == r.getReplicaId())) {
          caughtUp.add(r.getNodeId()); // this learner, not an older replica of the node's
        }
      }
      // Voters that applied about everything their leader committed.
      Set<Long> current = new HashSet<>();
      ReplicaStatus leaderView = leaderStatus.get(id);
      if (leaderView != null) {
        applied
            .getOrDefault(id, Map.of())
            .forEach((node, index) -> {
              if (index + CAUGHT_UP_LAG >= leaderView.getCommit()) {
                current.add(node);
              }
            });
      }
      views.add(
          new PlacementPolicy.RangeView(
              d,
              leaders.getOrDefault(id, 0L),
              caughtUp,
              current,
              leaderView == null ? 0 : leaderView.getApproximateBytes(),
              leaderView == null ? 0 : leaderView.getRequestsPerSecond(),
              leaderView == null
                  ? com.google.protobuf.ByteString.EMPTY
                  : leaderView.getLoadSplitKey(),
              unchangedFor(d, now)));
    });
    seen.keySet().retainAll(newest.keySet());
    // A merge left unfinished (its driver stopped, or ran out of patience) is settled first:
    // abandoned unless it committed.
    unfinished.forEach((id, ranges) -> {
      RangeMerge.Outcome o =
          runMerge(known, io -> RangeMerge.resume(io, ranges[0], id, ranges[1], x -> {}));
      if (o != null) {
        merged(ranges[1], ranges[0], o, known.get(selfId));
      }
    });
    Set<Long> decommissioning = decommissioning(known.get(selfId));
    finishDecommissions(decommissioning, reported, statuses, known.get(selfId));
    statuses.forEach((node, st) -> localities.put(node, st.getNode().getLocality()));
    Set<Long> notServing = new HashSet<>();
    statuses.forEach((node, st) -> {
      if (!st.getServing()) {
        notServing.add(node);
      }
    });
    PlacementPolicy.Decision decision =
        PlacementPolicy.decide(
            new PlacementPolicy.ClusterView(
                now,
                startedMillis,
                known.keySet(),
                Map.copyOf(lastHeard),
                views,
                decommissioning,
                Map.copyOf(localities),
                notServing),
            options);
    report(decision);
    metrics.setPlacement(
        decision.underReplicated().size(),
        decision.unavailable().size(),
        decision.deadNodes().size());
    String metaLeader = known.get(selfId);
    int updates = 0;
    for (RangeDescriptor d : newest.values()) {
      if (updates < DIRECTORY_UPDATES_PER_PASS
          && d.getGeneration() > recorded.getOrDefault(d.getRangeId(), 0L)) {
        updates++;
        record(metaLeader, d);
      }
    }
    for (Operation op : decision.operations()) {
      Long leader = leaders.get(op.range().getRangeId());
      if (leader != null && known.containsKey(leader)) {
        execute(op, known.get(leader), metaLeader);
      }
    }
  }

  /** The decommission records last read (kept when a read fails). */
  private Set<Long> lastDecommissioning = Set.of();

  /**
   * The nodes the meta range records as being decommissioned; the last set read if it does not
   * answer (an empty set would turn a nearly empty leaving node into a target).
   */
  private Set<Long> decommissioning(String metaLeader) {
    KvResponse r =
        callMeta(
            metaLeader,
            KvRequest.newBuilder()
                .setScan(
                    ScanRequest.newBuilder()
                        .setStartKey(
                            com.google.protobuf.ByteString.copyFrom(KeySpace.decommissionStart()))
                        .setEndKey(
                            com.google.protobuf.ByteString.copyFrom(KeySpace.decommissionEnd()))));
    if (r == null || !r.hasScan()) {
      return lastDecommissioning;
    }
    Set<Long> out = new HashSet<>();
    Set<Long> finished = new HashSet<>();
    r.getScan()
        .getKvsList()
        .forEach(kv -> {
          long node = KeySpace.decommissionedNode(kv.getKey().toByteArray());
          out.add(node);
          if (kv.getValue().toStringUtf8().equals(KeySpace.DECOMMISSIONED)) {
            finished.add(node);
          }
        });
    lastDecommissioning = Set.copyOf(out);
    decommissioned.addAll(finished);
    decommissioned.retainAll(out);
    return out;
  }

  /**
   * The generation of each range whose last split was refused (too little data, or one hot key):
   * not asked again until the range changes.
   */
  private final Map<Long, Long> splitRefused = new HashMap<>();

  /** The nodes whose decommission finished, as the meta range records (read each pass). */
  private final Set<Long> decommissioned = new HashSet<>();

  /** Where the nodes whose decommission finished are told (this node refuses them). */
  private final java.util.function.Consumer<java.util.Collection<Long>> decommissionedSink;

  /**
   * Marks finished the decommission of each node that holds no replica any more: no range's
   * descriptor names it, and if it answered, it reports none. From then on the cluster refuses it
   * for good (this node at once, the others as they hear of it).
   */
  private void finishDecommissions(
      Set<Long> decommissioning,
      Map<Long, Map<Long, RangeDescriptor>> reported,
      Map<Long, StatusResponse> statuses,
      String metaLeader) {
    for (long node : decommissioning) {
      boolean holds =
          reported.values().stream()
              .flatMap(m -> m.values().stream())
              .anyMatch(d -> d.getReplicasList().stream().anyMatch(x -> x.getNodeId() == node));
      StatusResponse own = statuses.get(node);
      if (holds || (own != null && own.getReplicasCount() > 0) || decommissioned.contains(node)) {
        continue;
      }
      KvResponse r =
          callMeta(
              metaLeader,
              KvRequest.newBuilder()
                  .setDecommissionNode(
                      DecommissionNodeRequest.newBuilder().setNodeId(node).setFinished(true)));
      if (r != null && r.hasDecommissionNode() && r.getDecommissionNode().getDecommissioned()) {
        decommissioned.add(node);
        log.info(
            "node {} is decommissioned: it holds no replica, and the cluster refuses it from now"
                + " on",
            node);
      }
    }
    if (!decommissioned.isEmpty()) {
      decommissionedSink.accept(Set.copyOf(decommissioned));
    }
  }

  private void report(PlacementPolicy.Decision d) {
    if (!d.unavailable().equals(lastUnavailable)) {
      if (!d.unavailable().isEmpty()) {
        log.warn("ranges without a live majority of voters (left alone): {}", d.unavailable());
      }
      lastUnavailable = d.unavailable();
    }
    if (!d.underReplicated().equals(lastUnderReplicated)) {
      log.info(
          "under-replicated ranges: {}{}",
          d.underReplicated(),
          d.deadNodes().isEmpty() ? "" : " (dead nodes " + d.deadNodes() + ")");
      lastUnderReplicated = d.underReplicated();
    }
  }

  /** The generation each range was first seen at, and when (for the merge delay). */
  private final Map<Long, long[]> seen = new HashMap<>();

  private long unchangedFor(RangeDescriptor d, long now) {
    long[] g = seen.get(d.getRangeId());
    if (g == null || g[0] != d.getGeneration()) {
      seen.put(d.getRangeId(), new long[] {d.getGeneration(), now});
      return 0;
    }
    return now - g[1];
  }

  /** The longest one merge runs within a pass before it is left to a later pass to resume. */
  private static final Duration MERGE_PATIENCE = Duration.ofSeconds(30);

  /**
   * Runs the merge {@code start} begins over this driver's connections, on its thread, until it
   * ends or {@link #MERGE_PATIENCE} passes; its outcome, or null if it is still running (the frozen
   * range then shows it to a later pass, which resumes it).
   */
  private RangeMerge.Outcome runMerge(
      Map<Long, String> known, java.util.function.Function<RangeMerge.Io, RangeMerge> start) {
    java.util.ArrayDeque<Runnable> steps = new java.util.ArrayDeque<>();
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge.Io via =
        new RangeMerge.Io() {
          @Override
          public void send(
              long nodeId, KvRequest request, java.util.function.Consumer<KvResponse> reply) {
            String address = known.get(nodeId);
            KvResponse r = address == null ? null : call(address, request);
            KvResponse answer =
                r != null ? r : Errors.unavailable("node " + nodeId + ": no answer");
            steps.add(() -> reply.accept(answer));
          }

          @Override
          public void after(long ms, Runnable step) {
            steps.add(() -> {
              try {
                Thread.sleep(ms); // (pacing the driver's own thread between tries)
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
              }
              step.run();
            });
          }
        };
    RangeMerge m = start.apply(via);
    long deadline = millis.getAsLong() + MERGE_PATIENCE.toMillis();
    while (!m.finished()
        && !steps.isEmpty()
        && millis.getAsLong() < deadline
        && !Thread.currentThread().isInterrupted()) {
      steps.poll().run();
    }
    if (!m.finished()) {
      log.info("placement: {} goes on in a later pass", m);
    }
    return m.outcome();
  }

  private final java.util.Random mergeIds = new java.util.Random();

  private void merge(PlacementPolicy.Merge op, Map<Long, String> known, String metaLeader) {
    long id = 1 + (mergeIds.nextLong() & Long.MAX_VALUE - 1);
    RangeMerge.Outcome o =
        runMerge(known, io -> RangeMerge.start(io, op.range(), op.right(), id, x -> {}));
    if (o != null) {
      merged(op.range(), op.right(), o, metaLeader);
    }
  }

  private void merged(
      RangeDescriptor left, RangeDescriptor right, RangeMerge.Outcome o, String metaLeader) {
    metrics.placementOperation("merge", o.merged() != null);
    if (o.merged() == null) {
      log.info(
          "placement: range {} not merged into range {}: {}",
          right.getRangeId(),
          left.getRangeId(),
          o.reason());
      return;
    }
    log.info("placement: range {} merged into range {}", right.getRangeId(), left.getRangeId());
    KvResponse r =
        callMeta(
            metaLeader,
            KvRequest.newBuilder()
                .setUpdateRangeDirectory(
                    UpdateRangeDirectoryRequest.newBuilder()
                        .setRange(o.merged())
                        .addCoveredEndKeys(left.getEndKey())));
    if (r != null && !r.hasError()) {
      recorded.merge(o.merged().getRangeId(), o.merged().getGeneration(), Math::max);
    }
  }

  private void execute(Operation op, String leaderAddress, String metaLeader) {
    if (op instanceof PlacementPolicy.Merge m) {
      merge(m, new TreeMap<>(knownNodes.get()), metaLeader);
      return;
    }
    if (op instanceof PlacementPolicy.Split split) {
      RangeDescriptor d = split.range();
      if (splitRefused.getOrDefault(d.getRangeId(), -1L) != d.getGeneration()) {
        split(d, split.splitKey(), leaderAddress, metaLeader);
      }
      return;
    }
    RangeDescriptor d = op.range();
    KvRequest.Builder req =
        KvRequest.newBuilder().setHeader(RequestHeader.newBuilder().setRangeId(d.getRangeId()));
    String what;
    switch (op) {
      case PlacementPolicy.AddLearner a -> {
        req.setChangeReplicas(change(ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER, a.nodeId(), d));
        what = "add a learner on node " + a.nodeId();
      }
      case PlacementPolicy.Promote p -> {
        req.setChangeReplicas(change(ReplicaChangeType.REPLICA_CHANGE_PROMOTE, p.nodeId(), d));
        what = "promote the learner on node " + p.nodeId();
      }
      case PlacementPolicy.Remove r -> {
        req.setChangeReplicas(change(ReplicaChangeType.REPLICA_CHANGE_REMOVE, r.nodeId(), d));
        what = "remove the replica on node " + r.nodeId();
      }
      case PlacementPolicy.TransferLeader t -> {
        req.setTransferLeader(TransferLeaderRequest.newBuilder().setNodeId(t.nodeId()));
        what = "move the leadership to node " + t.nodeId();
      }
      case PlacementPolicy.Split x -> throw new IllegalStateException("split handled above");
      case PlacementPolicy.Merge x -> throw new IllegalStateException("merge handled above");
    }
    KvResponse r = call(leaderAddress, req.build());
    String kind =
        switch (op) {
          case PlacementPolicy.AddLearner a -> "add_learner";
          case PlacementPolicy.Promote p -> "promote";
          case PlacementPolicy.Remove x -> "remove";
          case PlacementPolicy.TransferLeader t -> "transfer";
          case PlacementPolicy.Split x -> "split";
          case PlacementPolicy.Merge x -> "merge";
        };
    metrics.placementOperation(kind, r != null && !r.hasError());
    if (r == null || r.hasError()) {
      log.info(
          "placement: range {}: {} not done: {}",
          d.getRangeId(),
          what,
          r == null ? "no answer" : r.getError().toString().replace('\n', ' '));
      return;
    }
    log.info("placement: range {}: {}", d.getRangeId(), what);
    if (r.hasChangeReplicas()) {
      record(metaLeader, r.getChangeReplicas().getRange());
    }
  }

  /**
   * Splits range {@code d} at {@code key} (empty: the key its leader picks): a range id from the
   * meta range, the split at the leader, then both halves recorded in the directory in one command.
   */
  private void split(
      RangeDescriptor d,
      com.google.protobuf.ByteString key,
      String leaderAddress,
      String metaLeader) {
    KvResponse id =
        callMeta(
            metaLeader,
            KvRequest.newBuilder().setAllocateRangeId(AllocateRangeIdRequest.getDefaultInstance()));
    if (id == null || !id.hasAllocateRangeId()) {
      log.info("placement: range {}: no range id for a split: {}", d.getRangeId(), id);
      metrics.placementOperation("split", false);
      return;
    }
    KvResponse r =
        call(
            leaderAddress,
            KvRequest.newBuilder()
                .setHeader(RequestHeader.newBuilder().setRangeId(d.getRangeId()))
                .setSplitRange(
                    SplitRangeRequest.newBuilder()
                        .setSplitKey(key)
                        .setExpectedGeneration(d.getGeneration())
                        .setNewRangeId(id.getAllocateRangeId().getRangeId()))
                .build());
    metrics.placementOperation("split", r != null && r.hasSplitRange());
    if (r != null && r.hasError() && r.getError().hasGeneric()) {
      splitRefused.put(d.getRangeId(), d.getGeneration()); // (refused, not merely unanswered)
    }
    if (r == null || !r.hasSplitRange()) {
      log.info(
          "placement: range {}: split not done: {}",
          d.getRangeId(),
          r == null ? "no answer" : r.getError().toString().replace('\n', ' '));
      return;
    }
    RangeDescriptor left = r.getSplitRange().getLeft();
    RangeDescriptor right = r.getSplitRange().getRight();
    log.info(
        "placement: range {} split at {}: range {} takes the right-hand side",
        d.getRangeId(),
        com.google.protobuf.TextFormat.escapeBytes(right.getStartKey()),
        right.getRangeId());
    record(metaLeader, left, right);
  }

  private static ChangeReplicasRequest change(
      ReplicaChangeType type, long node, RangeDescriptor d) {
    return ChangeReplicasRequest.newBuilder()
        .setType(type)
        .setNodeId(node)
        .setExpectedGeneration(d.getGeneration())
        .build();
  }

  /**
   * Records {@code d} (and {@code more}, in the same command) in the range directory, through the
   * meta range's leader, this node.
   */
  private void record(String metaLeader, RangeDescriptor d, RangeDescriptor... more) {
    KvResponse r =
        callMeta(
            metaLeader,
            KvRequest.newBuilder()
                .setUpdateRangeDirectory(
                    UpdateRangeDirectoryRequest.newBuilder()
                        .setRange(d)
                        .addAllMore(java.util.Arrays.asList(more))));
    if (r != null && !r.hasError()) {
      recorded.merge(d.getRangeId(), d.getGeneration(), Math::max);
      for (RangeDescriptor m : more) {
        recorded.merge(m.getRangeId(), m.getGeneration(), Math::max);
      }
    }
  }

  private static boolean leads(StatusResponse s, long rangeId) {
    return s.getReplicasList().stream()
        .anyMatch(r -> r.getRange().getRangeId() == rangeId && r.getRole().equals("LEADER"));
  }

  private StatusResponse status(String address) {
    if (address == null) {
      return null;
    }
    KvResponse r =
        call(address, KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
    return r == null || !r.hasStatus() ? null : r.getStatus();
  }

  /** {@code request} to the meta range, at its leader (this node); null if unanswered. */
  private KvResponse callMeta(String metaLeader, KvRequest.Builder request) {
    return call(
        metaLeader,
        request.setHeader(RequestHeader.newBuilder().setRangeId(KeySpace.META_RANGE_ID)).build());
  }

  /** One call on a cached connection (made again once if it broke); null if unanswered. */
  private KvResponse call(String address, KvRequest request) {
    for (int attempt = 0; attempt < 2; attempt++) {
      WireClient c = clients.get(address);
      try {
        if (c == null) {
          c = WireClient.connect(address, CALL_TIMEOUT);
          clients.put(address, c);
        }
        return c.call(request);
      } catch (UncheckedIOException e) {
        if (c != null) {
          c.close();
        }
        clients.remove(address);
      }
    }
    return null;
  }

  void close() {
    clients.values().forEach(WireClient::close);
    clients.clear();
  }
}
