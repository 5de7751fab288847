package io.basalt.bench.cluster;

import io.basalt.client.BasaltClient;
import io.basalt.node.local.LocalCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A closed-loop load generator: {@code threads} client threads, each issuing one request at a time
 * (like etcd's benchmark tool with that many clients), for a warm-up and then a measured period;
 * prints throughput and latency percentiles. It drives a running cluster ({@code --endpoints}) or
 * starts a local 3-node one ({@code --start-cluster}).
 *
 * <p>The client threads are virtual threads unless {@code --platform-threads} is given. The load
 * generator shares the machine with the servers it measures, and 64 platform threads blocking on
 * futures spend about half a core on parking and waking (a futex call and a context switch per
 * request, measured on 2 cores); virtual threads wait on the carrier pool instead and leave that
 * CPU to the servers. Every target gets the same kind of thread.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.basalt.bench.cluster.LoadGenerator \
 *     --start-cluster 3 --op put --threads 64 --value-size 100 --duration 30s
 * </pre>
 *
 * <p>{@code --op} is {@code put}, {@code get}, {@code mixed:F} (a share F of gets), {@code txn1} (a
 * transaction writing two keys in one range), {@code txn2} (two keys in two ranges) or {@code bank}
 * (transfers between {@code --accounts} accounts, 10 by default: see {@link BankLoad}).
 */
public final class LoadGenerator {
  /** What to run. */
  public record Options(
      String op,
      int threads,
      int valueSize,
      int keys,
      Duration warmup,
      Duration duration,
      boolean zipfian,
      boolean platformThreads) {}

  /** One side of a comparison: a key-value store with blocking put and get. */
  public interface Target extends AutoCloseable {
    void put(byte[] key, byte[] value) throws Exception;

    byte[] get(byte[] key) throws Exception;

    /** Writes {@code value} to both keys in one transaction. */
    default void txn(byte[] first, byte[] second, byte[] value) throws Exception {
      throw new UnsupportedOperationException("this target runs no transactions");
    }

    @Override
    void close();
  }

  /** The measured result. */
  public record Result(
      String name, long ops, long errors, double seconds, long p50, long p99, long p999) {
    public double opsPerSecond() {
      return ops / seconds;
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%-8s %10.0f ops/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  errors %d",
          name,
          opsPerSecond(),
          p50 / 1e6,
          p99 / 1e6,
          p999 / 1e6,
          errors);
    }
  }

  public static void main(String[] args) throws Exception {
    String op = "put";
    int threads = 64;
    int valueSize = 100;
    int keys = 100_000;
    Duration warmup = Duration.ofSeconds(10);
    Duration duration = Duration.ofSeconds(30);
    boolean zipfian = false;
    boolean platformThreads = false;
    String endpoints = null;
    String target = "basalt";
    int startCluster = 0;
    int accounts = 10;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--op" -> op = args[++i];
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--value-size" -> valueSize = Integer.parseInt(args[++i]);
        case "--keys" -> keys = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = duration(args[++i]);
        case "--duration" -> duration = duration(args[++i]);
        case "--zipfian" -> zipfian = true;
        case "--platform-threads" -> platformThreads = true;
        case "--endpoints" -> endpoints = args[++i];
        case "--target" -> target = args[++i];
        case "--start-cluster" -> startCluster = Integer.parseInt(args[++i]);
        case "--accounts" -> accounts = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Options o =
        new Options(op, threads, valueSize, keys, warmup, duration, zipfian, platformThreads);
    LocalCluster cluster = null;
    if (startCluster > 0) {
      List<String> jvmArgs = new ArrayList<>(List.of("-Xmx1g"));
      String extra = System.getProperty("basalt.bench.nodeJvmArgs", "").strip();
      if (!extra.isEmpty()) {
        jvmArgs.addAll(List.of(extra.split("\\s+")));
      }
      cluster = LocalCluster.start(startCluster, jvmArgs, List.of());
      cluster.init(8, Math.min(3, startCluster), Duration.ofSeconds(60));
      cluster.awaitLeaders(Duration.ofSeconds(60));
      endpoints = String.join(",", cluster.addresses());
    }
    if (endpoints == null) {
      throw new IllegalArgumentException("give --endpoints HOST:PORT,... or --start-cluster N");
    }
    if (op.equals("bank") && (target.equals("etcd") || accounts < 2)) {
      throw new IllegalArgumentException("--op bank runs on Basalt, with --accounts of 2 or more");
    }
    try (Target t =
        target.equals("etcd") ? etcd(endpoints.split(",")) : basalt(endpoints.split(","))) {
      if (op.equals("bank")) {
        try (BasaltClient bankClient =
            BasaltClient.builder()
                .seeds(endpoints.split(","))
                .callTimeout(Duration.ofSeconds(10))
                .build()) {
          System.out.println(BankLoad.run(bankClient, accounts, threads, warmup, duration));
        }
      } else {
        System.out.println(run(target, t, o));
      }
      if (cluster != null) {
        for (int n = 1; n <= cluster.size(); n++) {
          System.out.println("  node " + n + ": " + storageSummary(cluster.httpPort(n)));
        }
      }
    } finally {
      if (cluster != null) {
        cluster.close();
      }
    }
  }

  /** The node's group-commit figures since it started, from its /metrics. */
  static String storageSummary(int httpPort) {
    try {
      String text =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create("http://127.0.0.1:" + httpPort + "/metrics"))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString())
              .body();
      double fsyncs = metric(text, "basalt_storage_fsync_seconds_count");
      double fsyncSeconds = metric(text, "basalt_storage_fsync_seconds_sum");
      double unsynced = metric(text, "basalt_storage_unsynced_write_seconds_count");
      double proposals = metric(text, "basalt_raft_proposals_total");
      double applied = metric(text, "basalt_raft_applied_entries_total");
      return String.format(
          Locale.ROOT,
          "%.0f fsyncs (mean %.2f ms), %.0f unsynced writes, %.0f proposals, %.0f entries applied"
              + " (%.1f per fsync)",
          fsyncs,
          fsyncs == 0 ? 0 : fsyncSeconds / fsyncs * 1000,
          unsynced,
          proposals,
          applied,
          fsyncs == 0 ? 0 : applied / fsyncs);
    } catch (Exception e) {
      return "no metrics: " + e;
    }
  }

  private static double metric(String text, String name) {
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }

  static Duration duration(String s) {
    if (s.endsWith("s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    if (s.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    return Duration.ofSeconds(Long.parseLong(s));
  }

  /** Basalt through its Java client. */
  public static Target basalt(String... endpoints) {
    BasaltClient client =
        BasaltClient.builder().seeds(endpoints).callTimeout(Duration.ofSeconds(10)).build();
    return new Target() {
      @Override
      public void put(byte[] key, byte[] value) {
        client.put(key, value);
      }

      @Override
      public byte[] get(byte[] key) {
        return client.get(key);
      }

      @Override
      public void txn(byte[] first, byte[] second, byte[] value) {
        client.txn(tx -> {
          tx.put(first, value);
          tx.put(second, value);
          return null;
        });
      }

      @Override
      public void close() {
        client.close();
      }
    };
  }

  /**
   * etcd through jetcd: puts are durable (etcd fsyncs its WAL before acknowledging) and gets are
   * linearizable (jetcd's default, not serializable), so both sides do the same work.
   */
  public static Target etcd(String... endpoints) {
    io.etcd.jetcd.Client client = io.etcd.jetcd.Client.builder().endpoints(endpoints).build();
    io.etcd.jetcd.KV kv = client.getKVClient();
    return new Target() {
      @Override
      public void put(byte[] key, byte[] value) throws Exception {
        kv.put(io.etcd.jetcd.ByteSequence.from(key), io.etcd.jetcd.ByteSequence.from(value)).get();
      }

      @Override
      public byte[] get(byte[] key) throws Exception {
        var kvs = kv.get(io.etcd.jetcd.ByteSequence.from(key)).get().getKvs();
        return kvs.isEmpty() ? null : kvs.get(0).getValue().getBytes();
      }

      @Override
      public void txn(byte[] first, byte[] second, byte[] value) throws Exception {
        // etcd's Txn: both puts in one Raft entry, as atomic as Basalt's transaction.
        var v = io.etcd.jetcd.ByteSequence.from(value);
        kv.txn()
            .Then(
                io.etcd.jetcd.op.Op.put(
                    io.etcd.jetcd.ByteSequence.from(first),
                    v,
                    io.etcd.jetcd.options.PutOption.DEFAULT),
                io.etcd.jetcd.op.Op.put(
                    io.etcd.jetcd.ByteSequence.from(second),
                    v,
                    io.etcd.jetcd.options.PutOption.DEFAULT))
            .commit()
            .get();
      }

      @Override
      public void close() {
        client.close();
      }
    };
  }

  /** The key for index {@code i}: the first byte spreads keys over every pre-split range. */
  public static byte[] key(int i) {
    byte[] rest = String.format(Locale.ROOT, "key%09d", i).getBytes(StandardCharsets.US_ASCII);
    byte[] k = new byte[rest.length + 1];
    k[0] = (byte) (1 + Math.floorMod(i * 131, 255));
    System.arraycopy(rest, 0, k, 1, rest.length);
    return k;
  }

  /** A key in the same range as {@code k}: the same first byte. */
  static byte[] sibling(byte[] k) {
    byte[] s = Arrays.copyOf(k, k.length + 1);
    s[k.length] = 's';
    return s;
  }

  /**
   * A key half the key space away from {@code k} (first byte + 128): in another of the ranges
   * {@code init} cuts evenly over the first byte.
   */
  static byte[] farAway(byte[] k) {
    byte[] f = k.clone();
    f[0] = (byte) (1 + Math.floorMod((k[0] & 0xff) - 1 + 127, 255));
    return f;
  }

  /** Loads every key once (so reads find values), then runs the workload. */
  public static Result run(String name, Target target, Options o) throws InterruptedException {
    byte[] value = new byte[o.valueSize()];
    new SplittableRandom(7).nextBytes(value);
    if (!o.op().equals("put") && !o.op().startsWith("txn")) {
      preload(target, o.keys(), Math.min(64, o.threads() * 2), value);
    }
    long[][] samples = new long[o.threads()][];
    int[] counts = new int[o.threads()];
    AtomicLong errors = new AtomicLong();
    long start = System.nanoTime();
    long measureFrom = start + o.warmup().toNanos();
    long end = measureFrom + o.duration().toNanos();
    boolean txn = o.op().equals("txn1") || o.op().equals("txn2");
    boolean oneRange = o.op().equals("txn1");
    double readFraction =
        switch (o.op()) {
          case "put", "txn1", "txn2" -> 0.0;
          case "get" -> 1.0;
          default -> Double.parseDouble(o.op().substring(o.op().indexOf(':') + 1));
        };
    Zipf zipf = o.zipfian() ? new Zipf(o.keys(), 0.99) : null;
    CountDownLatch done = new CountDownLatch(o.threads());
    for (int t = 0; t < o.threads(); t++) {
      int id = t;
      samples[t] = new long[1 << 16];
      Thread th =
          (o.platformThreads() ? Thread.ofPlatform().daemon(true) : Thread.ofVirtual())
              .name("load-" + t)
              .unstarted(() -> {
                SplittableRandom r = new SplittableRandom(id * 7919L + 1);
                try {
                  while (true) {
                    long t0 = System.nanoTime();
                    if (t0 >= end) {
                      return;
                    }
                    int k = zipf != null ? zipf.next(r) : r.nextInt(o.keys());
                    try {
                      if (txn) {
                        byte[] first = key(k);
                        target.txn(first, oneRange ? sibling(first) : farAway(first), value);
                      } else if (r.nextDouble() < readFraction) {
                        target.get(key(k));
                      } else {
                        target.put(key(k), value);
                      }
                    } catch (Exception e) {
                      if (t0 >= measureFrom) {
                        errors.incrementAndGet();
                      }
                      continue;
                    }
                    if (t0 >= measureFrom) {
                      long[] s = samples[id];
                      if (counts[id] == s.length) {
                        samples[id] = s = Arrays.copyOf(s, s.length * 2);
                      }
                      s[counts[id]++] = System.nanoTime() - t0;
                    }
                  }
                } finally {
                  done.countDown();
                }
              });
      th.start();
    }
    done.await();
    int total = 0;
    for (int c : counts) {
      total += c;
    }
    long[] all = new long[total];
    int at = 0;
    for (int t = 0; t < o.threads(); t++) {
      System.arraycopy(samples[t], 0, all, at, counts[t]);
      at += counts[t];
    }
    Arrays.sort(all);
    double seconds = o.duration().toNanos() / 1e9;
    return new Result(
        name,
        total,
        errors.get(),
        seconds,
        percentile(all, 0.50),
        percentile(all, 0.99),
        percentile(all, 0.999));
  }

  private static long percentile(long[] sorted, double p) {
    return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, sorted.length * p)];
  }

  /** Writes every key once, from {@code threads} threads. */
  public static void preload(Target target, int keys, int threads, byte[] value)
      throws InterruptedException {
    List<Thread> ts = new ArrayList<>();
    AtomicLong next = new AtomicLong();
    for (int t = 0; t < threads; t++) {
      Thread th =
          new Thread(() -> {
            long i;
            while ((i = next.getAndIncrement()) < keys) {
              for (int attempt = 0; ; attempt++) {
                try {
                  target.put(key((int) i), value);
                  break;
                } catch (Exception e) {
                  if (attempt > 10) {
                    throw new IllegalStateException("preload failed at key " + i, e);
                  }
                  LockSupport.parkNanos(10_000_000L);
                }
              }
            }
          });
      ts.add(th);
      th.start();
    }
    for (Thread t : ts) {
      t.join();
    }
  }

  /** Zipfian key choice (YCSB's generator, Gray et al.). */
  public static final class Zipf {
    private final int n;
    private final double theta;
    private final double alpha;
    private final double zetan;
    private final double eta;

    public Zipf(int n, double theta) {
      this.n = n;
      this.theta = theta;
      double z = 0;
      for (int i = 1; i <= n; i++) {
        z += 1 / Math.pow(i, theta);
      }
      this.zetan = z;
      double zeta2 = 1 + 1 / Math.pow(2, theta);
      this.alpha = 1 / (1 - theta);
      this.eta = (1 - Math.pow(2.0 / n, 1 - theta)) / (1 - zeta2 / zetan);
    }

    public int next(SplittableRandom r) {
      double u = r.nextDouble();
      double uz = u * zetan;
      if (uz < 1) {
        return 0;
      }
      if (uz < 1 + Math.pow(0.5, theta)) {
        return 1;
      }
      return (int) (n * Math.pow(eta * u - eta + 1, alpha)) % n;
    }
  }
}
