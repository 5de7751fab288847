package io.basalt.range.log;

import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Entry;
import io.basalt.api.HardState;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The Raft log and hard state of one range, stored in the node's engine ({@code RAFT} column
 * family, keys from {@link LocalKeys}).
 *
 * <p>The log holds the entries {@code [firstIndex, lastIndex]}; the prefix before {@code
 * firstIndex} was compacted and is summarized by the truncated state {@code (firstIndex - 1, term
 * of it)}, which a snapshot covers. Every entry and the hard state are stored with a CRC32C over
 * key and value (see {@link Checksummed}); a mismatch raises {@link CorruptionException} naming the
 * range and index, and the bad bytes are never returned.
 *
 * <p>Writes are <em>staged</em> into a caller's {@link WriteBatch} so that the appends and hard
 * states of many ranges go to disk in one group-committed write ({@link LogWriter}). The in-memory
 * bounds move when a write is staged; the caller must not read staged entries before the batch is
 * written (the Raft core reads only entries it knows are stable). One thread at a time drives a
 * range, so the store is not thread-safe.
 */
public final class RaftLogStore {
  /** The compacted prefix: the index and term of the last entry it covers. */
  public record TruncatedState(long index, long term) {}

  private final Engine engine;
  private final long rangeId;
  private TruncatedState truncated;
  private long lastIndex;
  private long lastTerm;

  /** Opens the log of {@code rangeId}, reading its bounds from {@code engine}. */
  public RaftLogStore(Engine engine, long rangeId) {
    this.engine = engine;
    this.rangeId = rangeId;
    this.truncated = readTruncatedState();
    this.lastIndex = truncated.index();
    this.lastTerm = truncated.term();
    try (EngineIterator it =
        engine.newIterator(
            ColumnFamily.RAFT, LocalKeys.logPrefix(rangeId), LocalKeys.logPrefixEnd(rangeId))) {
      // Logs are kept short by compaction; walk the keys to find the last index and check there
      // is no gap, and decode (verify) only the last entry, whose term we keep in memory.
      it.seek(LocalKeys.logEntry(rangeId, truncated.index() + 1));
      long expected = truncated.index() + 1;
      byte[] lastKey = null;
      byte[] lastValue = null;
      while (it.valid()) {
        byte[] key = it.key();
        long index = LocalKeys.logIndexOf(key);
        if (index != expected) {
          throw new CorruptionException(
              "range "
                  + rangeId
                  + " log has a gap: expected index "
                  + expected
                  + ", found "
                  + index);
        }
        lastKey = key;
        lastValue = it.value();
        expected++;
        it.next();
      }
      if (lastKey != null) {
        lastIndex = expected - 1;
        lastTerm = decode(lastKey, lastValue, lastIndex).getTerm();
      }
    }
  }

  public long rangeId() {
    return rangeId;
  }

  /** The index of the first entry still in the log ({@code truncated index + 1}). */
  public long firstIndex() {
    return truncated.index() + 1;
  }

  /** The index of the last entry, or the truncated index when the log is empty. */
  public long lastIndex() {
    return lastIndex;
  }

  public TruncatedState truncatedState() {
    return truncated;
  }

  /**
   * The term of the entry at {@code index}; for the truncated index, the truncated term.
   *
   * @throws LogCompactedException if {@code index} is before the truncated index
   * @throws LogUnavailableException if {@code index} is after the last index
   * @throws CorruptionException if the stored entry fails its checksum
   */
  public long term(long index) {
    if (index == truncated.index()) {
      return truncated.term();
    }
    if (index < truncated.index()) {
      throw new LogCompactedException(rangeId, index, firstIndex());
    }
    if (index > lastIndex) {
      throw new LogUnavailableException(rangeId, index, lastIndex);
    }
    if (index == lastIndex) {
      return lastTerm;
    }
    return entry(index).getTerm();
  }

