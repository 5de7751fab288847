package io.basalt.range.snapshot;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
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

class RangeSnapshotTest {
  private static final RangeSpan SPAN = new RangeSpan(3, b("b"), b("m"));

  static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  static Timestamp ts(long wall) {
    return new Timestamp(wall, 0);
  }

  static void fill(Engine engine, String prefix, long wall, String... keys) {
    WriteBatch batch = new WriteBatch();
    for (String key : keys) {
      MvccStore.put(batch, b(key), ts(wall), b(prefix + key));
    }
    engine.write(batch, true);
  }

  static List<String> values(Engine engine, String start, String end) {
    List<String> out = new ArrayList<>();
    for (MvccStore.Version v :
        MvccStore.scan(engine, b(start), b(end), ts(100), 1000, Long.MAX_VALUE).versions()) {
      out.add(new String(v.key(), UTF_8) + "=" + new String(v.value(), UTF_8));
    }
    return out;
  }

  record Stream(List<byte[]> chunks, int crc) {}

  static Stream export(Engine engine, RangeSpan span, int chunkBytes) {
    List<byte[]> chunks = new ArrayList<>();
    try (SnapshotWriter writer = new SnapshotWriter(engine, span, chunkBytes)) {
      while (writer.hasNext()) {
        chunks.add(writer.nextChunk());
      }
      return new Stream(chunks, writer.streamCrc());
    }
  }

  static WriteBatch receive(Stream stream, RangeSpan span) {
    SnapshotReceiver receiver = new SnapshotReceiver(span);
    for (int i = 0; i < stream.chunks().size(); i++) {
      receiver.accept(i, stream.chunks().get(i));
    }
    return receiver.finish(stream.crc());
  }

  @Test
  void ingestReplacesTheRangesDataAndLeavesOtherRangesAlone(@TempDir Path dir) {
    MemEngine source = new MemEngine();
    fill(source, "new-", 10, "a", "b", "c", "k", "m", "z");
    source.write(
        new WriteBatch().put(ColumnFamily.LOCAL, LocalKeys.appliedIndex(3), b("42")), true);
    try (RocksDbEngine target = RocksDbEngine.open(dir)) {
      fill(target, "old-", 5, "a", "b", "d", "l", "m");
      target.write(
          new WriteBatch().put(ColumnFamily.LOCAL, LocalKeys.appliedIndex(3), b("7")), true);
      target.write(
          new WriteBatch().put(ColumnFamily.LOCAL, LocalKeys.appliedIndex(4), b("9")), true);

      target.write(receive(export(source, SPAN, 16), SPAN), true);

      assertThat(values(target, "", ""))
          .containsExactly("a=old-a", "b=new-b", "c=new-c", "k=new-k", "m=old-m");
      assertThat(target.get(ColumnFamily.LOCAL, LocalKeys.appliedIndex(3))).isEqualTo(b("42"));
      assertThat(target.get(ColumnFamily.LOCAL, LocalKeys.appliedIndex(4))).isEqualTo(b("9"));
    }
  }

  @Test
  void snapshotIsAConsistentPointInTime() {
    MemEngine source = new MemEngine();
    fill(source, "v1-", 10, "b", "c");
    List<byte[]> chunks = new ArrayList<>();
    int crc;
    try (SnapshotWriter writer = new SnapshotWriter(source, SPAN, 1)) {
      chunks.add(writer.nextChunk());
      fill(source, "v2-", 20, "d");
      source.write(new WriteBatch().deleteRange(ColumnFamily.MVCC, b(""), b("\u00ff")), true);
      while (writer.hasNext()) {
        chunks.add(writer.nextChunk());
      }
      crc = writer.streamCrc();
    }
    MemEngine target = new MemEngine();
    target.write(receive(new Stream(chunks, crc), SPAN), true);
    assertThat(values(target, "", "")).containsExactly("b=v1-b", "c=v1-c");
  }

  @Test
  void emptyRangeSnapshotClearsTheTarget() {
    MemEngine target = new MemEngine();
    fill(target, "old-", 5, "c");
    target.write(receive(export(new MemEngine(), SPAN, 1024), SPAN), true);
    assertThat(values(target, "", "")).isEmpty();
  }

  @Test
  void unboundedRangeCoversTheEndOfTheKeyspace() {
    RangeSpan last = new RangeSpan(9, b("x"), new byte[0]);
    MemEngine source = new MemEngine();
    fill(source, "s-", 10, "x", "\u00ff\u00ff");
    MemEngine target = new MemEngine();
    fill(target, "t-", 10, "w", "y");
    target.write(receive(export(source, last, 8), last), true);
    assertThat(values(target, "", ""))
        .containsExactly("w=t-w", "x=s-x", "\u00ff\u00ff=s-\u00ff\u00ff");
  }

  @Test
  void checksumMismatchIsRefused() {
    MemEngine source = new MemEngine();
    fill(source, "v-", 10, "c", "d");
    Stream stream = export(source, SPAN, 1 << 20);
    SnapshotReceiver receiver = new SnapshotReceiver(SPAN);
    receiver.accept(0, stream.chunks().get(0));
    assertThatThrownBy(() -> receiver.finish(stream.crc() ^ 1))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("checksum mismatch");
  }

  @Test
  void outOfOrderChunkIsRefused() {
    MemEngine source = new MemEngine();
    fill(source, "v-", 10, "c", "d", "e");
    Stream stream = export(source, SPAN, 1);
    SnapshotReceiver receiver = new SnapshotReceiver(SPAN);
    assertThatThrownBy(() -> receiver.accept(1, stream.chunks().get(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("expected 0");
  }

  @Test
  void recordOutsideTheRangeIsRefused() {
    MemEngine source = new MemEngine();
    fill(source, "v-", 10, "x");
    RangeSpan wide = new RangeSpan(3, b("a"), b("z"));
    Stream stream = export(source, wide, 1024);
    SnapshotReceiver receiver = new SnapshotReceiver(SPAN);
    assertThatThrownBy(() -> receiver.accept(0, stream.chunks().get(0)))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("outside range 3");
  }

  @Test
  void truncatedChunkIsRefused() {
    MemEngine source = new MemEngine();
    fill(source, "v-", 10, "c");
    byte[] chunk = export(source, SPAN, 1024).chunks().get(0);
    byte[] truncated = java.util.Arrays.copyOf(chunk, chunk.length - 3);
    assertThatThrownBy(() -> new SnapshotReceiver(SPAN).accept(0, truncated))
        .isInstanceOf(CorruptionException.class);
  }
}
