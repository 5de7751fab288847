package io.basalt.range.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.ReadView;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LogWriterTest {
  /** An engine whose first synced write blocks until released, to make grouping deterministic. */
  static final class GatedEngine implements Engine {
    final MemEngine delegate = new MemEngine();
    final CountDownLatch firstWriteStarted = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<Integer> writeSizes = new ArrayList<>();

    @Override
    public byte[] get(ColumnFamily cf, byte[] key) {
      return delegate.get(cf, key);
    }

    @Override
    public EngineIterator newIterator(ColumnFamily cf, byte[] lower, byte[] upper) {
      return delegate.newIterator(cf, lower, upper);
    }

    @Override
    public void write(WriteBatch batch, boolean sync) {
      synchronized (writeSizes) {
        writeSizes.add(batch.count());
      }
      firstWriteStarted.countDown();
      try {
        if (!release.await(30, TimeUnit.SECONDS)) {
          throw new AssertionError("test never released the gate");
        }
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      delegate.write(batch, sync);
    }

    @Override
    public void sync() {
      delegate.sync();
    }

    @Override
    public ReadView newReadView() {
      return delegate.newReadView();
    }

    @Override
    public void close() {}
  }

  static WriteBatch batchOf(int id) {
    byte[] key = ByteBuffer.allocate(4).putInt(id).array();
    return new WriteBatch().put(ColumnFamily.RAFT, key, key).put(ColumnFamily.LOCAL, key, key);
  }

  @Test
  void submissionsQueuedDuringASyncShareTheNextSync() throws Exception {
    GatedEngine engine = new GatedEngine();
    try (LogWriter writer = LogWriter.groupCommit(engine)) {
      CompletableFuture<Void> first = writer.submit(batchOf(0));
      assertThat(engine.firstWriteStarted.await(30, TimeUnit.SECONDS)).isTrue();
      List<CompletableFuture<Void>> rest = new ArrayList<>();
      for (int i = 1; i <= 50; i++) {
        rest.add(writer.submit(batchOf(i)));
      }
      assertThat(first).isNotDone();
      engine.release.countDown();
      CompletableFuture.allOf(rest.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      assertThat(first).isCompleted();
      assertThat(writer.syncCount()).isEqualTo(2);
      assertThat(writer.batchCount()).isEqualTo(51);
      assertThat(engine.writeSizes).containsExactly(2, 100);
    }
  }

  @Test
  void oneBatchPerSyncWhenGroupingIsOff() throws Exception {
    GatedEngine engine = new GatedEngine();
    engine.release.countDown();
    try (LogWriter writer = new LogWriter(engine, 1, Long.MAX_VALUE)) {
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        all.add(writer.submit(batchOf(i)));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      assertThat(writer.syncCount()).isEqualTo(20);
    }
  }

  @Test
  void acknowledgedBatchesFromManyThreadsAreDurable() throws Exception {
    MemEngine engine = new MemEngine();
    AtomicInteger ids = new AtomicInteger();
    try (LogWriter writer = LogWriter.groupCommit(engine)) {
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        threads.add(
            Thread.ofPlatform()
                .start(() -> {
                  for (int i = 0; i < 200; i++) {
                    writer.writeDurably(batchOf(ids.getAndIncrement()));
                  }
                }));
      }
      for (Thread thread : threads) {
        thread.join();
      }
      assertThat(writer.batchCount()).isEqualTo(1600);
    }
    MemEngine recovered = engine.crash();
    for (int id = 0; id < 1600; id++) {
      byte[] key = ByteBuffer.allocate(4).putInt(id).array();
      assertThat(recovered.get(ColumnFamily.RAFT, key)).as("batch %d", id).isEqualTo(key);
      assertThat(recovered.get(ColumnFamily.LOCAL, key)).as("batch %d", id).isEqualTo(key);
    }
  }

  @Test
  void ioErrorFailsTheGroupAndEveryLaterSubmissionWithoutRetry() {
    MemEngine engine = new MemEngine();
    try (LogWriter writer = LogWriter.groupCommit(engine)) {
      writer.writeDurably(batchOf(1));
      engine.failIo(true);
      assertThatThrownBy(() -> writer.writeDurably(batchOf(2)))
          .isInstanceOf(StorageException.class)
          .hasMessageContaining("injected I/O error");
      engine.failIo(false);
      // The writer never retries and never accepts more: the node must crash and recover.
      CompletableFuture<Void> later = writer.submit(batchOf(3));
      assertThatThrownBy(later::join)
          .isInstanceOf(CompletionException.class)
          .hasCauseInstanceOf(StorageException.class);
    }
    MemEngine recovered = engine.crash();
    assertThat(recovered.get(ColumnFamily.RAFT, ByteBuffer.allocate(4).putInt(1).array()))
        .isNotNull();
    assertThat(recovered.get(ColumnFamily.RAFT, ByteBuffer.allocate(4).putInt(3).array())).isNull();
  }

  @Test
  void closeWritesWhatWasSubmittedThenRefusesMore() {
    MemEngine engine = new MemEngine();
    LogWriter writer = LogWriter.groupCommit(engine);
    CompletableFuture<Void> pending = writer.submit(batchOf(1));
    writer.close();
    assertThat(pending).isCompleted();
    assertThatThrownBy(() -> writer.submit(batchOf(2)).join())
        .hasCauseInstanceOf(StorageException.class)
        .hasMessageContaining("closed");
  }
}
