package io.basalt.range.log;

import io.basalt.range.storage.Engine;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Group commit for durable writes (DESIGN.md decision 2). Callers on any thread {@link #submit} a
 * batch (log appends and hard states of one or many ranges) and get a future. One writer thread
 * takes everything queued, merges it into a single engine write with one fsync, and completes each
 * caller's future only after that sync returned. While one sync is in flight the next group
 * gathers, so the group grows with load and the fsync rate stays bounded by the disk while the
 * append rate grows with concurrency.
 *
 * <p>Atomicity: the merged write is atomic, so after a crash a submitted batch is either wholly
 * present or wholly absent, and every batch whose future completed normally is present.
 *
 * <p>Failure: an I/O error is fatal (the "fsyncgate" lesson: a failed fsync may have dropped dirty
 * pages, so retrying can acknowledge lost data). The failed group's futures and every later
 * submission complete exceptionally with the same {@link StorageException}; the node must crash and
 * recover from what was synced.
 */
public final class LogWriter implements AutoCloseable {
  private record Pending(WriteBatch batch, CompletableFuture<Void> done) {}

  private static final Pending POISON = new Pending(new WriteBatch(), new CompletableFuture<>());

  private final Engine engine;
  private final int maxBatchesPerSync;
  private final long maxBytesPerSync;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private final AtomicLong syncs = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private volatile StorageException failure;
  private volatile boolean closed;

  /**
   * @param maxBatchesPerSync the most submissions merged into one fsync; 1 disables group commit
   *     (one fsync per submission, the baseline the benchmarks compare against)
   * @param maxBytesPerSync a soft cap on the bytes merged into one write (at least one batch is
   *     always taken)
   */
  public LogWriter(Engine engine, int maxBatchesPerSync, long maxBytesPerSync) {
    if (maxBatchesPerSync < 1) {
      throw new IllegalArgumentException(
          "maxBatchesPerSync must be >= 1, got " + maxBatchesPerSync);
    }
    if (maxBytesPerSync < 1) {
      throw new IllegalArgumentException("maxBytesPerSync must be >= 1, got " + maxBytesPerSync);
    }
    this.engine = engine;
    this.maxBatchesPerSync = maxBatchesPerSync;
    this.maxBytesPerSync = maxBytesPerSync;
    this.thread = Thread.ofPlatform().name("basalt-log-writer").daemon(true).unstarted(this::run);
    thread.start();
  }

  /** A group-committing writer with generous defaults (4096 batches or 16 MiB per fsync). */
  public static LogWriter groupCommit(Engine engine) {
    return new LogWriter(engine, 4096, 16L << 20);
  }

  /**
   * Queues {@code batch} for a durable write. The future completes after the batch is synced, or
   * exceptionally with a {@link StorageException} if the write failed or the writer is closed.
   */
  public CompletableFuture<Void> submit(WriteBatch batch) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    synchronized (queue) {
      // Under the lock, every accepted submission is queued before the close marker, so close()
      // writes it; after a failure or close nothing more is accepted.
      StorageException failed = failure;
      if (failed != null) {
        done.completeExceptionally(failed);
      } else if (closed) {
        done.completeExceptionally(new StorageException("log writer is closed"));
      } else {
        queue.add(new Pending(batch, done));
      }
    }
    return done;
  }

  /** Submits {@code batch} and waits until it is durable; rethrows a write failure. */
  public void writeDurably(WriteBatch batch) {
    try {
      submit(batch).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof StorageException storage) {
        throw storage;
      }
      throw e;
    }
  }

  /** How many fsyncs (engine writes) the writer has issued. */
  public long syncCount() {
    return syncs.get();
  }

  /** How many submitted batches the writer has made durable. */
  public long batchCount() {
    return batches.get();
  }

  private void run() {
    List<Pending> group = new ArrayList<>();
    Pending carried = null;
    while (true) {
      group.clear();
      try {
        Pending first = carried != null ? carried : queue.take();
        carried = null;
        if (first == null) {
          continue;
        }
        if (first == POISON) {
          failRemaining(new StorageException("log writer is closed"));
          return;
        }
        group.add(first);
        long bytes = first.batch().byteSize();
        while (group.size() < maxBatchesPerSync && bytes < maxBytesPerSync) {
          Pending next = queue.poll();
          if (next == null) {
            break;
          }
          if (next == POISON) {
            carried = next;
            break;
          }
          group.add(next);
          bytes += next.batch().byteSize();
        }
      } catch (InterruptedException e) {
        failRemaining(new StorageException("log writer interrupted"));
        return;
      }
      writeGroup(group);
      if (failure != null) {
        failRemaining(failure);
        return;
      }
    }
  }

  private void writeGroup(List<Pending> group) {
    WriteBatch merged;
    if (group.size() == 1) {
      merged = group.get(0).batch();
    } else {
      merged = new WriteBatch();
      for (Pending pending : group) {
        merged.addAll(pending.batch());
      }
    }
    try {
      engine.write(merged, true);
    } catch (RuntimeException | Error e) {
      // Whatever the failure, every waiter learns of it: none is left hanging on a dead writer.
      StorageException fatal =
          e instanceof StorageException storage
              ? storage
              : new StorageException("log write failed: " + e, e);
      failure = fatal;
      for (Pending pending : group) {
        pending.done().completeExceptionally(fatal);
      }
      return;
    }
    syncs.incrementAndGet();
    batches.addAndGet(group.size());
    for (Pending pending : group) {
      pending.done().complete(null);
    }
  }

  private void failRemaining(StorageException cause) {
    synchronized (queue) {
      closed = true;
      Pending pending;
      while ((pending = queue.poll()) != null) {
        pending.done().completeExceptionally(cause);
      }
    }
  }

  /** Writes everything already submitted, then stops the writer thread. */
  @Override
  public void close() {
    synchronized (queue) {
      if (closed) {
        return;
      }
      closed = true;
      queue.add(POISON);
    }
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
