package io.basalt.node.store;

import io.basalt.api.SnapshotChunk;

/**
 * One range's snapshot on its way to one follower, made chunk by chunk as the connection takes them
 * (the transport pulls while the socket is writable), so a snapshot of any size is sent without
 * being held in memory or in a peer's queue. The chunks are read from one consistent view of the
 * engine taken when the stream was made.
 *
 * <p>One thread at a time pulls ({@link #next}) and either reads the stream to its end or {@link
 * #abort}s it; either way the engine view is released. The store may {@link #cancel} it from its
 * own thread (a newer snapshot for the same follower replaces it).
 */
public interface SnapshotStream {
  /** The range the snapshot is of. */
  long rangeId();

  /**
   * The next chunk, or null once the stream is complete (the last chunk was returned) or was
   * cancelled; the view is released then.
   */
  SnapshotChunk next();

  /** The stream cannot be delivered (the connection failed); releases the view. */
  void abort(String reason);
}
