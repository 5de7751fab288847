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
 * Linearizable gets (leader lease or ReadIndex) through the Java client against a real 3-node
 * cluster, over preloaded keys. Throughput and latency percentiles (SampleTime).
 *
 * <pre>
 * bench/run ClusterGetBenchmark
 * bench/run ClusterGetBenchmark -t 16 -p valueSize=1024
 * </pre>
 */
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 2, time = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Threads(64)
public class ClusterGetBenchmark {
  @Benchmark
  public byte[] get(ClusterState c, ClusterState.ThreadRandom r) {
    return c.client.get(LoadGenerator.key(r.random.nextInt(ClusterState.KEYS)));
  }
}
