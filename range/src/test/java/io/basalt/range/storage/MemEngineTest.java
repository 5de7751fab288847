package io.basalt.range.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MemEngineTest extends EngineContractTest {
  @Override
  protected Engine open() {
    return new MemEngine();
  }

  @Override
  protected Engine reopen(Engine engine) {
    return ((MemEngine) engine).crash();
  }

  @Test
  void crashLosesExactlyTheUnsyncedWrites() {
    MemEngine mem = (MemEngine) engine;
    mem.write(new WriteBatch().put(ColumnFamily.MVCC, b("synced"), b("1")), false);
    mem.write(new WriteBatch().put(ColumnFamily.MVCC, b("syncing"), b("2")), true);
    mem.write(
        new WriteBatch()
            .put(ColumnFamily.MVCC, b("lost"), b("3"))
            .delete(ColumnFamily.MVCC, b("synced")),
        false);
    engine = mem.crash();
    assertThat(engine.get(ColumnFamily.MVCC, b("synced"))).isEqualTo(b("1"));
    assertThat(engine.get(ColumnFamily.MVCC, b("syncing"))).isEqualTo(b("2"));
    assertThat(engine.get(ColumnFamily.MVCC, b("lost"))).isNull();
  }

  @Test
  void crashedEngineRefusesUse() {
    MemEngine mem = (MemEngine) engine;
    engine = mem.crash();
    assertThatThrownBy(() -> mem.get(ColumnFamily.MVCC, b("k")))
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void injectedIoErrorFailsWritesAndSyncs() {
    MemEngine mem = (MemEngine) engine;
    mem.failIo(true);
    assertThatThrownBy(
            () -> mem.write(new WriteBatch().put(ColumnFamily.MVCC, b("k"), b("v")), true))
        .isInstanceOf(StorageException.class);
    assertThatThrownBy(mem::sync).isInstanceOf(StorageException.class);
    assertThat(mem.get(ColumnFamily.MVCC, b("k"))).isNull();
  }

  @Test
  void iteratorCrossesChunkBoundaries() {
    WriteBatch batch = new WriteBatch();
    for (int i = 0; i < 1000; i++) {
      batch.put(ColumnFamily.MVCC, bytes(i >> 8, i & 0xFF), bytes(i & 0xFF));
    }
    engine.write(batch, false);
    int count = 0;
    try (EngineIterator it = engine.newIterator(ColumnFamily.MVCC, bytes(0, 10), bytes(3, 0))) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        assertThat(it.key()).isEqualTo(bytes((count + 10) >> 8, (count + 10) & 0xFF));
        count++;
      }
    }
    assertThat(count).isEqualTo(3 * 256 - 10);
  }
}
