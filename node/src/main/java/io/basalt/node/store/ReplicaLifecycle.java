package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.range.storage.WriteBatch;

/**
 * How replicas come to a store after bootstrap and leave it (DESIGN.md, "Replicas"). A replica
 * added to a range is created here by the first Raft message or snapshot addressed to it, empty and
 * uninitialized (no span, no data; a descriptor naming only itself and its leader, at the
 * generation the message named): it only answers its leader until a snapshot gives it the range's
 * descriptor and data. A replica that applied its own removal is destroyed once that is written:
 * its Raft state, range-local state and data go, and a tombstone keeps any message for it, or for
 * an older replica of the range, from creating it again.
 */
final class ReplicaLifecycle {
  private ReplicaLifecycle() {}

  /**
   * The replica of range {@code rangeId} a message from {@code fromNode} is for: the one this store
   * holds, or one the message creates (see {@link #createOnMessage}); null if neither.
   */
  static Replica replicaFor(
      Store store, long fromNode, long rangeId, long generation, long fromReplica, long toReplica) {
    if (store.splits.creating(rangeId)) {
      // A split applied here is creating it: its state is on its way to the engine.
      store.listener.droppedMessage(fromNode, rangeId, "range being created by a split here");
      return null;
    }
    if (store.splits.absorbing(rangeId)) {
      // A merge absorbed it here: its tombstone is on its way to the engine.
      store.listener.droppedMessage(fromNode, rangeId, "range absorbed by a merge here");
      return null;
    }
    Replica r = store.replicaMap().get(rangeId);
    if (r != null && toReplica > r.replicaId) {
      // A later replica of the range on this node: this one was removed from the range (a node
      // holds one replica of a range, and a new id is given only once the old one is out) while
      // it was away, and never applied its removal. Destroyed first (once no write of it is on
      // its way), then the new one is created.
      r.removed = true;
      if (store.writing(r) && store.rules().destroyAfterLastWrite()) {
        store.listener.droppedMessage(
            fromNode, rangeId, "replica " + r.replicaId + " is being replaced by " + toReplica);
        return null;
      }
      destroyIfRemoved(store, r);
      r = null;
    }
    if (r == null) {
      r = createOnMessage(store, fromNode, rangeId, generation, fromReplica, toReplica);
      if (r != null) {
        store.replicaMap().put(rangeId, r);
      }
    }
    return r;
  }

  /**
   * The replica a message from replica {@code fromReplica} on {@code fromNode} to replica {@code
   * toReplica} of range {@code rangeId} creates here, or null (with the reason reported) when none
   * may be: the store holds a tombstone at or above it.
   */
  private static Replica createOnMessage(
      Store store, long fromNode, long rangeId, long generation, long fromReplica, long toReplica) {
    if (rangeId <= 0
        || fromReplica <= 0
        || toReplica <= 0
        || store.identity().isEmpty()
        || store.address(fromNode) == null) { // (only a node of the cluster adds a replica here)
      store.listener.droppedMessage(fromNode, rangeId, "no replica of this range here");
      return null;
    }
    long floor = StoreRecords.readTombstone(store.engine, rangeId);
    if (toReplica < floor && store.rules().checkTombstones()) {
      store.listener.droppedMessage(
          fromNode,
          rangeId,
          "replica " + toReplica + " was removed from this node (tombstone " + floor + ")");
      return null;
    }
    RangeDescriptor placeholder =
        RangeDescriptor.newBuilder()
            .setRangeId(rangeId)
            .setGeneration(generation)
            .addReplicas(
                ReplicaDescriptor.newBuilder()
                    .setNodeId(store.nodeId())
                    .setReplicaId(toReplica)
                    .setRole(ReplicaRole.REPLICA_ROLE_LEARNER))
            .addReplicas(
                ReplicaDescriptor.newBuilder().setNodeId(fromNode).setReplicaId(fromReplica))
            .build();
    Replica r = new Replica(store, placeholder);
    r.initialized = false;
    store.listener.replicaCreated(rangeId, false);
    return r;
  }

  /**
   * Whether a replica of range {@code d} may take a snapshot of {@code d} here: no other replica of
   * this store covers any of its keys.
   */
  static boolean fits(Store store, RangeDescriptor d) {
    return overlapping(store, d) == null && !splitCreating(store, d);
  }

