package io.basalt.range.replica;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.MvccVersion;
import io.basalt.api.RaftCommand;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.TxnRecordWrite;
import io.basalt.api.WriteIntent;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Applies a range's committed commands to its MVCC data (DESIGN.md decision 3): every replica
 * applies the same proposer-evaluated writes, byte for byte, in log order.
 *
 * <p><b>Idempotent by log index.</b> The applied index is written in the same batch as the data it
 * covers, so after a crash the replica resumes exactly after the last command whose effects are on
 * disk, and an entry at or below the applied index (handed out again after a restart) is skipped.
 * Applying does not need its own fsync: what is lost was committed in the durable log and is
 * applied again.
 *
 * <p><b>Applied once per request id.</b> A command carries its client's request id; the first
 * application writes a dedupe record (the request id and the result the proposer computed) in the
 * same batch as the writes, and a later command with the same id (a client retry that was proposed
 * again) changes nothing and reports the recorded result.
 *
 * <p>One thread at a time applies a range's entries (the range's Raft driver). Dedupe records carry
 * the proposer's wall time; a maintenance command (proposed by the leader now and then) deletes
 * those older than a retention, on every replica alike.
 */
public final class ReplicaStateMachine {
  /** What applying an entry did: whether it took effect, and the result to answer with. */
  public record Applied(long index, boolean duplicate, ByteString result) {}

  private final Engine engine;
  private final long rangeId;
  private long appliedIndex;

  /** The batch holding this range's staged applied index, and that put's position in it. */
  private WriteBatch appliedIndexBatch;

  private int appliedIndexPosition;

  /**
   * A request id's record staged into a batch not yet written: its result and the proposer's wall
   * time, or, with a null result, its deletion by a collection.
   */
  private record Staged(ByteString result, long proposedAtNanos, WriteBatch batch) {}

  /**
   * Request ids staged into batches not yet written, with their results: several batches may be on
   * their way to disk at once (asynchronous writes), each forgotten when it is written.
   */
  private final java.util.Map<ByteString, Staged> staged = new java.util.HashMap<>();

  public ReplicaStateMachine(Engine engine, long rangeId) {
    this.engine = engine;
    this.rangeId = rangeId;
    reload();
  }

  /**
   * Re-reads the applied index from the engine, after a snapshot replaced the range's data (the
   * snapshot carries the applied index of the state it holds).
   */
  public void reload() {
    stagedGcThreshold = null;
    byte[] stored = engine.get(ColumnFamily.LOCAL, LocalKeys.appliedIndex(rangeId));
    if (stored == null) {
      appliedIndex = 0;
    } else if (stored.length != 8) {
      throw new CorruptionException(
          "range " + rangeId + " applied index has " + stored.length + " bytes");
    } else {
      appliedIndex = ByteBuffer.wrap(stored).getLong();
    }
  }

  public long appliedIndex() {
    return appliedIndex;
  }

  /**
   * Applies the command of the committed entry at {@code index} (an empty {@code data} is a Raft
   * no-op). Entries at or below the applied index are skipped and return empty.
   *
   * @throws IllegalStateException if {@code index} skips past the next index to apply
   * @throws CorruptionException if the command does not parse
   */
  public Optional<Applied> apply(long index, byte[] data) {
    WriteBatch batch = new WriteBatch();
    Optional<Applied> applied = stage(batch, index, data);
    if (applied.isPresent()) {
      engine.write(batch, false);
      batchWritten(batch);
    }
    return applied;
  }

  /**
   * Like {@link #apply} but stages the writes into {@code batch}, so that one engine write covers
   * the entries of many ranges; entries staged but not yet written count as applied (a retried
   * request id in the same batch, or in an earlier batch not yet written, is seen). The caller
   * writes {@code batch} before anything reads the state, then calls {@link
   * #batchWritten(WriteBatch)}.
   */
  public Optional<Applied> stage(WriteBatch batch, long index, byte[] data) {
    if (index <= appliedIndex) {
      return Optional.empty(); // already applied: not worth parsing
    }
    return stage(batch, index, data.length == 0 ? null : parse(rangeId, index, data));
  }

  /**
   * Parses the command of this range's entry at {@code index}; corruption if it does not parse or
   * holds what no leader proposes (a key above the size limit, a negative timestamp), which would
   * otherwise fail halfway through staging it.
   */
  public static RaftCommand parse(long rangeId, long index, byte[] data) {
    RaftCommand command;
    try {
      command = RaftCommand.parseFrom(data);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException(
          "range " + rangeId + " command at index " + index + " does not parse", e);
    }
    String invalid = invalid(command);
    if (invalid != null) {
      throw new CorruptionException(
          "range " + rangeId + " command at index " + index + " is not valid: " + invalid);
    }
    return command;
  }

