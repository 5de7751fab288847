package io.basalt.range.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link Engine} contract, run against every implementation. Subclasses say how to open an
 * engine and how to reopen it after a clean close or crash (keeping what was synced).
 */
abstract class EngineContractTest {
  protected Engine engine;

  protected abstract Engine open();

  /** Closes or crashes {@code engine} and opens it again over the same durable state. */
  protected abstract Engine reopen(Engine engine);

  @BeforeEach
  void setUp() {
    engine = open();
  }

  @AfterEach
  void tearDown() {
    engine.close();
  }

  static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  static byte[] bytes(int... values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (byte) values[i];
    }
    return out;
  }

  private List<String> keys(Reader reader, ColumnFamily cf, byte[] lower, byte[] upper) {
    List<String> out = new ArrayList<>();
    try (EngineIterator it = reader.newIterator(cf, lower, upper)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        out.add(new String(it.key(), UTF_8));
      }
    }
    return out;
  }

  @Test
  void getReturnsNullForMissingKey() {
    assertThat(engine.get(ColumnFamily.MVCC, b("absent"))).isNull();
  }

  @Test
  void putThenGetReturnsValue() {
    engine.write(new WriteBatch().put(ColumnFamily.MVCC, b("k"), b("v")), false);
    assertThat(engine.get(ColumnFamily.MVCC, b("k"))).isEqualTo(b("v"));
  }

  @Test
  void laterPutInSameBatchWins() {
    engine.write(
        new WriteBatch()
            .put(ColumnFamily.MVCC, b("k"), b("1"))
            .put(ColumnFamily.MVCC, b("k"), b("2")),
        false);
    assertThat(engine.get(ColumnFamily.MVCC, b("k"))).isEqualTo(b("2"));
  }

  @Test
  void deleteRemovesKey() {
    engine.write(new WriteBatch().put(ColumnFamily.LOCAL, b("k"), b("v")), false);
    engine.write(new WriteBatch().delete(ColumnFamily.LOCAL, b("k")), false);
    assertThat(engine.get(ColumnFamily.LOCAL, b("k"))).isNull();
  }

  @Test
  void emptyKeyAndEmptyValueAreStored() {
    engine.write(new WriteBatch().put(ColumnFamily.MVCC, new byte[0], new byte[0]), false);
    assertThat(engine.get(ColumnFamily.MVCC, new byte[0])).isEmpty();
  }

  @Test
  void columnFamiliesAreIndependentKeyspaces() {
    engine.write(
        new WriteBatch()
            .put(ColumnFamily.RAFT, b("k"), b("raft"))
            .put(ColumnFamily.MVCC, b("k"), b("mvcc")),
        false);
    assertThat(engine.get(ColumnFamily.RAFT, b("k"))).isEqualTo(b("raft"));
    assertThat(engine.get(ColumnFamily.MVCC, b("k"))).isEqualTo(b("mvcc"));
    assertThat(engine.get(ColumnFamily.LOCAL, b("k"))).isNull();
  }

  @Test
  void deleteRangeRemovesExactlyTheHalfOpenSpan() {
    WriteBatch batch = new WriteBatch();
    for (String k : List.of("a", "b", "c", "d", "e")) {
      batch.put(ColumnFamily.MVCC, b(k), b(k));
    }
    engine.write(batch, false);
    engine.write(new WriteBatch().deleteRange(ColumnFamily.MVCC, b("b"), b("d")), false);
    assertThat(keys(engine, ColumnFamily.MVCC, null, null)).containsExactly("a", "d", "e");
  }

  @Test
  void iterationIsUnsignedLexicographic() {
    List<byte[]> inserted =
        List.of(bytes(0x80), bytes(0x7F), bytes(0x00), bytes(0xFF), bytes(0x00, 0x00), bytes());
    WriteBatch batch = new WriteBatch();
    for (byte[] k : inserted) {
      batch.put(ColumnFamily.MVCC, k, k);
    }
    engine.write(batch, false);
    List<byte[]> seen = new ArrayList<>();
    try (EngineIterator it = engine.newIterator(ColumnFamily.MVCC, null, null)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        seen.add(it.key());
        assertThat(it.value()).isEqualTo(it.key());
      }
    }
    assertThat(seen)
        .containsExactly(
            bytes(), bytes(0x00), bytes(0x00, 0x00), bytes(0x7F), bytes(0x80), bytes(0xFF));
  }

  @Test
  void iteratorRespectsBoundsAndSeek() {
    WriteBatch batch = new WriteBatch();
    for (String k : List.of("a", "b", "c", "d", "e")) {
      batch.put(ColumnFamily.MVCC, b(k), b(k));
    }
    engine.write(batch, false);
    assertThat(keys(engine, ColumnFamily.MVCC, b("b"), b("e"))).containsExactly("b", "c", "d");
    assertThat(keys(engine, ColumnFamily.MVCC, b("bb"), null)).containsExactly("c", "d", "e");
    try (EngineIterator it = engine.newIterator(ColumnFamily.MVCC, b("b"), b("d"))) {
      it.seek(b("a"));
      assertThat(it.key()).isEqualTo(b("b"));
      it.seek(b("cc"));
      assertThat(it.valid()).isFalse();
      it.seek(b("c"));
      assertThat(it.key()).isEqualTo(b("c"));
    }
  }

  @Test
  void iteratorDoesNotLeaveOtherColumnFamilies() {
    engine.write(
        new WriteBatch()
            .put(ColumnFamily.RAFT, b("a"), b("1"))
            .put(ColumnFamily.LOCAL, b("b"), b("2")),
        false);
    assertThat(keys(engine, ColumnFamily.RAFT, null, null)).containsExactly("a");
  }

  @Test
  void readViewDoesNotSeeLaterWrites() {
    engine.write(new WriteBatch().put(ColumnFamily.MVCC, b("a"), b("1")), false);
    try (ReadView view = engine.newReadView()) {
      engine.write(
          new WriteBatch()
              .put(ColumnFamily.MVCC, b("a"), b("2"))
              .put(ColumnFamily.MVCC, b("b"), b("2"))
              .delete(ColumnFamily.MVCC, b("a")),
          false);
      assertThat(view.get(ColumnFamily.MVCC, b("a"))).isEqualTo(b("1"));
      assertThat(view.get(ColumnFamily.MVCC, b("b"))).isNull();
      assertThat(keys(view, ColumnFamily.MVCC, null, null)).containsExactly("a");
    }
    assertThat(engine.get(ColumnFamily.MVCC, b("a"))).isNull();
  }

  @Test
  void syncedWritesSurviveReopen() {
    engine.write(
        new WriteBatch()
            .put(ColumnFamily.RAFT, b("r"), b("1"))
            .put(ColumnFamily.LOCAL, b("l"), b("2")),
        true);
    engine = reopen(engine);
    assertThat(engine.get(ColumnFamily.RAFT, b("r"))).isEqualTo(b("1"));
    assertThat(engine.get(ColumnFamily.LOCAL, b("l"))).isEqualTo(b("2"));
  }

  @Test
  void explicitSyncMakesEarlierWritesDurable() {
    engine.write(new WriteBatch().put(ColumnFamily.MVCC, b("k"), b("v")), false);
    engine.sync();
    engine = reopen(engine);
    assertThat(engine.get(ColumnFamily.MVCC, b("k"))).isEqualTo(b("v"));
  }

  @Test
  void deleteRangeWithInvertedBoundsIsRefused() {
    assertThatThrownBy(() -> new WriteBatch().deleteRange(ColumnFamily.MVCC, b("b"), b("a")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("above upper bound");
  }

  @Test
  void randomBatchesMatchAModel() {
    long seed = Long.getLong("basalt.seed", System.nanoTime());
    String replay =
        "seed "
            + seed
            + "; replay: bin/test -pl range -am -Dtest='"
            + getClass().getSimpleName()
            + "#randomBatchesMatchAModel' -Dbasalt.seed="
            + seed;
    Random random = new Random(seed);
    TreeMap<byte[], byte[]> model = new TreeMap<>(Bytes.ORDER);
    for (int round = 0; round < 200; round++) {
      WriteBatch batch = new WriteBatch();
      int ops = 1 + random.nextInt(8);
      for (int i = 0; i < ops; i++) {
        byte[] key = bytes(random.nextInt(4), random.nextInt(256));
        switch (random.nextInt(3)) {
          case 0 -> {
            byte[] value = bytes(random.nextInt(256));
            batch.put(ColumnFamily.MVCC, key, value);
            model.put(key, value);
          }
          case 1 -> {
            batch.delete(ColumnFamily.MVCC, key);
            model.remove(key);
          }
          default -> {
            byte[] upper =
                bytes(key[0] & 0xFF, Math.min(255, (key[1] & 0xFF) + random.nextInt(40)));
            batch.deleteRange(ColumnFamily.MVCC, key, upper);
            model.subMap(key, true, upper, false).clear();
          }
        }
      }
      engine.write(batch, random.nextBoolean());
    }
    List<byte[]> keys = new ArrayList<>();
    List<byte[]> values = new ArrayList<>();
    try (EngineIterator it = engine.newIterator(ColumnFamily.MVCC, null, null)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        keys.add(it.key());
        values.add(it.value());
      }
    }
    assertThat(keys).as(replay).containsExactlyElementsOf(model.keySet());
    assertThat(values).as(replay).containsExactlyElementsOf(model.values());
  }
}
