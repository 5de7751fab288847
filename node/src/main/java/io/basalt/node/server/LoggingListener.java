package io.basalt.node.server;

import io.basalt.node.store.StoreListener;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One log line per notable store event. */
final class LoggingListener implements StoreListener {
  private static final Logger log = LoggerFactory.getLogger(Node.class);

  private final long nodeId;
  private final Map<String, Long> lastDropLog = new java.util.HashMap<>();

  LoggingListener(long nodeId) {
    this.nodeId = nodeId;
  }

  @Override
  public void snapshotInstalled(long rangeId, long index) {
    log.info("node {} installed a snapshot of range {} at index {}", nodeId, rangeId, index);
  }

  @Override
  public void snapshotSent(long rangeId, long toNode, int chunks, long bytes) {
    log.info(
        "node {} sent node {} a snapshot of range {}: {} chunks, {} bytes",
        nodeId,
        toNode,
        rangeId,
        chunks,
        bytes);
  }

  @Override
  public void snapshotNotSent(long rangeId, long toNode, String reason) {
    log.warn(
        "node {} could not send node {} a snapshot of range {}: {}",
        nodeId,
        toNode,
        rangeId,
        reason);
  }

  @Override
  public void droppedMessage(long fromNode, long rangeId, String reason) {
    // At most one line per sender, range and reason every 10 s: a flood must not flood the log.
    String key = fromNode + "/" + rangeId + "/" + reason;
    long now = System.nanoTime();
    Long last = lastDropLog.get(key);
    if (last == null || now - last > 10_000_000_000L) {
      lastDropLog.put(key, now);
      if (lastDropLog.size() > 10_000) {
        lastDropLog.clear();
      }
      log.warn(
          "node {} dropped a raft message from node {} for range {}: {}",
          nodeId,
          fromNode,
          rangeId,
          reason);
    }
  }

  @Override
  public void leaderChanged(long rangeId, long leaderNode, boolean isLocal) {
    if (isLocal) {
      log.info("node {} leads range {}", nodeId, rangeId);
    } else {
      log.debug("range {} leader is node {}", rangeId, leaderNode);
    }
  }

  @Override
  public void replicaCreated(long rangeId, boolean loaded) {
    if (loaded) {
      log.debug("node {} loaded range {}", nodeId, rangeId);
    } else {
      log.info("node {} created a replica of range {}", nodeId, rangeId);
    }
  }

  @Override
  public void replicasChanged(long rangeId, io.basalt.api.RangeDescriptor descriptor) {
    StringBuilder b = new StringBuilder();
    for (var r : descriptor.getReplicasList()) {
      b.append(b.isEmpty() ? "" : ", ")
          .append("node ")
          .append(r.getNodeId())
          .append(
              r.getRole() == io.basalt.api.ReplicaRole.REPLICA_ROLE_LEARNER ? " (learner)" : "");
    }
    log.info("range {} generation {}: replicas on {}", rangeId, descriptor.getGeneration(), b);
  }

  @Override
  public void replicaDestroyed(long rangeId, long replicaId) {
    log.info("node {} destroyed its replica of range {}, removed from the range", nodeId, rangeId);
  }
}
