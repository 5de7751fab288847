package io.basalt.range.raft;

import java.util.Objects;

/**
 * Where a snapshot sits in the log: it replaces every entry up to and including {@code index},
 * whose term was {@code term}, and it was taken under configuration {@code confState} (the
 * configuration in effect after applying {@code index}).
 */
public record SnapshotMetadata(long index, long term, ConfState confState) {

  /** The metadata of "no snapshot". */
  public static final SnapshotMetadata EMPTY = new SnapshotMetadata(0, 0, ConfState.EMPTY);

  public SnapshotMetadata {
    if (index < 0 || term < 0) {
      throw new IllegalArgumentException(
          "snapshot index and term must not be negative: index=" + index + " term=" + term);
    }
    Objects.requireNonNull(confState, "confState");
  }
}
