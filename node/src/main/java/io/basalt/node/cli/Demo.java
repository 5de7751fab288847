package io.basalt.node.cli;

import io.basalt.api.InitClusterRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.StatusRequest;
import io.basalt.api.StatusResponse;
import io.basalt.client.AmbiguousResultException;
import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code basalt demo}: a local cluster of separate node processes with temporary stores, a live
 * workload through the Java client, the leader of the busiest range killed halfway and restarted
 * later, and a consistency check at the end that reads back every acknowledged write.
 *
 * <p>Each key has one writer (worker {@code i} owns the keys {@code i, i + W, ...}), so the value a
 * key must hold is known: its last acknowledged write, or a later write whose outcome was
 * ambiguous. Workers also read their own keys during the run and check the same thing.
 */
@Command(
    name = "demo",
    description =
        "Start a local cluster, run a workload, kill and restart a leader, check every write.")
final class Demo implements Callable<Integer> {
  @Option(names = "--nodes", defaultValue = "3", description = "Nodes (default: ${DEFAULT-VALUE}).")
  int nodes;

  @Option(
      names = "--duration",
      defaultValue = "60s",
      description = "How long the workload runs, e.g. 20s or 2m (default: ${DEFAULT-VALUE}).")
  String duration;

  @Option(
      names = "--workers",
      defaultValue = "16",
      description = "Concurrent client threads (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(
      names = "--keep",
      description = "Leave the cluster running at the end and print how to connect.")
  boolean keep;

  private static final int KEYS = 2_000;

  private final PrintStream out = System.out;
  private final List<Process> processes = new ArrayList<>();
  private final List<String> addresses = new ArrayList<>();
  private final List<Integer> httpPorts = new ArrayList<>();
  private Path dir;
  private volatile boolean keepProcesses;

  @Override
  public Integer call() throws Exception {
    if (nodes < 1 || nodes > 9) {
      throw new IllegalArgumentException("--nodes must be between 1 and 9, got " + nodes);
    }
    Duration runFor = parseDuration(duration);
    dir = Files.createTempDirectory("basalt-demo-");
    Thread cleanup = new Thread(this::stopAll, "demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    out.printf("starting %d nodes (stores and logs in %s)%n", nodes, dir);
    for (int i = 1; i <= nodes; i++) {
      addresses.add("127.0.0.1:" + freePort());
      httpPorts.add(freePort());
    }
    for (int i = 1; i <= nodes; i++) {
      processes.add(startNode(i));
    }
    init();
    Workload w = new Workload();
    try (BasaltClient client =
        BasaltClient.builder()
            .seeds(addresses.toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(10))
            .build()) {
      w.run(client, runFor);
      int failures = w.check(client);
      w.summary(failures);
      if (keep) {
        keepProcesses = true;
        out.println();
        out.println("the cluster keeps running:");
        for (int i = 0; i < nodes; i++) {
          out.printf(
              "  node %d: %s (metrics http://127.0.0.1:%d/metrics, log %s)%n",
              i + 1, addresses.get(i), httpPorts.get(i), dir.resolve("node-" + (i + 1) + ".log"));
        }
        out.println("  try: bin/basalt status --host " + addresses.get(0));
        out.println("       bin/basalt kv --host " + addresses.get(0) + " put hello world");
        out.println("  stop: kill " + pids());
      }
      return failures == 0 ? 0 : 1;
    }
  }

  static Duration parseDuration(String s) {
    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
      }
      if (t.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
      }
      return Duration.ofSeconds(Long.parseLong(t));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a duration: '" + s + "' (try 20s or 2m)", e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private Process startNode(int id) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Xmx512m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(BasaltCli.class.getName());
    cmd.add("start");
    cmd.add("--id=" + id);
    cmd.add("--store=" + dir.resolve("store-" + id));
    cmd.add("--listen=" + addresses.get(id - 1));
    cmd.add("--http=127.0.0.1:" + httpPorts.get(id - 1));
    cmd.add("--join=" + String.join(",", addresses));
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(
            ProcessBuilder.Redirect.appendTo(dir.resolve("node-" + id + ".log").toFile()))
        .start();
  }

