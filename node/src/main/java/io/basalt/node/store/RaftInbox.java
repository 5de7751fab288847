package io.basalt.node.store;

import io.basalt.api.MessageType;
import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.raft.Message;

/**
 * Raft traffic arriving at a store: each message or snapshot chunk goes to the replica it names,
 * created if it is the first for a replica added here ({@link ReplicaLifecycle}), and only if it is
 * addressed to that replica from a replica its descriptor places on the sending node (or from one
 * it does not know, under a later generation than its own). Anything else is dropped and reported
 * (Raft tolerates lost messages).
 */
final class RaftInbox {
  private RaftInbox() {}

  /**
   * Steps a Raft message from {@code fromNode} into its replica; the replica, or null if dropped.
   */
  static Replica receive(Store store, long fromNode, RaftMessage m) {
    if (m.getType() == MessageType.MESSAGE_TYPE_REPLICA_REMOVED) {
      ReplicaLifecycle.removedElsewhere(store, fromNode, m);
      return null;
    }
    if (m.getType() == MessageType.MESSAGE_TYPE_REPLICA_PROBE) {
      Replica member = store.replicaMap().get(m.getRangeId());
      if (member != null && member.initialized && member.nodeOf(m.getFrom()) == 0) {
        answerRemoved(store, fromNode, member, m.getFrom(), m.getRangeGeneration());
      } else if (member == null
          && StoreRecords.readTombstone(store.engine, m.getRangeId()) == Long.MAX_VALUE) {
        // A merge absorbed the range here (ReplicaMerges): it is gone.
        store.network.send(
            fromNode,
            RaftMessage.newBuilder()
                .setRangeId(m.getRangeId())
                .setType(MessageType.MESSAGE_TYPE_REPLICA_REMOVED)
                .setTo(m.getFrom())
                .setMergedAway(true)
                .build());
      }
      return null;
    }
    // A replica added to the range is created by its first message (unless removed here).
    Replica r =
        ReplicaLifecycle.replicaFor(
            store, fromNode, m.getRangeId(), m.getRangeGeneration(), m.getFrom(), m.getTo());
    if (r == null) {
      return null;
    }
    Message msg;
    try {
      msg = RaftMessages.fromProto(m);
      // From a replica the descriptor places on the sending node (under any generation: a member
      // that has not applied the latest change yet is Raft's to judge, by its term), or from one
      // it does not know that names a later generation (its sender knows a newer descriptor).
      long senderNode = r.nodeOf(msg.from());
      // (A replica waiting for its first snapshot knows no members but its creator: it takes
      // whoever leads the range now.)
      boolean unknownButNewer =
          senderNode == 0
              && (m.getRangeGeneration() > r.descriptor.getGeneration() || !r.initialized);
      if (msg.to() != r.replicaId || (senderNode != fromNode && !unknownButNewer)) {
        store.listener.droppedMessage(
            fromNode, m.getRangeId(), "addressed from " + msg.from() + " to " + msg.to());
        if (senderNode == 0 && r.initialized && msg.to() == r.replicaId) {
          answerRemoved(store, fromNode, r, msg.from(), m.getRangeGeneration());
        }
        return null;
      }
      if (msg.type() == Message.Type.SNAPSHOT) {
        // Snapshots travel as chunk streams (receiveChunk), never as bare messages.
        store.listener.droppedMessage(
            fromNode, m.getRangeId(), "snapshot message without its data");
        return null;
      }
      if (unknownButNewer) {
        r.learnNode(msg.from(), fromNode);
      }
      r.raft().step(msg);
    } catch (IllegalArgumentException e) {
      store.listener.droppedMessage(fromNode, m.getRangeId(), "malformed: " + e.getMessage());
      return null;
    }
    return r;
  }

  /**
   * Tells replica {@code to} on {@code toNode}, which wrote to member {@code r} under generation
   * {@code generation} and which {@code r}'s descriptor does not name, that the range no longer has
   * it, if {@code r}'s descriptor is the newer: it never applied its removal (it was away), and its
   * store destroys it (ReplicaLifecycle.removedElsewhere).
   */
  private static void answerRemoved(Store store, long toNode, Replica r, long to, long generation) {
    if (generation >= r.descriptor.getGeneration()) {
      return;
    }
    store.network.send(
        toNode,
        RaftMessage.newBuilder()
            .setRangeId(r.rangeId)
            .setType(MessageType.MESSAGE_TYPE_REPLICA_REMOVED)
            .setFrom(r.replicaId)
            .setTo(to)
            .setRangeGeneration(r.descriptor.getGeneration())
            .setCurrentDescriptor(r.descriptor)
            .build());
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
