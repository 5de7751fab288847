package io.basalt.bench.cluster;

import io.basalt.client.BasaltClient;
import io.basalt.node.local.LocalCluster;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A real 3-node cluster for the cluster benchmarks: node processes on loopback started by the
 * trial's setup (with temporary stores, 8 data ranges, 3 replicas each) and stopped at its
 * teardown, plus one shared Java client. Keys are preloaded so that reads find values.
 */
@State(Scope.Benchmark)
public class ClusterState {
  /** Keys in the working set. */
  public static final int KEYS = 10_000;

  @Param({"100", "1024"})
  public int valueSize;

  /**
   * Whether the nodes and the client speak mutual TLS (certificates made for the trial) or
   * plaintext ({@code -p tls=false,true} measures both in one run).
   */
  @Param({"false"})
  public boolean tls;

  LocalCluster cluster;
  BasaltClient client;
  byte[] value;

  @Setup
  public void start() throws Exception {
    cluster = LocalCluster.start(3, List.of("-Xmx1g"), List.of(), tls);
    cluster.init(8, 3, Duration.ofSeconds(60));
    cluster.awaitLeaders(Duration.ofSeconds(60));
    BasaltClient.Builder builder =
        BasaltClient.builder()
            .seeds(cluster.addresses().toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(10));
    if (cluster.clientTls() != null) {
      builder.tls(cluster.clientTls());
    }
    client = builder.build();
    value = new byte[valueSize];
    new SplittableRandom(1).nextBytes(value);
    LoadGenerator.Target target =
        new LoadGenerator.Target() {
          @Override
          public void put(byte[] key, byte[] v) {
            client.put(key, v);
          }

          @Override
          public byte[] get(byte[] key) {
            return client.get(key);
          }

          @Override
          public void close() {}
        };
    LoadGenerator.preload(target, KEYS, 32, value);
  }

  @TearDown
  public void stop() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Each benchmark thread's own random source and zipfian generator. */
  @State(Scope.Thread)
  public static class ThreadRandom {
    final SplittableRandom random = new SplittableRandom(Thread.currentThread().threadId());
    final LoadGenerator.Zipf zipf = new LoadGenerator.Zipf(KEYS, 0.99);
  }
}
