package io.basalt.range.keys;

import io.basalt.range.storage.CorruptionException;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * An order-preserving, self-delimiting encoding of arbitrary byte strings, so that a
 * variable-length key can be followed by more components (a timestamp) without breaking the order.
 *
 * <p>Each 0x00 byte of the input becomes 0x00 0xFF and the encoding ends with 0x00 0x01. For any
 * byte strings a and b: {@code compare(a, b)} and {@code compare(encode(a), encode(b))} have the
 * same sign, and no encoding is a prefix of another. The argument: up to the first difference the
 * encodings agree; a differing non-zero byte keeps its order; a 0x00 in one input against a
 * non-zero byte in the other becomes 0x00 against that byte; where one input ends (it is a prefix
 * of the other) its terminator 0x00 0x01 sorts below both a non-zero byte and the escape 0x00 0xFF.
 */
public final class OrderedBytes {
  private static final byte ESCAPE = 0x00;
  private static final byte ESCAPED_ZERO = (byte) 0xFF;
  private static final byte TERMINATOR = 0x01;

  private OrderedBytes() {}

  /** The encoded length of {@code raw}. */
  public static int encodedLength(byte[] raw) {
    int zeros = 0;
    for (byte b : raw) {
      if (b == 0) {
        zeros++;
      }
    }
    return raw.length + zeros + 2;
  }

  /** Writes the encoding of {@code raw} into {@code out} at {@code offset}; returns the end. */
  public static int encodeInto(byte[] raw, byte[] out, int offset) {
    int p = offset;
    for (byte b : raw) {
      out[p++] = b;
      if (b == 0) {
        out[p++] = ESCAPED_ZERO;
      }
    }
    out[p++] = ESCAPE;
    out[p++] = TERMINATOR;
    return p;
  }

  public static byte[] encode(byte[] raw) {
    byte[] out = new byte[encodedLength(raw)];
    encodeInto(raw, out, 0);
    return out;
  }

  /** The result of decoding one component: the raw bytes and where the encoding ended. */
  public record Decoded(byte[] raw, int end) {}

  /** Decodes the component that starts at {@code offset} of {@code encoded}. */
  public static Decoded decode(byte[] encoded, int offset) {
    ByteArrayOutputStream raw = new ByteArrayOutputStream(encoded.length - offset);
    int p = offset;
    while (p < encoded.length) {
      byte b = encoded[p++];
      if (b != ESCAPE) {
        raw.write(b);
        continue;
      }
      if (p == encoded.length) {
        break;
      }
      byte next = encoded[p++];
      if (next == TERMINATOR) {
        return new Decoded(raw.toByteArray(), p);
      }
      if (next != ESCAPED_ZERO) {
        throw new CorruptionException(
            "bad escape 0x00 0x" + Integer.toHexString(next & 0xFF) + " at offset " + (p - 1));
      }
      raw.write(0);
    }
    throw new CorruptionException(
        "unterminated ordered-bytes component in "
            + Arrays.toString(Arrays.copyOfRange(encoded, offset, encoded.length)));
  }
}
