package io.basalt.range.log;

import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.range.storage.WriteBatch;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The child process of {@link GroupCommitCrashTest}: writes batches through a group-committing
 * {@link LogWriter} from several threads, forever, and prints {@code ACK <id>} for each batch once
 * its write is durable. The parent kills it with SIGKILL at a random moment.
 *
 * <p>Batch {@code id} holds {@code parts} puts spread over every column family; each value names
 * the id, its part number and the part count, so the parent can tell a whole batch from a partial
 * one. Usage: {@code CrashTestWriter <store dir> <seed> <threads> <first id>}.
 */
public final class CrashTestWriter {
  private CrashTestWriter() {}

  static byte[] key(long id, int part) {
    return ByteBuffer.allocate(12).putLong(id).putInt(part).array();
  }

  static byte[] value(long id, int part, int parts, int padding) {
    return ByteBuffer.allocate(16 + padding).putLong(id).putInt(part).putInt(parts).array();
  }

  static WriteBatch batch(long id, SplittableRandom random) {
    int parts = 1 + random.nextInt(12);
    WriteBatch batch = new WriteBatch();
    ColumnFamily[] cfs = ColumnFamily.values();
    for (int part = 0; part < parts; part++) {
      batch.put(cfs[part % cfs.length], key(id, part), value(id, part, parts, random.nextInt(512)));
    }
    return batch;
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    int threads = Integer.parseInt(args[2]);
    long firstId = Long.parseLong(args[3]);
    PrintStream out = new PrintStream(System.out, false, java.nio.charset.StandardCharsets.UTF_8);
    RocksDbEngine engine = RocksDbEngine.open(dir);
    LogWriter writer = LogWriter.groupCommit(engine);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long base = firstId + (long) t * 10_000_000L;
      SplittableRandom random = new SplittableRandom(seed * 31 + t);
      workers.add(
          Thread.ofPlatform()
              .start(() -> {
                for (long id = base; ; id++) {
                  writer.writeDurably(batch(id, random));
                  synchronized (out) {
                    out.println("ACK " + id);
                    out.flush();
                  }
                }
              }));
    }
    synchronized (out) {
      out.println("READY");
      out.flush();
    }
    for (Thread worker : workers) {
      worker.join();
    }
  }
}
