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
      int leader = cluster.awaitLeader(range);
      // Connections to the leader, opened before it stalls (its handshake needs it running).
      WireClient stalled = WireClient.connect(cluster.address(leader), Duration.ofSeconds(20));
      WireClient stalled2 = WireClient.connect(cluster.address(leader), Duration.ofSeconds(20));
      // The lease is under 10 ticks (500 ms); stall for much longer while the others go on.
      cluster.signal(leader, "STOP");
      run(Duration.ofSeconds(2));
      int newLeader = cluster.awaitLeader(range);
      assertThat(newLeader).as("a new leader took over range %d", range).isNotEqualTo(leader);
      // While the old leader is stalled: a write acknowledged by the new leader, then a read and a
      // write sent to the stalled one (they wait in its socket until it resumes).
      long writeInvoked = System.nanoTime();
      KvResponse put = Kv.put(cluster.address(newLeader), range, "Ak0", "after-stall", 42);
      assertThat(put.hasError()).as("the new leader accepts writes: %s", put).isFalse();
      w.history.add(
          new Operation<>(
              100,
              "Ak0",
              new RegisterModel.Write("after-stall"),
              null,
              writeInvoked,
              System.nanoTime()));
      try (stalled;
          stalled2) {
        java.util.concurrent.CompletableFuture<KvResponse> read =
            java.util.concurrent.CompletableFuture.supplyAsync(
                () -> stalled.call(Kv.getRequest(range, "Ak0")));
        java.util.concurrent.CompletableFuture<KvResponse> write =
            java.util.concurrent.CompletableFuture.supplyAsync(
                () -> stalled2.call(Kv.putRequest(range, "Ak1", "stalled-write", 43)));
        run(Duration.ofSeconds(1));
        cluster.signal(leader, "CONT");
        KvResponse r = read.get(20, java.util.concurrent.TimeUnit.SECONDS);
        KvResponse wr = write.get(20, java.util.concurrent.TimeUnit.SECONDS);
        if (!r.hasError()) {
          assertThat(r.getGet().getKv().getValue().toStringUtf8())
              .as("a read served by the resumed leader is not stale")
              .isNotEqualTo(null)
              .satisfiesAnyOf(
                  v -> assertThat(v).isEqualTo("after-stall"), v -> assertThat(v).startsWith("w"));
          w.history.add(
              new Operation<>(
                  101,
                  "Ak0",
                  new RegisterModel.Read(),
                  r.getGet().getKv().getValue().toStringUtf8(),
                  writeInvoked + 1,
                  System.nanoTime()));
        }
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
      cluster.startAll();
      cluster.init(4);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Workload w = new Workload(cluster, KEYS, 4);
      w.route();
      w.start(4);
      run(Duration.ofSeconds(2));
      // Node 3 restarts with its clock 3 s ahead (the maximum offset is 500 ms).
      cluster.stop(3);
      cluster.setExtraArgs(3, List.of("--clock-skew-ms=3000"));
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
      w.stop();
      check(w);
      for (int n = 1; n <= 2; n++) {
        assertThat(cluster.status(n).map(StatusResponse::getServing)).contains(true);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static Workload startWorkload(ProcessCluster cluster, long seed) throws Exception {
    cluster.startAll();
    cluster.init(4);
    cluster.awaitConverged(Duration.ofSeconds(60));
    Workload w = new Workload(cluster, KEYS, seed);
    w.route();
    w.start(6);
    return w;
  }

  /** Lets the workload run for {@code d} (a delay, not a synchronization). */
  private static void run(Duration d) {
    long until = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < until) {
      LockSupport.parkNanos(until - System.nanoTime());
    }
  }

  private static void finish(ProcessCluster cluster, Workload w) throws Exception {
    w.stop();
    cluster.awaitConverged(Duration.ofSeconds(60));
    check(w);
    for (int n = 1; n <= cluster.size; n++) {
      cluster.stop(n);
    }
    // Every acknowledged write is on every replica (all three nodes hold every range).
    for (int n = 1; n <= cluster.size; n++) {
      try (RocksDbEngine engine = RocksDbEngine.open(cluster.store(n))) {
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
