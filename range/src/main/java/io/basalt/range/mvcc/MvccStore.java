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
 *
 * <p>A key's metadata slot ({@link MvccKeys#metadata}) holds its intent, if it has one: the
 * provisional value of an uncommitted transaction, stored as the transaction layer encodes it
 * (opaque here). Committed data never lives there, so a version read never returns an intent; the
 * intent-aware reads ({@link #readKey}, {@link #scan(Reader, byte[], byte[], Timestamp, Timestamp,
 * int, long)}) report each intent they pass beside the versions, and the caller decides.
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

  /**
   * A page of a scan; {@code resumeKey} is where to continue, or {@code null} when complete. {@code
   * intents} are the intents of the keys scanned (every key below {@code resumeKey}), and {@code
   * uncertain} the newest timestamp of a version above the read timestamp and at or below the
   * uncertainty limit that the scan passed, or null.
   */
  public record ScanResult(
      List<Version> versions, byte[] resumeKey, List<KeyIntent> intents, Timestamp uncertain) {
    public ScanResult(List<Version> versions, byte[] resumeKey) {
      this(versions, resumeKey, List.of(), null);
    }
  }

  /** An intent found on {@code key}, in the transaction layer's encoding. */
  public record KeyIntent(byte[] key, byte[] intent) {}

  /**
   * What one key holds as seen by a read at {@code ts} with an uncertainty limit: its intent (or
   * null), the newest version at or below {@code ts} (tombstones included), the timestamp of its
   * newest version of all (or null), and the newest version timestamp in {@code (ts, limit]} (or
   * null).
   */
  public record KeyRead(
      byte[] intent, Optional<Version> version, Timestamp newest, Timestamp uncertain) {}

  /** Stages {@code intent} (the transaction layer's encoding) in {@code key}'s metadata slot. */
  public static void putIntent(WriteBatch batch, byte[] key, byte[] intent) {
    checkKey(key);
    batch.put(ColumnFamily.MVCC, MvccKeys.metadata(key), intent);
  }

  /** Stages the removal of {@code key}'s intent. */
  public static void clearIntent(WriteBatch batch, byte[] key) {
    checkKey(key);
    batch.delete(ColumnFamily.MVCC, MvccKeys.metadata(key));
  }

  /** The intent of {@code key}, or null. */
  public static byte[] getIntent(Reader reader, byte[] key) {
    checkKey(key);
    return reader.get(ColumnFamily.MVCC, MvccKeys.metadata(key));
  }

  /**
   * Reads {@code key} at {@code ts} with the uncertainty limit {@code limit} (at or above {@code
   * ts}): one seek when the key has no intent and its newest version is at or below {@code ts}.
   */
  public static KeyRead readKey(Reader reader, byte[] key, Timestamp ts, Timestamp limit) {
    checkKey(key);
    byte[] metadata = MvccKeys.metadata(key);
    try (EngineIterator it =
        reader.newIterator(ColumnFamily.MVCC, metadata, MvccKeys.afterAllVersions(metadata))) {
      // Every key the iterator sees is this user key's: its metadata key (exactly the encoded
      // user key), then its versions (the encoded key and a timestamp), newest first.
      it.seek(metadata);
      byte[] intent = null;
      if (it.valid() && it.key().length == metadata.length) {
        intent = it.value();
        it.next();
      }
      if (!it.valid()) {
        return new KeyRead(intent, Optional.empty(), null, null);
      }
      Timestamp newest = versionTimestamp(it.key(), metadata.length);
      if (!newest.isAfter(ts)) {
        // The common case: the newest version is the one read, in one seek.
        return new KeyRead(intent, Optional.of(toVersion(key, newest, it.value())), newest, null);
      }
      Timestamp uncertain = null;
      if (newest.atOrBefore(limit)) {
        uncertain = newest;
      } else {
        it.seek(MvccKeys.version(key, limit));
        if (it.valid()) {
          Timestamp t = versionTimestamp(it.key(), metadata.length);
          if (t.isAfter(ts)) {
            uncertain = t;
          }
        }
      }
      if (uncertain != null
          || !it.valid()
          || versionTimestamp(it.key(), metadata.length).isAfter(ts)) {
        it.seek(MvccKeys.version(key, ts));
      }
      if (!it.valid()) {
        return new KeyRead(intent, Optional.empty(), newest, uncertain);
      }
      Timestamp at = versionTimestamp(it.key(), metadata.length);
      return new KeyRead(intent, Optional.of(toVersion(key, at, it.value())), newest, uncertain);
    }
  }

  /** The timestamp of a version key whose user-key part is {@code prefix} bytes long. */
  private static Timestamp versionTimestamp(byte[] versionKey, int prefix) {
    if (versionKey.length != prefix + MvccKeys.TIMESTAMP_BYTES) {
      throw new CorruptionException(
          "MVCC key has a " + (versionKey.length - prefix) + "-byte suffix, expected 12");
    }
    java.nio.ByteBuffer suffix =
        java.nio.ByteBuffer.wrap(versionKey, prefix, MvccKeys.TIMESTAMP_BYTES);
    long wall = ~suffix.getLong();
    int logical = ~suffix.getInt();
    if (wall < 0 || logical < 0) {
      throw new CorruptionException("MVCC key has an invalid timestamp suffix");
    }
    return new Timestamp(wall, logical);
  }

  /**
   * The first key in {@code [start, end)} (an empty end: the end of the keyspace) that has a
   * version in {@code (from, to]}, or null; every intent met on the way is added to {@code
   * intents}. Visits every version in the span.
   */
  public static byte[] firstWriteIn(
      Reader reader,
      byte[] start,
      byte[] end,
      Timestamp from,
      Timestamp to,
      List<KeyIntent> intents) {
    byte[] lower = MvccKeys.metadata(start);
    byte[] upper = end.length == 0 ? KEYSPACE_END : MvccKeys.metadata(end);
    if (Bytes.compare(lower, upper) >= 0) {
      return null;
    }
    try (EngineIterator it = reader.newIterator(ColumnFamily.MVCC, lower, upper)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        MvccKeys.Decoded decoded = MvccKeys.decode(it.key());
        if (decoded.isMetadata()) {
          intents.add(new KeyIntent(decoded.userKey(), it.value()));
        } else if (decoded.timestamp().isAfter(from) && decoded.timestamp().atOrBefore(to)) {
          return decoded.userKey();
        }
      }
    }
    return null;
  }

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
    return scan(reader, start, end, ts, ts, limit, maxBytes);
  }

  /**
   * As {@link #scan(Reader, byte[], byte[], Timestamp, int, long)}, and reports the intents of the
   * keys it scanned and the newest version it passed in {@code (ts, uncertaintyLimit]}.
   */
  public static ScanResult scan(
      Reader reader,
      byte[] start,
      byte[] end,
      Timestamp ts,
      Timestamp uncertaintyLimit,
      int limit,
      long maxBytes) {
    if (limit < 1) {
      throw new IllegalArgumentException("scan limit must be >= 1, got " + limit);
    }
    byte[] lower = MvccKeys.metadata(start);
    byte[] upper = end.length == 0 ? KEYSPACE_END : MvccKeys.metadata(end);
    if (Bytes.compare(lower, upper) >= 0) {
      return new ScanResult(List.of(), null);
    }
    List<Version> out = new ArrayList<>();
    List<KeyIntent> intents = new ArrayList<>();
    Timestamp uncertain = null;
    long bytes = 0;
    try (EngineIterator it = reader.newIterator(ColumnFamily.MVCC, lower, upper)) {
      it.seekToFirst();
      while (it.valid()) {
        byte[] key = it.key();
        MvccKeys.Decoded decoded = MvccKeys.decode(key);
        byte[] userKey = decoded.userKey();
        if (out.size() == limit || (!out.isEmpty() && bytes >= maxBytes)) {
          return new ScanResult(out, userKey, intents, uncertain);
        }
        byte[] metadata = Arrays.copyOf(key, decoded.userKeyEncodedLength());
        // Find the newest version at or below ts: step over newer versions with next(), which is
        // much cheaper than a seek when a key has few versions, and seek past many.
        int steps = 0;
        while (decoded.isMetadata() || decoded.timestamp().isAfter(ts)) {
          if (decoded.isMetadata()) {
            intents.add(new KeyIntent(userKey, it.value()));
          } else if (decoded.timestamp().atOrBefore(uncertaintyLimit)
              && (uncertain == null || decoded.timestamp().isAfter(uncertain))) {
            uncertain = decoded.timestamp();
          }
          if (++steps > NEXTS_BEFORE_SEEK) {
            // Versions in (ts, limit] are among those skipped: find the newest, once.
            if (uncertaintyLimit.isAfter(ts)) {
              it.seek(MvccKeys.version(userKey, uncertaintyLimit));
              if (it.valid() && Bytes.startsWith(it.key(), metadata)) {
                Timestamp t = MvccKeys.decode(it.key()).timestamp();
                if (t.isAfter(ts) && (uncertain == null || t.isAfter(uncertain))) {
                  uncertain = t;
                }
              }
            }
            it.seek(MvccKeys.version(userKey, ts));
          } else {
            it.next();
          }
          if (!it.valid()) {
            return new ScanResult(out, null, intents, uncertain);
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
    return new ScanResult(out, null, intents, uncertain);
  }

  /** A version to collect: its key and timestamp. */
  public record VersionKey(byte[] key, Timestamp timestamp) {}

  /** A page of garbage: the versions to delete, and the key to continue from (null when done). */
  public record Garbage(List<VersionKey> versions, byte[] resumeKey) {}

  /**
   * The versions of the keys in {@code [start, end)} that no read at or above {@code threshold} can
   * see: for each key, every version older than its newest one at or below the threshold, and that
   * one too if it is a tombstone (with nothing older left, a tombstone hides nothing). Intents and
   * versions above the threshold are kept. At least {@code max} versions once there are that many
   * (a key's garbage is never split), then {@code resumeKey} is the next key. An empty {@code end}
   * means the end of the keyspace.
   */
  public static Garbage garbage(
      Reader reader, byte[] start, byte[] end, Timestamp threshold, int max) {
    byte[] lower = MvccKeys.metadata(start);
    byte[] upper = end.length == 0 ? KEYSPACE_END : MvccKeys.metadata(end);
    List<VersionKey> out = new ArrayList<>();
    if (Bytes.compare(lower, upper) >= 0) {
      return new Garbage(out, null);
    }
    try (EngineIterator it = reader.newIterator(ColumnFamily.MVCC, lower, upper)) {
      it.seekToFirst();
      byte[] current = null;
      boolean visibleFound = false; // the key's newest version at or below the threshold
      while (it.valid()) {
        MvccKeys.Decoded decoded = MvccKeys.decode(it.key());
        byte[] userKey = decoded.userKey();
        if (current == null || !Arrays.equals(userKey, current)) {
          if (out.size() >= max) {
            return new Garbage(out, userKey);
          }
          current = userKey;
          visibleFound = false;
        }
        if (!decoded.isMetadata() && decoded.timestamp().atOrBefore(threshold)) {
          if (visibleFound) {
            out.add(new VersionKey(userKey, decoded.timestamp()));
          } else {
            visibleFound = true;
            if (toVersion(userKey, decoded.timestamp(), it.value()).isTombstone()) {
              out.add(new VersionKey(userKey, decoded.timestamp()));
            }
          }
        }
        it.next();
      }
    }
    return new Garbage(out, null);
  }

  /** Stages the removal of {@code key}'s version at {@code ts} (garbage collection). */
  public static void deleteVersion(WriteBatch batch, byte[] key, Timestamp ts) {
    checkKey(key);
    batch.delete(ColumnFamily.MVCC, MvccKeys.version(key, ts));
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
