package io.basalt.bench.cluster;

import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A contended bank for {@link LoadGenerator} ({@code --op bank}): {@code accounts} accounts spread
 * over the ranges, and every thread moving money between two random ones in a transaction (locking
 * reads of both, then the two writes), closed loop. Reports commits per second, commit latency, the
 * attempts each commit took (how often conflicts made it run again), the fewest commits in any
 * 1-second window (a livelock shows as a window with none), and the total at the end, which must
 * not have changed.
 */
final class BankLoad {
  private BankLoad() {}

  private static final int INITIAL = 1_000;

  static byte[] account(int i) {
    return LoadGenerator.key(i * 37 + 11);
  }

  static String run(BasaltClient client, int accounts, int threads, Duration warmup, Duration time)
      throws InterruptedException {
    client.txn(tx -> {
      for (int i = 0; i < accounts; i++) {
        tx.put(account(i), String.valueOf(INITIAL).getBytes(StandardCharsets.US_ASCII));
      }
      return null;
    });
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    long end = measureFrom + time.toNanos();
    int windows = (int) Math.max(1, time.toSeconds());
    AtomicLongArray perWindow = new AtomicLongArray(windows);
    List<long[]> latencies = new ArrayList<>();
    List<int[]> attempts = new ArrayList<>();
    int[] counts = new int[threads];
    AtomicLong failures = new AtomicLong();
    CountDownLatch done = new CountDownLatch(threads);
    for (int t = 0; t < threads; t++) {
      int id = t;
      long[] lat = new long[1 << 16];
      int[] att = new int[1 << 16];
      latencies.add(lat);
      attempts.add(att);
      Thread.ofVirtual()
          .name("bank-" + t)
          .start(() -> {
            SplittableRandom r = new SplittableRandom(id * 7919L + 3);
            try {
              while (true) {
                long t0 = System.nanoTime();
                if (t0 >= end) {
                  return;
                }
                int from = r.nextInt(accounts);
                int to = (from + 1 + r.nextInt(accounts - 1)) % accounts;
                int amount = 1 + r.nextInt(10);
                int[] tries = {0};
                try {
                  client.txn(tx -> {
                    tries[0]++;
                    int a = parse(tx.getForUpdate(account(from)));
                    int b = parse(tx.getForUpdate(account(to)));
                    if (a >= amount) {
                      tx.put(account(from), bytes(a - amount));
                      tx.put(account(to), bytes(b + amount));
                    }
                    return null;
                  });
                } catch (BasaltException e) {
                  if (t0 >= measureFrom) {
                    failures.incrementAndGet();
                  }
                  continue;
                }
                long t1 = System.nanoTime();
                if (t0 >= measureFrom && t1 < end && counts[id] < lat.length) {
                  lat[counts[id]] = t1 - t0;
                  att[counts[id]] = tries[0];
                  counts[id]++;
                  perWindow.incrementAndGet((int) ((t1 - measureFrom) / 1_000_000_000L));
                }
              }
            } finally {
              done.countDown();
            }
          });
    }
    done.await();
    int total = Arrays.stream(counts).sum();
    long[] allLat = new long[total];
    int[] allAtt = new int[total];
    int at = 0;
    for (int t = 0; t < threads; t++) {
      System.arraycopy(latencies.get(t), 0, allLat, at, counts[t]);
      System.arraycopy(attempts.get(t), 0, allAtt, at, counts[t]);
      at += counts[t];
    }
    Arrays.sort(allLat);
    Arrays.sort(allAtt);
    long fewest = Long.MAX_VALUE;
    for (int w = 0; w < windows; w++) {
      fewest = Math.min(fewest, perWindow.get(w));
    }
    long sum = 0;
    for (int i = 0; i < accounts; i++) {
      sum += parse(client.get(account(i)));
    }
    return String.format(
        Locale.ROOT,
        "bank     %10.1f commits/s  p50 %7.3f ms  p99 %7.3f ms  attempts p50 %d p99 %d max %d"
            + "  fewest commits in a 1-s window %d  failed %d  total %d (%s)",
        total / (time.toNanos() / 1e9),
        at(allLat, 0.50) / 1e6,
        at(allLat, 0.99) / 1e6,
        total == 0 ? 0 : allAtt[(int) Math.min(total - 1, total * 0.50)],
        total == 0 ? 0 : allAtt[(int) Math.min(total - 1, total * 0.99)],
        total == 0 ? 0 : allAtt[total - 1],
        fewest,
        failures.get(),
        sum,
        sum == (long) accounts * INITIAL ? "kept" : "CHANGED");
  }

  private static long at(long[] sorted, double p) {
    return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, sorted.length * p)];
  }

  private static int parse(byte[] v) {
    return Integer.parseInt(new String(v, StandardCharsets.US_ASCII));
  }

  private static byte[] bytes(int v) {
    return String.valueOf(v).getBytes(StandardCharsets.US_ASCII);
  }
}
