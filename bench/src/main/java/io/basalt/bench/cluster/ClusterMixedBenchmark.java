package io.basalt.bench.cluster;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * YCSB-style mixes through the Java client against a real 3-node cluster: A (50% reads, 50%
 * updates), B (95% reads) and C (read only), with uniform or zipfian (0.99) key choice.
 *
 * <pre>
 * bench/run ClusterMixedBenchmark
 * bench/run ClusterMixedBenchmark -p workload=A -p distribution=zipfian -p valueSize=100 -t 64
 * </pre>
 */
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 2, time = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Threads(64)
public class ClusterMixedBenchmark {
  /** The mix. */
  @State(Scope.Benchmark)
  public static class Mix {
    @Param({"A", "B", "C"})
    public String workload;

    @Param({"uniform", "zipfian"})
    public String distribution;

    double readFraction() {
      return switch (workload) {
        case "A" -> 0.5;
        case "B" -> 0.95;
        case "C" -> 1.0;
        default -> throw new IllegalArgumentException("workload A, B or C, got " + workload);
      };
    }
  }

  @Benchmark
  public Object op(ClusterState c, Mix mix, ClusterState.ThreadRandom r) {
    int k =
        mix.distribution.equals("zipfian")
            ? r.zipf.next(r.random)
            : r.random.nextInt(ClusterState.KEYS);
    byte[] key = LoadGenerator.key(k);
    if (r.random.nextDouble() < mix.readFraction()) {
      return c.client.get(key);
    }
    c.client.put(key, c.value);
    return null;
  }
}
