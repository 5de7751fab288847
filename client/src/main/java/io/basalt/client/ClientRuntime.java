package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.random.RandomGenerator;

/**
 * What the router and the transactions run on: a way to reach nodes, timers, clocks and random
 * numbers. A client's is the {@link ConnectionPool} (TCP connections, their event loop's timers,
 * the system clocks, a secure random source). The store simulation's tests give the same router and
 * coordinator a simulated network, its virtual clock and a seeded source, so a whole run of real
 * transactions replays from its seed.
 */
interface ClientRuntime extends AutoCloseable {
  /**
   * Sends {@code request} to the node at {@code address}. The future completes with the node's
   * answer, or fails with a {@link Connection.Failure} that says whether the request may have
   * reached the node.
   *
   * @throws IllegalStateException once closed
   */
  CompletableFuture<KvResponse> call(String address, KvRequest request, long deadlineNanos);

  /**
   * Runs {@code task} soon, on the runtime's threads.
   *
   * @throws RejectedExecutionException once closed
   */
  void execute(Runnable task);

  /**
   * Runs {@code task} after {@code delayNanos}, on the runtime's threads.
   *
   * @throws RejectedExecutionException once closed
   */
  void schedule(Runnable task, long delayNanos);

  /** The clock of deadlines and measured durations. */
  Ticker ticker();

  /** Wall-clock milliseconds (a transaction's priority is the time of its first attempt). */
  long wallMillis();

  /** Random numbers: backoff jitter and transaction ids. Safe to use from any thread. */
  RandomGenerator random();

  @Override
  void close();
}
