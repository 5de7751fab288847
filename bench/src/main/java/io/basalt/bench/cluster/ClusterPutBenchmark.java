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
 * Durable puts through the Java client against a real 3-node cluster: each thread is one client
 * issuing one put at a time (closed loop). Throughput and latency percentiles (SampleTime).
 *
 * <pre>
 * bench/run ClusterPutBenchmark                 # 64 threads, 100 B and 1 KiB values
 * bench/run ClusterPutBenchmark -t 256 -p valueSize=100
 * </pre>
 */
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 2, time = 10)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Threads(64)
public class ClusterPutBenchmark {
  @Benchmark
  public void put(ClusterState c, ClusterState.ThreadRandom r) {
    c.client.put(LoadGenerator.key(r.random.nextInt(ClusterState.KEYS)), c.value);
  }
}