  /** The entry at {@code index}, checked. */
  public Entry entry(long index) {
    if (index < firstIndex()) {
      throw new LogCompactedException(rangeId, index, firstIndex());
    }
    if (index > lastIndex) {
      throw new LogUnavailableException(rangeId, index, lastIndex);
    }
    byte[] key = LocalKeys.logEntry(rangeId, index);
    byte[] stored = engine.get(ColumnFamily.RAFT, key);
    if (stored == null) {
      throw new CorruptionException("range " + rangeId + " log index " + index + " is missing");
    }
    return decode(key, stored, index);
  }

  /**
   * The entries {@code [lo, hi)}, stopping once their data exceeds {@code maxBytes} but always
   * returning at least one entry when {@code lo < hi}.
   */
  public List<Entry> entries(long lo, long hi, long maxBytes) {
    if (lo < firstIndex()) {
      throw new LogCompactedException(rangeId, lo, firstIndex());
    }
    if (hi > lastIndex + 1) {
      throw new LogUnavailableException(rangeId, hi - 1, lastIndex);
    }
    List<Entry> out = new ArrayList<>((int) Math.min(hi - lo, 1024));
    if (lo >= hi) {
      return out;
    }
    long bytes = 0;
    try (EngineIterator it =
        engine.newIterator(
            ColumnFamily.RAFT, LocalKeys.logEntry(rangeId, lo), LocalKeys.logEntry(rangeId, hi))) {
      long expected = lo;
      for (it.seekToFirst(); it.valid(); it.next()) {
        byte[] key = it.key();
        long index = LocalKeys.logIndexOf(key);
        if (index != expected) {
          throw new CorruptionException(
              "range " + rangeId + " log index " + expected + " is missing (found " + index + ")");
        }
        Entry entry = decode(key, it.value(), index);
        bytes += entry.getSerializedSize();
        if (!out.isEmpty() && bytes > maxBytes) {
          break;
        }
        out.add(entry);
        expected++;
      }
      if (out.isEmpty() || (expected < hi && bytes <= maxBytes)) {
        throw new CorruptionException(
            "range " + rangeId + " log index " + expected + " is missing");
      }
    }
    return out;
  }

  /**
   * Stages {@code entries} (consecutive indexes) into {@code batch}. An entry whose index is
   * already in the log replaces it, and every later entry is deleted: a conflicting suffix is
   * replaced, never merged.
   *
   * @throws IllegalArgumentException if the entries are not consecutive, would leave a gap after
   *     the last index, or start inside the compacted prefix
   */
  public void append(WriteBatch batch, List<Entry> entries) {
    if (entries.isEmpty()) {
      return;
    }
    long first = entries.get(0).getIndex();
    if (first < firstIndex()) {
      throw new IllegalArgumentException(
          "range "
              + rangeId
              + ": append at "
              + first
              + " overwrites the compacted prefix (first index "
              + firstIndex()
              + ")");
    }
    if (first > lastIndex + 1) {
      throw new IllegalArgumentException(
          "range "
              + rangeId
              + ": append at "
              + first
              + " leaves a gap after last index "
              + lastIndex);
    }
    long expected = first;
    for (Entry entry : entries) {
      if (entry.getIndex() != expected) {
        throw new IllegalArgumentException(
            "range "
                + rangeId
                + ": entries not consecutive at "
                + expected
                + " (got "
                + entry.getIndex()
                + ")");
      }
      byte[] key = LocalKeys.logEntry(rangeId, entry.getIndex());
      batch.put(ColumnFamily.RAFT, key, Checksummed.wrap(key, entry.toByteArray()));
      expected++;
    }
    long newLast = expected - 1;
    if (newLast < lastIndex) {
      batch.deleteRange(
          ColumnFamily.RAFT,
          LocalKeys.logEntry(rangeId, newLast + 1),
          LocalKeys.logEntry(rangeId, lastIndex + 1));
    }
    lastIndex = newLast;
    lastTerm = entries.get(entries.size() - 1).getTerm();
  }