  /** What in {@code command} no leader proposes, or null. */
  private static String invalid(RaftCommand command) {
    for (ReplicatedWrite w : command.getWritesList()) {
      String bad = invalidVersion(w.getKey(), w.getTimestamp());
      if (bad != null) {
        return "write: " + bad;
      }
    }
    for (WriteIntent intent : command.getIntentsList()) {
      String bad = invalidKey(intent.getKey());
      if (bad != null) {
        return "intent: " + bad;
      }
    }
    for (ByteString key : command.getClearedIntentsList()) {
      String bad = invalidKey(key);
      if (bad != null) {
        return "cleared intent: " + bad;
      }
    }
    for (MvccVersion gc : command.getGcVersionsList()) {
      String bad = invalidVersion(gc.getKey(), gc.getTimestamp());
      if (bad != null) {
        return "collected version: " + bad;
      }
    }
    String bad = command.hasGcThreshold() ? invalidTimestamp(command.getGcThreshold()) : null;
    return bad == null ? null : "GC threshold: " + bad;
  }

  private static String invalidVersion(ByteString key, io.basalt.api.Timestamp ts) {
    String bad = invalidKey(key);
    return bad != null ? bad : invalidTimestamp(ts);
  }

  private static String invalidKey(ByteString key) {
    return key.size() > MvccStore.MAX_KEY_BYTES
        ? "a key of " + key.size() + " bytes (at most " + MvccStore.MAX_KEY_BYTES + ")"
        : null;
  }

  private static String invalidTimestamp(io.basalt.api.Timestamp ts) {
    return ts.getWallNanos() < 0 || ts.getLogical() < 0
        ? "a negative timestamp " + ts.getWallNanos() + "," + ts.getLogical()
        : null;
  }

  /**
   * Like {@link #stage(WriteBatch, long, byte[])} with the entry's command already parsed (null for
   * an entry without one: a no-op or a configuration change), so a caller that needed the command
   * itself does not parse it twice.
   */
  public Optional<Applied> stage(WriteBatch batch, long index, RaftCommand command) {
    if (index <= appliedIndex) {
      return Optional.empty();
    }
    if (index != appliedIndex + 1) {
      throw new IllegalStateException(
          "range " + rangeId + " applies index " + index + " after " + appliedIndex);
    }
    Applied applied =
        command == null
            ? new Applied(index, false, ByteString.EMPTY)
            : stageCommand(batch, index, command);
    // One put per range per batch, however many of its entries the batch applies.
    byte[] encoded = ByteBuffer.allocate(8).putLong(index).array();
    if (batch != appliedIndexBatch || !batch.replaceValue(appliedIndexPosition, encoded)) {
      appliedIndexPosition =
          batch.putReplaceable(ColumnFamily.LOCAL, LocalKeys.appliedIndex(rangeId), encoded);
      appliedIndexBatch = batch;
    }
    appliedIndex = index;
    return Optional.of(applied);
  }

  /**
   * The GC threshold last staged (written or not; null before any since this replica opened): a
   * split copies it, and may run before the batch holding it is written.
   */
  private byte[] stagedGcThreshold;

  /**
   * Stages, for a split, the copy of this range's dedupe records and GC threshold to the new range
   * {@code rightRangeId}, including what is staged and not yet written: a request applied here
   * before the split and retried at the new range must find its record there, and no read below the
   * threshold may be served on either side.
   */
  public void stageSplitCopy(WriteBatch batch, long rightRangeId) {
    copyRecords(batch, rightRangeId, null);
    byte[] threshold = gcThresholdStaged();
    if (threshold != null) {
      batch.put(ColumnFamily.LOCAL, LocalKeys.gcThreshold(rightRangeId), threshold);
    }
  }

  /**
   * Stages, for a merge, the absorption of range {@code right}'s dedupe records (visible to {@link
   * #recordedResult} here at once: a request applied there and retried here is answered from its
   * record) and of its GC threshold if it is the higher one. Its own range-local state is the
   * caller's to delete.
   */
  public void stageAbsorb(WriteBatch batch, ReplicaStateMachine right) {
    right.copyRecords(batch, rangeId, this);
    byte[] theirs = right.gcThresholdStaged();
    byte[] mine = gcThresholdStaged();
    if (theirs != null && (mine == null || thresholdOf(theirs).compareTo(thresholdOf(mine)) > 0)) {
      batch.put(ColumnFamily.LOCAL, LocalKeys.gcThreshold(rangeId), theirs);
      stagedGcThreshold = theirs;
    }
  }

