package io.basalt.range.keys;

import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.CorruptionException;
import java.nio.ByteBuffer;

/**
 * Keys of the {@code MVCC} column family: the user key in {@link OrderedBytes} form, then the
 * version's timestamp inverted so that newer versions sort first.
 *
 * <pre>
 * encode(userKey)                                  metadata / intent of the key (reserved for
 *                                                  transactions; sorts before every version)
 * encode(userKey) | ~wallNanos (8) | ~logical (4)  the version written at (wallNanos, logical)
 * </pre>
 *
 * <p>Because the user-key component is order-preserving and prefix-free, all keys of one user key
 * are contiguous and ordered metadata first, then versions newest first; and the MVCC keys of a
 * user-key span {@code [start, end)} are exactly the keys in {@code [encode(start), encode(end))},
 * so a range's data is one contiguous span.
 */
public final class MvccKeys {
  /** Length of the timestamp suffix of a version key. */
  public static final int TIMESTAMP_BYTES = 12;

  private MvccKeys() {}

  /** The key of the version of {@code userKey} written at {@code ts}. */
  public static byte[] version(byte[] userKey, Timestamp ts) {
    int prefix = OrderedBytes.encodedLength(userKey);
    byte[] out = new byte[prefix + TIMESTAMP_BYTES];
    OrderedBytes.encodeInto(userKey, out, 0);
    ByteBuffer.wrap(out, prefix, TIMESTAMP_BYTES).putLong(~ts.wallNanos()).putInt(~ts.logical());
    return out;
  }

  /** The metadata (intent) key of {@code userKey}, and the first key of all its entries. */
  public static byte[] metadata(byte[] userKey) {
    return OrderedBytes.encode(userKey);
  }

  /** The first key after every entry of the user key whose metadata key is {@code metadataKey}. */
  public static byte[] afterAllVersions(byte[] metadataKey) {
    // The encoding ends with the terminator 0x00 0x01; 0x00 0x02 is above every suffix of it and
    // below every other user key's encoding (those differ earlier, or continue with 0x00 0xFF).
    byte[] end = metadataKey.clone();
    end[end.length - 1]++;
    return end;
  }

  /** A decoded MVCC key: the user key, and the timestamp or {@code null} for a metadata key. */
  public record Decoded(byte[] userKey, Timestamp timestamp, int userKeyEncodedLength) {
    public boolean isMetadata() {
      return timestamp == null;
    }
  }

  public static Decoded decode(byte[] key) {
    OrderedBytes.Decoded userKey = OrderedBytes.decode(key, 0);
    int rest = key.length - userKey.end();
    if (rest == 0) {
      return new Decoded(userKey.raw(), null, userKey.end());
    }
    if (rest != TIMESTAMP_BYTES) {
      throw new CorruptionException("MVCC key has a " + rest + "-byte suffix, expected 0 or 12");
    }
    ByteBuffer suffix = ByteBuffer.wrap(key, userKey.end(), TIMESTAMP_BYTES);
    long wall = ~suffix.getLong();
    int logical = ~suffix.getInt();
    if (wall < 0 || logical < 0) {
      throw new CorruptionException("MVCC key has an invalid timestamp suffix");
    }
    return new Decoded(userKey.raw(), new Timestamp(wall, logical), userKey.end());
  }
}
