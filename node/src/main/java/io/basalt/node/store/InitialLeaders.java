package io.basalt.node.store;

import java.util.ArrayList;
import java.util.List;

/**
 * The initial ranges' leaders, spread evenly over the first nodes by init (a {@code Bootstrap}
 * request sent again, in two rounds, once every first node is bootstrapped). Without it, leaders go
 * to whichever node was bootstrapped first, and the placement driver moves them for many passes.
 */
final class InitialLeaders {
  /** The replicas this store's bootstrap created (in this process), until they are spread. */
  private final List<Replica> replicas = new ArrayList<>();

  void add(Replica r) {
    replicas.add(r);
  }

  /**
   * Lets this store's initial replicas vote at once (init calls it on every first node once all are
   * bootstrapped, before {@link #spread}): created by the bootstrap in this process, they have
   * acknowledged no leader, so the quarantine of a restarted replica protects nothing. (A leader
   * they have heard from since still keeps their votes, as always.)
   */
  void readyVoters() {
    for (Replica r : replicas) {
      r.raft().startNewGroup();
    }
  }

  /**
   * Spreads the initial ranges' leaders evenly over the first nodes: init calls it on each after
   * {@link #readyVoters} has run on all. The replica at position {@code rangeId mod replicas} of
   * each initial range is to lead it: here it campaigns if the range has no leader yet, and a
   * leader elsewhere in the list hands it the leadership. Without it, leaders go to whichever node
   * was bootstrapped first, and the placement driver moves them for many passes. Best effort: a
   * lost election or transfer leaves the range to its election timeouts.
   */
  void spread(Store store) {
    for (Replica r : replicas) {
      if (store.replicaMap().get(r.rangeId) != r || r.descriptor.getReplicasCount() == 0) {
        continue;
      }
      var d = r.descriptor;
      long chosen = d.getReplicas((int) (d.getRangeId() % d.getReplicasCount())).getReplicaId();
      if (chosen == r.replicaId && r.leader == 0) {
        r.raft().campaign();
        store.dirty.add(r);
      } else if (chosen != r.replicaId && r.isLeader) {
        r.raft().transferLeader(chosen);
        store.dirty.add(r);
      }
    }
    replicas.clear();
  }
}
