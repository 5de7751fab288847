package io.basalt.bench.cluster;

import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.client.BasaltClient;
import io.basalt.node.local.LocalCluster;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * How long a range is unwritable after its leader's node is SIGKILLed: a real 3-node cluster on
 * loopback (8 data ranges), one range under constant writes (4 threads) and one left idle until the
 * kill (quiesced), both led by the node that is killed. For each kill, the time from the signal to
 * the first write sent after it that succeeds, for each range; then the node is restarted and the
 * next kill waits for every range to have a leader and the idle one to be quiesced again. Prints
 * each kill and the distributions.
 *
 * <pre>
 *   bench/failover.sh [KILLS]     (default 20)
 * </pre>
 */
public final class FailoverBench {
  private static final int WRITERS = 4;

  private FailoverBench() {}

  public static void main(String[] args) throws Exception {
    int kills = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    PrintStream out = System.out;
    try (LocalCluster cluster =
        LocalCluster.start(
            3,
            List.of(
                "-Xmx512m",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"),
            List.of())) {
      cluster.init(8, 3, Duration.ofSeconds(60));
      cluster.awaitLeaders(Duration.ofSeconds(60));
      List<RangeDescriptor> ranges = cluster.ranges();
      try (BasaltClient client =
          BasaltClient.builder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(10))
              .build()) {
        long[] active = new long[kills];
        long[] idle = new long[kills];
        for (int k = 0; k < kills; k++) {
          long[] r = killOnce(cluster, client, ranges, k, out);
          active[k] = r[0];
          idle[k] = r[1];
        }
        out.println();
        out.printf(
            "kills: %d (3 nodes on loopback, 100 ms tick, election timeout 10 ticks)%n", kills);
        out.println("active range (written throughout): " + summary(active));
        out.println("idle range (quiesced at the kill):  " + summary(idle));
      }
    }
  }

