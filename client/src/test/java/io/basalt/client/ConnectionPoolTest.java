package io.basalt.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A timer pending when the pool closes runs then, so that a caller waiting for it (a transaction's
 * backoff between attempts, {@code TxnRunner}) is not left waiting forever; none is taken after.
 */
class ConnectionPoolTest {
  @Test
  void aTimerPendingAtCloseRunsThenAndNoneIsTakenAfter() throws Exception {
    ConnectionPool pool =
        new ConnectionPool(
            new NodeDirectory(List.of("127.0.0.1:1")),
            Duration.ofSeconds(1),
            1,
            Ticker.systemTicker(),
            null);
    CompletableFuture<String> ran = new CompletableFuture<>();
    pool.schedule(() -> ran.complete(Thread.currentThread().getName()), TimeUnit.HOURS.toNanos(1));
    assertThat(ran).isNotDone();

    pool.close();
    assertThat(ran)
        .as("run at close, on the closing thread")
        .isCompletedWithValue(Thread.currentThread().getName());
    assertThatThrownBy(() -> pool.schedule(() -> {}, 0))
        .isInstanceOf(RejectedExecutionException.class);
  }

  @Test
  void aTimerRunsOnceWhenItsTimeComes() throws Exception {
    ConnectionPool pool =
        new ConnectionPool(
            new NodeDirectory(List.of("127.0.0.1:1")),
            Duration.ofSeconds(1),
            1,
            Ticker.systemTicker(),
            null);
    int[] runs = new int[1];
    CompletableFuture<Void> ran = new CompletableFuture<>();
    pool.schedule(
        () -> {
          runs[0]++;
          ran.complete(null);
        },
        TimeUnit.MILLISECONDS.toNanos(1));
    ran.get(10, TimeUnit.SECONDS);
    pool.close();
    assertThat(runs[0]).as("not again at close").isEqualTo(1);
  }
}
