package io.basalt.node.server;

import io.basalt.node.store.Store;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that owns a node's {@link Store} (the threading model in DESIGN.md): network
 * threads and the admin paths hand it work through a mailbox; it runs in rounds of
 *
 * <ol>
 *   <li>wait for work or the next tick;
 *   <li>catch up on ticks: one per tick interval elapsed on the monotonic clock since start, so a
 *       process that was stalled (GC, SIGSTOP) first lets its leases expire and its elections time
 *       out, and only then looks at what arrived meanwhile;
 *   <li>run everything in the mailbox (Raft messages, client requests);
 *   <li>{@link Store#process()}: one group-committed write for all ranges, then sends, applies and
 *       answers.
 * </ol>
 *
 * <p>While a round's fsync runs, new work piles up in the mailbox and joins the next round: that is
 * the group commit, and it grows with load by itself.
 */
public final class StoreLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoreLoop.class);

  private final Store store;
  private final long tickNanos;
  private final LongSupplier nanoTime;
  private final LinkedBlockingQueue<Runnable> mailbox = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Throwable failure;
  private final long start;
  private long ticksDone;

  public StoreLoop(Store store, long tickNanos, LongSupplier nanoTime) {
    this.store = store;
    this.tickNanos = tickNanos;
    this.nanoTime = nanoTime;
    this.start = nanoTime.getAsLong();
    this.thread = new Thread(this::run, "store-" + store.nodeId());
    // Every request waits for this thread; where the JVM maps priorities to the OS
    // (-XX:ThreadPriorityPolicy=1, as bin/basalt sets it) it is scheduled ahead of the rest.
    this.thread.setPriority(Thread.MAX_PRIORITY);
  }

  public void start() {
    thread.start();
  }

  /** Runs {@code task} on the store thread, in order with everything else. */
  public void execute(Runnable task) {
    if (!running) {
      throw new IllegalStateException("the store loop has stopped");
    }
    mailbox.add(task);
  }

  /** Why the loop died, if it did (a storage failure is fatal: decision 10). */
  public Throwable failure() {
    return failure;
  }

  public boolean isRunning() {
    return running && thread.isAlive();
  }

  private void run() {
    List<Runnable> batch = new ArrayList<>();
    try {
      while (running) {
        long now = nanoTime.getAsLong();
        long nextTick = start + (ticksDone + 1) * tickNanos;
        Runnable first = mailbox.poll(Math.max(0, nextTick - now), TimeUnit.NANOSECONDS);
        long due = (nanoTime.getAsLong() - start) / tickNanos;
        while (ticksDone < due) {
          store.tick();
          ticksDone++;
        }
        if (first != null) {
          batch.add(first);
          mailbox.drainTo(batch);
          for (Runnable r : batch) {
            r.run();
          }
          batch.clear();
        }
        store.process();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      failure = t;
      running = false;
      try {
        store.flushNetwork(); // answers given before the failure still leave
      } catch (RuntimeException ignored) {
        // the failure above is the one to report
      }
      log.error("store loop of node {} failed; the node stops serving", store.nodeId(), t);
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
