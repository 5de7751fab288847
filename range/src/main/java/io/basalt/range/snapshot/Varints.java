package io.basalt.range.snapshot;

import io.basalt.range.storage.CorruptionException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

/** Unsigned LEB128 varints for the snapshot stream's record lengths. */
final class Varints {
  private Varints() {}

  static void write(ByteArrayOutputStream out, int value) {
    int v = value;
    while ((v & ~0x7F) != 0) {
      out.write((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }

  static int read(ByteBuffer in) {
    int result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (!in.hasRemaining()) {
        throw new CorruptionException("snapshot chunk ends inside a varint");
      }
      byte b = in.get();
      result |= (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (result < 0) {
          throw new CorruptionException("snapshot chunk has a negative length");
        }
        return result;
      }
    }
    throw new CorruptionException("snapshot chunk has an overlong varint");
  }
}
