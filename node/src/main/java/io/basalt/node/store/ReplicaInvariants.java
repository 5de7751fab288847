package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.txn.eval.Commands;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the simulators check of a {@link Replica} after every step, and how a failing check or test
 * describes it: its latches, proposals and request ids agree.
 */
final class ReplicaInvariants {
  private ReplicaInvariants() {}

  /**
   * Checks replica {@code r}'s bookkeeping: a write holds latches exactly when it is a proposal in
   * flight, an applied entry whose batch is being built, one in {@code awaitingWrite} (batches on
   * their way to disk), or granted and not yet evaluated; and the request ids in flight are exactly
   * those of its proposals.
   *
   * @throws IllegalStateException naming the range and the writes if not
   */
  static void check(Replica r, Collection<Pending> awaitingWrite) {
    Set<Pending> held = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    r.proposals.values().stream()
        .filter(Replica.Proposal::holdsLatches)
        .forEach(p -> held.add(p.pending()));
    held.addAll(r.stagedLatches);
    held.addAll(awaitingWrite);
    held.addAll(r.granted);
    Set<Pending> holders = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    holders.addAll(r.latches.holders());
    if (!held.equals(holders)) {
      throw new IllegalStateException(
          "range "
              + r.rangeId
              + " latches "
              + describe(holders)
              + " but its proposals hold "
              + describe(held)
              + ": "
              + debug(r));
    }
    if (!r.isLeader && (!r.granted.isEmpty() || !r.latches.waiters().isEmpty())) {
      throw new IllegalStateException(
          "range " + r.rangeId + " is not the leader but has writes waiting: " + debug(r));
    }
    if (r.latches.waiterWaitingForNothing() != null) {
      throw new IllegalStateException(
          "range "
              + r.rangeId
              + " has a write waiting for latches nobody holds or waits for: "
              + debug(r));
    }
    Map<ByteString, Integer> ids = new HashMap<>();
    r.proposals.values().stream()
        .map(p -> p.pending().request.getHeader().getRequestId())
        .filter(id -> !id.isEmpty())
        .forEach(id -> ids.merge(id, 1, Integer::sum));
    if (!ids.equals(r.requestIdsInFlight)) {
      throw new IllegalStateException(
          "range "
              + r.rangeId
              + " has "
              + r.requestIdsInFlight.size()
              + " request ids in flight but its proposals carry "
              + ids.size()
              + ": "
              + debug(r));
    }
  }

  /** The keys {@code writes} latch, for a report. */
  private static List<String> describe(Collection<Pending> writes) {
    return writes.stream().map(ReplicaInvariants::latchedKeys).toList();
  }

  private static String latchedKeys(Pending p) {
    if (!Commands.isWrite(p.request)) {
      return "[" + p.request.getRequestCase() + "]"; // (a replica change, not a command)
    }
    return Commands.latchSpans(p.request).stream()
        .map(sp -> sp.start().toStringUtf8())
        .toList()
        .toString();
  }

  /** Replica {@code r}'s request state, for a failing test's report. */
  static String debug(Replica r) {
    StringBuilder b = new StringBuilder();
    b.append(r.core.status()).append(" smApplied=").append(r.sm.appliedIndex());
    b.append(" isLeader=").append(r.isLeader).append(" readyIndex=").append(r.leaderReadyIndex);
    b.append(" latched=").append(describe(r.latches.holders()));
    r.proposals.forEach((i, p) ->
        b.append(" proposal@")
            .append(i)
            .append("/t")
            .append(p.term())
            .append(latchedKeys(p.pending())));
    b.append(" waiting=")
        .append(r.latches.waiters().size())
        .append(" granted=")
        .append(r.granted.size());
    b.append(" awaitingReady=").append(r.awaitingLeaderReady.size());
    return b.toString();
  }

  /**
   * Checks what holds across a store's replicas: no two that hold data overlap, and none has an id
   * below its range's tombstone here.
   *
   * @throws IllegalStateException naming the ranges if not
   */
  static void checkStore(Store store) {
    List<Replica> initialized = new java.util.ArrayList<>();
    for (Replica r : store.replicaMap().values()) {
      long floor = StoreRecords.readTombstone(store.engine, r.rangeId);
      if (r.replicaId < floor) {
        throw new IllegalStateException(
            "node "
                + store.nodeId()
                + " holds replica "
                + r.replicaId
                + " of range "
                + r.rangeId
                + " below its tombstone "
                + floor);
      }
      if (r.initialized) {
        for (Replica other : initialized) {
          if (ReplicaLifecycle.overlap(r.descriptor, other.descriptor)) {
            throw new IllegalStateException(
                "node "
                    + store.nodeId()
                    + " holds overlapping replicas of ranges "
                    + other.rangeId
                    + " and "
                    + r.rangeId);
          }
        }
        initialized.add(r);
      }
    }
  }

  /**
   * The Raft configuration of {@code store}'s replica of a range, as {@link #membershipOf} puts it.
   */
  static String membership(Store store, long rangeId) {
    var c = store.replicaMap().get(rangeId).core.status().confState();
    return "voters=" + c.voters() + " learners=" + c.learners();
  }

  /** The configuration {@code d} describes, as {@link #membership} puts it. */
  static String membershipOf(io.basalt.api.RangeDescriptor d) {
    java.util.TreeSet<Long> voters = new java.util.TreeSet<>();
    java.util.TreeSet<Long> learners = new java.util.TreeSet<>();
    for (var r : d.getReplicasList()) {
      (r.getRole() == io.basalt.api.ReplicaRole.REPLICA_ROLE_LEARNER ? learners : voters)
          .add(r.getReplicaId());
    }
    return "voters=" + voters + " learners=" + learners;
  }
}
