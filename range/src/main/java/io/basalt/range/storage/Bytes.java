package io.basalt.range.storage;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;

/** Byte-string helpers shared by the engines and the key encodings. */
public final class Bytes {
  /** Unsigned lexicographic order, the order of every engine. */
  public static final Comparator<byte[]> ORDER = Arrays::compareUnsigned;

  public static final byte[] EMPTY = new byte[0];

  private Bytes() {}

  public static int compare(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(a, b);
  }

  public static boolean startsWith(byte[] bytes, byte[] prefix) {
    return bytes.length >= prefix.length
        && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
  }

  /**
   * The smallest key greater than every key that starts with {@code prefix}, or {@code null} when
   * there is none (the prefix is empty or all 0xFF).
   */
  public static byte[] prefixEnd(byte[] prefix) {
    for (int i = prefix.length - 1; i >= 0; i--) {
      if (prefix[i] != (byte) 0xFF) {
        byte[] end = Arrays.copyOf(prefix, i + 1);
        end[i]++;
        return end;
      }
    }
    return null;
  }

  public static String toHex(byte[] bytes) {
    return bytes == null ? "null" : HexFormat.of().formatHex(bytes);
  }
}
