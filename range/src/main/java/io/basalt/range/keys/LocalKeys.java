package io.basalt.range.keys;

import java.nio.ByteBuffer;

/**
 * Keys of range-local state in the {@code RAFT} and {@code LOCAL} column families. Every key starts
 * with the range id (8 bytes, big-endian, so unsigned order is numeric order), so that one range's
 * state is contiguous and can be deleted or exported as one span.
 *
 * <pre>
 * RAFT:  rangeId | 0x01                      hard state (term, vote, commit)
 *        rangeId | 0x02                      truncated state (index, term of the compacted prefix)
 *        rangeId | 0x03 | index (8 bytes)    log entry
 *        rangeId | 0x04                      latest Raft snapshot (metadata and data)
 *        rangeId | 0x05                      applied membership (conf state)
 * LOCAL: rangeId | 0x01                      applied index
 *        rangeId | 0x02                      range descriptor
 *        rangeId | 0x03 | request id         write dedupe record
 *        rangeId | 0x05                      MVCC GC threshold (reads below it are refused)
 *        rangeId | 0x06                      freeze for a merge (while it lasts)
 *        rangeId | 0x07 | merge id           merge this range committed (absorbing its neighbour)
 *        rangeId | 0x08                      merge this range has prepared (while it is)
 *        rangeId | 0x09 | merge id           merge this range abandoned
 *        2^63-1  | 0x04 | encoded anchor key | txn id   transaction record
 * </pre>
 *
 * <p>Transaction records are addressed by their anchor key rather than a range id (under a prefix
 * no range id reaches), like the range's user keys: whichever range holds the anchor holds the
 * record, through splits and merges.
 */
public final class LocalKeys {
  static final byte HARD_STATE = 0x01;
  static final byte TRUNCATED_STATE = 0x02;
  static final byte LOG_ENTRY = 0x03;
  static final byte RAFT_SNAPSHOT = 0x04;
  static final byte CONF_STATE = 0x05;

  static final byte APPLIED_INDEX = 0x01;
  static final byte DESCRIPTOR = 0x02;
  static final byte DEDUPE = 0x03;
  static final byte TXN_RECORD = 0x04;
  static final byte GC_THRESHOLD = 0x05;
  static final byte FROZEN = 0x06;
  static final byte MERGED = 0x07;
  static final byte PREPARED = 0x08;
  static final byte ABANDONED = 0x09;

  private LocalKeys() {}

  /** The 8-byte prefix every local key of {@code rangeId} starts with. */
  public static byte[] rangePrefix(long rangeId) {
    return ByteBuffer.allocate(8).putLong(checkRangeId(rangeId)).array();
  }

  /** The first key after every local key of {@code rangeId}. */
  public static byte[] rangePrefixEnd(long rangeId) {
    return ByteBuffer.allocate(8).putLong(checkRangeId(rangeId) + 1).array();
  }

  private static long checkRangeId(long rangeId) {
    if (rangeId <= 0 || rangeId == Long.MAX_VALUE) {
      throw new IllegalArgumentException("range id must be in [1, 2^63-1), got " + rangeId);
    }
    return rangeId;
  }

  private static byte[] key(long rangeId, byte kind) {
    return ByteBuffer.allocate(9).putLong(checkRangeId(rangeId)).put(kind).array();
  }

  public static byte[] hardState(long rangeId) {
    return key(rangeId, HARD_STATE);
  }

  public static byte[] truncatedState(long rangeId) {
    return key(rangeId, TRUNCATED_STATE);
  }

  public static byte[] logEntry(long rangeId, long index) {
    return ByteBuffer.allocate(17)
        .putLong(checkRangeId(rangeId))
        .put(LOG_ENTRY)
        .putLong(index)
        .array();
  }

  /** The first log-entry key of {@code rangeId} (index 0). */
  public static byte[] logPrefix(long rangeId) {
    return key(rangeId, LOG_ENTRY);
  }

  /** The first key after every log entry of {@code rangeId}. */
  public static byte[] logPrefixEnd(long rangeId) {
    return key(rangeId, (byte) (LOG_ENTRY + 1));
  }

  /** The index of a log-entry key made by {@link #logEntry}. */
  public static long logIndexOf(byte[] logEntryKey) {
    if (logEntryKey.length != 17 || logEntryKey[8] != LOG_ENTRY) {
      throw new IllegalArgumentException("not a log entry key: length " + logEntryKey.length);
    }
    return ByteBuffer.wrap(logEntryKey, 9, 8).getLong();
  }

