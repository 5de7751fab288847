package io.basalt.range.raft.sim;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The replicated register map of one simulated group: keys to values, the ids of the operations
 * applied (so a duplicated request is applied once), and a digest of everything applied so far,
 * which must be equal on every replica at equal applied index.
 */
final class StateMachine {
  final TreeMap<String, String> values = new TreeMap<>();
  final TreeSet<Long> appliedOps = new TreeSet<>();
  long appliedIndex;
  long digest;

  /** Applies {@code command} at {@code index}; returns the operation's result. */
  Object apply(long index, Command command) {
    appliedIndex = index;
    if (!appliedOps.add(command.opId())) {
      return null; // a duplicate: already applied once
    }
    Object result;
    switch (command.kind()) {
      case PUT, PROBE -> {
        values.put(command.key(), command.value());
        result = Boolean.TRUE;
      }
      case CAS -> {
        boolean matches = Objects.equals(values.get(command.key()), command.expected());
        if (matches) {
          values.put(command.key(), command.value());
        }
        result = matches;
      }
      default -> throw new IllegalStateException();
    }
    digest =
        digest * 1_000_003L
            + command.opId() * 31
            + command.key().hashCode()
            + command.value().hashCode();
    return result;
  }

  void skip(long index) {
    appliedIndex = index;
  }

  byte[] serialize() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(appliedIndex);
      out.writeLong(digest);
      out.writeInt(values.size());
      for (Map.Entry<String, String> e : values.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeUTF(e.getValue());
      }
      out.writeInt(appliedOps.size());
      for (long op : appliedOps) {
        out.writeLong(op);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  void restore(byte[] data) {
    values.clear();
    appliedOps.clear();
    if (data.length == 0) {
      appliedIndex = 0;
      digest = 0;
      return;
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
      appliedIndex = in.readLong();
      digest = in.readLong();
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        values.put(in.readUTF(), in.readUTF());
      }
      int ops = in.readInt();
      for (int i = 0; i < ops; i++) {
        appliedOps.add(in.readLong());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
