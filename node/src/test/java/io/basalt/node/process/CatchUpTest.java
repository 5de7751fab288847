package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.KeySpace;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.StatusResponse;
import io.basalt.client.BasaltClient;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.RocksDbEngine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A follower that was down while its range took full-speed writes until it held twice 64 MiB
 * catches up by a snapshot far larger than any in-memory bound, within a minute of its restart, and
 * holds every acknowledged write afterwards.
 */
class CatchUpTest {
  private static final int THREADS = 32;
  private static final int VALUE_BYTES = 1024;
  private static final Duration WRITE_AT_MOST = Duration.ofSeconds(90);
  private static final Duration CATCH_UP_WITHIN = Duration.ofSeconds(60);
  private static final long MIN_DATA_BYTES = 64L << 20;

  @Test
  void aFollowerDownDuringWritesOfTwice64MiBCatchesUpBySnapshot() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("catchup", 3, 100)) {
      // The follower holds the snapshot (hundreds of MiB) in memory until it installs it.
      cluster.setHeap("2g");
      cluster.startAll();
      cluster.init(4);
      cluster.awaitConverged(Duration.ofSeconds(60));
      // Every key starts with "user/": all of them fall in one range.
      long range = rangeOf(cluster, key(0, 0));
      assertThat(rangeOf(cluster, key(THREADS - 1, Integer.MAX_VALUE))).isEqualTo(range);
      int leader = cluster.awaitLeader(range);
      int follower = leader == 3 ? 2 : 3;
      cluster.kill(follower);

      // 32 clients put as fast as the cluster takes them, each on keys of its own.
      long[] acked = new long[THREADS];
      AtomicLong errors = new AtomicLong();
      long start = System.nanoTime();
      long end = start + WRITE_AT_MOST.toNanos();
      // Enough data that the snapshot is far beyond any in-memory bound; then the writers stop.
      AtomicLong ackedPuts = new AtomicLong();
      long enough = 2 * MIN_DATA_BYTES / VALUE_BYTES;
      try (BasaltClient client =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          int id = t;
          threads.add(
              Thread.ofVirtual()
                  .name("put-" + t)
                  .start(() -> {
                    // Each thread's puts are sequential: key (id, i) is written once, and all
                    // below acked[id] were acknowledged unless counted as errors.
                    for (int i = 0; System.nanoTime() < end && ackedPuts.get() < enough; i++) {
                      try {
                        client.put(key(id, i), value(id, i));
                        acked[id] = i + 1;
                        ackedPuts.incrementAndGet();
                      } catch (RuntimeException e) {
                        errors.incrementAndGet();
                      }
                    }
                  }));
        }
        for (Thread t : threads) {
          t.join();
        }
      }
      long puts = Arrays.stream(acked).sum();
      double wrote = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "catch-up: %d puts of %d bytes acknowledged in %.0f s (%.0f/s), %d failed; node %d down%n",
          puts,
          VALUE_BYTES,
          wrote,
          puts / wrote,
          errors.get(),
          follower);
      assertThat(errors.get()).as("failed puts").isLessThan(Math.max(10, puts / 1000));

      long restarted = System.nanoTime();
      cluster.start(follower);
      long[] target = new long[1];
      ProcessCluster.await(
          () -> {
            target[0] = 0;
            for (int n = 1; n <= cluster.size; n++) {
              if (n != follower) {
                target[0] = Math.max(target[0], applied(cluster, n, range));
              }
            }
            return target[0] > 0 && applied(cluster, follower, range) >= target[0];
          },
          "node " + follower + " applies range " + range + " up to its leader",
          CATCH_UP_WITHIN);
      double catchUpSeconds = (System.nanoTime() - restarted) / 1e9;

      double sentBytes = 0;
      double sent = 0;
      double failed = 0;
      for (int n = 1; n <= cluster.size; n++) {
        if (n != follower) {
          String m = cluster.http(n, "/metrics");
          sentBytes += metric(m, "basalt_raft_snapshot_sent_bytes_total");
          sent += metric(m, "basalt_raft_snapshots_sent_total");
          failed += metric(m, "basalt_raft_snapshots_failed_total");
        }
      }
      double installed =
          metric(cluster.http(follower, "/metrics"), "basalt_raft_snapshots_installed_total");
      long leaderStoreBytes = sizeOf(cluster.store(leader));
      System.out.printf(
          Locale.ROOT,
          "catch-up: node %d caught up on range %d (applied index %d) %.1f s after its restart;"
              + " snapshots sent %.0f (%.1f MiB), failed %.0f, installed %.0f; node %d's store"
              + " %.1f MiB%n",
          follower,
          range,
          target[0],
          catchUpSeconds,
          sent,
          sentBytes / (1 << 20),
          failed,
          installed,
          leader,
          leaderStoreBytes / (double) (1 << 20));
      assertThat(logOf(cluster, follower))
          .contains("node " + follower + " installed a snapshot of range " + range + " ");
      String sentLine = "sent node " + follower + " a snapshot of range " + range + ": ";
      assertThat(logOf(cluster, leader) + logOf(cluster, 6 - leader - follower))
          .as("a leader's log")
          .contains(sentLine);
      assertThat(installed).as("snapshots installed on node %d", follower).isGreaterThan(0);
      assertThat(sent).as("snapshots sent to node %d", follower).isGreaterThan(0);
      assertThat(sentBytes)
          .as("snapshot bytes sent (the range's data)")
          .isGreaterThan(MIN_DATA_BYTES);

      // The snapshot carried the data: every acknowledged put is on the restarted node.
      for (int n = 1; n <= cluster.size; n++) {
        cluster.stop(n);
      }
      try (RocksDbEngine engine = RocksDbEngine.open(cluster.store(follower))) {
        long missing = 0;
        String firstMissing = null;
        for (int t = 0; t < THREADS; t++) {
          for (int i = 0; i < acked[t]; i++) {
            Optional<MvccStore.Version> v = MvccStore.getVersion(engine, key(t, i), Timestamp.MAX);
            if (v.isEmpty() || !Arrays.equals(v.get().value(), value(t, i))) {
              // A put that failed (ambiguously) may be absent; its value is the same if present.
              missing++;
              if (firstMissing == null) {
                firstMissing = new String(key(t, i), StandardCharsets.UTF_8);
              }
            }
          }
        }
        assertThat(missing)
            .as(
                "acknowledged puts missing on node %d (first: %s; logs in %s)",
                follower, firstMissing, cluster.dir)
            .isLessThanOrEqualTo(errors.get());
      }
      deleteStores(cluster);
    }
  }

  /** The key of thread {@code t}'s {@code i}-th put. */
  private static byte[] key(int t, int i) {
    return String.format(Locale.ROOT, "user/%02d/%010d", t, i).getBytes(StandardCharsets.UTF_8);
  }

  /** An incompressible value, the same each time for a key. */
  private static byte[] value(int t, int i) {
    byte[] v = new byte[VALUE_BYTES];
    new SplittableRandom(((long) t << 32) | i).nextBytes(v);
    return v;
  }

  private static long rangeOf(ProcessCluster cluster, byte[] key) {
    for (ReplicaStatus r : cluster.status(1).orElseThrow().getReplicasList()) {
      if (r.getRange().getRangeId() != KeySpace.META_RANGE_ID
          && KeySpace.contains(r.getRange(), key)) {
        return r.getRange().getRangeId();
      }
    }
    throw new AssertionError("no range holds " + new String(key, StandardCharsets.UTF_8));
  }

  /** The index up to which {@code node} applied {@code range}, or 0 if it does not answer. */
  private static long applied(ProcessCluster cluster, int node, long range) {
    Optional<StatusResponse> s = cluster.status(node);
    if (s.isEmpty()) {
      return 0;
    }
    return s.get().getReplicasList().stream()
        .filter(r -> r.getRange().getRangeId() == range)
        .mapToLong(ReplicaStatus::getApplied)
        .max()
        .orElse(0);
  }

  /** The sum of a metric's series in a "200 body" answer of /metrics. */
  private static double metric(String metrics, String name) {
    assertThat(metrics).startsWith("200 ");
    double sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  private static long sizeOf(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  /** Deletes the stores (hundreds of MiB), keeping the logs. */
  private static void deleteStores(ProcessCluster cluster) throws IOException {
    for (int n = 1; n <= cluster.size; n++) {
      try (Stream<Path> files = Files.walk(cluster.store(n))) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static String logOf(ProcessCluster cluster, int node) throws IOException {
    return Files.readString(cluster.log(node));
  }
}
