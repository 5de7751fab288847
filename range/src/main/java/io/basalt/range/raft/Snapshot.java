package io.basalt.range.raft;

import java.util.Arrays;
import java.util.Objects;

/**
 * A state machine image at a log position. The core never interprets {@code data}; it only moves it
 * from the leader's storage to a follower's {@link Ready}.
 */
public record Snapshot(SnapshotMetadata metadata, byte[] data) {

  /** No snapshot (index 0). */
  public static final Snapshot EMPTY = new Snapshot(SnapshotMetadata.EMPTY, new byte[0]);

  public Snapshot {
    Objects.requireNonNull(metadata, "metadata");
    data = data == null ? new byte[0] : data.clone();
  }

  /** Whether this is the empty snapshot. */
  public boolean isEmpty() {
    return metadata.index() == 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Snapshot s && s.metadata.equals(metadata) && Arrays.equals(s.data, data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(metadata, Arrays.hashCode(data));
  }

  @Override
  public String toString() {
    return "Snapshot[" + metadata.index() + "@" + metadata.term() + " " + data.length + "B]";
  }
}
