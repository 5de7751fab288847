package io.basalt.node.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.node.store.Store;
import io.basalt.node.store.TestStores;
import io.basalt.range.storage.MemEngine;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class StoreLoopTest {
  private static final long HOUR = TimeUnit.HOURS.toNanos(1);

  /**
   * A process that stalled (SIGSTOP, a long GC) must let the ticks it missed pass before it looks
   * at anything that arrived meanwhile: otherwise a leader whose lease expired during the stall
   * would still believe in it when it serves the first read after resuming.
   */
  @Test
  void missedTicksRunBeforeWorkThatArrivedDuringAStall() throws Exception {
    AtomicLong now = new AtomicLong(0);
    Store store = TestStores.isolated(1, new MemEngine(), now::get);
    // One tick per (fake) hour: the loop sleeps in its mailbox until work arrives.
    io.netty.util.concurrent.DefaultEventExecutor thread =
        new io.netty.util.concurrent.DefaultEventExecutor();
    try (StoreLoop loop = new StoreLoop(store, thread, HOUR, now::get)) {
      loop.start();
      CompletableFuture<Long> before = new CompletableFuture<>();
      loop.execute(() -> before.complete(store.ticks()));
      assertThat(before.get(10, TimeUnit.SECONDS)).isZero();
      // The process "stalls" for 100 tick intervals; the first thing it finds on resuming is a
      // task.
      CompletableFuture<Long> after = new CompletableFuture<>();
      now.addAndGet(100 * HOUR + 1);
      loop.execute(() -> after.complete(store.ticks()));
      assertThat(after.get(10, TimeUnit.SECONDS)).isEqualTo(100);
    } finally {
      thread.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /** A failure on the store's thread is fatal (decision 10): the loop stops and says why. */
  @Test
  void aFailingTaskStopsTheLoopAndIsReported() throws Exception {
    Store store = TestStores.isolated(1, new MemEngine(), System::nanoTime);
    io.netty.util.concurrent.DefaultEventExecutor thread =
        new io.netty.util.concurrent.DefaultEventExecutor();
    java.util.concurrent.atomic.AtomicInteger before =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger after =
        new java.util.concurrent.atomic.AtomicInteger();
    try (StoreLoop loop =
        new StoreLoop(
            store,
            thread,
            HOUR,
            System::nanoTime,
            before::incrementAndGet,
            after::incrementAndGet)) {
      loop.start();
      loop.execute(() -> {
        throw new IllegalStateException("disk on fire");
      });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while ((loop.isRunning() || after.get() == 0) && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(after.get())
          .as("the round's writes are flushed even when it fails")
          .isEqualTo(before.get());
      assertThat(loop.isRunning()).isFalse();
      assertThat(loop.failure()).hasMessage("disk on fire");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> loop.execute(() -> {}))
          .isInstanceOf(IllegalStateException.class);
    } finally {
      thread.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
