package io.basalt.range.log;

import io.basalt.range.storage.CorruptionException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Framing for values whose integrity is checked on every read: {@code crc32c (4 bytes) | payload}.
 * The checksum also covers the value's key, so a value copied under the wrong key is caught as well
 * as flipped bits.
 */
public final class Checksummed {
  private Checksummed() {}

  public static byte[] wrap(byte[] key, byte[] payload) {
    byte[] out = new byte[4 + payload.length];
    ByteBuffer.wrap(out).putInt(crc(key, payload, 0, payload.length));
    System.arraycopy(payload, 0, out, 4, payload.length);
    return out;
  }

  /** Returns the payload, or throws {@link CorruptionException} with {@code what} in it. */
  public static byte[] unwrap(byte[] key, byte[] stored, String what) {
    if (stored.length < 4) {
      throw new CorruptionException(what + ": stored value is " + stored.length + " bytes");
    }
    int expected = ByteBuffer.wrap(stored).getInt();
    int actual = crc(key, stored, 4, stored.length - 4);
    if (expected != actual) {
      throw new CorruptionException(
          what
              + ": checksum mismatch (stored "
              + Integer.toHexString(expected)
              + ", computed "
              + Integer.toHexString(actual)
              + ")");
    }
    return Arrays.copyOfRange(stored, 4, stored.length);
  }

  private static int crc(byte[] key, byte[] payload, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(key);
    crc.update(payload, offset, length);
    return (int) crc.getValue();
  }
}