  /** One kill: {active ms, idle ms}. */
  private static long[] killOnce(
      LocalCluster cluster,
      BasaltClient client,
      List<RangeDescriptor> ranges,
      int k,
      PrintStream out)
      throws Exception {
    // The active range is the first data range; the idle one, another range its leader leads.
    RangeDescriptor activeRange = ranges.get(1);
    byte[] activeKey = keyIn(activeRange, "active");
    AtomicLong killedAt = new AtomicLong(Long.MAX_VALUE);
    AtomicLong activeOk = new AtomicLong(Long.MAX_VALUE);
    AtomicLong idleOk = new AtomicLong(Long.MAX_VALUE);
    List<Thread> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      byte[] key =
          (new String(activeKey, StandardCharsets.ISO_8859_1) + w)
              .getBytes(StandardCharsets.ISO_8859_1);
      writers.add(
          Thread.ofPlatform().daemon().start(() -> writeUntil(client, key, killedAt, activeOk)));
    }
    // Settle: every range led, the active one written, an idle one led by the same node quiesced.
    RangeDescriptor idleRange = null;
    int victim = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (idleRange == null) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no idle range quiesced under the active range's leader");
      }
      LockSupport.parkNanos(Duration.ofMillis(500).toNanos());
      Map<Long, Integer> leaders = cluster.leaders();
      Integer node = leaders.get(activeRange.getRangeId());
      if (node == null || leaders.size() < ranges.size()) {
        continue;
      }
      for (ReplicaStatus s : cluster.statuses().get(node).getReplicasList()) {
        long id = s.getRange().getRangeId();
        if (s.getRole().equals("LEADER")
            && s.getQuiesced()
            && id != activeRange.getRangeId()
            && id != 1) {
          idleRange = s.getRange();
          victim = node;
          break;
        }
      }
    }
    long t0 = System.nanoTime();
    if (System.getProperty("basalt.failover.logs") != null) {
      out.println("  kill at " + java.time.LocalTime.now());
    }
    cluster.kill(victim);
    killedAt.set(System.nanoTime()); // (a write counts once sent after the process is gone)
    byte[] idleKey = keyIn(idleRange, "idle");
    Thread idleWriter =
        Thread.ofPlatform().daemon().start(() -> writeUntil(client, idleKey, killedAt, idleOk));
    long elected = -1;
    while (activeOk.get() == Long.MAX_VALUE || idleOk.get() == Long.MAX_VALUE) {
      if (elected < 0) {
        Integer now = cluster.leaders().get(activeRange.getRangeId());
        if (now != null && now != victim) {
          elected = (System.nanoTime() - t0) / 1_000_000;
        }
      }
      if (System.nanoTime() - killedAt.get() > Duration.ofSeconds(60).toNanos()) {
        throw new IllegalStateException("a range stayed unwritable for a minute after the kill");
      }
      LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
    }
    killedAt.set(-1); // (stops the writers)
    for (Thread t : writers) {
      t.join();
    }
    idleWriter.join();
    long a = (activeOk.get() - t0) / 1_000_000;
    long i = (idleOk.get() - t0) / 1_000_000;
    out.printf(
        "kill %2d: node %d (leader of range %d, written, and range %d, quiesced): writable again"
            + " after %d ms and %d ms (a new leader of the first seen after %d ms)%n",
        k + 1, victim, activeRange.getRangeId(), idleRange.getRangeId(), a, i, elected);
    if (System.getProperty("basalt.failover.logs") != null) {
      for (int m = 1; m <= 3; m++) {
        int n = m;
        if (n != victim) {
          java.nio.file.Files.readAllLines(cluster.log(n)).stream()
              .filter(
                  l -> l.contains("range " + activeRange.getRangeId()) || l.contains("lost its"))
              .skip(Math.max(0, java.nio.file.Files.readAllLines(cluster.log(n)).size() - 4000))
              .forEach(l -> out.println("  n" + n + ": " + l));
        }
      }
    }
    cluster.restart(victim);
    cluster.awaitLeaders(Duration.ofSeconds(60));
    awaitCaughtUp(cluster, victim);
    return new long[] {a, i};
  }

  /**
   * Waits until restarted node {@code node} follows a leader in every range, within a few entries
   * of its commit, and then two election timeouts more: the next kill meets a cluster in its steady
   * state, not one still recovering from the last.
   */
  private static void awaitCaughtUp(LocalCluster cluster, int node) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      Map<Integer, io.basalt.api.StatusResponse> all = cluster.statuses();
      java.util.Map<Long, Long> commits = new java.util.HashMap<>();
      all.values()
          .forEach(st ->
              st.getReplicasList().stream()
                  .filter(r -> r.getRole().equals("LEADER"))
                  .forEach(r -> commits.put(r.getRange().getRangeId(), r.getCommit())));
      io.basalt.api.StatusResponse mine = all.get(node);
      if (mine != null
          && !mine.getReplicasList().isEmpty()
          && mine.getReplicasList().stream()
              .allMatch(r ->
                  r.getLeaderNode() != 0
                      && r.getApplied() + 100
                          >= commits.getOrDefault(r.getRange().getRangeId(), 0L))) {
        LockSupport.parkNanos(Duration.ofSeconds(2).toNanos());
        return;
      }
      LockSupport.parkNanos(Duration.ofMillis(200).toNanos());
    }
    throw new IllegalStateException("node " + node + " did not catch up within a minute");
  }

  /**
   * Writes {@code key} until told to stop ({@code killedAt} -1); records in {@code firstOk} when
   * the first write sent after the kill succeeded.
   */
  private static void writeUntil(
      BasaltClient client, byte[] key, AtomicLong killedAt, AtomicLong firstOk) {
    byte[] value = new byte[100];
    while (true) {
      long kill = killedAt.get();
      if (kill == -1) {
        return;
      }
      long sent = System.nanoTime();
      try {
        client.put(key, value);
        long done = System.nanoTime();
        if (sent > kill) {
          firstOk.accumulateAndGet(done, Math::min);
        }
      } catch (RuntimeException e) {
        LockSupport.parkNanos(1_000_000); // (unavailable, ambiguous, timed out: try again)
      }
    }
  }

  /** A key inside {@code d}'s span. */
  private static byte[] keyIn(RangeDescriptor d, String name) {
    byte[] start = d.getStartKey().toByteArray();
    byte[] base = start.length == 0 ? new byte[] {1} : start;
    byte[] suffix = ("failover-" + name).getBytes(StandardCharsets.ISO_8859_1);
    byte[] key = Arrays.copyOf(base, base.length + suffix.length);
    System.arraycopy(suffix, 0, key, base.length, suffix.length);
    return key;
  }

  private static String summary(long[] ms) {
    long[] s = ms.clone();
    Arrays.sort(s);
    return String.format(
        "p50 %d ms, p90 %d ms, p99 %d ms, max %d ms (min %d ms)",
        s[(int) Math.ceil(0.50 * s.length) - 1],
        s[(int) Math.ceil(0.90 * s.length) - 1],
        s[(int) Math.ceil(0.99 * s.length) - 1],
        s[s.length - 1],
        s[0]);
  }
}
