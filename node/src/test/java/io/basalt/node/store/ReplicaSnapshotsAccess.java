package io.basalt.node.store;

/** What tests outside this package may know of the store's snapshot streams. */
public final class ReplicaSnapshotsAccess {
  /** How long a stream may go without a chunk taken before it is given up. */
  public static final long STREAM_STALL_NANOS = ReplicaSnapshots.STREAM_STALL_NANOS;

  private ReplicaSnapshotsAccess() {}
}
