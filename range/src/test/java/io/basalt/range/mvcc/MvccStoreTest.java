package io.basalt.range.mvcc;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.keys.MvccKeys;
import io.basalt.range.storage.Bytes;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MvccStoreTest {
  private final MemEngine engine = new MemEngine();

  static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  static Timestamp ts(long wall) {
    return new Timestamp(wall, 0);
  }

  private void put(String key, long wall, String value) {
    WriteBatch batch = new WriteBatch();
    MvccStore.put(batch, b(key), ts(wall), b(value));
    engine.write(batch, false);
  }

  private void delete(String key, long wall) {
    WriteBatch batch = new WriteBatch();
    MvccStore.delete(batch, b(key), ts(wall));
    engine.write(batch, false);
  }

  private String get(String key, long wall) {
    return MvccStore.get(engine, b(key), ts(wall))
        .map(v -> new String(v.value(), UTF_8))
        .orElse(null);
  }

  @Test
  void readSeesNewestVersionAtOrBelowItsTimestamp() {
    put("k", 10, "v10");
    put("k", 20, "v20");
    assertThat(get("k", 5)).isNull();
    assertThat(get("k", 10)).isEqualTo("v10");
    assertThat(get("k", 15)).isEqualTo("v10");
    assertThat(get("k", 20)).isEqualTo("v20");
    assertThat(get("k", 99)).isEqualTo("v20");
  }

  @Test
  void logicalComponentOrdersVersionsAtTheSameWallTime() {
    WriteBatch batch = new WriteBatch();
    MvccStore.put(batch, b("k"), new Timestamp(10, 1), b("a"));
    MvccStore.put(batch, b("k"), new Timestamp(10, 2), b("b"));
    engine.write(batch, false);
    assertThat(MvccStore.get(engine, b("k"), new Timestamp(10, 1)).orElseThrow().value())
        .isEqualTo(b("a"));
    assertThat(MvccStore.get(engine, b("k"), new Timestamp(10, 2)).orElseThrow().value())
        .isEqualTo(b("b"));
    assertThat(MvccStore.get(engine, b("k"), new Timestamp(10, 0))).isEmpty();
  }

  @Test
  void tombstoneHidesOlderVersionsOnlyFromItsTimestamp() {
    put("k", 10, "v10");
    delete("k", 20);
    put("k", 30, "v30");
    assertThat(get("k", 15)).isEqualTo("v10");
    assertThat(get("k", 25)).isNull();
    assertThat(MvccStore.getVersion(engine, b("k"), ts(25)).orElseThrow().isTombstone()).isTrue();
    assertThat(get("k", 30)).isEqualTo("v30");
  }

  @Test
  void keysThatArePrefixesOfEachOtherDoNotMix() {
    put("a", 10, "a");
    put("a\0", 20, "a0");
    put("ab", 30, "ab");
    assertThat(get("a", 99)).isEqualTo("a");
    assertThat(get("a\0", 15)).isNull();
    assertThat(get("a\0", 99)).isEqualTo("a0");
    assertThat(get("ab", 25)).isNull();
    assertThat(get("", 99)).isNull();
  }

  @Test
  void scanReturnsLiveValuesAtTimestampInKeyOrder() {
    put("a", 10, "a10");
    put("b", 10, "b10");
    put("b", 30, "b30");
    put("c", 10, "c10");
    delete("c", 20);
    put("d", 40, "d40");
    MvccStore.ScanResult at25 = MvccStore.scan(engine, b(""), b(""), ts(25), 100, Long.MAX_VALUE);
    assertThat(at25.versions())
        .extracting(v -> new String(v.value(), UTF_8))
        .containsExactly("a10", "b10");
    assertThat(at25.resumeKey()).isNull();
    MvccStore.ScanResult at50 = MvccStore.scan(engine, b("b"), b("d"), ts(50), 100, Long.MAX_VALUE);
    assertThat(at50.versions())
        .extracting(v -> new String(v.value(), UTF_8))
        .containsExactly("b30");
  }

  @Test
  void scanPaginatesByLimitAndBytes() {
    for (char c = 'a'; c <= 'j'; c++) {
      put(String.valueOf(c), 10, "value-" + c);
    }
    MvccStore.ScanResult page = MvccStore.scan(engine, b("a"), b(""), ts(10), 3, Long.MAX_VALUE);
    assertThat(page.versions())
        .extracting(v -> new String(v.key(), UTF_8))
        .containsExactly("a", "b", "c");
    assertThat(page.resumeKey()).isEqualTo(b("d"));
    MvccStore.ScanResult next = MvccStore.scan(engine, page.resumeKey(), b(""), ts(10), 100, 1);
    assertThat(next.versions()).hasSize(1);
    assertThat(next.resumeKey()).isEqualTo(b("e"));
  }

  @Test
  void scanOfEmptyOrInvertedSpanIsEmpty() {
    put("a", 10, "a");
    assertThat(MvccStore.scan(engine, b("b"), b("a"), ts(10), 10, 100).versions()).isEmpty();
    assertThat(MvccStore.scan(engine, b("b"), b("c"), ts(10), 10, 100).versions()).isEmpty();
  }

  @Test
  void oversizeKeyIsRefused() {
    byte[] big = new byte[MvccStore.MAX_KEY_BYTES + 1];
    assertThatThrownBy(() -> MvccStore.put(new WriteBatch(), big, ts(1), b("v")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maximum");
  }

  @Test
  void keyspaceEndIsAboveTheLargestKeys() {
    byte[] maxKey = new byte[MvccStore.MAX_KEY_BYTES];
    Arrays.fill(maxKey, (byte) 0xFF);
    for (byte[] key : List.of(maxKey, new byte[MvccStore.MAX_KEY_BYTES], b("\u00ff"))) {
      assertThat(Bytes.compare(MvccKeys.version(key, Timestamp.MIN), MvccStore.KEYSPACE_END))
          .isNegative();
    }
    put("\u00ff\u00ff", 10, "last");
    assertThat(MvccStore.scan(engine, b("a"), b(""), ts(10), 10, 100).versions()).hasSize(1);
  }

  @Test
  void scanAndGetAgreeWithAModelOverManyVersions() {
    long seed = Long.getLong("basalt.seed", System.nanoTime());
    String replay =
        "seed "
            + seed
            + "; replay: bin/test -pl range -am -Dtest='MvccStoreTest' -Dbasalt.seed="
            + seed;
    java.util.Random random = new java.util.Random(seed);
    // model: key -> (wall -> value or null for tombstone)
    java.util.TreeMap<String, java.util.TreeMap<Long, String>> model = new java.util.TreeMap<>();
    for (int i = 0; i < 400; i++) {
      String key = "k" + random.nextInt(30);
      long wall = 1 + random.nextInt(60);
      WriteBatch batch = new WriteBatch();
      if (random.nextInt(5) == 0) {
        MvccStore.delete(batch, b(key), ts(wall));
        model.computeIfAbsent(key, k -> new java.util.TreeMap<>()).put(wall, null);
      } else {
        String value = key + "@" + wall + "#" + i;
        MvccStore.put(batch, b(key), ts(wall), b(value));
        model.computeIfAbsent(key, k -> new java.util.TreeMap<>()).put(wall, value);
      }
      engine.write(batch, false);
    }
    for (long readWall = 0; readWall <= 61; readWall++) {
      java.util.List<String> expected = new java.util.ArrayList<>();
      for (var entry : model.entrySet()) {
        var visible = entry.getValue().floorEntry(readWall);
        String value = visible == null ? null : visible.getValue();
        assertThat(get(entry.getKey(), readWall)).as(replay).isEqualTo(value);
        if (value != null) {
          expected.add(entry.getKey() + "=" + value);
        }
      }
      java.util.List<String> scanned = new java.util.ArrayList<>();
      byte[] start = b("");
      while (start != null) {
        MvccStore.ScanResult page =
            MvccStore.scan(
                engine, start, b(""), ts(readWall), 1 + random.nextInt(4), Long.MAX_VALUE);
        for (MvccStore.Version v : page.versions()) {
          scanned.add(new String(v.key(), UTF_8) + "=" + new String(v.value(), UTF_8));
        }
        start = page.resumeKey();
      }
      assertThat(scanned).as(replay + " at " + readWall).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void garbageCollectionChangesNoReadAtOrAboveTheThresholdAndLeavesOneVersionBelow() {
    long seed = Long.getLong("basalt.seed", System.nanoTime());
    String replay =
        "seed "
            + seed
            + "; replay: bin/test -pl range -am -Dtest='MvccStoreTest' -Dbasalt.seed="
            + seed;
    java.util.Random random = new java.util.Random(seed);
    java.util.TreeMap<String, java.util.TreeMap<Long, String>> model = new java.util.TreeMap<>();
    for (int i = 0; i < 300; i++) {
      String key = "k" + random.nextInt(20);
      long wall = 1 + random.nextInt(60);
      if (random.nextInt(4) == 0) {
        delete(key, wall);
        model.computeIfAbsent(key, k -> new java.util.TreeMap<>()).put(wall, null);
      } else {
        put(key, wall, key + "@" + wall);
        model.computeIfAbsent(key, k -> new java.util.TreeMap<>()).put(wall, key + "@" + wall);
      }
    }
    WriteBatch intent = new WriteBatch();
    MvccStore.putIntent(intent, b("k3"), b("an intent"));
    engine.write(intent, false);
    long threshold = 1 + random.nextInt(60);
    int max = 1 + random.nextInt(10);
    byte[] start = b("");
    int pages = 0;
    while (start != null) {
      MvccStore.Garbage page = MvccStore.garbage(engine, start, b(""), ts(threshold), max);
      WriteBatch batch = new WriteBatch();
      for (MvccStore.VersionKey v : page.versions()) {
        MvccStore.deleteVersion(batch, v.key(), v.timestamp());
      }
      engine.write(batch, false);
      start = page.resumeKey();
      pages++;
    }
    assertThat(pages).as(replay).isGreaterThan(0);
    for (var entry : model.entrySet()) {
      for (long readWall = threshold; readWall <= 61; readWall++) {
        var visible = entry.getValue().floorEntry(readWall);
        assertThat(get(entry.getKey(), readWall))
            .as("%s: %s at %d after GC at %d", replay, entry.getKey(), readWall, threshold)
            .isEqualTo(visible == null ? null : visible.getValue());
      }
      // At most one version at or below the threshold is left, and no tombstone there.
      var below = entry.getValue().headMap(threshold, true);
      long left =
          below.keySet().stream()
              .filter(w ->
                  MvccStore.getVersion(engine, b(entry.getKey()), ts(w))
                      .map(v -> v.timestamp().equals(ts(w)))
                      .orElse(false))
              .count();
      var newestBelow = below.isEmpty() ? null : below.lastEntry();
      long expectedLeft = newestBelow == null || newestBelow.getValue() == null ? 0 : 1;
      assertThat(left)
          .as("%s: versions of %s left at or below %d", replay, entry.getKey(), threshold)
          .isEqualTo(expectedLeft);
    }
    assertThat(MvccStore.getIntent(engine, b("k3")))
        .as("intents are kept")
        .isEqualTo(b("an intent"));
    assertThat(MvccStore.garbage(engine, b(""), b(""), ts(threshold), max).versions())
        .as("%s: nothing left to collect", replay)
        .isEmpty();
  }
}
