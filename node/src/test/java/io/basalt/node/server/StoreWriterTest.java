package io.basalt.node.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class StoreWriterTest {
  private static WriteBatch put(int i) {
    return new WriteBatch()
        .put(ColumnFamily.LOCAL, new byte[] {1, (byte) i}, new byte[] {(byte) i});
  }

  private static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting: " + what);
      }
      Thread.onSpinWait();
    }
  }

  /**
   * Batches are reported in order, on the store's thread, and a batch that must be synced only once
   * a sync at or after its write returned (one sync covers every earlier write).
   */
  @Test
  void batchesAreReportedInOrderAndOnlyOnceDurable() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    MemEngine mem = new MemEngine();
    io.basalt.range.storage.Engine engine =
        (io.basalt.range.storage.Engine)
            java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {io.basalt.range.storage.Engine.class},
                (proxy, method, args) -> {
                  Object result = method.invoke(mem, args);
                  if (method.getName().equals("write")) {
                    WriteBatch b = (WriteBatch) args[0];
                    byte[] key = ((WriteBatch.Put) b.ops().get(0)).key();
                    events.add("write " + key[1] + ((Boolean) args[1] ? " synced" : ""));
                  } else if (method.getName().equals("sync")) {
                    events.add("sync");
                  }
                  return result;
                });
    ExecutorService storeThread = Executors.newSingleThreadExecutor();
    List<Integer> reported = new CopyOnWriteArrayList<>();
    List<String> problems = new CopyOnWriteArrayList<>();
    int n = 100;
    try (StoreWriter writer = new StoreWriter(1, engine, storeThread::execute)) {
      writer.start();
      for (int i = 0; i < n; i++) {
        int id = i;
        boolean sync = id % 3 != 0;
        writer.persist(
            put(id),
            sync,
            nanos -> {
              List<String> seen = List.copyOf(events);
              int written = -1;
              for (int e = 0; e < seen.size(); e++) {
                String ev = seen.get(e);
                if (ev.equals("write " + id) || ev.equals("write " + id + " synced")) {
                  written = e;
                }
              }
              if (written < 0) {
                problems.add("batch " + id + " reported before it was written");
              } else if (sync
                  && seen.subList(written, seen.size()).stream()
                      .noneMatch(ev -> ev.equals("sync") || ev.endsWith("synced"))) {
                problems.add("batch " + id + " reported before a sync covered it: " + seen);
              }
              reported.add(id);
            });
      }
      await(() -> reported.size() == n, "every batch reported");
      assertThat(problems).isEmpty();
      assertThat(reported).isSorted().hasSize(n);
    } finally {
      storeThread.shutdownNow();
    }
  }

  /** A storage error is rethrown on the store's thread (which stops the store). */
  @Test
  void aStorageErrorReachesTheStoreThread() throws Exception {
    MemEngine engine = new MemEngine();
    engine.failIo(true);
    List<Throwable> onStoreThread = new CopyOnWriteArrayList<>();
    ExecutorService storeThread = Executors.newSingleThreadExecutor();
    try (StoreWriter writer =
        new StoreWriter(
            1,
            engine,
            task ->
                storeThread.execute(() -> {
                  try {
                    task.run();
                  } catch (RuntimeException e) {
                    onStoreThread.add(e);
                  }
                }))) {
      writer.start();
      writer.persist(put(1), true, nanos -> onStoreThread.add(new AssertionError("reported")));
      await(() -> !onStoreThread.isEmpty(), "the failure reaches the store thread");
      assertThat(onStoreThread)
          .singleElement()
          .isInstanceOf(io.basalt.range.storage.StorageException.class);
    } finally {
      storeThread.shutdownNow();
    }
  }
}