  private Timestamp thresholdOf(byte[] stored) {
    try {
      return Timestamp.fromProto(io.basalt.api.Timestamp.parseFrom(stored));
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("range " + rangeId + " GC threshold does not parse", e);
    }
  }

  /** The GC threshold staged or written last (null if none). */
  private byte[] gcThresholdStaged() {
    return stagedGcThreshold != null
        ? stagedGcThreshold
        : engine.get(ColumnFamily.LOCAL, LocalKeys.gcThreshold(rangeId));
  }

  /**
   * Stages a copy of this range's dedupe records, written or staged, under range {@code target}; if
   * {@code into} is given, they count as staged there too.
   */
  private void copyRecords(WriteBatch batch, long target, ReplicaStateMachine into) {
    try (var it =
        engine.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.dedupePrefix(rangeId),
            LocalKeys.dedupePrefixEnd(rangeId))) {
      int prefix = LocalKeys.dedupePrefix(rangeId).length;
      for (it.seekToFirst(); it.valid(); it.next()) {
        byte[] requestId = java.util.Arrays.copyOfRange(it.key(), prefix, it.key().length);
        ByteString id = ByteString.copyFrom(requestId);
        byte[] v = it.value();
        if (!staged.containsKey(id) && v.length >= 8) {
          batch.put(ColumnFamily.LOCAL, LocalKeys.dedupe(target, requestId), v);
          if (into != null) {
            into.staged.put(
                id,
                new Staged(
                    ByteString.copyFrom(v, 8, v.length - 8), ByteBuffer.wrap(v).getLong(), batch));
          }
        }
      }
    }
    staged.forEach((requestId, s) -> {
      if (s.result() != null) {
        byte[] result = s.result().toByteArray();
        batch.put(
            ColumnFamily.LOCAL,
            LocalKeys.dedupe(target, requestId.toByteArray()),
            ByteBuffer.allocate(8 + result.length)
                .putLong(s.proposedAtNanos())
                .put(result)
                .array());
        if (into != null) {
          into.staged.put(requestId, new Staged(s.result(), s.proposedAtNanos(), batch));
        }
      }
    });
  }

  /** The writes staged into {@code batch} are in the engine: forget its staged request ids. */
  public void batchWritten(WriteBatch batch) {
    if (!staged.isEmpty()) {
      staged.values().removeIf(s -> s.batch() == batch);
    }
    if (appliedIndexBatch == batch) {
      appliedIndexBatch = null;
    }
  }

  private Applied stageCommand(WriteBatch batch, long index, RaftCommand command) {
    if (command.getCollectDedupeBeforeNanos() > 0) {
      collectDedupeRecords(batch, command.getCollectDedupeBeforeNanos());
    }
    ByteString requestId = command.getRequestId();
    if (!requestId.isEmpty()) {
      // A command its leader marked first in the log has no earlier copy to find: the lookup,
      // a miss through every level of the engine, is skipped (RaftCommand.first_in_log).
      if (!command.getFirstInLog()) {
        Optional<ByteString> previous = recordedResult(requestId);
        if (previous.isPresent()) {
          return new Applied(index, true, previous.get());
        }
      }
      byte[] dedupeKey = LocalKeys.dedupe(rangeId, requestId.toByteArray());
      byte[] result = command.getResult().toByteArray();
      // The record: the proposer's wall time (for collection by age), then the result.
      batch.put(
          ColumnFamily.LOCAL,
          dedupeKey,
          ByteBuffer.allocate(8 + result.length)
              .putLong(command.getProposedAtNanos())
              .put(result)
              .array());
      staged.put(requestId, new Staged(command.getResult(), command.getProposedAtNanos(), batch));
    }
    for (ByteString key : command.getClearedIntentsList()) {
      MvccStore.clearIntent(batch, key.toByteArray());
    }
    for (WriteIntent intent : command.getIntentsList()) {
      MvccStore.putIntent(batch, intent.getKey().toByteArray(), intent.getIntent().toByteArray());
    }
    for (ReplicatedWrite write : command.getWritesList()) {
      byte[] key = write.getKey().toByteArray();
      Timestamp ts =
          new Timestamp(write.getTimestamp().getWallNanos(), write.getTimestamp().getLogical());
      if (write.getTombstone()) {
        MvccStore.delete(batch, key, ts);
      } else {
        MvccStore.put(batch, key, ts, write.getValue().toByteArray());
      }
    }
    for (TxnRecordWrite record : command.getTxnRecordsList()) {
      byte[] key =
          LocalKeys.txnRecord(record.getAnchorKey().toByteArray(), record.getTxnId().toByteArray());
      if (record.hasRecord()) {
        batch.put(ColumnFamily.LOCAL, key, record.getRecord().toByteArray());
      } else {
        batch.delete(ColumnFamily.LOCAL, key);
      }
    }
    for (MvccVersion gc : command.getGcVersionsList()) {
      MvccStore.deleteVersion(
          batch, gc.getKey().toByteArray(), Timestamp.fromProto(gc.getTimestamp()));
    }
    if (command.hasGcThreshold()) {
      byte[] threshold = command.getGcThreshold().toByteArray();
      batch.put(ColumnFamily.LOCAL, LocalKeys.gcThreshold(rangeId), threshold);
      stagedGcThreshold = threshold;
    }
    return new Applied(index, false, command.getResult());
  }

  /** The result recorded for {@code requestId}, if a command with it was applied. */
  public Optional<ByteString> recordedResult(ByteString requestId) {
    Staged pending = staged.get(requestId);
    if (pending != null) {
      return Optional.ofNullable(pending.result());
    }
    byte[] stored =
        engine.get(ColumnFamily.LOCAL, LocalKeys.dedupe(rangeId, requestId.toByteArray()));
    if (stored == null) {
      return Optional.empty();
    }
    if (stored.length < 8) {
      throw new CorruptionException(
          "range " + rangeId + " dedupe record has " + stored.length + " bytes");
    }
    return Optional.of(ByteString.copyFrom(stored, 8, stored.length - 8));
  }

  /**
   * The proposal time of the oldest dedupe record the last collection applied here kept (records
   * applied after it aside; Long.MAX_VALUE if it kept none), or 0 before any collection since this
   * replica was opened: a leader need not propose another collection with a cutoff at or below it
   * until something new is applied.
   */
  private long oldestKeptRecordNanos;

  public long oldestKeptRecordNanos() {
    return oldestKeptRecordNanos;
  }

  /**
   * Stages the deletion of this range's dedupe records proposed before {@code beforeNanos}: every
   * replica applies the same command to the same records, so they stay identical. A request retried
   * after its record was collected would be applied again, so the retention must exceed any
   * client's retry horizon by far.
   */
  private void collectDedupeRecords(WriteBatch batch, long beforeNanos) {
    // Every record applied before this command, whether in the engine or still in a batch on its
    // way there (the writer's timing must not change what a replica deletes): the staged view
    // wins, and each deletion is staged too, so that a lookup before the batch is written agrees
    // with one after.
    int prefix = LocalKeys.dedupePrefix(rangeId).length;
    List<ByteString> doomed = new ArrayList<>();
    long oldest = Long.MAX_VALUE;
    try (io.basalt.range.storage.EngineIterator it =
        engine.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.dedupePrefix(rangeId),
            LocalKeys.dedupePrefixEnd(rangeId))) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        byte[] k = it.key();
        ByteString requestId = ByteString.copyFrom(k, prefix, k.length - prefix);
        byte[] v = it.value();
        if (staged.containsKey(requestId) || v.length < 8) {
          continue;
        }
        long proposedAt = ByteBuffer.wrap(v).getLong();
        if (proposedAt < beforeNanos) {
          doomed.add(requestId);
        } else {
          oldest = Math.min(oldest, proposedAt);
        }
      }
    }
    for (Staged s : staged.values()) {
      if (s.result() != null && s.proposedAtNanos() >= beforeNanos) {
        oldest = Math.min(oldest, s.proposedAtNanos());
      }
    }
    staged.forEach((requestId, s) -> {
      if (s.result() != null && s.proposedAtNanos() < beforeNanos) {
        doomed.add(requestId);
      }
    });
    oldestKeptRecordNanos = oldest;
    for (ByteString requestId : doomed) {
      batch.delete(ColumnFamily.LOCAL, LocalKeys.dedupe(rangeId, requestId.toByteArray()));
      staged.put(requestId, new Staged(null, 0, batch));
    }
  }
}