  private void init() {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String last = "no node answered";
    while (System.nanoTime() < deadline) {
      try (WireClient c = WireClient.connect(addresses.get(0), Duration.ofSeconds(5))) {
        KvResponse r =
            c.call(
                KvRequest.newBuilder()
                    .setInitCluster(
                        InitClusterRequest.newBuilder().setReplication(Math.min(3, nodes)))
                    .build());
        if (!r.hasError()) {
          out.printf(
              "initialized cluster %s: %d ranges, %d replicas each%n",
              r.getInitCluster().getClusterId(),
              r.getInitCluster().getRangesCount(),
              Math.min(3, nodes));
          return;
        }
        last = BasaltCli.describe(r);
      } catch (RuntimeException e) {
        last = e.getMessage();
      }
      LockSupport.parkNanos(Duration.ofMillis(300).toNanos());
    }
    throw new IllegalStateException("the cluster did not initialize: " + last);
  }

  private Map<Integer, StatusResponse> statuses() {
    Map<Integer, StatusResponse> out = new TreeMap<>();
    for (int i = 0; i < nodes; i++) {
      if (!processes.get(i).isAlive()) {
        continue;
      }
      try (WireClient c = WireClient.connect(addresses.get(i), Duration.ofSeconds(1))) {
        KvResponse r =
            c.call(KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        if (r.hasStatus()) {
          out.put(i + 1, r.getStatus());
        }
      } catch (RuntimeException e) {
        // down or busy: left out of this status
      }
    }
    return out;
  }

  /** Range id to the node leading it, from the live nodes' status. */
  private Map<Long, Integer> leaders() {
    Map<Long, Integer> out = new TreeMap<>();
    statuses()
        .forEach((node, s) -> {
          for (ReplicaStatus r : s.getReplicasList()) {
            if (r.getRole().equals("LEADER")) {
              out.put(r.getRange().getRangeId(), node);
            }
          }
        });
    return out;
  }

  private List<RangeDescriptor> ranges() {
    for (StatusResponse s : statuses().values()) {
      List<RangeDescriptor> out = new ArrayList<>();
      for (ReplicaStatus r : s.getReplicasList()) {
        out.add(r.getRange());
      }
      if (!out.isEmpty()) {
        return out;
      }
    }
    return List.of();
  }

  private String pids() {
    StringBuilder b = new StringBuilder();
    for (Process p : processes) {
      b.append(p.pid()).append(' ');
    }
    return b.toString().trim();
  }

  private void stopAll() {
    if (keepProcesses) {
      return;
    }
    for (Process p : processes) {
      p.destroyForcibly();
    }
    for (Process p : processes) {
      try {
        p.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    deleteQuietly(dir);
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: it is a temporary directory
    }
  }

  /** The demo workload: puts and gets by single-writer workers, with the fault in the middle. */
  private final class Workload {
    final byte[][] keys = new byte[KEYS][];

    /** The last acknowledged value of each key (null: none yet). */
    final String[] acked = new String[KEYS];

    /** Values written after the last acknowledged one whose outcome is unknown. */
    final Map<Integer, List<String>> ambiguous = new ConcurrentHashMap<>();

    final AtomicLong ops = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final AtomicLong staleReads = new AtomicLong();
    final AtomicLongArray opsByFirstByte = new AtomicLongArray(256);
    final long[] lastWriteOkByFirstByte = new long[256];
    volatile boolean stop;
    long killedAt;
    int killedNode;
    long killedRange;
    RangeDescriptor killedDescriptor;
    long failoverNanos = -1;

    Workload() {
      for (int i = 0; i < KEYS; i++) {
        // The first byte spreads keys over the key space, hence over every pre-split range.
        byte first = (byte) (1 + (i * 37) % 255);
        byte[] rest = ("demo-" + i).getBytes(StandardCharsets.UTF_8);
        byte[] k = new byte[rest.length + 1];
        k[0] = first;
        System.arraycopy(rest, 0, k, 1, rest.length);
        keys[i] = k;
      }
    }

    void run(BasaltClient client, Duration runFor) throws InterruptedException {
      long start = System.nanoTime();
      long end = start + runFor.toNanos();
      List<Thread> threads = new ArrayList<>();
      LatencyWindow window = new LatencyWindow();
      for (int t = 0; t < workers; t++) {
        int id = t;
        Thread th = new Thread(() -> work(client, id, window), "demo-worker-" + t);
        th.setDaemon(true);
        threads.add(th);
        th.start();
      }
      boolean killed = false;
      boolean restarted = false;
      long lastOps = 0;
      long lastErrors = 0;
      long nextLine = start + 1_000_000_000L;
      while (System.nanoTime() < end) {
        LockSupport.parkNanos(Math.max(1, nextLine - System.nanoTime()));
        nextLine += 1_000_000_000L;
        long now = System.nanoTime();
        if (!killed && now - start >= runFor.toNanos() / 2) {
          killed = true;
          killBusiestLeader();
        }
        if (killed && !restarted && now - start >= runFor.toNanos() * 3 / 4) {
          restarted = true;
          restartKilled();
        }
        if (killedAt != 0 && failoverNanos < 0) {
          byte first = killedDescriptor == null ? 0 : firstByteIn(killedDescriptor);
          synchronized (lastWriteOkByFirstByte) {
            long ok = lastWriteOkByFirstByte[first & 0xff];
            if (ok > killedAt) {
              failoverNanos = ok - killedAt;
              out.printf(
                  "range %d is writable again after %d ms%n",
                  killedRange, failoverNanos / 1_000_000);
            }
          }
        }
        long o = ops.get();
        long e = errors.get();
        long[] pct = window.drain();
        Map<Integer, Integer> perNode = new TreeMap<>();
        leaders().values().forEach(n -> perNode.merge(n, 1, Integer::sum));
        out.printf(
            "%4ds  %7d ops/s  p50 %6.2f ms  p99 %7.2f ms  errors %d  leaders %s%n",
            (now - start) / 1_000_000_000L,
            o - lastOps,
            pct[0] / 1e6,
            pct[1] / 1e6,
            e - lastErrors,
            perNode);
        lastOps = o;
        lastErrors = e;
      }
      stop = true;
      for (Thread th : threads) {
        th.join(30_000);
      }
    }

    private byte firstByteIn(RangeDescriptor d) {
      for (byte[] k : keys) {
        if (io.basalt.api.KeySpace.contains(d, k)) {
          return k[0];
        }
      }
      return 0;
    }

    void work(BasaltClient client, int worker, LatencyWindow window) {
      SplittableRandom random = new SplittableRandom(worker);
      long seq = 0;
      while (!stop) {
        int k = worker + workers * random.nextInt(KEYS / workers);
        byte[] key = keys[k];
        long t0 = System.nanoTime();
        try {
          if (random.nextBoolean()) {
            String v = "w" + worker + "-" + (++seq);
            try {
              client.put(key, v.getBytes(StandardCharsets.UTF_8));
              synchronized (this) {
                acked[k] = v;
                ambiguous.remove(k);
              }
              synchronized (lastWriteOkByFirstByte) {
                lastWriteOkByFirstByte[key[0] & 0xff] = System.nanoTime();
              }
            } catch (AmbiguousResultException e) {
              ambiguous.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
              throw e;
            }
          } else {
            byte[] got = client.get(key);
            if (!allowed(k, got == null ? null : new String(got, StandardCharsets.UTF_8))) {
              staleReads.incrementAndGet();
            }
          }
          ops.incrementAndGet();
          opsByFirstByte.incrementAndGet(key[0] & 0xff);
          window.record(System.nanoTime() - t0);
        } catch (BasaltException e) {
          errors.incrementAndGet();
        }
      }
    }

    synchronized boolean allowed(int k, String value) {
      if (java.util.Objects.equals(value, acked[k])) {
        return true;
      }
      List<String> maybe = ambiguous.get(k);
      return maybe != null && maybe.contains(value);
    }

    void killBusiestLeader() {
      List<RangeDescriptor> ranges = ranges();
      Map<Long, Integer> leaders = leaders();
      RangeDescriptor busiest = null;
      long most = -1;
      for (RangeDescriptor d : ranges) {
        if (d.getRangeId() == io.basalt.api.KeySpace.META_RANGE_ID) {
          continue;
        }
        long n = 0;
        for (int b = 1; b < 256; b++) {
          if (io.basalt.api.KeySpace.contains(d, new byte[] {(byte) b})) {
            n += opsByFirstByte.get(b);
          }
        }
        if (n > most && leaders.containsKey(d.getRangeId())) {
          most = n;
          busiest = d;
        }
      }
      if (busiest == null || nodes < 3) {
        out.println("(not killing a leader: it needs 3 nodes and a led range)");
        return;
      }
      killedRange = busiest.getRangeId();
      killedDescriptor = busiest;
      killedNode = leaders.get(killedRange);
      out.printf(
          "killing node %d (pid %d), the leader of range %d, the busiest (%d ops)%n",
          killedNode, processes.get(killedNode - 1).pid(), killedRange, most);
      killedAt = System.nanoTime();
      processes.get(killedNode - 1).destroyForcibly();
    }

    void restartKilled() {
      if (killedNode == 0) {
        return;
      }
      try {
        processes.get(killedNode - 1).waitFor();
        processes.set(killedNode - 1, startNode(killedNode));
        out.printf("restarted node %d%n", killedNode);
      } catch (IOException | InterruptedException e) {
        out.println("could not restart node " + killedNode + ": " + e);
      }
    }

    /** Reads every key back; returns the number of keys whose value is not an allowed one. */
    int check(BasaltClient client) {
      int bad = 0;
      int written = 0;
      for (int k = 0; k < KEYS; k++) {
        String got;
        try {
          byte[] v = client.get(keys[k]);
          got = v == null ? null : new String(v, StandardCharsets.UTF_8);
        } catch (BasaltException e) {
          out.printf("consistency check: key %d unreadable: %s%n", k, e.getMessage());
          bad++;
          continue;
        }
        if (acked[k] != null) {
          written++;
        }
        if (!allowed(k, got)) {
          bad++;
          if (bad <= 5) {
            out.printf(
                "consistency check: key %d holds %s, expected %s%s%n",
                k, got, acked[k], ambiguous.containsKey(k) ? " or one of " + ambiguous.get(k) : "");
          }
        }
      }
      checkedKeys = written;
      return bad + (int) Math.min(Integer.MAX_VALUE, staleReads.get());
    }

    int checkedKeys;

    void summary(int failures) {
      out.println();
      out.println("summary");
      out.printf("  operations      %d (%d errors)%n", ops.get(), errors.get());
      out.printf(
          "  failover        %s%n",
          killedNode == 0
              ? "none (no leader was killed)"
              : failoverNanos < 0
                  ? "range " + killedRange + " did not take a write again before the end"
                  : "range "
                      + killedRange
                      + " writable again "
                      + failoverNanos / 1_000_000
                      + " ms after node "
                      + killedNode
                      + " was killed");
      out.printf("  stale reads     %d%n", staleReads.get());
      out.printf(
          "  consistency check: %s (%d keys with acknowledged writes read back)%n",
          failures == 0 ? "OK" : "FAILED (" + failures + " problems)", checkedKeys);
    }
  }

  /** Latencies of the last second, for the progress line's percentiles. */
  static final class LatencyWindow {
    private long[] values = new long[1 << 16];
    private int size;

    synchronized void record(long nanos) {
      if (size == values.length) {
        values = Arrays.copyOf(values, size * 2);
      }
      values[size++] = nanos;
    }

    /** The p50 and p99 of what was recorded since the last call, and a reset. */
    synchronized long[] drain() {
      if (size == 0) {
        return new long[] {0, 0};
      }
      long[] copy = Arrays.copyOf(values, size);
      size = 0;
      Arrays.sort(copy);
      return new long[] {
        copy[copy.length / 2], copy[Math.min(copy.length - 1, copy.length * 99 / 100)]
      };
    }
  }
}
