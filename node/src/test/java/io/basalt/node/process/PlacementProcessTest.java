package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.StatusResponse;
import io.basalt.client.BasaltClient;
import io.basalt.client.KeyValue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The placement driver on real processes: a node killed for good has its replicas re-created on the
 * others within the dead timeout and a bound, while clients keep writing; afterwards every
 * acknowledged write reads back, and a full scan through the range directory returns every key
 * once.
 */
class PlacementProcessTest {
  @Test
  void aDeadNodesReplicasAreReplacedAndNothingAcknowledgedIsLost() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("placement", 4, 50)) {
      for (int n = 1; n <= 4; n++) {
        cluster.setExtraArgs(n, List.of("--time-until-dead=10s"));
      }
      cluster.startAll();
      cluster.init(6, 3); // on nodes 1, 2 and 3; node 4 is spare
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      List<Thread> writers = new ArrayList<>();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        for (int t = 0; t < 2; t++) {
          int writer = t;
          writers.add(
              Thread.ofPlatform()
                  .start(() -> {
                    for (int i = 0; !stop.get(); i++) {
                      // Keys over the whole first byte, so that every data range gets some.
                      String key = (char) ('A' + (i * 7 + writer) % 58) + "-" + writer + "-" + i;
                      String value = "v" + i;
                      try {
                        client.put(bytes(key), bytes(value));
                        acknowledged.put(key, value);
                      } catch (RuntimeException e) {
                        failures.incrementAndGet();
                      }
                    }
                  }));
        }
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        int victim = 2;
        long killedAt = System.nanoTime();
        cluster.kill(victim);
        ProcessCluster.await(
            () -> fullyReplicatedWithout(cluster, victim),
            "every range back to 3 voters on live nodes",
            Duration.ofSeconds(70));
        long repairMillis = (System.nanoTime() - killedAt) / 1_000_000;
        // The driver's node exports what it did (it may have moved since: any live node counts).
        StringBuilder metrics = new StringBuilder();
        for (int n = 1; n <= 4; n++) {
          if (n != victim) {
            metrics.append(cluster.http(n, "/metrics"));
          }
        }
        assertThat(metrics.toString())
            .contains("basalt_placement_operations_total{kind=\"add_learner\"")
            .contains("basalt_placement_operations_total{kind=\"remove\"")
            .contains("basalt_placement_under_replicated_ranges");
        System.out.printf(
            "every range had 3 voters on live nodes %d ms after node %d was killed"
                + " (dead timeout 10 s)%n",
            repairMillis, victim);
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 100,
            "writes go on after the repair",
            Duration.ofSeconds(30));
        stop.set(true);
        for (Thread w : writers) {
          w.join();
        }
        System.out.printf(
            "%d writes acknowledged, %d failed (in flight at the kill, or retried out)%n",
            acknowledged.size(), failures.get());
        assertEveryWriteReadsBack(client, acknowledged);
        Map<String, Integer> seen = scanCounts(client);
        assertThat(seen.values()).as("each key once").allMatch(c -> c == 1);
        assertThat(seen.keySet()).containsAll(acknowledged.keySet());
      }
    }
  }

  /**
   * Keys that all fall in one range ({@code key%013d}, as the load generator's), loaded with 1 KiB
   * values to about 32 times {@code --range-max-bytes}: the driver splits the range and its halves
   * until none is above twice the limit, while clients write on without an error (a stale cache is
   * redirected); then every acknowledged write reads back and a full scan returns every key once.
   */
  @Test
  void rangesSplitAsTheyGrowAndClientsFollowWithoutAnError() throws Exception {
    long maxBytes = 256 << 10;
    try (ProcessCluster cluster = new ProcessCluster("splits", 3, 50)) {
      for (int n = 1; n <= 3; n++) {
        cluster.setExtraArgs(n, List.of("--range-max-bytes=256KiB"));
      }
      cluster.startAll();
      cluster.init(1, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicLong next = new AtomicLong();
      long total = 32 * maxBytes / 1024;
      String value = "v".repeat(1024);
      long startedAt = System.nanoTime();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          writers.add(
              Thread.ofPlatform()
                  .start(() -> {
                    for (long i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
                      String key = String.format("key%013d", i);
                      try {
                        client.put(bytes(key), bytes(value));
                        acknowledged.put(key, value);
                      } catch (RuntimeException e) {
                        failures.incrementAndGet();
                      }
                    }
                  }));
        }
        for (Thread w : writers) {
          w.join();
        }
        long loadedMillis = (System.nanoTime() - startedAt) / 1_000_000;
        ProcessCluster.await(
            () -> largestRange(cluster) <= 2 * maxBytes,
            "no range above twice --range-max-bytes",
            Duration.ofSeconds(90));
        long settledMillis = (System.nanoTime() - startedAt) / 1_000_000;
        int ranges = rangeCount(cluster);
        System.out.printf(
            "%d keys (%d KiB) loaded in %d ms; %d ranges, none above %d KiB, after %d ms;"
                + " %d client errors%n",
            total, total, loadedMillis, ranges, 2 * maxBytes >> 10, settledMillis, failures.get());
        assertThat(failures.get()).as("client errors (redirects are followed)").isZero();
        assertThat(ranges).as("data ranges after the splits").isGreaterThanOrEqualTo(16);
        StringBuilder metrics = new StringBuilder();
        for (int n = 1; n <= 3; n++) {
          metrics.append(cluster.http(n, "/metrics"));
        }
        assertThat(metrics.toString())
            .containsPattern(
                "basalt_placement_operations_total\\{kind=\"split\",node=\"\\d+\",outcome=\"done\"");
        assertEveryWriteReadsBack(client, acknowledged);
        Map<String, Integer> seen = scanCounts(client);
        assertThat(seen.values()).as("each key once").allMatch(c -> c == 1);
        assertThat(seen.keySet()).isEqualTo(acknowledged.keySet());
      }
    }
  }

  /**
   * A range hot with about 600 requests per second (paced gets and puts over 10,000 keys, uniform)
   * on a cluster started with {@code --range-max-qps=400}: the driver splits it at the key its
   * leader's samples halve the load at, within 30 s of the load's start, and the halves' loads are
   * within 2:1 (each below the limit, so they stay as they are).
   */
  @Test
  void aHotRangeSplitsWithinThirtySecondsIntoHalvesOfSimilarLoad() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("hot", 3, 50)) {
      for (int n = 1; n <= 3; n++) {
        cluster.setExtraArgs(n, List.of("--range-max-qps=400"));
      }
      cluster.startAll();
      cluster.init(1, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong failures = new AtomicLong();
      AtomicLong requests = new AtomicLong();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        List<Thread> threads = new ArrayList<>();
        long startedAt = System.nanoTime();
        for (int t = 0; t < 4; t++) {
          int seed = t;
          threads.add(
              Thread.ofPlatform()
                  .start(() -> {
                    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
                    long next = System.nanoTime();
                    while (!stop.get()) {
                      // Paced: 150 requests per second per thread.
                      next += 1_000_000_000L / 150;
                      java.util.concurrent.locks.LockSupport.parkNanos(next - System.nanoTime());
                      byte[] key = bytes(String.format("key%013d", random.nextInt(10_000)));
                      try {
                        if (random.nextBoolean()) {
                          client.get(key);
                        } else {
                          client.put(key, bytes("v"));
                        }
                        requests.incrementAndGet();
                      } catch (RuntimeException e) {
                        failures.incrementAndGet();
                      }
                    }
                  }));
        }
        ProcessCluster.await(
            () -> rangeCount(cluster) >= 2, "the hot range splits", Duration.ofSeconds(30));
        long splitMillis = (System.nanoTime() - startedAt) / 1_000_000;
        // The halves' loads, once each has counted ten seconds of it.
        long until = System.nanoTime() + 15_000_000_000L;
        ProcessCluster.await(
            () -> System.nanoTime() >= until,
            "the halves count their load",
            Duration.ofSeconds(20));
        List<Double> loads = new ArrayList<>();
        for (int n = 1; n <= 3; n++) {
          cluster
              .status(n)
              .ifPresent(st -> {
                for (ReplicaStatus r : st.getReplicasList()) {
                  if (r.getRole().equals("LEADER") && r.getRange().getRangeId() != 1) {
                    loads.add(r.getRequestsPerSecond());
                  }
                }
              });
        }
        stop.set(true);
        for (Thread t : threads) {
          t.join();
        }
        System.out.printf(
            "hot range split %d ms after the load started; data ranges %d, leaders' loads %s"
                + " requests/s; %d requests, %d client errors%n",
            splitMillis, rangeCount(cluster), loads, requests.get(), failures.get());
        assertThat(loads).as("two data ranges, each led").hasSize(2);
        double high = Math.max(loads.get(0), loads.get(1));
        double low = Math.min(loads.get(0), loads.get(1));
        assertThat(high).as("halves' loads within 2:1: %s", loads).isLessThanOrEqualTo(2 * low);
        assertThat(failures.get()).as("client errors").isZero();
      }
    }
  }

  /**
   * Sixteen small, cold ranges from {@code init} on a cluster started with {@code
   * --merge-delay=2s}: the driver merges neighbours until one data range is left, while a client
   * writes over all of them without an error (a frozen range's requests are retried, a merged
   * range's redirected); then every acknowledged write reads back, a full scan returns every key
   * once, and a directory lookup routes every key to the range left.
   */
  @Test
  void smallColdNeighboursMergeUntilOneRangeIsLeftAndClientsSeeNoError() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("merges", 3, 50)) {
      for (int n = 1; n <= 3; n++) {
        cluster.setExtraArgs(n, List.of("--merge-delay=2s", "--range-max-qps=1000000"));
      }
      cluster.startAll();
      cluster.init(16, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      long startedAt = System.nanoTime();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> rangeCount(cluster) == 1, "one data range left", Duration.ofSeconds(150));
        long mergedMillis = (System.nanoTime() - startedAt) / 1_000_000;
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 200,
            "writes go on in the merged range",
            Duration.ofSeconds(30));
        stop.set(true);
        writer.join();
        System.out.printf(
            "16 ranges merged into 1 in %d ms; %d writes acknowledged, %d client errors%n",
            mergedMillis, acknowledged.size(), failures.get());
        assertThat(failures.get()).as("client errors").isZero();
        StringBuilder metrics = new StringBuilder();
        for (int n = 1; n <= 3; n++) {
          metrics.append(cluster.http(n, "/metrics"));
        }
        assertThat(metrics.toString())
            .containsPattern(
                "basalt_placement_operations_total\\{kind=\"merge\",node=\"\\d+\",outcome=\"done\"");
        assertEveryWriteReadsBack(client, acknowledged);
        Map<String, Integer> seen = scanCounts(client);
        assertThat(seen.values()).as("each key once").allMatch(c -> c == 1);
        assertThat(seen.keySet()).isEqualTo(acknowledged.keySet());
      }
      // A new client, routed by the directory alone, finds every key in the range left.
      try (BasaltClient fresh =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        assertEveryWriteReadsBack(fresh, acknowledged);
      }
    }
  }

  /** The largest data range's size as its leader reports it (Long.MAX_VALUE if unknown). */
  private static long largestRange(ProcessCluster cluster) {
    long largest = 0;
    int leaders = 0;
    for (int n = 1; n <= cluster.size; n++) {
      Optional<StatusResponse> s = cluster.status(n);
      if (s.isEmpty()) {
        return Long.MAX_VALUE;
      }
      for (ReplicaStatus r : s.get().getReplicasList()) {
        if (r.getRole().equals("LEADER")) {
          leaders++;
          largest = Math.max(largest, r.getApproximateBytes());
        }
      }
    }
    return leaders >= rangeCount(cluster) + 1 ? largest : Long.MAX_VALUE;
  }

  /** How many data ranges node 1 holds (every range has a replica on each of the 3 nodes). */
  private static int rangeCount(ProcessCluster cluster) {
    return cluster.status(1).map(s -> s.getReplicasCount() - 1).orElse(0);
  }

  /**
   * {@code basalt node decommission 2} on 4 nodes while a client writes: it returns once node 2
   * holds no replica (its leaderships moved first) and the driver finished the decommission; node 2
   * then says it is decommissioned and serves nothing, the others refuse its connections, and it
   * cannot be recommissioned. Node 2 is SIGKILLed, and the client never sees an error; started
   * again on its store, it knows it is decommissioned and connects to no other node.
   */
  @Test
  void aDecommissionedNodeHoldsNothingAndItsKillCausesNoClientError() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("decommission", 4, 50)) {
      cluster.startAll();
      cluster.init(4, 3); // on nodes 1, 2 and 3; node 4 is spare
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        long startedAt = System.nanoTime();
        int code =
            new picocli.CommandLine(new io.basalt.node.cli.BasaltCli())
                .execute(
                    "node",
                    "decommission",
                    "2",
                    "--host",
                    cluster.address(1),
                    "--wait-seconds",
                    "120",
                    "--certs-dir",
                    cluster.certs.toString());
        long millis = (System.nanoTime() - startedAt) / 1_000_000;
        assertThat(code).as("the decommission finished within its wait").isZero();
        ProcessCluster.await(
            () ->
                cluster
                    .status(2)
                    .map(st -> st.getNotServingReason().contains("decommissioned"))
                    .orElse(false),
            "node 2 learns that it is decommissioned",
            Duration.ofSeconds(30));
        ProcessCluster.await(
            () -> refusalsOfNode2(cluster) > 0,
            "another node refuses node 2's connection",
            Duration.ofSeconds(30));
        assertThat(
                new picocli.CommandLine(new io.basalt.node.cli.BasaltCli())
                    .execute(
                        "node",
                        "recommission",
                        "2",
                        "--host",
                        cluster.address(1),
                        "--certs-dir",
                        cluster.certs.toString()))
            .as("a finished decommission cannot be undone")
            .isNotZero();
        cluster.kill(2);
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 200,
            "writes go on after the decommissioned node was killed",
            Duration.ofSeconds(30));
        stop.set(true);
        writer.join();
        System.out.printf(
            "node 2 decommissioned in %d ms; %d writes, %d client errors%n",
            millis, acknowledged.size(), failures.get());
        assertThat(failures.get()).as("client errors").isZero();
        assertEveryWriteReadsBack(client, acknowledged);
        cluster.start(2);
        ProcessCluster.await(
            () -> cluster.status(2).isPresent(), "node 2 answers again", Duration.ofSeconds(30));
        StatusResponse again = cluster.status(2).orElseThrow();
        assertThat(again.getNotServingReason())
            .as("node 2 started again knows it is decommissioned (its own store says so)")
            .contains("decommissioned");
        assertThat(again.getConnectedList()).as("node 2 talks to no other node").isEmpty();
        for (int n : new int[] {1, 3, 4}) {
          assertThat(cluster.status(n).orElseThrow().getConnectedList())
              .as("node %d is not connected to node 2", n)
              .doesNotContain(2L);
        }
      }
    }
  }

  /**
   * The placement driver runs beside the meta range's leader: SIGKILL of that node starts a driver
   * on another node within 15 s (the meta range elects a leader, whose node's driver begins its
   * passes); when the killed node comes back, that driver hands it its share of the leaderships
   * (within one of the mean) again within 30 s. A client writes throughout, and every acknowledged
   * write reads back.
   */
  @Test
  void aKilledDriversNodeIsReplacedByANewDriverThatGivesItLeadershipsBack() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("driverkill", 3, 50)) {
      cluster.startAll();
      cluster.init(8, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      int first = cluster.leaderOf(io.basalt.api.KeySpace.META_RANGE_ID);
      ProcessCluster.await(
          () -> driverStartsIn(cluster, first) > 0,
          "a driver starts beside the meta range's leader",
          Duration.ofSeconds(30));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        // The driver balances leaderships, the meta range's too: it may have moved itself to
        // another node meanwhile (CI saw it). The node to kill is the one whose driver runs now.
        int driver = runningDriver(cluster);
        long[] startsBefore = new long[4];
        for (int n = 1; n <= 3; n++) {
          startsBefore[n] = driverStartsIn(cluster, n);
        }
        long killedAt = System.nanoTime();
        cluster.kill(driver);
        ProcessCluster.await(
            () -> {
              for (int n = 1; n <= 3; n++) {
                if (n != driver && driverStartsIn(cluster, n) > startsBefore[n]) {
                  return true;
                }
              }
              return false;
            },
            "another node's driver starts",
            Duration.ofSeconds(15));
        long newDriverMillis = (System.nanoTime() - killedAt) / 1_000_000;
        cluster.start(driver);
        long restartedAt = System.nanoTime();
        ProcessCluster.await(
            () ->
                cluster
                    .status(driver)
                    .map(st ->
                        st.getReplicasList().stream()
                                .filter(r -> r.getRole().equals("LEADER"))
                                .count()
                            >= 2)
                    .orElse(false),
            "the restarted node leads its share of the 9 ranges again, within one",
            Duration.ofSeconds(30));
        long leadsAgainMillis = (System.nanoTime() - restartedAt) / 1_000_000;
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 200, "writes go on", Duration.ofSeconds(30));
        stop.set(true);
        writer.join();
        System.out.printf(
            "driver's node %d killed: a new driver started in %d ms; restarted, it led its share"
                + " again in %d ms; %d writes, %d client errors%n",
            driver, newDriverMillis, leadsAgainMillis, acknowledged.size(), failures.get());
        assertEveryWriteReadsBack(client, acknowledged);
      }
    }
  }

  /**
   * 3 nodes grown to 5 while a client writes: within 5 minutes every node holds within 10% of the
   * mean replica count and leads within one of the mean leader count (17 ranges: 51 replicas, 10 or
   * 11 on each node; 17 leaders, 3 or 4 each), and every acknowledged write reads back.
   */
  @Test
  void threeNodesGrownToFiveShareReplicasAndLeadersEvenly() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("grow", 5, 50)) {
      for (int n = 1; n <= 3; n++) {
        cluster.start(n);
      }
      cluster.init(16, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().subList(0, 3).toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        long grownAt = System.nanoTime();
        cluster.start(4);
        cluster.start(5);
        String[] last = {""};
        ProcessCluster.await(
            () -> {
              int[] replicas = new int[6];
              int[] leaders = new int[6];
              for (int n = 1; n <= 5; n++) {
                Optional<StatusResponse> st = cluster.status(n);
                if (st.isEmpty()) {
                  return false;
                }
                replicas[n] = st.get().getReplicasCount();
                leaders[n] =
                    (int)
                        st.get().getReplicasList().stream()
                            .filter(r -> r.getRole().equals("LEADER"))
                            .count();
              }
              last[0] =
                  "replicas "
                      + Arrays.toString(Arrays.copyOfRange(replicas, 1, 6))
                      + ", leaders "
                      + Arrays.toString(Arrays.copyOfRange(leaders, 1, 6));
              double meanReplicas = 51 / 5.0;
              double meanLeaders = 17 / 5.0;
              for (int n = 1; n <= 5; n++) {
                if (Math.abs(replicas[n] - meanReplicas) > 0.1 * meanReplicas
                    || Math.abs(leaders[n] - meanLeaders) > 1) {
                  return false;
                }
              }
              return true;
            },
            "replicas and leaders spread evenly over the 5 nodes",
            Duration.ofMinutes(5));
        long balancedMillis = (System.nanoTime() - grownAt) / 1_000_000;
        stop.set(true);
        writer.join();
        System.out.printf(
            "3 nodes grown to 5: balanced in %d ms (%s); %d writes, %d client errors%n",
            balancedMillis, last[0], acknowledged.size(), failures.get());
        assertThat(failures.get()).as("client errors").isZero();
        assertEveryWriteReadsBack(client, acknowledged);
      }
    }
  }

  /**
   * The node whose log says its driver started more often than it stopped (the one running), once
   * only one does: while the meta range's leadership moves, the new leader's driver may start
   * before the old one's logs that it stopped, and killing the old one would then start nothing.
   */
  private static int runningDriver(ProcessCluster cluster) {
    int[] running = new int[1];
    ProcessCluster.await(
        () -> {
          List<Integer> nodes = new java.util.ArrayList<>();
          for (int n = 1; n <= cluster.size; n++) {
            try {
              List<String> lines = java.nio.file.Files.readAllLines(cluster.log(n));
              long starts =
                  lines.stream()
                      .filter(l -> l.contains("placement driver starts on node "))
                      .count();
              long stops =
                  lines.stream().filter(l -> l.contains("placement driver stops on node ")).count();
              if (starts > stops) {
                nodes.add(n);
              }
            } catch (java.io.IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
          running[0] = nodes.size() == 1 ? nodes.get(0) : 0;
          return running[0] != 0;
        },
        "exactly one node's driver runs",
        Duration.ofSeconds(15));
    return running[0];
  }

  /** How many times node {@code n}'s log says a placement driver started there. */
  private static long driverStartsIn(ProcessCluster cluster, int n) {
    try {
      return java.nio.file.Files.readAllLines(cluster.log(n)).stream()
          .filter(l -> l.contains("placement driver starts on node " + n))
          .count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** How many times the other nodes' logs say they closed a connection of node 2, refused. */
  private static long refusalsOfNode2(ProcessCluster cluster) {
    long n = 0;
    for (int i : new int[] {1, 3, 4}) {
      try {
        n +=
            java.nio.file.Files.readAllLines(cluster.log(i)).stream()
                .filter(
                    l -> l.contains("closing connection") && l.contains("node 2 is decommissioned"))
                .count();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return n;
  }

  /**
   * {@code basalt node drain N} while a client writes: it returns once node N leads no range, the
   * node serves no client from then on, and the client sees no error.
   */
  @Test
  void nodeDrainMovesEveryLeadershipAwayAndClientsSeeNoError() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("nodedrain", 3, 50)) {
      cluster.startAll();
      cluster.init(6, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        int node = leadingNode(cluster);
        int code =
            new picocli.CommandLine(new io.basalt.node.cli.BasaltCli())
                .execute(
                    "node",
                    "drain",
                    String.valueOf(node),
                    "--host",
                    cluster.address(1),
                    "--certs-dir",
                    cluster.certs.toString());
        assertThat(code).as("node drain returned once drained").isZero();
        StatusResponse st = cluster.status(node).orElseThrow();
        assertThat(st.getReplicasList()).noneMatch(r -> r.getRole().equals("LEADER"));
        assertThat(st.getServing()).isFalse();
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 200,
            "writes go on with the node drained",
            Duration.ofSeconds(30));
        stop.set(true);
        writer.join();
        assertThat(failures.get()).as("client errors (redirects are retried)").isZero();
      }
    }
  }

  /**
   * Six nodes in three zones ({@code --locality zone=z(i%3)}), ranges first on nodes 1 to 3 and
   * spread by balancing: after node 2 is SIGKILLed for good (10 s dead timeout), every range has
   * three voters on live nodes in three distinct zones.
   */
  @Test
  void sixNodesInThreeZonesKeepOneReplicaPerZoneAfterARepair() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("zones", 6, 50)) {
      for (int n = 1; n <= 6; n++) {
        cluster.setExtraArgs(
            n, List.of("--time-until-dead=10s", "--locality=zone=z" + (n % 3) + ",rack=r" + n));
      }
      cluster.startAll();
      cluster.init(6, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      long killedAt = System.nanoTime();
      cluster.kill(2);
      ProcessCluster.await(
          () -> fullyReplicatedWithout(cluster, 2) && oneReplicaPerZone(cluster, 2),
          "every range on 3 live nodes in 3 zones",
          Duration.ofSeconds(90));
      System.out.printf(
          "6 nodes in 3 zones: one replica per zone %d ms after node 2 was killed%n",
          (System.nanoTime() - killedAt) / 1_000_000);
    }
  }

  /** Whether every range, as the live nodes report it, has its voters in distinct zones. */
  private static boolean oneReplicaPerZone(ProcessCluster cluster, int dead) {
    Map<Long, RangeDescriptor> newest = new TreeMap<>();
    for (int n = 1; n <= cluster.size; n++) {
      if (n != dead) {
        cluster
            .status(n)
            .ifPresent(s -> {
              for (ReplicaStatus r : s.getReplicasList()) {
                newest.merge(
                    r.getRange().getRangeId(),
                    r.getRange(),
                    (a, b) -> a.getGeneration() >= b.getGeneration() ? a : b);
              }
            });
      }
    }
    for (RangeDescriptor d : newest.values()) {
      Set<Long> zones = new java.util.HashSet<>();
      for (ReplicaDescriptor r : d.getReplicasList()) {
        if (!zones.add(r.getNodeId() % 3)) {
          return false;
        }
      }
    }
    return !newest.isEmpty();
  }

  /** A node that leads ranges (0 if none answers). */
  private static int leadingNode(ProcessCluster cluster) {
    for (int n = 1; n <= cluster.size; n++) {
      Optional<StatusResponse> st = cluster.status(n);
      if (st.isPresent()
          && st.get().getReplicasList().stream().anyMatch(r -> r.getRole().equals("LEADER"))) {
        return n;
      }
    }
    return 0;
  }

  @Test
  void sigtermDrainsTheNodesLeadershipsBeforeItExitsAndClientsSeeNoError() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("drain", 3, 50)) {
      cluster.startAll();
      cluster.init(6, 3);
      cluster.awaitConverged(Duration.ofSeconds(60));
      Map<String, String> acknowledged = new ConcurrentHashMap<>();
      AtomicLong failures = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        Thread writer = writer(client, acknowledged, failures, stop);
        ProcessCluster.await(
            () -> acknowledged.size() > 200, "writes go through", Duration.ofSeconds(30));
        int victim = leadingNode(cluster);
        assertThat(victim).as("a node that leads ranges").isPositive();
        cluster.stop(victim); // SIGTERM
        int before = acknowledged.size();
        ProcessCluster.await(
            () -> acknowledged.size() > before + 200,
            "writes go on after the node stopped",
            Duration.ofSeconds(30));
        stop.set(true);
        writer.join();
        String log = java.nio.file.Files.readString(cluster.log(victim));
        assertThat(log).contains("node " + victim + " is drained: it leads no range");
        assertThat(failures.get()).as("client errors (redirects are retried)").isZero();
      }
    }
  }

  /**
   * Whether every range, as the live nodes report it, has exactly 3 voters, none on {@code dead},
   * no learner, and a leader.
   */
  private static boolean fullyReplicatedWithout(ProcessCluster cluster, int dead) {
    Map<Long, RangeDescriptor> newest = new TreeMap<>();
    Set<Long> led = new java.util.HashSet<>();
    for (int n = 1; n <= cluster.size; n++) {
      if (n == dead) {
        continue;
      }
      Optional<StatusResponse> s = cluster.status(n);
      if (s.isEmpty()) {
        return false;
      }
      for (ReplicaStatus r : s.get().getReplicasList()) {
        newest.merge(
            r.getRange().getRangeId(),
            r.getRange(),
            (a, b) -> a.getGeneration() >= b.getGeneration() ? a : b);
        if (r.getRole().equals("LEADER")) {
          led.add(r.getRange().getRangeId());
        }
      }
    }
    if (newest.size() < 7) {
      return false;
    }
    for (RangeDescriptor d : newest.values()) {
      List<ReplicaDescriptor> rs = d.getReplicasList();
      if (rs.size() != 3
          || rs.stream().anyMatch(r -> r.getNodeId() == dead)
          || rs.stream().anyMatch(r -> r.getRole() != ReplicaRole.REPLICA_ROLE_VOTER)
          || !led.contains(d.getRangeId())) {
        return false;
      }
    }
    return true;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * A thread writing keys over the whole first byte until {@code stop}, recording what was
   * acknowledged and counting what failed.
   */
  private static Thread writer(
      BasaltClient client,
      Map<String, String> acknowledged,
      AtomicLong failures,
      AtomicBoolean stop) {
    return Thread.ofPlatform()
        .start(() -> {
          for (int i = 0; !stop.get(); i++) {
            String key = (char) ('A' + i % 58) + "-" + i;
            try {
              client.put(bytes(key), bytes("v" + i));
              acknowledged.put(key, "v" + i);
            } catch (RuntimeException e) {
              failures.incrementAndGet();
            }
          }
        });
  }

  private static void assertEveryWriteReadsBack(
      BasaltClient client, Map<String, String> acknowledged) {
    for (Map.Entry<String, String> e : acknowledged.entrySet()) {
      byte[] v = client.get(bytes(e.getKey()));
      assertThat(v == null ? null : new String(v, StandardCharsets.UTF_8))
          .as("acknowledged %s", e.getKey())
          .isEqualTo(e.getValue());
    }
  }

  /** How many times a full scan through the range directory returns each key. */
  private static Map<String, Integer> scanCounts(BasaltClient client) {
    Map<String, Integer> seen = new TreeMap<>();
    for (KeyValue kv : client.scan(new byte[0], new byte[0])) {
      seen.merge(new String(kv.key(), StandardCharsets.UTF_8), 1, Integer::sum);
    }
    return seen;
  }
}
