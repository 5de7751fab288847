package io.basalt.node.cli;

import io.basalt.api.RangeDescriptor;
import io.basalt.client.AmbiguousResultException;
import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import io.basalt.node.local.LocalCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
        "Start a local cluster, run a key-value workload and a bank of transactions, kill and"
            + " restart a leader, check every write and the bank's total.")
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

  @Option(
      names = "--insecure",
      description =
          "Run the nodes without TLS (by default they use mutual TLS, with certificates"
              + " made for the demo).")
  boolean insecure;

  private static final int KEYS = 2_000;

  /** Threads of the bank's transfers. */
  private static final int TELLERS = 4;

  private final PrintStream out = System.out;
  private LocalCluster cluster;

  @Override
  public Integer call() throws Exception {
    if (nodes < 1 || nodes > 9) {
      throw new IllegalArgumentException("--nodes must be between 1 and 9, got " + nodes);
    }
    Duration runFor = parseDuration(duration);
    cluster = LocalCluster.start(nodes, List.of("-Xmx512m"), List.of(), !insecure);
    // Ctrl-C (or any exit) stops every node, unless --keep asked to leave them running.
    Thread cleanup = new Thread(cluster::close, "demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    out.printf(
        "starting %d nodes (stores and logs in %s)%s%n",
        nodes,
        cluster.dir(),
        insecure
            ? ", without TLS"
            : ", with mutual TLS (certificates in " + cluster.certsDir() + ")");
    String clusterId = cluster.init(8, Math.min(3, nodes), Duration.ofSeconds(60));
    out.printf(
        "initialized cluster %s: meta range and 8 data ranges, %d replicas each%n",
        clusterId, Math.min(3, nodes));
    Workload w = new Workload();
    DemoBank bank = new DemoBank(out);
    BasaltClient.Builder builder =
        BasaltClient.builder()
            .seeds(cluster.addresses().toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(10));
    if (cluster.clientTls() != null) {
      builder.tls(cluster.clientTls());
    }
    try (BasaltClient client = builder.build()) {
      bank.open(client);
      out.printf(
          "opened %d bank accounts of %d each; %d tellers move money in transactions, an auditor"
              + " sums them%n",
          DemoBank.ACCOUNTS, DemoBank.INITIAL, TELLERS);
      bank.start(client, TELLERS);
      w.bank = bank;
      w.run(client, runFor);
      bank.stop();
      int failures = w.check(client);
      w.summary(failures);
      failures += (int) bank.check(client);
      if (keep) {
        cluster.keepRunning();
        out.println();
        out.println("the cluster keeps running:");
        for (int i = 1; i <= nodes; i++) {
          out.printf(
              "  node %d: %s (metrics %s://127.0.0.1:%d/metrics, log %s)%n",
              i,
              cluster.address(i),
              insecure ? "http" : "https",
              cluster.httpPort(i),
              cluster.log(i));
        }
        String certs = insecure ? "" : " --certs-dir " + cluster.certsDir();
        out.println("  try: bin/basalt status --host " + cluster.address(1) + certs);
        out.println(
            "       bin/basalt kv --host " + cluster.address(1) + certs + " put hello world");
        out.println(
            "  stop: kill "
                + String.join(" ", cluster.pids().stream().map(String::valueOf).toList()));
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
    DemoBank bank;
    long lastTransfers;

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
        cluster.leaders().values().forEach(n -> perNode.merge(n, 1, Integer::sum));
        long transfers = bank == null ? 0 : bank.transfers.get();
        out.printf(
            "%4ds  %7d ops/s  p50 %6.2f ms  p99 %7.2f ms  errors %d  bank %d tx/s%s  leaders %s%n",
            (now - start) / 1_000_000_000L,
            o - lastOps,
            pct[0] / 1e6,
            pct[1] / 1e6,
            e - lastErrors,
            transfers - lastTransfers,
            bank != null && bank.badAudits.get() > 0 ? " (WRONG TOTAL SEEN)" : "",
            perNode);
        lastTransfers = transfers;
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
      List<RangeDescriptor> ranges = cluster.ranges();
      Map<Long, Integer> leaders = cluster.leaders();
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
          killedNode, cluster.process(killedNode).pid(), killedRange, most);
      killedAt = System.nanoTime();
      try {
        cluster.kill(killedNode);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void restartKilled() {
      if (killedNode == 0) {
        return;
      }
      try {
        cluster.restart(killedNode);
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
