package io.basalt.client;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a transaction's function until it commits: each attempt is a new transaction; a retryable
 * failure ({@link TransactionRetryException}, {@link TransactionAbortedException}) starts another
 * after a jittered exponential backoff, at the first attempt's priority (so a transaction that
 * keeps losing conflicts comes to be the oldest, and wins them), up to the options' attempts. An
 * {@link AmbiguousResultException} is never retried: the commit may have applied.
 */
final class TxnRunner {
  private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
  private static final long MAX_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  /** Threads for {@link AsyncBasaltClient#txn}: an attempt blocks on its calls. */
  private static final ExecutorService ASYNC =
      Executors.newCachedThreadPool(
          new java.util.concurrent.ThreadFactory() {
            private final AtomicInteger n = new AtomicInteger();

            @Override
            public Thread newThread(Runnable r) {
              Thread t = new Thread(r, "basalt-txn-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            }
          });

  private TxnRunner() {}

  static ExecutorService async() {
    return ASYNC;
  }

  static <T> T run(Router router, TxnOptions options, TxnFunction<T> fn) {
    RuntimeException last = null;
    ClientRuntime runtime = router.runtime();
    int priority = TxnCoordinator.priorityAt(runtime.wallMillis());
    for (int attempt = 0; attempt < options.maxAttempts(); attempt++) {
      if (attempt > 0) {
        long cap = Math.min(MAX_BACKOFF_NANOS, FIRST_BACKOFF_NANOS << Math.min(attempt, 20));
        pause(runtime, runtime.random().nextLong(cap / 2, cap + 1));
      }
      TxnCoordinator tx = new TxnCoordinator(router, options, priority);
      try {
        T result = fn.apply(tx);
        tx.commit();
        return result;
      } catch (Error e) {
        tx.rollback();
        throw e;
      } catch (TransactionRetryException | TransactionAbortedException e) {
        tx.rollback();
        last = e;
      } catch (RuntimeException e) {
        tx.rollback();
        throw e;
      } catch (Exception e) {
        tx.rollback();
        throw new BasaltException("the transaction's function failed: " + e.getMessage(), e);
      }
    }
    throw new TransactionRetryException(
        "gave up after "
            + options.maxAttempts()
            + " attempts; the last failed with: "
            + last.getMessage(),
        last);
  }

  static Txn begin(Router router, TxnOptions options) {
    return new TxnCoordinator(
        router, options, TxnCoordinator.priorityAt(router.runtime().wallMillis()));
  }

  /** Waits {@code nanos} on the runtime's timer (whose clock a simulation drives). */
  private static void pause(ClientRuntime runtime, long nanos) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      runtime.schedule(() -> done.complete(null), nanos);
    } catch (RejectedExecutionException e) {
      throw new BasaltException("the client is closed");
    }
    done.join();
  }
}
