package io.basalt.node.store;

import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;

/**
 * Ranges at rest cost nothing per tick (DESIGN.md, "Ranges at rest"): the store ticks only the
 * replicas that are awake. After its tick, a replica whose Raft group is quiesced, with nothing
 * ready and nothing of its own waiting for ticks (a snapshot being sent, pushes or reads held by
 * the clock, a leadership to hand over), stops being ticked. Everything that touches its group
 * afterwards (a message, a proposal, a read, a wake because its leader's node went silent, a
 * collector's proposal) goes through {@link Replica#raft()}, and every request to it through {@link
 * Replica#wake()}; either first counts the ticks it slept through ({@link
 * io.basalt.range.raft.RaftNode#skipQuiescedTicks}): a quiesced group's tick only counts, so to
 * Raft, and to its lease counted in ticks, a hibernating replica is one that was ticked all along.
 */
final class Hibernation {
  private final Store store;

  /**
   * The replicas ticked (ticked in order of range id, as the store holds them). A replica the store
   * no longer holds may linger here until the next tick, beside the one that replaced it.
   */
  private final LinkedHashSet<Replica> awake = new LinkedHashSet<>();

  private static final Comparator<Replica> BY_RANGE = Comparator.comparingLong(r -> r.rangeId);
  private Replica[] scratch = new Replica[16];

  Hibernation(Store store) {
    this.store = store;
  }

  /** A new replica: awake until its first tick finds it at rest. */
  void awake(Replica r) {
    awake.add(r);
  }

  /** Wakes {@code r}, which slept since tick {@code r.sleptAt}: it is ticked from now on. */
  void wake(Replica r) {
    wake(r, store.ticks());
  }

  /** Wakes {@code r} with the ticks it slept through counted up to tick {@code upTo}. */
  private void wake(Replica r, long upTo) {
    r.core.skipQuiescedTicks(store.rules().countSleptTicks() ? upTo - r.sleptAt : 0);
    r.sleptAt = -1;
    if (store.replicaMap().get(r.rangeId) == r) {
      awake.add(r); // (one the store no longer holds is counted up, never ticked again)
    }
  }

  /** How many replicas the store ticks. */
  int awakeCount() {
    return awake.size();
  }

  /**
   * Ticks every awake replica once (the store's tick count has advanced already) and puts to sleep
   * those at rest. A replica woken meanwhile has been counted up to this tick and is not ticked
   * again; one no longer in the store is forgotten.
   *
   * @param refusal why the store does not serve, or null (its leaders then hand over)
   */
  void tick(String refusal) {
    if (refusal != null) {
      // A store that does not serve hands its leaderships over, those at rest included: woken
      // with the ticks they slept through up to the last one, they take this one below.
      for (Replica r : store.replicaMap().values()) {
        if (r.isLeader && r.sleptAt >= 0) {
          wake(r, store.ticks() - 1);
        }
      }
    }
    int n = awake.size();
    if (scratch.length < n) {
      scratch = new Replica[Math.max(n, 2 * scratch.length)];
    }
    Replica[] now = awake.toArray(scratch);
    Arrays.sort(now, 0, n, BY_RANGE);
    long ticks = store.ticks();
    for (int i = 0; i < n; i++) {
      Replica r = now[i];
      now[i] = null;
      if (store.replicaMap().get(r.rangeId) != r) {
        awake.remove(r);
        continue;
      }
      r.core.tick();
      r.snapshots.checkOutgoing();
      r.tickWaits();
      boolean handsOver = refusal != null && r.isLeader;
      if (handsOver) {
        ReplicaChanges.handOverLeadership(r);
      }
      if (r.core.hasReady()) {
        store.dirty.add(r);
      } else if (r.core.quiesced()
          && !handsOver
          && r.snapshots.idle()
          && !r.waitsOnTicks()
          && !store.dirty.contains(r)) {
        awake.remove(r);
        r.sleptAt = ticks;
      }
    }
  }

  /** Wakes the followers whose leader's node is {@code silent}, so that they elect another. */
  void wakeFollowersOfSilentNodes(java.util.function.LongPredicate silent) {
    for (Replica r : store.replicaMap().values()) {
      if (r.leader != 0 && r.leader != store.nodeId() && silent.test(r.leader)) {
        r.raft().wake();
        store.dirty.add(r);
      }
    }
  }
}
