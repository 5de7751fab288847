package io.basalt.bench.storage;

import com.google.protobuf.ByteString;
import io.basalt.api.Entry;
import io.basalt.api.HardState;
import io.basalt.range.log.LogWriter;
import io.basalt.range.log.RaftLogStore;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Durable Raft log appends per second through the {@link LogWriter}, with group commit ({@code
 * mode=group}: everything queued during one fsync goes into the next) against one fsync per append
 * ({@code mode=per-append}), for 1, 8 and 64 concurrent writers.
 *
 * <p>Each writer is a thread that owns one range and, in a closed loop, appends one 256-byte entry
 * plus its hard state and waits until it is durable. The writers run for the whole iteration; one
 * benchmark operation is one durable append by any of them (the JMH thread takes one permit per
 * completed append), so the score is durable appends/s. The {@code fsyncs} counter reports
 * fsyncs/s.
 *
 * <p>Run: {@code bench/run LogAppendBenchmark} (or {@code java --enable-native-access=ALL-UNNAMED
 * -jar bench/target/benchmarks.jar LogAppendBenchmark -rf json -rff log-append.json}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class LogAppendBenchmark {
  @Param({"1", "8", "64"})
  public int writers;

  @Param({"group", "per-append"})
  public String mode;

  private Path directory;
  private RocksDbEngine engine;
  private LogWriter writer;
  private final Semaphore completed = new Semaphore(0);
  private volatile boolean running;
  private List<Thread> threads;
  private long syncsSeen;

  /** Per-second counters JMH reports next to the score. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counters {
    public long fsyncs;
  }

  private void appendLoop(RaftLogStore log) {
    ByteString payload = ByteString.copyFrom(new byte[256]);
    long term = 1;
    while (running) {
      long index = log.lastIndex() + 1;
      WriteBatch batch = new WriteBatch();
      log.append(
          batch,
          List.of(Entry.newBuilder().setTerm(term).setIndex(index).setData(payload).build()));
      log.setHardState(batch, HardState.newBuilder().setTerm(term).setCommit(index).build());
      try {
        writer.writeDurably(batch);
      } catch (StorageException e) {
        if (running) {
          throw e;
        }
        return;
      }
      completed.release();
    }
  }

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    directory = Files.createTempDirectory("basalt-log-append");
    engine = RocksDbEngine.open(directory);
    writer =
        mode.equals("group")
            ? LogWriter.groupCommit(engine)
            : new LogWriter(engine, 1, Long.MAX_VALUE);
    running = true;
    threads = new ArrayList<>();
    for (int range = 1; range <= writers; range++) {
      RaftLogStore log = new RaftLogStore(engine, range);
      threads.add(
          Thread.ofPlatform().daemon(true).name("writer-" + range).start(() -> appendLoop(log)));
    }
    syncsSeen = writer.syncCount();
  }

  @Benchmark
  public void durableAppend(Counters counters) throws InterruptedException {
    completed.acquire();
    long syncs = writer.syncCount();
    counters.fsyncs += syncs - syncsSeen;
    syncsSeen = syncs;
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException, InterruptedException {
    running = false;
    writer.close();
    for (Thread thread : threads) {
      thread.join();
    }
    engine.close();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }
  }
}
