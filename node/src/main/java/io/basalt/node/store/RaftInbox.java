package io.basalt.node.store;

import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.raft.Message;

/**
 * Raft traffic arriving at a store: each message or snapshot chunk goes to the replica it names,
 * created if it is the first for a replica added here ({@link ReplicaLifecycle}), and only if it is
 * addressed to that replica from a replica its descriptor places on the sending node, under the
 * range's current generation or a later one. Anything else is dropped and reported (Raft tolerates
 * lost messages).
 */
final class RaftInbox {
  private RaftInbox() {}

  /**
   * Steps a Raft message from {@code fromNode} into its replica; the replica, or null if dropped.
   */
  static Replica receive(Store store, long fromNode, RaftMessage m) {
    // A replica added to the range is created by its first message (unless removed here).
    Replica r =
        ReplicaLifecycle.replicaFor(
            store, fromNode, m.getRangeId(), m.getRangeGeneration(), m.getFrom(), m.getTo());
    if (r == null) {
      return null;
    }
    if (m.getRangeGeneration() < r.descriptor.getGeneration()) {
      // Sent under an older descriptor of the range, or naming none (0): not the current one.
      store.listener.droppedMessage(
          fromNode,
          m.getRangeId(),
          "range generation " + m.getRangeGeneration() + " < " + r.descriptor.getGeneration());
      return null;
    }
    Message msg;
    try {
      msg = RaftMessages.fromProto(m);
      if (msg.to() != r.replicaId || r.nodeOf(msg.from()) != fromNode) {
        store.listener.droppedMessage(
            fromNode, m.getRangeId(), "addressed from " + msg.from() + " to " + msg.to());
        return null;
      }
      if (msg.type() == Message.Type.SNAPSHOT) {
        // Snapshots travel as chunk streams (receiveChunk), never as bare messages.
        store.listener.droppedMessage(
            fromNode, m.getRangeId(), "snapshot message without its data");
        return null;
      }
      r.raft.step(msg);
    } catch (IllegalArgumentException e) {
      store.listener.droppedMessage(fromNode, m.getRangeId(), "malformed: " + e.getMessage());
      return null;
    }
    return r;
  }

  /**
   * Takes one chunk of a snapshot stream from {@code fromNode}; the last chunk, once the stream
   * checks out, is stepped into the replica as the leader's snapshot. A broken stream is dropped
   * (the leader's snapshot times out and it sends a new one). The replica, or null if dropped.
   */
  static Replica receiveChunk(Store store, long fromNode, SnapshotChunk chunk) {
    Replica r =
        ReplicaLifecycle.replicaFor(
            store,
            fromNode,
            chunk.getRangeId(),
            chunk.getRangeDescriptor().getGeneration(),
            chunk.getFrom(),
            chunk.getTo());
    if (r == null) {
      return null;
    }
    if (chunk.getTo() != r.replicaId || r.nodeOf(chunk.getFrom()) != fromNode) {
      store.listener.droppedMessage(fromNode, chunk.getRangeId(), "misaddressed snapshot chunk");
      return null;
    }
    r.snapshots.receiveChunk(chunk);
    return r;
  }
}
