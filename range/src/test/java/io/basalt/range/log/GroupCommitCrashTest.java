package io.basalt.range.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.RocksDbEngine;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a process that writes through the group-committing {@link LogWriter} with SIGKILL at random
 * moments, reopens its RocksDB store, and checks that every batch it acknowledged is present and
 * whole and that no partial batch is visible. Each seed runs several kill/reopen cycles on the same
 * store, so recovery from an earlier crash is exercised too.
 *
 * <p>Seeds: {@code -Dbasalt.crash.seeds=N} (default 4) starting at {@code -Dbasalt.crash.seed=S}
 * (default 1). A failure names its seed and the command that replays it.
 */
class GroupCommitCrashTest {
  private static final int CYCLES = 3;

  @TempDir Path root;

  @Test
  void acknowledgedBatchesSurviveSigkillWholeAndNoPartialBatchIsVisible() throws Exception {
    long first = Long.getLong("basalt.crash.seed", 1);
    int seeds = Integer.getInteger("basalt.crash.seeds", 4);
    for (long seed = first; seed < first + seeds; seed++) {
      String replay =
          "seed "
              + seed
              + "; replay: bin/test -pl range -am -Dtest=GroupCommitCrashTest -Dbasalt.crash.seed="
              + seed
              + " -Dbasalt.crash.seeds=1";
      runSeed(seed, replay);
    }
  }

  private void runSeed(long seed, String replay) throws Exception {
    SplittableRandom random = new SplittableRandom(seed);
    Path store = Files.createDirectories(root.resolve("seed-" + seed));
    Set<Long> acked = new HashSet<>();
    for (int cycle = 0; cycle < CYCLES; cycle++) {
      int threads = 1 + random.nextInt(16);
      int killAfterAcks = 1 + random.nextInt(3000);
      long firstId = (long) cycle * 1_000_000_000L;
      acked.addAll(runAndKill(store, seed * 100 + cycle, threads, firstId, killAfterAcks, replay));
      verify(store, acked, replay + " (cycle " + cycle + ", " + threads + " threads)");
    }
  }

  private Set<Long> runAndKill(
      Path store, long childSeed, int threads, long firstId, int killAfterAcks, String replay)
      throws Exception {
    String javaBinary = ProcessHandle.current().info().command().orElse("java");
    Process child =
        new ProcessBuilder(
                javaBinary,
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                CrashTestWriter.class.getName(),
                store.toString(),
                Long.toString(childSeed),
                Integer.toString(threads),
                Long.toString(firstId))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    Set<Long> acked = ConcurrentHashMap.newKeySet();
    AtomicLong ackCount = new AtomicLong();
    Object progress = new Object();
    Thread reader =
        Thread.ofPlatform()
            .start(() -> {
              try (BufferedReader lines =
                  new BufferedReader(
                      new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                  if (line.startsWith("ACK ")) {
                    acked.add(Long.parseLong(line.substring(4)));
                    ackCount.incrementAndGet();
                    synchronized (progress) {
                      progress.notifyAll();
                    }
                  }
                }
              } catch (java.io.IOException e) {
                // The child died; what was read is what was acknowledged.
              } finally {
                synchronized (progress) {
                  progress.notifyAll();
                }
              }
            });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    synchronized (progress) {
      while (ackCount.get() < killAfterAcks && reader.isAlive() && System.nanoTime() < deadline) {
        progress.wait(100);
      }
    }
    assertThat(child.isAlive()).as("child exited by itself; " + replay).isTrue();
    assertThat(ackCount.get())
        .as("child made no progress before the deadline; " + replay)
        .isPositive();
    child.destroyForcibly(); // SIGKILL
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    reader.join(TimeUnit.SECONDS.toMillis(30));
    return new HashSet<>(acked);
  }

  private void verify(Path store, Set<Long> acked, String replay) {
    Map<Long, Integer> partsSeen = new HashMap<>();
    Map<Long, Integer> partsExpected = new HashMap<>();
    try (RocksDbEngine engine = RocksDbEngine.open(store)) {
      for (ColumnFamily cf : ColumnFamily.values()) {
        try (EngineIterator it = engine.newIterator(cf, null, null)) {
          for (it.seekToFirst(); it.valid(); it.next()) {
            ByteBuffer key = ByteBuffer.wrap(it.key());
            ByteBuffer value = ByteBuffer.wrap(it.value());
            long id = key.getLong();
            int part = key.getInt();
            assertThat(value.getLong()).as(replay).isEqualTo(id);
            assertThat(value.getInt()).as(replay).isEqualTo(part);
            partsExpected.put(id, value.getInt());
            partsSeen.merge(id, 1, Integer::sum);
          }
        }
      }
    }
    List<Long> partial = new ArrayList<>();
    partsSeen.forEach((id, seen) -> {
      if (!seen.equals(partsExpected.get(id))) {
        partial.add(id);
      }
    });
    assertThat(partial).as("batches visible only in part; " + replay).isEmpty();
    List<Long> lost = new ArrayList<>();
    for (long id : acked) {
      if (!partsSeen.containsKey(id)) {
        lost.add(id);
      }
    }
    assertThat(lost).as("acknowledged batches lost; " + replay).isEmpty();
  }
}
