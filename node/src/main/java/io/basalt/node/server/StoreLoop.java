package io.basalt.node.server;

import io.basalt.node.store.Store;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a node's {@link Store} on one thread (the threading model in DESIGN.md): the node's network
 * event loop. Network reads, the store's rounds and network writes take turns on that one thread,
 * so a request that arrives is handled without waking another thread, and what the round sends is
 * written without handing it to one. Work runs in rounds of
 *
 * <ol>
 *   <li>catch up on ticks: one per tick interval elapsed on the monotonic clock since start, so a
 *       process that was stalled (GC, SIGSTOP) first lets its leases expire and its elections time
 *       out, and only then looks at what arrived meanwhile;
 *   <li>run everything in the mailbox (Raft messages, client requests): what the event loop read
 *       since the last round, and what other threads handed over;
 *   <li>{@link Store#process()}: one group-committed write for all ranges, then sends, applies and
 *       answers.
 * </ol>
 *
 * <p>A round is a task of the event loop, so it runs after the loop has read everything its sockets
 * had ready: while a round's fsync runs, new work waits in the sockets and joins the next round.
 * That is the group commit, and it grows with load by itself.
 */
public final class StoreLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoreLoop.class);

  private final Store store;
  private final EventExecutor executor;
  private final long tickNanos;
  private final LongSupplier nanoTime;
  private final long start;
  private final Runnable round = this::round;
  private final Runnable beforeRound;
  private final Runnable afterRound;

  /** Work for the next round; touched only on the executor's thread. */
  private List<Runnable> mailbox = new ArrayList<>();

  private boolean roundScheduled;
  private long ticksDone;
  private Future<?> ticker;
  private volatile boolean running = true;
  private volatile Throwable failure;

  /**
   * @param executor the single thread the store runs on (the node's network event loop; any
   *     single-threaded executor in tests)
   */
  public StoreLoop(Store store, EventExecutor executor, long tickNanos, LongSupplier nanoTime) {
    this(store, executor, tickNanos, nanoTime, () -> {}, () -> {});
  }

  /**
   * @param beforeRound runs on the executor before each round (the node starts deferring the
   *     round's network writes)
   * @param afterRound runs after each round, even one that failed (the node writes what the round
   *     deferred and stops deferring)
   */
  public StoreLoop(
      Store store,
      EventExecutor executor,
      long tickNanos,
      LongSupplier nanoTime,
      Runnable beforeRound,
      Runnable afterRound) {
    this.beforeRound = beforeRound;
    this.afterRound = afterRound;
    this.store = store;
    this.executor = executor;
    this.tickNanos = tickNanos;
    this.nanoTime = nanoTime;
    this.start = nanoTime.getAsLong();
  }

  public void start() {
    executor.execute(() -> {
      ticker =
          executor.scheduleAtFixedRate(
              this::scheduleRound, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
    });
  }

  /** Runs {@code task} on the store's thread in the next round, in order with everything else. */
  public void execute(Runnable task) {
    if (!running) {
      throw new IllegalStateException("the store loop has stopped");
    }
    if (executor.inEventLoop()) {
      mailbox.add(task);
      scheduleRound();
    } else {
      executor.execute(() -> {
        mailbox.add(task);
        scheduleRound();
      });
    }
  }

  /** Why the loop died, if it did (a storage failure is fatal: decision 10). */
  public Throwable failure() {
    return failure;
  }

  public boolean isRunning() {
    return running;
  }

  private void scheduleRound() {
    if (!roundScheduled && running) {
      roundScheduled = true;
      executor.execute(round);
    }
  }

  private void round() {
    roundScheduled = false;
    if (!running) {
      return;
    }
    beforeRound.run();
    try {
      long due = (nanoTime.getAsLong() - start) / tickNanos;
      while (ticksDone < due) {
        store.tick();
        ticksDone++;
      }
      List<Runnable> batch = mailbox;
      mailbox = new ArrayList<>();
      for (Runnable r : batch) {
        r.run();
      }
      store.process();
    } catch (Throwable t) {
      failure = t;
      running = false;
      if (ticker != null) {
        ticker.cancel(false);
      }
      try {
        store.flushNetwork(); // answers given before the failure still leave
      } catch (RuntimeException ignored) {
        // the failure above is the one to report
      }
      log.error("store loop of node {} failed; the node stops serving", store.nodeId(), t);
    } finally {
      afterRound.run();
    }
  }

  @Override
  public void close() {
    running = false;
    if (executor.inEventLoop()) {
      if (ticker != null) {
        ticker.cancel(false);
      }
      return;
    }
    try {
      // Waits for a round in progress to end: nothing touches the store after this returns.
      executor
          .submit(() -> {
            if (ticker != null) {
              ticker.cancel(false);
            }
          })
          .await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // the executor has shut down: no round runs any more
    }
  }
}
