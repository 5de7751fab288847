package io.basalt.range.mvcc;

import io.basalt.range.keys.MvccKeys;
import io.basalt.range.storage.Bytes;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.Reader;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Multi-version storage of user keys in the {@code MVCC} column family (DESIGN.md decision 5). Each
 * write adds a version at a timestamp; a delete adds a tombstone version. A read at timestamp
 * {@code t} sees, per key, the newest version at or below {@code t}. Versions are keyed by {@link
 * MvccKeys} (newest first), so a read is one seek.
 *
 * <p>Stored value: a one-byte tag ({@code 0x01} value, {@code 0x00} tombstone) and the value.
 * Intents and transaction records come with the transaction layer; their keys are reserved by
 * {@link MvccKeys#metadata} and skipped here.
 */
public final class MvccStore {
  /** The largest user key accepted, so that the end of the keyspace has a finite encoding. */
  public static final int MAX_KEY_BYTES = 8 * 1024;

  /** A key above every MVCC key of every user key of at most {@link #MAX_KEY_BYTES} bytes. */
  public static final byte[] KEYSPACE_END = keyspaceEnd();

  /** How many next() steps a scan takes through versions before it seeks instead. */
  private static final int NEXTS_BEFORE_SEEK = 4;

  private static final byte TOMBSTONE = 0x00;
  private static final byte VALUE = 0x01;

  private MvccStore() {}

  private static byte[] keyspaceEnd() {
    // An encoding's leading run of 0xFF bytes is at most the raw key's length (the terminator
    // 0x00 0x01 always follows), so MAX_KEY_BYTES + 1 bytes of 0xFF exceed every encoding.
    byte[] end = new byte[MAX_KEY_BYTES + 1];
    Arrays.fill(end, (byte) 0xFF);
    return end;
  }

  /** One version of a key: its timestamp and value, or a {@code null} value for a tombstone. */
  public record Version(byte[] key, Timestamp timestamp, byte[] value) {
    public boolean isTombstone() {
      return value == null;
    }
  }

  /** A page of a scan; {@code resumeKey} is where to continue, or {@code null} when complete. */
  public record ScanResult(List<Version> versions, byte[] resumeKey) {}

  /** Stages a version of {@code key} with {@code value} at {@code ts}. */
  public static void put(WriteBatch batch, byte[] key, Timestamp ts, byte[] value) {
    checkKey(key);
    byte[] stored = new byte[value.length + 1];
    stored[0] = VALUE;
    System.arraycopy(value, 0, stored, 1, value.length);
    batch.put(ColumnFamily.MVCC, MvccKeys.version(key, ts), stored);
  }

  /** Stages a tombstone of {@code key} at {@code ts}. */
  public static void delete(WriteBatch batch, byte[] key, Timestamp ts) {
    checkKey(key);
    batch.put(ColumnFamily.MVCC, MvccKeys.version(key, ts), new byte[] {TOMBSTONE});
  }

  /**
   * The newest version of {@code key} at or below {@code ts}, tombstones included; empty when the
   * key has no version at or below {@code ts}.
   */
  public static Optional<Version> getVersion(Reader reader, byte[] key, Timestamp ts) {
    checkKey(key);
    byte[] metadata = MvccKeys.metadata(key);
    try (EngineIterator it =
        reader.newIterator(ColumnFamily.MVCC, metadata, MvccKeys.afterAllVersions(metadata))) {
      it.seek(MvccKeys.version(key, ts));
      if (!it.valid()) {
        return Optional.empty();
      }
      MvccKeys.Decoded decoded = MvccKeys.decode(it.key());
      return Optional.of(toVersion(key, decoded.timestamp(), it.value()));
    }
  }

  /** The newest live value of {@code key} at or below {@code ts}; empty if none or deleted. */
  public static Optional<Version> get(Reader reader, byte[] key, Timestamp ts) {
    return getVersion(reader, key, ts).filter(v -> !v.isTombstone());
  }

  /**
   * The live values of keys in {@code [start, end)} as of {@code ts}, in key order. Stops after
   * {@code limit} values or once more than {@code maxBytes} of keys and values were returned (at
   * least one value is always returned when one exists); then {@code resumeKey} is the next key to
   * scan from. An empty {@code end} means the end of the keyspace.
   */
  public static ScanResult scan(
      Reader reader, byte[] start, byte[] end, Timestamp ts, int limit, long maxBytes) {
    if (limit < 1) {
      throw new IllegalArgumentException("scan limit must be >= 1, got " + limit);
    }
    byte[] lower = MvccKeys.metadata(start);
    byte[] upper = end.length == 0 ? KEYSPACE_END : MvccKeys.metadata(end);
    if (Bytes.compare(lower, upper) >= 0) {
      return new ScanResult(List.of(), null);
    }
    List<Version> out = new ArrayList<>();
    long bytes = 0;
    try (EngineIterator it = reader.newIterator(ColumnFamily.MVCC, lower, upper)) {
      it.seekToFirst();
      while (it.valid()) {
        byte[] key = it.key();
        MvccKeys.Decoded decoded = MvccKeys.decode(key);
        byte[] userKey = decoded.userKey();
        if (out.size() == limit || (!out.isEmpty() && bytes >= maxBytes)) {
          return new ScanResult(out, userKey);
        }
        byte[] metadata = Arrays.copyOf(key, decoded.userKeyEncodedLength());
        // Find the newest version at or below ts: step over newer versions with next(), which is
        // much cheaper than a seek when a key has few versions, and seek past many.
        int steps = 0;
        while (decoded.isMetadata() || decoded.timestamp().isAfter(ts)) {
          if (++steps > NEXTS_BEFORE_SEEK) {
            it.seek(MvccKeys.version(userKey, ts));
          } else {
            it.next();
          }
          if (!it.valid()) {
            return new ScanResult(out, null);
          }
          key = it.key();
          if (!Bytes.startsWith(key, metadata)) {
            decoded = null;
            break;
          }
          decoded = MvccKeys.decode(key);
          if (steps > NEXTS_BEFORE_SEEK) {
            break;
          }
        }
        if (decoded == null) {
          continue; // no version at or below ts; positioned at the next user key
        }
        Version v = toVersion(userKey, decoded.timestamp(), it.value());
        if (!v.isTombstone()) {
          out.add(v);
          bytes += userKey.length + v.value().length;
        }
        skipToNextUserKey(it, metadata);
      }
    }
    return new ScanResult(out, null);
  }

  /** Steps over the remaining (older) versions of the key, seeking if there are many. */
  private static void skipToNextUserKey(EngineIterator it, byte[] metadata) {
    for (int steps = 0; steps < NEXTS_BEFORE_SEEK; steps++) {
      it.next();
      if (!it.valid() || !Bytes.startsWith(it.key(), metadata)) {
        return;
      }
    }
    it.seek(MvccKeys.afterAllVersions(metadata));
  }

  private static Version toVersion(byte[] key, Timestamp ts, byte[] stored) {
    if (stored.length == 0 || (stored[0] != VALUE && stored[0] != TOMBSTONE)) {
      throw new CorruptionException("MVCC value of a key at " + ts + " has a bad tag");
    }
    if (stored[0] == TOMBSTONE) {
      return new Version(key, ts, null);
    }
    return new Version(key, ts, Arrays.copyOfRange(stored, 1, stored.length));
  }

  private static void checkKey(byte[] key) {
    if (key.length > MAX_KEY_BYTES) {
      throw new IllegalArgumentException(
          "key is " + key.length + " bytes, the maximum is " + MAX_KEY_BYTES);
    }
  }
}
