package io.basalt.bench.raft;

import io.basalt.range.raft.RaftNode;
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
 * Committed entries per second through the Raft core, with an in-memory network and the in-memory
 * engine (through the real {@code EngineRaftStorage}), for 1 group and for 1,000 groups of 3
 * replicas on 3 nodes. One operation proposes one 64-byte entry to every group's leader and drives
 * rounds (one group-committed write per node per round) until all of them are committed and
 * applied; the {@code entries} counter reports committed entries per second.
 *
 * <p>Run: {@code bench/run RaftCoreBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class RaftCoreBenchmark {
  @Param({"1", "1000"})
  public int groups;

  private InMemoryCluster cluster;
  private final byte[] payload = new byte[64];

  /** Per-second counter reported next to the score. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counters {
    public long entries;
  }

  @Setup(Level.Iteration)
  public void setUp() {
    cluster = new InMemoryCluster(groups, 0);
  }

  @Benchmark
  public void proposeToEveryGroupAndCommit(Counters counters) {
    long before = cluster.entriesCommitted;
    for (int g = 0; g < groups; g++) {
      RaftNode leader = cluster.leader(g);
      if (leader == null || !leader.propose(payload).accepted()) {
        throw new IllegalStateException("group " + g + " refused a proposal");
      }
    }
    cluster.pumpUntilQuiet();
    long committed = cluster.entriesCommitted - before;
    if (committed < groups) {
      throw new IllegalStateException("only " + committed + " of " + groups + " entries committed");
    }
    counters.entries += committed;
  }
}
