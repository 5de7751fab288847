package io.basalt.node.server;

import io.basalt.node.store.Persister;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the store's round batches on a thread of its own (TiKV's asynchronous log writes): the
 * store's event loop hands a batch over and goes on reading sockets and running rounds while the
 * fsync runs, so a leader takes in its followers' acknowledgements, and a follower its leader's
 * next appends, without waiting for its own disk.
 *
 * <p>Batches are written in the order they were handed over. Whatever queued while a write ran is
 * written next, all batches but the last unsynced and the last synced if any of them must be (one
 * fsync makes every earlier write durable): the group commit. Each batch's report runs on the
 * store's thread, in order, after the sync.
 *
 * <p>A storage error is fatal (DESIGN.md decision 10): it is rethrown on the store's thread, which
 * stops the store, and nothing more is written or reported.
 */
final class StoreWriter implements Persister, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoreWriter.class);

  private record Job(WriteBatch batch, boolean sync, LongConsumer written) {}

  private final Engine engine;
  private final Consumer<Runnable> storeThread;
  private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean running = true;

  /**
   * @param storeThread runs a task on the store's thread (the store loop's mailbox)
   */
  StoreWriter(long nodeId, Engine engine, Consumer<Runnable> storeThread) {
    this.engine = engine;
    this.storeThread = storeThread;
    this.thread = new Thread(this::run, "node-" + nodeId + "-writer");
    this.thread.setDaemon(true);
    this.thread.setPriority(Thread.MAX_PRIORITY);
  }

  void start() {
    thread.start();
  }

  @Override
  public void persist(WriteBatch batch, boolean sync, LongConsumer written) {
    queue.add(new Job(batch, sync, written));
  }

  private void run() {
    List<Job> jobs = new ArrayList<>();
    try {
      while (running) {
        jobs.add(queue.take());
        queue.drainTo(jobs);
        long t0 = System.nanoTime();
        boolean sync = false;
        for (Job j : jobs) {
          sync |= j.sync();
        }
        int last = jobs.size() - 1;
        for (int i = 0; i < last; i++) {
          if (!jobs.get(i).batch().isEmpty()) {
            engine.write(jobs.get(i).batch(), false);
          }
        }
        WriteBatch lastBatch = jobs.get(last).batch();
        if (!lastBatch.isEmpty()) {
          engine.write(lastBatch, sync);
        } else if (sync) {
          engine.sync();
        }
        long nanos = System.nanoTime() - t0;
        List<Job> done = List.copyOf(jobs);
        jobs.clear();
        if (!running) {
          return; // closing: nothing is reported any more
        }
        // One report per write: the batches that shared it report -1.
        try {
          storeThread.accept(() -> {
            for (int i = 0; i < done.size(); i++) {
              done.get(i).written().accept(i == done.size() - 1 ? nanos : -1);
            }
          });
        } catch (IllegalStateException | java.util.concurrent.RejectedExecutionException gone) {
          // The store loop stopped (its event loop too, when the node closes before this writer
          // is stopped): no one takes reports any more, and this is no failure of the writer.
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      if (!running) {
        return; // closing: the store loop no longer takes tasks
      }
      log.error("the store's writer failed; the node stops", t);
      StorageException e =
          t instanceof StorageException se
              ? se
              : new StorageException("the store's writer failed: " + t, t);
      try {
        storeThread.accept(() -> {
          throw e;
        });
      } catch (RuntimeException stopped) {
        // the store loop is already gone
      }
    }
  }

  /**
   * Stops after the write in progress, reporting nothing more; batches still queued are not written
   * (as in a crash). Returns whether the thread ended: if not, it is still inside a write and the
   * engine must not be closed under it.
   */
  boolean stop(long timeoutMillis) {
    running = false;
    thread.interrupt();
    try {
      thread.join(timeoutMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }

  @Override
  public void close() {
    stop(30_000);
  }
}
