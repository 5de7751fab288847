package io.basalt.range.raft.sim;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** A command of the simulated register state machine, as carried in a log entry. */
record Command(long opId, String key, Kind kind, String expected, String value) {
  enum Kind {
    PUT,
    CAS,
    PROBE
  }

  byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(kind.ordinal());
      out.writeLong(opId);
      out.writeUTF(key);
      out.writeBoolean(expected != null);
      if (expected != null) {
        out.writeUTF(expected);
      }
      out.writeUTF(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static Command decode(byte[] data) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
      Kind kind = Kind.values()[in.readByte()];
      long opId = in.readLong();
      String key = in.readUTF();
      String expected = in.readBoolean() ? in.readUTF() : null;
      String value = in.readUTF();
      return new Command(opId, key, kind, expected, value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
