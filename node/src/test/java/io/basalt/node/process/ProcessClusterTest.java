package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.KvResponse;
import io.basalt.api.StatusResponse;
import io.basalt.node.cli.WireClient;
import io.basalt.range.check.LinearizabilityChecker;
import io.basalt.range.check.Operation;
import io.basalt.range.check.RegisterModel;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.RocksDbEngine;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Real processes on loopback (the node issue's fault tests): three node JVMs, concurrent clients
 * through the wire protocol, and real faults. After each run every acknowledged write must be on
 * every replica (read back from each node's RocksDB after a clean stop) and each key's history must
 * be linearizable.
 */
class ProcessClusterTest {
  private static final List<String> KEYS =
      List.of("Ak0", "Ak1", "Ak2", "bk0", "bk1", "bk2", "tk0", "tk1");

  @Test
  void killingTheLeaderOfABusyRangeLosesNothing() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("kill", 3, 50)) {
      // A short log, so that the restarted node catches up by snapshot.
      for (int n = 1; n <= 3; n++) {
        cluster.setExtraArgs(n, List.of("--compact-log-after=100"));
      }
      Workload w = startWorkload(cluster, 1);
      run(Duration.ofSeconds(3));
      long range = w.rangeOfKey.get("bk0").getRangeId();
      int leader = cluster.awaitLeader(range);
      cluster.kill(leader);
      run(Duration.ofSeconds(3));
      cluster.start(leader);
      run(Duration.ofSeconds(4));
      int restarted = leader;
      ProcessCluster.await(
          () -> {
            try {
              return logOf(cluster, restarted).contains("installed a snapshot of range");
            } catch (Exception e) {
              return false;
            }
          },
          "the restarted node catches up by snapshot",
          Duration.ofSeconds(30));
      int other = leader == 1 ? 2 : 1;
      String metrics = cluster.http(other, "/metrics");
      assertThat(metrics)
          .startsWith("200 ")
          .contains("basalt_storage_fsync_seconds_bucket")
          .contains("basalt_kv_request_seconds_count{method=\"put\"")
          .contains("basalt_transport_bytes_sent_total{node=\"" + other + "\",peer=")
          .contains("basalt_raft_proposals_total");
      assertThat(cluster.http(restarted, "/metrics"))
          .contains("basalt_raft_snapshots_installed_total");
      assertThat(cluster.http(restarted, "/health")).startsWith("200 ");
      finish(cluster, w);
    }
  }

  @Test
  void aStalledLeaderNeitherServesStaleReadsNorCommits() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("stall", 3, 50)) {
      Workload w = startWorkload(cluster, 2);
      run(Duration.ofSeconds(3));
      long range = w.rangeOfKey.get("Ak0").getRangeId();
      // A key of the same range that only this test writes: its latest value is known.
      String key = "Ak-stall";
      int leader = cluster.awaitLeader(range);
      putAcknowledged(cluster, w, leader, range, key, "before-stall", 41);
      // Connections to the leader, opened before it stalls (its handshake needs it running).
      WireClient stalled = WireClient.connect(cluster.address(leader), Duration.ofSeconds(20));
      WireClient stalled2 = WireClient.connect(cluster.address(leader), Duration.ofSeconds(20));
      // The lease is under 10 ticks (500 ms); stall for much longer while the others go on.
      cluster.signal(leader, "STOP");
      run(Duration.ofSeconds(2));
      int newLeader = cluster.awaitLeader(range);
      assertThat(newLeader).as("a new leader took over range %d", range).isNotEqualTo(leader);
      // While the old leader is stalled: a write acknowledged by the new leader, then a read and a
      // write sent to the stalled one (they wait in its socket until it resumes). The read is
      // invoked after the write returned, so the only value it may see is the write's.
      putAcknowledged(cluster, w, newLeader, range, key, "after-stall", 42);
      try (stalled;
          stalled2) {
        CompletableFuture<Operation<RegisterModel.Op, Object>> read =
            CompletableFuture.supplyAsync(() -> read(stalled, range, key));
        CompletableFuture<KvResponse> write =
            CompletableFuture.supplyAsync(
                () -> stalled2.call(Kv.putRequest(range, "Ak1", "stalled-write", 43)));
        run(Duration.ofSeconds(1));
        cluster.signal(leader, "CONT");
        Operation<RegisterModel.Op, Object> served = read.get(20, TimeUnit.SECONDS);
        int servedBy = leader;
        // Refused (the resumed leader knows it may be stale): read again, at the resumed node
        // first and then wherever it points, until some node serves the read.
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (served.output() instanceof KvResponse refused) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError(
                "no read of " + key + " was served within 20 s of the resume; last: " + refused);
          }
          if (refused.getError().hasNotLeader()
              && refused.getError().getNotLeader().hasLeaderHint()) {
            servedBy = (int) refused.getError().getNotLeader().getLeaderHint().getNodeId();
          }
          try (WireClient c =
              WireClient.connect(cluster.address(servedBy), Duration.ofSeconds(5))) {
            served = read(c, range, key);
          } catch (RuntimeException e) {
            servedBy = leader;
          }
        }
        System.out.println(
            "stall: read of " + key + " served by node " + servedBy + " (stalled: " + leader + ")");
        assertThat(served.output())
            .as("a read invoked after the write of after-stall returned")
            .isEqualTo("after-stall");
        w.history.add(served);
        KvResponse wr = write.get(20, TimeUnit.SECONDS);
        assertThat(wr.hasError())
            .as("the stalled leader must not commit a write after it resumes: %s", wr)
            .isTrue();
      }
      run(Duration.ofSeconds(3));
      finish(cluster, w);
    }
  }

  @Test
  void rollingRestartsKeepEveryAcknowledgedWrite() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("restart", 3, 50)) {
      Workload w = startWorkload(cluster, 3);
      for (int n = 1; n <= 3; n++) {
        run(Duration.ofSeconds(2));
        cluster.stop(n);
        run(Duration.ofSeconds(1));
        cluster.start(n);
      }
      run(Duration.ofSeconds(3));
      finish(cluster, w);
    }
  }

  @Test
  void aNodeWithASkewedClockStopsServingAndNoReadIsStale() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("skew", 3, 50)) {
      cluster.expectErrors(
          "stops serving: clock offset to most of the cluster exceeds the tolerated");
      cluster.startAll();
      cluster.init(4);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Workload w = new Workload(cluster, KEYS, 4);
      w.route();
      w.start(4);
      run(Duration.ofSeconds(2));
      // Node 3 restarts with its clock 3 s ahead (the maximum offset is 500 ms), wall and monotonic
      // clocks alike (libfaketime: the node has no flag for it).
      cluster.stop(3);
      cluster.setFakeTime(3, "+3.0");
      cluster.start(3);
      ProcessCluster.await(
          () ->
              cluster
                  .status(3)
                  .map(s -> !s.getServing() && s.getNotServingReason().contains("clock offset"))
                  .orElse(false),
          "node 3 reports it stopped serving because of its clock",
          Duration.ofSeconds(30));
      assertThat(logOf(cluster, 3)).contains("stops serving");
      assertThat(cluster.http(3, "/ready")).startsWith("503 ").contains("clock offset");
      assertThat(cluster.http(1, "/ready")).startsWith("200 ");
      KvResponse refused = Kv.get(cluster.address(3), w.rangeOfKey.get("Ak0").getRangeId(), "Ak0");
      assertThat(refused.getError().getGeneric().getCode()).isEqualTo("NOT_SERVING");
      run(Duration.ofSeconds(3));
      for (int n = 1; n <= 2; n++) {
        assertThat(cluster.status(n).map(StatusResponse::getServing)).contains(true);
      }
      // The others drop the skewed node's messages, so it cannot keep up: it restarts with a
      // correct clock, catches up, and then holds every acknowledged write like the others.
      cluster.stop(3);
      cluster.setFakeTime(3, null);
      cluster.start(3);
      finish(cluster, w);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Puts {@code value} through {@code node} (the same request id on every attempt), retrying until
   * it is acknowledged, and records it in the history and among the acknowledged writes.
   */
  private static void putAcknowledged(
      ProcessCluster cluster,
      Workload w,
      int node,
      long range,
      String key,
      String value,
      long requestId) {
    long invoked = System.nanoTime();
    KvResponse[] last = new KvResponse[1];
    ProcessCluster.await(
        () -> {
          try {
            last[0] = Kv.put(cluster.address(node), range, key, value, requestId);
            return !last[0].hasError();
          } catch (RuntimeException e) {
            return false;
          }
        },
        "node "
            + node
            + " acknowledges the put of "
            + key
            + "="
            + value
            + " (last: "
            + last[0]
            + ")",
        Duration.ofSeconds(20));
    w.history.add(
        new Operation<>(
            100, key, new RegisterModel.Write(value), null, invoked, System.nanoTime()));
    w.acknowledged
        .computeIfAbsent(key, k -> java.util.Collections.synchronizedList(new ArrayList<>()))
        .add(value);
  }

  /**
   * Reads {@code key} on {@code c}: an operation whose output is the value read (or {@link
   * RegisterModel#ABSENT}), or the error response if the read was refused.
   */
  private static Operation<RegisterModel.Op, Object> read(WireClient c, long range, String key) {
    long invoked = System.nanoTime();
    KvResponse r = c.call(Kv.getRequest(range, key));
    Object output =
        r.hasError()
            ? r
            : r.getGet().getFound()
                ? r.getGet().getKv().getValue().toStringUtf8()
                : RegisterModel.ABSENT;
    return new Operation<>(101, key, new RegisterModel.Read(), output, invoked, System.nanoTime());
  }

  static Workload startWorkload(ProcessCluster cluster, long seed) throws Exception {
    cluster.startAll();
    cluster.init(4);
    cluster.awaitConverged(Duration.ofSeconds(60));
    Workload w = new Workload(cluster, KEYS, seed);
    w.route();
    w.start(6);
    return w;
  }

  /** Lets the workload run for {@code d} (a delay, not a synchronization). */
  static void run(Duration d) {
    long until = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < until) {
      LockSupport.parkNanos(until - System.nanoTime());
    }
  }

  static void finish(ProcessCluster cluster, Workload w) throws Exception {
    w.stop();
    cluster.awaitConverged(Duration.ofSeconds(60));
    check(w);
    for (int n = 1; n <= cluster.size; n++) {
      cluster.stop(n);
    }
    // Every acknowledged write is on every replica (all three nodes hold every range), and every
    // replica holds the same newest version of every key.
    Set<String> keys = new java.util.TreeSet<>(w.keys);
    keys.addAll(w.acknowledged.keySet());
    Map<String, String> newestOnFirst = null;
    for (int n = 1; n <= cluster.size; n++) {
      try (RocksDbEngine engine = RocksDbEngine.open(cluster.store(n))) {
        Map<String, String> newest = new java.util.TreeMap<>();
        for (String key : keys) {
          newest.put(key, newest(engine, key));
        }
        if (newestOnFirst == null) {
          newestOnFirst = newest;
        } else {
          assertThat(newest)
              .as("newest version of each key on node %d and node 1 (logs in %s)", n, cluster.dir)
              .isEqualTo(newestOnFirst);
        }
        for (Map.Entry<String, List<String>> e : w.acknowledged.entrySet()) {
          Set<String> versions = versions(engine, e.getKey());
          List<String> missing = new ArrayList<>();
          synchronized (e.getValue()) {
            for (String v : e.getValue()) {
              if (!versions.contains(v)) {
                missing.add(v);
              }
            }
          }
          assertThat(missing)
              .as(
                  "acknowledged writes of %s missing on node %d (logs in %s)",
                  e.getKey(), n, cluster.dir)
              .isEmpty();
        }
      }
    }
  }

  private static void check(Workload w) {
    System.out.println("workload: " + w.summary());
    assertThat(w.readsOk.get()).as("reads completed").isGreaterThan(100);
    assertThat(w.writesOk.get()).as("writes completed").isGreaterThan(100);
    var result =
        new LinearizabilityChecker().check(new RegisterModel(), new ArrayList<>(w.history));
    assertThat(result.linearizable())
        .as("per-key linearizability:\n%s", result.describe())
        .isTrue();
  }

  /** The newest MVCC version of {@code key} in this engine: its value and timestamp. */
  private static String newest(RocksDbEngine engine, String key) {
    Optional<MvccStore.Version> v =
        MvccStore.getVersion(engine, key.getBytes(StandardCharsets.UTF_8), Timestamp.MAX);
    if (v.isEmpty()) {
      return "absent";
    }
    String value =
        v.get().isTombstone()
            ? "tombstone"
            : "'" + new String(v.get().value(), StandardCharsets.UTF_8) + "'";
    return value + " at " + v.get().timestamp();
  }

  /** Every value ever written to {@code key} in this engine (all MVCC versions). */
  private static Set<String> versions(RocksDbEngine engine, String key) {
    Set<String> out = new HashSet<>();
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    Timestamp at = Timestamp.MAX;
    while (true) {
      Optional<MvccStore.Version> v = MvccStore.getVersion(engine, k, at);
      if (v.isEmpty()) {
        return out;
      }
      if (!v.get().isTombstone()) {
        out.add(new String(v.get().value(), StandardCharsets.UTF_8));
      }
      Timestamp ts = v.get().timestamp();
      if (ts.wallNanos() == 0 && ts.logical() == 0) {
        return out;
      }
      at =
          ts.logical() > 0
              ? new Timestamp(ts.wallNanos(), ts.logical() - 1)
              : new Timestamp(ts.wallNanos() - 1, Integer.MAX_VALUE);
    }
  }

  private static String logOf(ProcessCluster cluster, int node) throws Exception {
    return java.nio.file.Files.readString(cluster.log(node));
  }
}
