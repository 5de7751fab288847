package io.basalt.node.store;

/**
 * What a {@link Store} reports as it works: the hooks for metrics and the notable-event log. Called
 * on the store's thread; implementations must be cheap and must not call back into the store.
 */
public interface StoreListener {
  /** A replica learned a new leader (0: none) or changed role. */
  default void leaderChanged(long rangeId, long leaderNode, boolean isLocal) {}

  /** A replica was created on this store (bootstrapped, loaded, or added by its leader). */
  default void replicaCreated(long rangeId, boolean loaded) {}

  /** A replica applied a change of its range's replicas: {@code descriptor} is the new one. */
  default void replicasChanged(long rangeId, io.basalt.api.RangeDescriptor descriptor) {}

  /** A replica removed from its range was destroyed here, its tombstone written. */
  default void replicaDestroyed(long rangeId, long replicaId) {}

  /** One group-committed write of Raft state: how long, how many ranges, whether synced. */
  default void raftStateWritten(long nanos, int ranges, boolean synced) {}

  default void proposed(int commands) {}

  /** Committed entries applied in one pass, and how long it took. */
  default void applied(int entries, long nanos) {}

  /** A KV request finished ({@code ok} false when answered with an error). */
  default void requestDone(String method, long nanos, boolean ok) {}

  /** A Raft message was dropped (unknown range, malformed, misaddressed). */
  default void droppedMessage(long fromNode, long rangeId, String reason) {}

  /** A replica installed a snapshot at {@code index}. */
  default void snapshotInstalled(long rangeId, long index) {}

  /** A snapshot stream of {@code rangeId} reached the connection to {@code toNode} whole. */
  default void snapshotSent(long rangeId, long toNode, int chunks, long bytes) {}

  /** A snapshot of {@code rangeId} for {@code toNode} could not be sent; the leader retries. */
  default void snapshotNotSent(long rangeId, long toNode, String reason) {}

  StoreListener NONE = new StoreListener() {};
}
