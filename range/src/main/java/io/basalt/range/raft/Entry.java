package io.basalt.range.raft;

import java.util.Arrays;
import java.util.Objects;

/**
 * One Raft log entry. Entries are immutable: the data array is copied on construction and never
 * handed out for mutation by the core (callers must not modify {@link #data()}).
 *
 * @param term the leader term in which the entry was created, at least 1
 * @param index the position in the log, at least 1
 * @param type what the entry carries
 * @param data the payload (empty for a leader's no-op entry)
 */
public record Entry(long term, long index, EntryType type, byte[] data) {

  /** Fixed per-entry overhead counted by size limits, so that empty entries are not free. */
  static final int OVERHEAD_BYTES = 24;

  public Entry {
    if (term < 0) {
      throw new IllegalArgumentException("term must not be negative: " + term);
    }
    if (index < 0) {
      throw new IllegalArgumentException("index must not be negative: " + index);
    }
    Objects.requireNonNull(type, "type");
    data = data == null ? new byte[0] : data.clone();
  }

  /** A normal entry. */
  public static Entry normal(long term, long index, byte[] data) {
    return new Entry(term, index, EntryType.NORMAL, data);
  }

  /** Bytes counted against message and uncommitted-size limits. */
  long sizeBytes() {
    return OVERHEAD_BYTES + data.length;
  }

  /** Payload bytes counted against the leader's uncommitted-entries bound. */
  long payloadBytes() {
    return data.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Entry e
        && e.term == term
        && e.index == index
        && e.type == type
        && Arrays.equals(e.data, data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(term, index, type, Arrays.hashCode(data));
  }

  @Override
  public String toString() {
    return "Entry["
        + index
        + "@"
        + term
        + (type == EntryType.NORMAL ? "" : " " + type)
        + " "
        + data.length
        + "B]";
  }
}
