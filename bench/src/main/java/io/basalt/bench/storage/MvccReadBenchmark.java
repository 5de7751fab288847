package io.basalt.bench.storage;

import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.range.storage.WriteBatch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * MVCC reads over a RocksDB engine holding {@code keys} user keys (default 1M) with 100-byte
 * values, two versions each: a point get at a timestamp between the versions, and a 100-key scan
 * from a random key.
 *
 * <p>Run: {@code bench/run MvccReadBenchmark} (or {@code java --enable-native-access=ALL-UNNAMED
 * -jar bench/target/benchmarks.jar MvccReadBenchmark -rf json -rff mvcc-read.json}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class MvccReadBenchmark {
  @Param({"1000000"})
  public int keys;

  private static final Timestamp OLD = new Timestamp(1_000, 0);
  private static final Timestamp NEW = new Timestamp(3_000, 0);
  private static final Timestamp READ = new Timestamp(2_000, 0);

  private Path directory;
  private RocksDbEngine engine;

  static byte[] key(int i) {
    return String.format("user%010d", i).getBytes(StandardCharsets.US_ASCII);
  }

  @Setup(Level.Trial)
  public void load() throws IOException {
    directory = Files.createTempDirectory("basalt-mvcc-read");
    engine = RocksDbEngine.open(directory);
    byte[] value = new byte[100];
    WriteBatch batch = new WriteBatch();
    for (int i = 0; i < keys; i++) {
      MvccStore.put(batch, key(i), OLD, value);
      MvccStore.put(batch, key(i), NEW, value);
      if (batch.count() >= 20_000) {
        engine.write(batch, false);
        batch = new WriteBatch();
      }
    }
    engine.write(batch, true);
  }

  /** Per-thread random source, so threads do not contend on one. */
  @State(Scope.Thread)
  public static class Cursor {
    final SplittableRandom random = new SplittableRandom(42);
  }

  @Benchmark
  public void pointGet(Cursor cursor, Blackhole sink) {
    sink.consume(MvccStore.get(engine, key(cursor.random.nextInt(keys)), READ));
  }

  @Benchmark
  public void scan100(Cursor cursor, Blackhole sink) {
    byte[] start = key(cursor.random.nextInt(keys));
    sink.consume(MvccStore.scan(engine, start, new byte[0], READ, 100, Long.MAX_VALUE));
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    engine.close();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }
  }
}
