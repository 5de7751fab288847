package io.basalt.range.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.Entry;
import io.basalt.api.HardState;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.range.storage.WriteBatch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RaftLogStoreTest {
  private static final long RANGE = 7;

  private final MemEngine engine = new MemEngine();
  private final RaftLogStore log = new RaftLogStore(engine, RANGE);

  static Entry entry(long index, long term) {
    return Entry.newBuilder()
        .setIndex(index)
        .setTerm(term)
        .setData(ByteString.copyFromUtf8("e" + index + "t" + term))
        .build();
  }

  static List<Entry> entries(long from, long to, long term) {
    List<Entry> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(entry(i, term));
    }
    return out;
  }

  private void append(RaftLogStore store, Engine target, List<Entry> entries) {
    WriteBatch batch = new WriteBatch();
    store.append(batch, entries);
    target.write(batch, true);
  }

  @Test
  void emptyLogStartsAtIndexOne() {
    assertThat(log.firstIndex()).isEqualTo(1);
    assertThat(log.lastIndex()).isZero();
    assertThat(log.term(0)).isZero();
    assertThat(log.hardState()).isEqualTo(HardState.getDefaultInstance());
  }

  @Test
  void appendedEntriesAreReadBack() {
    append(log, engine, entries(1, 5, 1));
    assertThat(log.lastIndex()).isEqualTo(5);
    assertThat(log.entries(2, 5, Long.MAX_VALUE)).containsExactlyElementsOf(entries(2, 4, 1));
    assertThat(log.term(3)).isEqualTo(1);
  }

  @Test
  void appendReplacesConflictingSuffix() {
    append(log, engine, entries(1, 5, 1));
    append(log, engine, entries(3, 3, 2));
    assertThat(log.lastIndex()).isEqualTo(3);
    assertThat(log.entries(1, 4, Long.MAX_VALUE))
        .containsExactly(entry(1, 1), entry(2, 1), entry(3, 2));
    assertThatThrownBy(() -> log.entry(4)).isInstanceOf(LogUnavailableException.class);
    // The deleted suffix is gone from disk too: a reopened store agrees.
    RaftLogStore reopened = new RaftLogStore(engine.crash(), RANGE);
    assertThat(reopened.lastIndex()).isEqualTo(3);
    assertThat(reopened.term(3)).isEqualTo(2);
  }

  @Test
  void appendThatLeavesAGapIsRefused() {
    append(log, engine, entries(1, 2, 1));
    assertThatThrownBy(() -> log.append(new WriteBatch(), entries(4, 4, 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gap");
    assertThat(log.lastIndex()).isEqualTo(2);
  }

  @Test
  void nonConsecutiveEntriesAreRefused() {
    assertThatThrownBy(() -> log.append(new WriteBatch(), List.of(entry(1, 1), entry(3, 1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not consecutive");
  }

  @Test
  void entriesAreLimitedByBytesButNeverEmpty() {
    append(log, engine, entries(1, 10, 1));
    long one = entry(1, 1).getSerializedSize();
    assertThat(log.entries(1, 11, 0)).hasSize(1);
    assertThat(log.entries(1, 11, one * 3)).hasSize(3);
    assertThat(log.entries(1, 11, Long.MAX_VALUE)).hasSize(10);
    assertThat(log.entries(4, 4, 100)).isEmpty();
  }

  @Test
  void compactionRemovesPrefixAndKeepsItsTerm() {
    append(log, engine, entries(1, 3, 1));
    append(log, engine, entries(4, 6, 2));
    WriteBatch batch = new WriteBatch();
    log.compact(batch, 4);
    engine.write(batch, true);
    assertThat(log.firstIndex()).isEqualTo(5);
    assertThat(log.term(4)).isEqualTo(2);
    assertThatThrownBy(() -> log.term(3)).isInstanceOf(LogCompactedException.class);
    assertThatThrownBy(() -> log.entries(3, 6, 100)).isInstanceOf(LogCompactedException.class);
    assertThat(engine.get(ColumnFamily.RAFT, LocalKeys.logEntry(RANGE, 4))).isNull();
    RaftLogStore reopened = new RaftLogStore(engine.crash(), RANGE);
    assertThat(reopened.firstIndex()).isEqualTo(5);
    assertThat(reopened.lastIndex()).isEqualTo(6);
    assertThat(reopened.term(4)).isEqualTo(2);
  }

  @Test
  void appendIntoCompactedPrefixIsRefused() {
    append(log, engine, entries(1, 5, 1));
    WriteBatch batch = new WriteBatch();
    log.compact(batch, 3);
    engine.write(batch, true);
    assertThatThrownBy(() -> log.append(new WriteBatch(), entries(2, 6, 2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("compacted");
  }

  @Test
  void resetToSnapshotReplacesTheWholeLog() {
    append(log, engine, entries(1, 5, 1));
    WriteBatch batch = new WriteBatch();
    log.resetToSnapshot(batch, 20, 3);
    engine.write(batch, true);
    assertThat(log.firstIndex()).isEqualTo(21);
    assertThat(log.lastIndex()).isEqualTo(20);
    assertThat(log.term(20)).isEqualTo(3);
    append(log, engine, entries(21, 22, 3));
    RaftLogStore reopened = new RaftLogStore(engine.crash(), RANGE);
    assertThat(reopened.firstIndex()).isEqualTo(21);
    assertThat(reopened.lastIndex()).isEqualTo(22);
  }

  @Test
  void hardStateIsPersisted() {
    HardState state = HardState.newBuilder().setTerm(5).setVote(2).setCommit(9).build();
    WriteBatch batch = new WriteBatch();
    log.setHardState(batch, state);
    engine.write(batch, true);
    assertThat(new RaftLogStore(engine.crash(), RANGE).hardState()).isEqualTo(state);
  }

  @Test
  void rangesDoNotSeeEachOthersLogs() {
    RaftLogStore other = new RaftLogStore(engine, RANGE + 1);
    append(log, engine, entries(1, 3, 1));
    append(other, engine, entries(1, 1, 4));
    WriteBatch batch = new WriteBatch();
    other.destroy(batch);
    engine.write(batch, true);
    assertThat(new RaftLogStore(engine, RANGE).lastIndex()).isEqualTo(3);
    assertThat(new RaftLogStore(engine, RANGE + 1).lastIndex()).isZero();
  }

  @Test
  void flippedBitInStoredEntryRaisesCorruptionNamingRangeAndIndex() {
    append(log, engine, entries(1, 3, 1));
    flipByte(engine, LocalKeys.logEntry(RANGE, 2), 9);
    assertThatThrownBy(() -> log.entry(2))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("range 7 log index 2");
    assertThatThrownBy(() -> log.entries(1, 4, Long.MAX_VALUE))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("range 7 log index 2");
    assertThatThrownBy(() -> log.term(2)).isInstanceOf(CorruptionException.class);
    assertThat(log.entry(1)).isEqualTo(entry(1, 1));
  }

  @Test
  void everyFlippedByteOfAnEntryIsDetected(@TempDir Path directory) {
    try (RocksDbEngine rocks = RocksDbEngine.open(directory)) {
      RaftLogStore store = new RaftLogStore(rocks, RANGE);
      append(store, rocks, entries(1, 2, 1));
      byte[] key = LocalKeys.logEntry(RANGE, 1);
      byte[] original = rocks.get(ColumnFamily.RAFT, key);
      for (int i = 0; i < original.length; i++) {
        for (int bit = 0; bit < 8; bit++) {
          byte[] bad = original.clone();
          bad[i] ^= (byte) (1 << bit);
          rocks.write(new WriteBatch().put(ColumnFamily.RAFT, key, bad), false);
          assertThatThrownBy(() -> store.entry(1))
              .as("byte %d bit %d", i, bit)
              .isInstanceOf(CorruptionException.class)
              .hasMessageContaining("range 7 log index 1");
        }
      }
    }
  }

  @Test
  void entryStoredUnderAnotherIndexIsDetected() {
    append(log, engine, entries(1, 3, 1));
    byte[] moved = engine.get(ColumnFamily.RAFT, LocalKeys.logEntry(RANGE, 1));
    engine.write(
        new WriteBatch().put(ColumnFamily.RAFT, LocalKeys.logEntry(RANGE, 3), moved), true);
    assertThatThrownBy(() -> log.entry(3))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("range 7 log index 3");
  }

  @Test
  void corruptHardStateIsDetected() {
    WriteBatch batch = new WriteBatch();
    log.setHardState(batch, HardState.newBuilder().setTerm(5).build());
    engine.write(batch, true);
    flipByte(engine, LocalKeys.hardState(RANGE), 4);
    assertThatThrownBy(log::hardState)
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("range 7 hard state");
  }

  static void flipByte(Engine engine, byte[] key, int offset) {
    byte[] stored = engine.get(ColumnFamily.RAFT, key);
    stored[offset] ^= 0x40;
    engine.write(new WriteBatch().put(ColumnFamily.RAFT, key, stored), true);
  }
}