  public static byte[] raftSnapshot(long rangeId) {
    return key(rangeId, RAFT_SNAPSHOT);
  }

  public static byte[] confState(long rangeId) {
    return key(rangeId, CONF_STATE);
  }

  public static byte[] appliedIndex(long rangeId) {
    return key(rangeId, APPLIED_INDEX);
  }

  public static byte[] descriptor(long rangeId) {
    return key(rangeId, DESCRIPTOR);
  }

  /** The first dedupe-record key of {@code rangeId}. */
  public static byte[] dedupePrefix(long rangeId) {
    return key(rangeId, DEDUPE);
  }

  /** The first key after every dedupe record of {@code rangeId}. */
  public static byte[] dedupePrefixEnd(long rangeId) {
    return key(rangeId, (byte) (DEDUPE + 1));
  }

  public static byte[] dedupe(long rangeId, byte[] requestId) {
    return ByteBuffer.allocate(9 + requestId.length)
        .putLong(checkRangeId(rangeId))
        .put(DEDUPE)
        .put(requestId)
        .array();
  }

  public static byte[] gcThreshold(long rangeId) {
    return key(rangeId, GC_THRESHOLD);
  }

  public static byte[] frozen(long rangeId) {
    return key(rangeId, FROZEN);
  }

  /** The first of {@code rangeId}'s merge records (committed, prepared, abandoned). */
  public static byte[] mergeRecordsFrom(long rangeId) {
    return key(rangeId, MERGED);
  }

  /** The first key after {@code rangeId}'s merge records. */
  public static byte[] mergeRecordsTo(long rangeId) {
    return key(rangeId, (byte) (ABANDONED + 1));
  }

  public static byte[] mergePrepared(long rangeId) {
    return key(rangeId, PREPARED);
  }

  public static byte[] mergeAbandoned(long rangeId, long mergeId) {
    return ByteBuffer.allocate(17)
        .putLong(checkRangeId(rangeId))
        .put(ABANDONED)
        .putLong(mergeId)
        .array();
  }

  public static byte[] merged(long rangeId, long mergeId) {
    return ByteBuffer.allocate(17)
        .putLong(checkRangeId(rangeId))
        .put(MERGED)
        .putLong(mergeId)
        .array();
  }

  /**
   * The prefix of key-addressed local state: it belongs to whichever range holds the key it names,
   * so a split or merge moves it with its keys, without a copy. Range ids stop below it.
   */
  private static final long KEY_ADDRESSED = Long.MAX_VALUE;

  /**
   * The first transaction-record key whose anchor is at or above {@code startKey}: a range's
   * records are {@code [txnRecordsFrom(start), txnRecordsTo(end))}.
   */
  public static byte[] txnRecordsFrom(byte[] startKey) {
    int anchor = OrderedBytes.encodedLength(startKey);
    byte[] out = new byte[9 + anchor];
    ByteBuffer.wrap(out).putLong(KEY_ADDRESSED).put(TXN_RECORD);
    OrderedBytes.encodeInto(startKey, out, 9);
    return out;
  }

  /** The first transaction-record key whose anchor is at or above {@code endKey} (empty: none). */
  public static byte[] txnRecordsTo(byte[] endKey) {
    return endKey.length == 0
        ? ByteBuffer.allocate(9).putLong(KEY_ADDRESSED).put((byte) (TXN_RECORD + 1)).array()
        : txnRecordsFrom(endKey);
  }

  /**
   * The record of transaction {@code txnId} anchored at {@code anchorKey}: addressed by its anchor,
   * not by a range id, so it stays with the anchor's range through splits and merges. The anchor's
   * encoding is prefix-free, so records sort by anchor key, then id.
   */
  public static byte[] txnRecord(byte[] anchorKey, byte[] txnId) {
    int anchor = OrderedBytes.encodedLength(anchorKey);
    byte[] out = new byte[9 + anchor + txnId.length];
    ByteBuffer.wrap(out).putLong(KEY_ADDRESSED).put(TXN_RECORD);
    OrderedBytes.encodeInto(anchorKey, out, 9);
    System.arraycopy(txnId, 0, out, 9 + anchor, txnId.length);
    return out;
  }
}
