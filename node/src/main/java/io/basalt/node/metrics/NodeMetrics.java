package io.basalt.node.metrics;

import io.basalt.node.store.StoreListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A node's meters (DESIGN.md decision 9), exposed in the Prometheus text format on {@code
 * /metrics}. Meters are registered up front or once per peer and cached, so recording on the store
 * thread's hot paths is a field access and an add.
 *
 * <p>As a {@link StoreListener} it records proposals, applied entries and apply time, fsync time
 * and ranges per group commit, request latency by method and outcome, snapshots and dropped
 * messages; the node adds transport traffic per peer, clock offsets and the replica and leader
 * counts.
 */
// The project's chosen registry is Micrometer's Prometheus simpleclient one, which Micrometer has
// deprecated in favour of the Prometheus 1.x client; the exposition format is the same.
@SuppressWarnings("deprecation")
public final class NodeMetrics implements StoreListener {
  private static final String[] METHODS = {
    "get", "put", "delete", "scan", "conditional_put", "write_batch", "other"
  };

  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Counter proposals;
  private final Counter applied;
  private final Timer apply;
  private final Timer fsync;
  private final Timer unsyncedWrite;
  private final DistributionSummary rangesPerWrite;
  private final Counter snapshotsInstalled;
  private final Counter snapshotsSent;
  private final Counter snapshotBytesSent;
  private final Counter snapshotsNotSent;
  private final Counter droppedMessages;
  private final Map<String, Timer> requestsOk = new ConcurrentHashMap<>();
  private final Map<String, Timer> requestsError = new ConcurrentHashMap<>();
  private final Map<Long, Peer> peers = new ConcurrentHashMap<>();
  private final Map<Long, AtomicLong> clockOffsetNanos = new ConcurrentHashMap<>();
  private final AtomicLong replicas = new AtomicLong();
  private final AtomicLong leaders = new AtomicLong();
  private final AtomicLong serving = new AtomicLong();
  private final AtomicLong underReplicated = new AtomicLong();
  private final AtomicLong unavailable = new AtomicLong();
  private final AtomicLong deadNodes = new AtomicLong();
  private final Map<String, Counter> placementOps = new ConcurrentHashMap<>();

  /** One peer's traffic counters. */
  public record Peer(
      Counter messagesSent, Counter bytesSent, Counter messagesReceived, Counter bytesReceived) {}