  /**
   * Stages the removal of every entry up to and including {@code index}, which must be in the log;
   * the truncated state becomes {@code (index, term(index))}.
   */
  public void compact(WriteBatch batch, long index) {
    if (index <= truncated.index()) {
      return;
    }
    if (index > lastIndex) {
      throw new IllegalArgumentException(
          "range " + rangeId + ": cannot compact to " + index + " past last index " + lastIndex);
    }
    TruncatedState next = new TruncatedState(index, term(index));
    batch.deleteRange(
        ColumnFamily.RAFT,
        LocalKeys.logEntry(rangeId, firstIndex()),
        LocalKeys.logEntry(rangeId, index + 1));
    stageTruncatedState(batch, next);
  }

  /**
   * Stages the replacement of the whole log by a snapshot taken at {@code (index, term)}: every
   * entry is deleted and the truncated state becomes that point.
   */
  public void resetToSnapshot(WriteBatch batch, long index, long term) {
    batch.deleteRange(
        ColumnFamily.RAFT, LocalKeys.logPrefix(rangeId), LocalKeys.logPrefixEnd(rangeId));
    stageTruncatedState(batch, new TruncatedState(index, term));
    lastIndex = index;
    lastTerm = term;
  }

  private void stageTruncatedState(WriteBatch batch, TruncatedState next) {
    byte[] key = LocalKeys.truncatedState(rangeId);
    byte[] payload = ByteBuffer.allocate(16).putLong(next.index()).putLong(next.term()).array();
    batch.put(ColumnFamily.RAFT, key, Checksummed.wrap(key, payload));
    truncated = next;
  }

  /** Stages the hard state. */
  public void setHardState(WriteBatch batch, HardState state) {
    byte[] key = LocalKeys.hardState(rangeId);
    batch.put(ColumnFamily.RAFT, key, Checksummed.wrap(key, state.toByteArray()));
  }

  /** The stored hard state, or the empty one for a new range. */
  public HardState hardState() {
    byte[] key = LocalKeys.hardState(rangeId);
    byte[] stored = engine.get(ColumnFamily.RAFT, key);
    if (stored == null) {
      return HardState.getDefaultInstance();
    }
    byte[] payload = Checksummed.unwrap(key, stored, "range " + rangeId + " hard state");
    try {
      return HardState.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("range " + rangeId + " hard state does not parse", e);
    }
  }

  /** Stages the deletion of this range's whole Raft state (log, hard state, truncated state). */
  public void destroy(WriteBatch batch) {
    batch.deleteRange(
        ColumnFamily.RAFT, LocalKeys.rangePrefix(rangeId), LocalKeys.rangePrefixEnd(rangeId));
    truncated = new TruncatedState(0, 0);
    lastIndex = 0;
    lastTerm = 0;
  }

  private TruncatedState readTruncatedState() {
    byte[] key = LocalKeys.truncatedState(rangeId);
    byte[] stored = engine.get(ColumnFamily.RAFT, key);
    if (stored == null) {
      return new TruncatedState(0, 0);
    }
    ByteBuffer payload =
        ByteBuffer.wrap(Checksummed.unwrap(key, stored, "range " + rangeId + " truncated state"));
    if (payload.remaining() != 16) {
      throw new CorruptionException("range " + rangeId + " truncated state has a bad length");
    }
    return new TruncatedState(payload.getLong(), payload.getLong());
  }

  private Entry decode(byte[] key, byte[] stored, long index) {
    String what = "range " + rangeId + " log index " + index;
    byte[] payload = Checksummed.unwrap(key, stored, what);
    Entry entry;
    try {
      entry = Entry.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException(what + ": entry does not parse", e);
    }
    if (entry.getIndex() != index) {
      throw new CorruptionException(what + ": entry claims index " + entry.getIndex());
    }
    return entry;
  }
}