  /**
   * Another replica of this store that covers a key of {@code d}, or will once what is on its way
   * is written (a snapshot it accepted or staged, a split creating it), or null. A replica frozen
   * for a merge that {@code d} shows applied is not in the way: a snapshot of {@code d} replaces
   * it.
   */
  static Replica overlapping(Store store, RangeDescriptor d) {
    for (Replica other : store.replicaMap().values()) {
      if (other.rangeId == d.getRangeId()) {
        continue;
      }
      RangeDescriptor coming = other.snapshots.pendingDescriptor();
      // A first snapshot staged in a batch not yet written counts as installed: its replica's
      // descriptor is already the snapshot's (CI once saw the right-hand range of a split the
      // snapshot had not reached installed in that window, and the split then found it there).
      if (((other.initialized || other.initializedWhenWritten)
              && overlap(other.descriptor, d)
              && !ReplicaMerges.subsumedBy(other, d)) // (the snapshot takes its place)
          || (coming != null && overlap(coming, d))) {
        return other;
      }
    }
    return null;
  }

  /** Whether a split applied here is creating a range that covers a key of {@code d}. */
  static boolean splitCreating(Store store, RangeDescriptor d) {
    return store.splits.staged().stream()
        .anyMatch(right -> right.getRangeId() != d.getRangeId() && overlap(right, d));
  }

  /** Whether the spans of {@code a} and {@code b} share a key (an empty end key is +infinity). */
  static boolean overlap(RangeDescriptor a, RangeDescriptor b) {
    var cmp = ByteString.unsignedLexicographicalComparator();
    boolean aStartsBeforeBEnds =
        b.getEndKey().isEmpty() || cmp.compare(a.getStartKey(), b.getEndKey()) < 0;
    boolean bStartsBeforeAEnds =
        a.getEndKey().isEmpty() || cmp.compare(b.getStartKey(), a.getEndKey()) < 0;
    return aStartsBeforeBEnds && bStartsBeforeAEnds;
  }

  /**
   * Destroys {@code r}, whose removal from its range is written, in one synced write (see the class
   * comment), unless it is already gone or a round's batch holding its state is still on its way
   * (then the write of the last one destroys it: the store takes a removed replica into no later
   * round, and a batch that reached the engine after the destruction would bring its state back).
   */
  static void destroyIfRemoved(Store store, Replica r) {
    if (!r.removed
        || store.replicaMap().get(r.rangeId) != r
        || (store.writing(r) && store.rules().destroyAfterLastWrite())) {
      return; // (a later round's batch holding its state is on its way: destroyed after it)
    }
    store.replicaMap().remove(r.rangeId);
    store.dirty.remove(r);
    WriteBatch batch = new WriteBatch();
    r.storage.destroy(batch);
    StoreRecords.stageDestroy(batch, r.descriptor, r.initialized, r.replicaId + 1);
    store.engine.write(batch, true);
    r.snapshots.cancelOutgoing();
    store.listener.replicaDestroyed(r.rangeId, r.replicaId);
  }

  /**
   * Asks the other members {@code r}'s descriptor names whether its range still has it (a
   * REPLICA_PROBE; a member whose descriptor is newer and does not name it answers
   * REPLICA_REMOVED).
   */
  static void probe(Store store, Replica r) {
    for (ReplicaDescriptor d : r.descriptor.getReplicasList()) {
      if (d.getNodeId() != store.nodeId()) {
        store.network.send(
            d.getNodeId(),
            io.basalt.api.RaftMessage.newBuilder()
                .setRangeId(r.rangeId)
                .setType(io.basalt.api.MessageType.MESSAGE_TYPE_REPLICA_PROBE)
                .setFrom(r.replicaId)
                .setTo(d.getReplicaId())
                .setRangeGeneration(r.descriptor.getGeneration())
                .build());
      }
    }
  }