  public NodeMetrics(long nodeId) {
    registry.config().commonTags("node", Long.toString(nodeId));
    proposals =
        Counter.builder("basalt_raft_proposals")
            .description("Commands proposed to Raft by leaders on this node")
            .register(registry);
    applied =
        Counter.builder("basalt_raft_applied_entries")
            .description("Committed entries applied to range state")
            .register(registry);
    apply =
        Timer.builder("basalt_raft_apply")
            .description("Time to apply one round's committed entries of a range")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(1_000))
            .maximumExpectedValue(Duration.ofSeconds(1))
            .register(registry);
    fsync =
        Timer.builder("basalt_storage_fsync")
            .description("Time of one group-committed, synced write of Raft state")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(10_000))
            .maximumExpectedValue(Duration.ofSeconds(2))
            .register(registry);
    unsyncedWrite =
        Timer.builder("basalt_storage_unsynced_write")
            .description("Time of one write of Raft state that needed no sync")
            .register(registry);
    rangesPerWrite =
        DistributionSummary.builder("basalt_storage_group_commit_ranges")
            .description("Ranges whose Raft state one group commit wrote")
            .publishPercentileHistogram()
            .minimumExpectedValue(1.0)
            .maximumExpectedValue(10_000.0)
            .register(registry);
    snapshotsInstalled =
        Counter.builder("basalt_raft_snapshots_installed")
            .description("Snapshots installed by replicas on this node")
            .register(registry);
    snapshotsSent =
        Counter.builder("basalt_raft_snapshots_sent")
            .description("Snapshot streams that leaders on this node handed to a connection whole")
            .register(registry);
    snapshotBytesSent =
        Counter.builder("basalt_raft_snapshot_sent_bytes")
            .description("Bytes of snapshot data sent by leaders on this node")
            .register(registry);
    snapshotsNotSent =
        Counter.builder("basalt_raft_snapshots_failed")
            .description("Snapshots that could not be sent (no connection, connection lost)")
            .register(registry);
    droppedMessages =
        Counter.builder("basalt_raft_messages_dropped")
            .description("Raft messages dropped: unknown range, misaddressed or malformed")
            .register(registry);
    for (String method : METHODS) {
      requestsOk.put(method, requestTimer(method, "ok"));
      requestsError.put(method, requestTimer(method, "error"));
    }
    Gauge.builder("basalt_ranges_replicas", replicas, AtomicLong::get)
        .description("Range replicas on this node")
        .register(registry);
    Gauge.builder("basalt_ranges_leader", leaders, AtomicLong::get)
        .description("Ranges this node leads")
        .register(registry);
    Gauge.builder("basalt_placement_under_replicated_ranges", underReplicated, AtomicLong::get)
        .description("Ranges with fewer live voters than wanted (on the placement driver's node)")
        .register(registry);
    Gauge.builder("basalt_placement_unavailable_ranges", unavailable, AtomicLong::get)
        .description("Ranges without a live majority of voters (on the placement driver's node)")
        .register(registry);
    Gauge.builder("basalt_placement_dead_nodes", deadNodes, AtomicLong::get)
        .description("Nodes the placement driver takes as dead")
        .register(registry);
    Gauge.builder("basalt_node_serving", serving, AtomicLong::get)
        .description("1 while the node serves clients, 0 otherwise")
        .register(registry);
  }

  private Timer requestTimer(String method, String outcome) {
    return Timer.builder("basalt_kv_request")
        .description("KV request latency on the node, by method and outcome")
        .tags("method", method, "outcome", outcome)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(10_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }

  /** The counters of traffic to and from {@code peer}, registered on first use. */
  public Peer peer(long peer) {
    return peers.computeIfAbsent(
        peer,
        p -> {
          String tag = Long.toString(p);
          return new Peer(
              Counter.builder("basalt_transport_messages_sent").tag("peer", tag).register(registry),
              Counter.builder("basalt_transport_bytes_sent").tag("peer", tag).register(registry),
              Counter.builder("basalt_transport_messages_received")
                  .tag("peer", tag)
                  .register(registry),
              Counter.builder("basalt_transport_bytes_received")
                  .tag("peer", tag)
                  .register(registry));
        });
  }

  /** Records the latest clock offset estimate to {@code peer} (remote minus local). */
  public void recordClockOffset(long peer, long offsetNanos) {
    clockOffsetNanos
        .computeIfAbsent(
            peer,
            p -> {
              AtomicLong holder = new AtomicLong();
              Gauge.builder("basalt_clock_offset_seconds", holder, h -> h.get() / 1e9)
                  .description("Estimated clock offset to a peer (its clock minus ours)")
                  .tag("peer", Long.toString(p))
                  .register(registry);
              return holder;
            })
        .set(offsetNanos);
  }

  /**
   * What the placement driver on this node last found (zero on a node where it does not run):
   * ranges with fewer live voters than wanted, ranges without a live majority, nodes taken as dead.
   */
  public void setPlacement(int underReplicatedRanges, int unavailableRanges, int dead) {
    underReplicated.set(underReplicatedRanges);
    unavailable.set(unavailableRanges);
    deadNodes.set(dead);
  }

  /** One operation the placement driver sent (kind: add_learner, promote, remove, transfer). */
  public void placementOperation(String kind, boolean done) {
    String outcome = done ? "done" : "not_done";
    placementOps
        .computeIfAbsent(
            kind + "/" + outcome,
            k ->
                Counter.builder("basalt_placement_operations")
                    .description("Replica changes, splits and leadership transfers the driver sent")
                    .tags("kind", kind, "outcome", outcome)
                    .register(registry))
        .increment();
  }

  public void setCounts(int replicaCount, int leaderCount) {
    replicas.set(replicaCount);
    leaders.set(leaderCount);
  }

  public void setServing(boolean on) {
    serving.set(on ? 1 : 0);
  }

  /** The Prometheus text exposition of every meter. */
  public String scrape() {
    return registry.scrape();
  }

  // StoreListener ------------------------------------------------------------------------------

  @Override
  public void proposed(int commands) {
    proposals.increment(commands);
  }

  @Override
  public void applied(int entries, long nanos) {
    applied.increment(entries);
    apply.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void raftStateWritten(long nanos, int ranges, boolean synced) {
    (synced ? fsync : unsyncedWrite).record(nanos, TimeUnit.NANOSECONDS);
    rangesPerWrite.record(ranges);
  }

  @Override
  public void requestDone(String method, long nanos, boolean ok) {
    // Methods come from the command table (a few dozen at most): one timer each, made on first use.
    (ok ? requestsOk : requestsError)
        .computeIfAbsent(method, m -> requestTimer(m, ok ? "ok" : "error"))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void snapshotInstalled(long rangeId, long index) {
    snapshotsInstalled.increment();
  }

  @Override
  public void snapshotSent(long rangeId, long toNode, int chunks, long bytes) {
    snapshotsSent.increment();
    snapshotBytesSent.increment(bytes);
  }

  @Override
  public void snapshotNotSent(long rangeId, long toNode, String reason) {
    snapshotsNotSent.increment();
  }

  @Override
  public void droppedMessage(long fromNode, long rangeId, String reason) {
    droppedMessages.increment();
  }
}
