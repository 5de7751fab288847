package io.basalt.node.transport;

import java.util.Objects;

/** The settings of a {@link NodeTransport}; see {@link #defaults}. */
public record TransportOptions(
    /* Empty while the node is not initialized: clients are served, other nodes refused. */
    String clusterId,
    long nodeId,
    int maxFrameBytes,
    long maxQueuedBytesPerPeer,
    long reconnectMinMillis,
    long reconnectMaxMillis,
    /* Network threads; one batches best on a small machine (see --io-threads). */
    int ioThreads) {
  public TransportOptions {
    if (ioThreads <= 0) {
      throw new IllegalArgumentException("ioThreads must be positive, got " + ioThreads);
    }
    Objects.requireNonNull(clusterId, "clusterId");
    if (nodeId <= 0) {
      throw new IllegalArgumentException("nodeId must be positive, got " + nodeId);
    }
    if (maxFrameBytes < 1024) {
      throw new IllegalArgumentException(
          "maxFrameBytes must be at least 1024, got " + maxFrameBytes);
    }
    if (maxQueuedBytesPerPeer < maxFrameBytes) {
      throw new IllegalArgumentException("maxQueuedBytesPerPeer must be at least maxFrameBytes");
    }
  }

  public static TransportOptions defaults(String clusterId, long nodeId) {
    return new TransportOptions(clusterId, nodeId, 16 << 20, 64L << 20, 50, 5_000, 1);
  }

  public TransportOptions withIoThreads(int ioThreads) {
    return new TransportOptions(
        clusterId,
        nodeId,
        maxFrameBytes,
        maxQueuedBytesPerPeer,
        reconnectMinMillis,
        reconnectMaxMillis,
        ioThreads);
  }
}