  /**
   * Handles a REPLICA_REMOVED answer from a member of a range: if the descriptor it carries is of a
   * later generation than this store's replica's and does not name it, the replica was removed from
   * the range while it was away (replica ids are never given twice): it is destroyed, with its data
   * (no other replica here covers its span) and a tombstone above its id. So is one that no replica
   * here will absorb (not frozen for a merge, or none here of the range it is frozen into) when the
   * answer says a merge absorbed its range (merged_away). Otherwise dropped.
   */
  static void removedElsewhere(Store store, long fromNode, io.basalt.api.RaftMessage m) {
    Replica r = store.replicaMap().get(m.getRangeId());
    RangeDescriptor current = m.getCurrentDescriptor();
    if (m.getMergedAway() && r != null && r.replicaId == m.getTo()) {
      // The range was merged away. Every member applied the freeze before that, so a replica
      // that did not was no member: nothing of it is anyone's. A frozen one waits for this
      // node's replica of the range it merged into to absorb it; if there is none with data
      // (removed from that range since), nothing of it is anyone's either.
      Replica into =
          r.frozen == null ? null : store.replicaMap().get(r.frozen.getInto().getRangeId());
      if (into == null || !into.initialized) {
        r.removed = true;
        destroyIfRemoved(store, r);
      } else if (store.engine.get(
                  io.basalt.range.storage.ColumnFamily.LOCAL,
                  io.basalt.range.keys.LocalKeys.merged(into.rangeId, r.frozen.getMergeId()))
              != null
          && !store.writing(r)) {
        // That replica is past the merge (it records it: by a snapshot from after it, which
        // covered only part of this span, the range having split since): its data for its own
        // span is there; the rest of this span is another range's, whose snapshot clears it.
        // Destroyed, data left.
        WriteBatch batch = new WriteBatch();
        ReplicaMerges.absorb(store, r, into, batch);
        store.engine.write(batch, true);
        store.splits.written(batch);
      }
      return;
    }
    if (r == null
        || r.replicaId != m.getTo()
        || current.getRangeId() != r.rangeId
        || current.getGeneration() <= r.descriptor.getGeneration()
        || current.getReplicasList().stream().anyMatch(x -> x.getReplicaId() == r.replicaId)) {
      store.listener.droppedMessage(fromNode, m.getRangeId(), "removal that does not apply here");
      return;
    }
    r.removed = true;
    destroyIfRemoved(store, r); // (or once the last batch holding its state is written)
  }

  /**
   * Loads, at start, the replicas {@code store} holds; destroys those whose written descriptor no
   * longer names this node (they applied their own removal and the process stopped before the
   * destruction).
   */
  static void loadAll(Store store) {
    for (long rangeId : StoreRecords.replicaRangeIds(store.engine)) {
      byte[] d =
          store.engine.get(
              io.basalt.range.storage.ColumnFamily.LOCAL,
              io.basalt.range.keys.LocalKeys.descriptor(rangeId));
      RangeDescriptor descriptor;
      try {
        descriptor = RangeDescriptor.parseFrom(d);
      } catch (com.google.protobuf.InvalidProtocolBufferException | NullPointerException e) {
        throw new IllegalStateException("range " + rangeId + " has no readable descriptor", e);
      }
      if (!ReplicaChanges.holds(descriptor, store.nodeId())) {
        destroyOnLoad(store, descriptor);
        continue;
      }
      Replica r = new Replica(store, descriptor);
      store.replicaMap().put(rangeId, r);
      store.dirty.add(r);
      store.listener.replicaCreated(rangeId, true);
    }
  }

  /**
   * Destroys, at start, a replica whose written descriptor no longer names this node (it applied
   * its removal, and the process stopped before the destruction): its data, range-local and Raft
   * state, with a tombstone at the descriptor's next replica id (any later replica here gets one at
   * or above it).
   */
  static void destroyOnLoad(Store store, RangeDescriptor d) {
    WriteBatch batch = new WriteBatch();
    new io.basalt.range.raft.EngineRaftStorage(store.engine, d.getRangeId()).destroy(batch);
    long tombstone = d.getNextReplicaId();
    for (ReplicaDescriptor r : d.getReplicasList()) {
      tombstone = Math.max(tombstone, r.getReplicaId() + 1);
    }
    StoreRecords.stageDestroy(batch, d, true, tombstone);
    store.engine.write(batch, true);
    store.listener.replicaDestroyed(d.getRangeId(), 0);
  }
}
