package io.basalt.node.store;

import io.basalt.api.KeySpace;
import io.basalt.api.KvResponse;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A store's side of splits (see {@link ReplicaSplits}) and merges: the new replicas whose state a
 * split staged into a batch not yet written, created once it is; the Raft messages for their
 * ranges, held until then; the replicas a merge absorbed in a batch not yet written; and the
 * redirect a request for a key the split or merge moved gets. On the store's thread.
 */
final class StoreSplits {
  private final Store store;

  /** Right-hand replicas of splits staged into a batch not yet written, by batch. */
  private final Map<WriteBatch, List<ReplicaSplits.Staged>> staged = new IdentityHashMap<>();

  /**
   * The ranges those splits create, with the Raft messages for them held until they exist (snapshot
   * chunks are dropped: their sender sends again).
   */
  private final Map<Long, List<Runnable>> held = new HashMap<>();

  StoreSplits(Store store) {
    this.store = store;
  }

  /**
   * Ranges whose replica here a merge absorbed (or a snapshot replaced) in a batch not yet written,
   * by batch: until their tombstone is in the engine, no message creates them again.
   */
  private final Map<WriteBatch, List<Long>> absorbed = new IdentityHashMap<>();

  /** Records that {@code batch} destroys this store's replica of {@code rangeId} for a merge. */
  void absorb(WriteBatch batch, long rangeId) {
    absorbed.computeIfAbsent(batch, b -> new ArrayList<>()).add(rangeId);
  }

  /**
   * Whether a merge absorbed this store's replica of {@code rangeId} in a batch not yet written.
   */
  boolean absorbing(long rangeId) {
    for (List<Long> ids : absorbed.values()) {
      if (ids.contains(rangeId)) {
        return true;
      }
    }
    return false;
  }

  /** Records that {@code batch} holds the state of a split's new replica. */
  void stage(WriteBatch batch, ReplicaSplits.Staged split) {
    staged.computeIfAbsent(batch, b -> new ArrayList<>()).add(split);
    held.put(split.right().getRangeId(), new ArrayList<>());
  }

  /** The descriptors of the ranges splits applied here are creating. */
  List<io.basalt.api.RangeDescriptor> staged() {
    List<io.basalt.api.RangeDescriptor> out = new ArrayList<>();
    staged.values().forEach(list -> list.forEach(s -> out.add(s.right())));
    return out;
  }

  /** Whether a split applied here is creating range {@code rangeId} (its state is not written). */
  boolean creating(long rangeId) {
    return held.containsKey(rangeId);
  }

  /**
   * Holds {@code delivery} of a message for range {@code rangeId} if a split is creating it (its
   * first votes and appends are taken once it exists, a moment from now); false if none is.
   */
  boolean hold(long rangeId, Runnable delivery) {
    List<Runnable> waiting = held.get(rangeId);
    if (waiting == null) {
      return false;
    }
    waiting.add(delivery);
    return true;
  }

  /** {@code batch} is in the engine: the replicas of the splits it holds come to life. */
  void written(WriteBatch batch) {
    absorbed.remove(batch);
    List<ReplicaSplits.Staged> splits = staged.remove(batch);
    if (splits == null) {
      return;
    }
    for (ReplicaSplits.Staged split : splits) {
      long id = split.right().getRangeId();
      List<Runnable> messages = held.remove(id);
      Replica r = new Replica(store, split.right());
      store.replicaMap().put(id, r);
      store.dirty.add(r);
      store.listener.replicaCreated(id, false);
      if (split.newGroup()) {
        r.raft().startNewGroup();
      }
      // Its data, and the dedupe records it answers retries from, were written at times up to
      // about now (some after an election, above the clock): answers wait as after a snapshot.
      r.snapshotInstalled();
      if (split.campaign()) {
        r.raft().campaign();
      }
      messages.forEach(Runnable::run);
    }
  }

  /**
   * The answer to {@code request} for range {@code rangeId}, of which this store holds no replica
   * with data: if a merge absorbed the range here and one of its replicas holds every key the
   * request names, KeyNotInRange naming that replica, so the client goes there; else RangeNotFound.
   */
  KvResponse notHere(io.basalt.api.KvRequest request, long rangeId) {
    if (rangeId <= 0
        || rangeId == Long.MAX_VALUE
        || StoreRecords.readTombstone(store.engine, rangeId) != Long.MAX_VALUE) {
      return io.basalt.api.Errors.rangeNotFound(rangeId);
    }
    for (Replica other : store.replicaMap().values()) {
      if (other.initialized
          && other.rangeId != rangeId
          && io.basalt.txn.eval.Commands.validate(request, other.descriptor) == null) {
        return KvResponse.newBuilder()
            .setError(
                io.basalt.api.Error.newBuilder()
                    .setKeyNotInRange(
                        io.basalt.api.KeyNotInRangeError.newBuilder()
                            .setCovering(other.descriptor)))
            .build();
      }
    }
    return io.basalt.api.Errors.rangeNotFound(rangeId);
  }

  /**
   * {@code refusal}, with, if it is a KeyNotInRange, the descriptor of this store's replica that
   * holds the key (after a split, the new range), so the client goes there without a lookup.
   */
  KvResponse withCovering(KvResponse refusal) {
    if (!refusal.hasError() || !refusal.getError().hasKeyNotInRange()) {
      return refusal;
    }
    byte[] key = refusal.getError().getKeyNotInRange().getKey().toByteArray();
    for (Replica other : store.replicaMap().values()) {
      if (other.initialized && KeySpace.contains(other.descriptor, key)) {
        KvResponse.Builder b = refusal.toBuilder();
        b.getErrorBuilder().getKeyNotInRangeBuilder().setCovering(other.descriptor);
        return b.build();
      }
    }
    return refusal;
  }
}
