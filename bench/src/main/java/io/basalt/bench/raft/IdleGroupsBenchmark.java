package io.basalt.bench.raft;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Messages sent by 10,000 idle 3-replica groups, with quiescence ({@code quiesceAfterTicks=20}) and
 * without it ({@code 0}). One operation is one tick of every replica plus the rounds it causes; the
 * {@code messages} and {@code ticks} counters are totals per iteration, so messages per tick is
 * their ratio, and messages per second is that times the tick rate (10 ticks/s at the node's 100 ms
 * tick).
 *
 * <p>Run: {@code bench/run IdleGroupsBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class IdleGroupsBenchmark {
  @Param({"10000"})
  public int groups;

  @Param({"20", "0"})
  public int quiesceAfterTicks;

  private InMemoryCluster cluster;

  /** Totals per iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Counters {
    public long messages;
    public long ticks;
  }

  @Setup(Level.Trial)
  public void setUp() {
    cluster = new InMemoryCluster(groups, quiesceAfterTicks);
    // Let every group settle (and, with quiescence on, go quiet).
    for (int i = 0; i < 3 * Math.max(quiesceAfterTicks, 10); i++) {
      cluster.tickAll();
      cluster.pumpUntilQuiet();
    }
  }

  @Benchmark
  public void tickEveryReplica(Counters counters) {
    long before = cluster.messagesSent;
    cluster.tickAll();
    cluster.pumpUntilQuiet();
    counters.messages += cluster.messagesSent - before;
    counters.ticks++;
  }
}
