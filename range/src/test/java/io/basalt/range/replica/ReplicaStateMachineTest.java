package io.basalt.range.replica;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.RaftCommand;
import io.basalt.api.ReplicatedWrite;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReplicaStateMachineTest {
  private static final long RANGE = 4;

  static ByteString b(String s) {
    return ByteString.copyFromUtf8(s);
  }

  static byte[] put(String requestId, String key, long wall, String value) {
    return RaftCommand.newBuilder()
        .setRequestId(b(requestId))
        .addWrites(
            ReplicatedWrite.newBuilder()
                .setKey(b(key))
                .setTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(wall))
                .setValue(b(value)))
        .setResult(b("ok:" + requestId))
        .build()
        .toByteArray();
  }

  static String read(Engine engine, String key, long wall) {
    return MvccStore.get(engine, key.getBytes(StandardCharsets.UTF_8), new Timestamp(wall, 0))
        .map(v -> new String(v.value(), StandardCharsets.UTF_8))
        .orElse(null);
  }

  @Test
  void appliesWritesInLogOrderAndAdvancesTheAppliedIndex() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, new byte[0]);
    sm.apply(2, put("r1", "k", 10, "a"));
    sm.apply(3, put("r2", "k", 20, "b"));
    assertThat(sm.appliedIndex()).isEqualTo(3);
    assertThat(read(engine, "k", 15)).isEqualTo("a");
    assertThat(read(engine, "k", 25)).isEqualTo("b");
  }

  @Test
  void entriesAtOrBelowTheAppliedIndexAreSkipped() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, put("r1", "k", 10, "a"));
    assertThat(sm.apply(1, put("other", "k", 10, "overwritten"))).isEmpty();
    assertThat(read(engine, "k", 10)).isEqualTo("a");
  }

  @Test
  void aGapInTheLogIsRefused() {
    ReplicaStateMachine sm = new ReplicaStateMachine(new MemEngine(), RANGE);
    assertThatThrownBy(() -> sm.apply(2, new byte[0]))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("applies index 2 after 0");
  }

  @Test
  void aRetriedRequestIdIsAppliedOnceAndAnswersWithTheFirstResult() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    assertThat(sm.apply(1, put("req", "k", 10, "first")).orElseThrow().duplicate()).isFalse();
    ReplicaStateMachine.Applied retry = sm.apply(2, put("req", "k", 20, "second")).orElseThrow();
    assertThat(retry.duplicate()).isTrue();
    assertThat(retry.result()).isEqualTo(b("ok:req"));
    assertThat(read(engine, "k", 99)).isEqualTo("first");
    assertThat(sm.appliedIndex()).isEqualTo(2);
    assertThat(sm.recordedResult(b("req"))).contains(b("ok:req"));
  }

  @Test
  void aCommandMarkedFirstInTheLogIsRecordedWithoutALookup() throws Exception {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, firstInLog(put("req", "k", 10, "first")));
    assertThat(sm.recordedResult(b("req"))).contains(b("ok:req"));
    // The mark is the leader's promise that no earlier entry carries the id; replicas take it at
    // its word (this one is a broken promise, to show the lookup is skipped)...
    ReplicaStateMachine.Applied marked =
        sm.apply(2, firstInLog(put("req", "k", 20, "second"))).orElseThrow();
    assertThat(marked.duplicate()).isFalse();
    assertThat(read(engine, "k", 99)).isEqualTo("second");
    // ...and a command without it is looked up and applied as a no-op.
    assertThat(sm.apply(3, put("req", "k", 30, "third")).orElseThrow().duplicate()).isTrue();
    assertThat(read(engine, "k", 99)).isEqualTo("second");
  }

  private static byte[] firstInLog(byte[] command) throws Exception {
    return RaftCommand.parseFrom(command).toBuilder().setFirstInLog(true).build().toByteArray();
  }

  @Test
  void aRetryStagedInTheSameBatchAsItsFirstAttemptIsAppliedOnce() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    io.basalt.range.storage.WriteBatch batch = new io.basalt.range.storage.WriteBatch();
    assertThat(sm.stage(batch, 1, put("req", "k", 10, "first")).orElseThrow().duplicate())
        .isFalse();
    assertThat(sm.stage(batch, 2, put("req", "k", 20, "second")).orElseThrow().duplicate())
        .isTrue();
    assertThat(read(engine, "k", 99)).as("nothing is written before the batch").isNull();
    engine.write(batch, false);
    sm.batchWritten(batch);
    assertThat(read(engine, "k", 99)).isEqualTo("first");
    assertThat(sm.appliedIndex()).isEqualTo(2);
    assertThat(sm.recordedResult(b("req"))).contains(b("ok:req"));
  }

  @Test
  void aBatchOfManyEntriesWritesTheAppliedIndexOnceWithTheLastIndex() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    WriteBatch batch = new WriteBatch();
    for (int i = 1; i <= 5; i++) {
      sm.stage(batch, i, put("r" + i, "k" + i, 10, "v"));
    }
    byte[] appliedKey = LocalKeys.appliedIndex(RANGE);
    assertThat(batch.ops())
        .filteredOn(op -> op instanceof WriteBatch.Put p && Arrays.equals(p.key(), appliedKey))
        .hasSize(1);
    engine.write(batch, false);
    sm.batchWritten(batch);
    assertThat(new ReplicaStateMachine(engine, RANGE).appliedIndex())
        .as("a restart resumes after the batch's last entry")
        .isEqualTo(5);
  }

  /**
   * With asynchronous writes a second batch is staged while the first is on its way to disk: a
   * retry staged in the second must see the first's record, and the first's write must not make the
   * state machine forget the second's ids or its applied-index put.
   */
  @Test
  void twoBatchesInFlightKeepEachOthersRecords() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    WriteBatch first = new WriteBatch();
    sm.stage(first, 1, put("a", "k", 10, "v1"));
    WriteBatch second = new WriteBatch();
    sm.stage(second, 2, put("b", "k", 20, "v2"));
    assertThat(sm.stage(second, 3, put("a", "k", 30, "retry")).orElseThrow().duplicate())
        .as("a retry of a request staged in the earlier batch")
        .isTrue();
    engine.write(first, false);
    sm.batchWritten(first);
    assertThat(sm.stage(second, 4, put("b", "k", 40, "retry")).orElseThrow().duplicate())
        .as("the second batch's ids survive the first batch's write")
        .isTrue();
    engine.write(second, false);
    sm.batchWritten(second);
    assertThat(new ReplicaStateMachine(engine, RANGE).appliedIndex()).isEqualTo(4);
    assertThat(read(engine, "k", 99)).isEqualTo("v2");
  }

  @Test
  void anAppliedIndexStagedAfterADeleteIsAPutOfItsOwn() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    WriteBatch batch = new WriteBatch();
    sm.stage(batch, 1, put("r1", "k", 10, "v"));
    // Anything deleting after the first put (here the applied index itself) must not be undone.
    batch.delete(ColumnFamily.LOCAL, LocalKeys.appliedIndex(RANGE));
    sm.stage(batch, 2, put("r2", "k", 20, "v"));
    engine.write(batch, false);
    sm.batchWritten(batch);
    assertThat(new ReplicaStateMachine(engine, RANGE).appliedIndex()).isEqualTo(2);
    // The next batch gets its own put, whatever the last batch's positions were.
    WriteBatch next = new WriteBatch();
    sm.stage(next, 3, put("r3", "k", 30, "v"));
    engine.write(next, false);
    sm.batchWritten(next);
    assertThat(new ReplicaStateMachine(engine, RANGE).appliedIndex()).isEqualTo(3);
  }

  static byte[] putAt(String requestId, String key, long wall, String value, long proposedAt) {
    try {
      return RaftCommand.parseFrom(put(requestId, key, wall, value)).toBuilder()
          .setProposedAtNanos(proposedAt)
          .build()
          .toByteArray();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void oldDedupeRecordsAreCollectedByAgeAndRecentOnesKept() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, putAt("old", "a", 10, "1", 1_000));
    sm.apply(2, putAt("new", "b", 20, "2", 9_000));
    sm.apply(3, RaftCommand.newBuilder().setCollectDedupeBeforeNanos(5_000).build().toByteArray());
    assertThat(sm.recordedResult(b("old"))).isEmpty();
    assertThat(sm.recordedResult(b("new"))).contains(b("ok:new"));
    // Past the retention a retried id is a new write (the retention must exceed client retries).
    assertThat(sm.apply(4, putAt("old", "a", 30, "again", 12_000)).orElseThrow().duplicate())
        .isFalse();
    assertThat(read(engine, "a", 99)).isEqualTo("again");
    // The data itself is untouched by collection.
    assertThat(read(engine, "b", 99)).isEqualTo("2");
  }

  /**
   * A collection must delete the same records whatever the writer has written yet: records staged
   * in a batch on its way to disk are collected too, and a collected record is gone for lookups
   * before its deletion is written as well as after.
   */
  @Test
  void collectionSeesRecordsStillOnTheirWayToDisk() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    WriteBatch first = new WriteBatch();
    sm.stage(first, 1, putAt("old", "a", 10, "1", 1_000));
    WriteBatch second = new WriteBatch();
    sm.stage(
        second,
        2,
        RaftCommand.newBuilder().setCollectDedupeBeforeNanos(5_000).build().toByteArray());
    assertThat(sm.recordedResult(b("old"))).as("collected, though not yet written").isEmpty();
    engine.write(first, false);
    sm.batchWritten(first);
    assertThat(sm.recordedResult(b("old")))
        .as("the record is in the engine, its deletion is not: still collected")
        .isEmpty();
    engine.write(second, false);
    sm.batchWritten(second);
    assertThat(sm.recordedResult(b("old"))).isEmpty();
    assertThat(engine.get(ColumnFamily.LOCAL, LocalKeys.dedupe(RANGE, b("old").toByteArray())))
        .isNull();
  }

  @Test
  void aCrashResumesAfterTheLastAppliedEntryWhoseEffectsSurvived() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, put("r1", "k", 10, "a"));
    engine.sync();
    sm.apply(2, put("r2", "k", 20, "b")); // applied but not synced: lost by the crash
    MemEngine recovered = engine.crash();
    ReplicaStateMachine again = new ReplicaStateMachine(recovered, RANGE);
    assertThat(again.appliedIndex()).isEqualTo(1);
    assertThat(read(recovered, "k", 25)).isEqualTo("a");
    // The log hands entry 2 out again; applying it gives the same state as before the crash,
    // and its request id is not mistaken for a duplicate.
    assertThat(again.apply(2, put("r2", "k", 20, "b")).orElseThrow().duplicate()).isFalse();
    assertThat(read(recovered, "k", 25)).isEqualTo("b");
  }

  @Test
  void aCommandThatDoesNotParseIsCorruption() {
    ReplicaStateMachine sm = new ReplicaStateMachine(new MemEngine(), RANGE);
    assertThatThrownBy(() -> sm.apply(1, new byte[] {(byte) 0xFF, (byte) 0xFF}))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("range 4 command at index 1");
    assertThat(sm.appliedIndex()).isZero();
  }

  /**
   * A command that parses but holds what no leader proposes is corruption too, refused before any
   * of it is staged (found by reading what {@code DiskFormatsFuzzTest#replicatedCommands} covers: a
   * negative timestamp failed with an IllegalArgumentException halfway through staging).
   */
  @Test
  void aCommandNoLeaderProposesIsCorruptionAndStagesNothing() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    ReplicatedWrite good =
        ReplicatedWrite.newBuilder()
            .setKey(b("a"))
            .setTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(5))
            .setValue(b("v"))
            .build();
    byte[] negative =
        RaftCommand.newBuilder()
            .addWrites(good)
            .addWrites(
                good.toBuilder()
                    .setTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(-1)))
            .build()
            .toByteArray();
    byte[] bigKey =
        RaftCommand.newBuilder()
            .addGcVersions(
                io.basalt.api.MvccVersion.newBuilder()
                    .setKey(ByteString.copyFrom(new byte[MvccStore.MAX_KEY_BYTES + 1]))
                    .setTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(5)))
            .build()
            .toByteArray();
    WriteBatch batch = new WriteBatch();
    assertThatThrownBy(() -> sm.stage(batch, 1, negative))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("negative timestamp");
    assertThatThrownBy(() -> sm.stage(batch, 1, bigKey))
        .isInstanceOf(CorruptionException.class)
        .hasMessageContaining("8193 bytes");
    assertThat(batch.isEmpty()).as("nothing staged").isTrue();
    assertThat(sm.appliedIndex()).isZero();
    // The same write with a valid timestamp applies.
    assertThat(sm.apply(1, RaftCommand.newBuilder().addWrites(good).build().toByteArray()))
        .isPresent();
    assertThat(read(engine, "a", 10)).isEqualTo("v");
  }

  @Test
  void tombstonesDeleteFromTheirTimestamp() {
    MemEngine engine = new MemEngine();
    ReplicaStateMachine sm = new ReplicaStateMachine(engine, RANGE);
    sm.apply(1, put("r1", "k", 10, "a"));
    byte[] delete =
        RaftCommand.newBuilder()
            .setRequestId(b("r2"))
            .addWrites(
                ReplicatedWrite.newBuilder()
                    .setKey(b("k"))
                    .setTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(20))
                    .setTombstone(true))
            .build()
            .toByteArray();
    sm.apply(2, delete);
    assertThat(read(engine, "k", 15)).isEqualTo("a");
    assertThat(read(engine, "k", 25)).isNull();
  }
}
