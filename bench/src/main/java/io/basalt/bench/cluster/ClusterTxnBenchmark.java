package io.basalt.bench.cluster;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Transactions through the Java client against a real 3-node cluster, beside a plain put in the
 * same run: each thread is one client running one transaction at a time (closed loop), writing two
 * keys in one range ({@code oneRange}: committed in one request) or in two ranges ({@code
 * twoRanges}: intents in both, then the record flipped). Throughput and latency percentiles
 * (SampleTime).
 *
 * <pre>
 * bench/run ClusterTxnBenchmark -p valueSize=100             # 64 threads
 * bench/run ClusterTxnBenchmark -p valueSize=100 -t 1        # one client: latency
 * </pre>
 */
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 2, time = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Threads(64)
public class ClusterTxnBenchmark {
  @Benchmark
  public void put(ClusterState c, ClusterState.ThreadRandom r) {
    c.client.put(LoadGenerator.key(r.random.nextInt(ClusterState.KEYS)), c.value);
  }

  @Benchmark
  public void oneRange(ClusterState c, ClusterState.ThreadRandom r) {
    byte[] first = LoadGenerator.key(r.random.nextInt(ClusterState.KEYS));
    byte[] second = LoadGenerator.sibling(first);
    c.client.txn(tx -> {
      tx.put(first, c.value);
      tx.put(second, c.value);
      return null;
    });
  }

  @Benchmark
  public void twoRanges(ClusterState c, ClusterState.ThreadRandom r) {
    byte[] first = LoadGenerator.key(r.random.nextInt(ClusterState.KEYS));
    byte[] second = LoadGenerator.farAway(first);
    c.client.txn(tx -> {
      tx.put(first, c.value);
      tx.put(second, c.value);
      return null;
    });
  }
}
