package io.basalt.client;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One key and its value, as a scan returns them. Equality compares the bytes. The arrays are the
 * client's own copies and are not copied again on access: do not modify them.
 */
public record KeyValue(byte[] key, byte[] value) {
  /** Rejects null arrays. */
  public KeyValue {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyValue other
        && Arrays.equals(key, other.key)
        && Arrays.equals(value, other.value);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(key) + Arrays.hashCode(value);
  }

  @Override
  public String toString() {
    return printable(key) + "=" + printable(value);
  }

  /** Bytes as text when they are printable ASCII, else as hex. */
  static String printable(byte[] bytes) {
    for (byte b : bytes) {
      if (b < 0x20 || b > 0x7e) {
        return "0x" + HexFormat.of().formatHex(bytes);
      }
    }
    return "\"" + new String(bytes, StandardCharsets.US_ASCII) + "\"";
  }
}
