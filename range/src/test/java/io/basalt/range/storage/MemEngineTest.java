package io.basalt.range.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
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

  /** One write of a crash script: its mutations, whether it was synced, and a sync() after it. */
  private record Step(List<WriteBatch.Op> ops, boolean sync, boolean syncAfter) {}

  /**
   * The contract of {@link MemEngine#crash(int)}: for every number {@code k} of unsynced writes to
   * keep (none, each count up to all of them, and more than there are), the crashed engine holds
   * exactly the synced writes followed by the first {@code k} unsynced ones, each batch whole, and
   * keeps that image as durable. Random scripts (seeded) of multi-key batches over a small key
   * pool, so that both a missing, an extra and a torn batch change the image.
   */
  @Test
  void crashKeepsExactlyTheChosenPrefixOfUnsyncedWritesWholeBatchByBatch() {
    long seed = Long.getLong("basalt.seed", 20_260_612L);
    Random random = new Random(seed);
    int tried = 0;
    for (int round = 0; round < 40; round++) {
      List<Step> script = script(random, 1 + random.nextInt(25));
      int synced = 0; // the writes the last sync covered
      for (int i = 0; i < script.size(); i++) {
        if (script.get(i).sync() || script.get(i).syncAfter()) {
          synced = i + 1;
        }
      }
      int unsynced = script.size() - synced;
      for (int kept = 0; kept <= unsynced + 1; kept++) {
        String what = "seed " + seed + " round " + round + " keeping " + kept + " of " + unsynced;
        MemEngine before = replay(script);
        assertThat(before.unsyncedWrites()).as(what).isEqualTo(unsynced);
        MemEngine after = before.crash(kept);
        Map<ColumnFamily, TreeMap<String, String>> expected =
            image(script.subList(0, synced + Math.min(kept, unsynced)));
        assertThat(contents(after)).as(what).isEqualTo(expected);
        assertThat(after.unsyncedWrites()).as(what).isZero();
        // What survived a crash is on disk: a second crash keeps it all.
        assertThat(contents(after.crash(0))).as(what + ", crashed again").isEqualTo(expected);
        tried++;
      }
    }
    assertThat(tried).isGreaterThan(200);
  }

  private static List<Step> script(Random random, int writes) {
    List<Step> script = new ArrayList<>();
    ColumnFamily[] cfs = ColumnFamily.values();
    for (int i = 0; i < writes; i++) {
      List<WriteBatch.Op> ops = new ArrayList<>();
      // A key only this batch writes (a lost batch is missed), then shared keys (order matters).
      ops.add(new WriteBatch.Put(ColumnFamily.MVCC, b("batch" + i), b("w" + i)));
      for (int n = 1 + random.nextInt(4); n > 0; n--) {
        ColumnFamily cf = cfs[random.nextInt(cfs.length)];
        byte[] key = b("k" + random.nextInt(8));
        int kind = random.nextInt(10);
        if (kind < 6) {
          ops.add(new WriteBatch.Put(cf, key, b("w" + i + "." + n)));
        } else if (kind < 9) {
          ops.add(new WriteBatch.Delete(cf, key));
        } else {
          ops.add(new WriteBatch.DeleteRange(cf, b("k2"), b("k5")));
        }
      }
      // And the last key the batch writes again: half a batch leaves it at another value.
      ops.add(new WriteBatch.Put(ColumnFamily.LOCAL, b("last"), b("w" + i)));
      script.add(new Step(ops, random.nextInt(8) == 0, random.nextInt(10) == 0));
    }
    return script;
  }

  private static MemEngine replay(List<Step> script) {
    MemEngine engine = new MemEngine();
    for (Step step : script) {
      WriteBatch batch = new WriteBatch();
      for (WriteBatch.Op op : step.ops()) {
        switch (op) {
          case WriteBatch.Put put -> batch.put(put.cf(), put.key(), put.value());
          case WriteBatch.Delete delete -> batch.delete(delete.cf(), delete.key());
          case WriteBatch.DeleteRange range ->
              batch.deleteRange(range.cf(), range.lowerInclusive(), range.upperExclusive());
        }
      }
      engine.write(batch, step.sync());
      if (step.syncAfter()) {
        engine.sync();
      }
    }
    return engine;
  }

  /** The image that applying {@code steps} in order, whole, to an empty engine gives. */
  private static Map<ColumnFamily, TreeMap<String, String>> image(List<Step> steps) {
    Map<ColumnFamily, TreeMap<String, String>> image = new EnumMap<>(ColumnFamily.class);
    for (ColumnFamily cf : ColumnFamily.values()) {
      image.put(cf, new TreeMap<>());
    }
    for (Step step : steps) {
      for (WriteBatch.Op op : step.ops()) {
        TreeMap<String, String> map = image.get(op.cf());
        switch (op) {
          case WriteBatch.Put put -> map.put(s(put.key()), s(put.value()));
          case WriteBatch.Delete delete -> map.remove(s(delete.key()));
          case WriteBatch.DeleteRange range ->
              map.subMap(s(range.lowerInclusive()), s(range.upperExclusive())).clear();
        }
      }
    }
    return image;
  }

  private static Map<ColumnFamily, TreeMap<String, String>> contents(Engine engine) {
    Map<ColumnFamily, TreeMap<String, String>> image = new EnumMap<>(ColumnFamily.class);
    for (ColumnFamily cf : ColumnFamily.values()) {
      TreeMap<String, String> map = new TreeMap<>();
      try (EngineIterator it = engine.newIterator(cf, null, null)) {
        for (it.seekToFirst(); it.valid(); it.next()) {
          map.put(s(it.key()), s(it.value()));
        }
      }
      image.put(cf, map);
    }
    return image;
  }

  private static String s(byte[] bytes) {
    return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
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
