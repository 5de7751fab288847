package io.basalt.node.store;

import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.ChangeReplicasRequest;
import io.basalt.api.Errors;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.TransferLeaderResponse;
import io.basalt.range.raft.ConfChange;
import io.basalt.range.raft.Entry;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.WriteBatch;
import java.util.Map;

/**
 * Replica changes (DESIGN.md, "Replicas"): what a ChangeReplicas request becomes, and what its
 * entry does when applied. A change is one Raft configuration change whose context is the range
 * descriptor it produces (next generation; a new replica gets the descriptor's next replica id), so
 * every replica applies the new membership and the new descriptor at the same log index.
 *
 * <p>Only simple changes: one learner added, one learner promoted, or one replica (not the leader)
 * removed, each keeping a single majority intersecting the previous one. A move is a learner added,
 * caught up by a snapshot, promoted, and then the old replica removed.
 */
final class ReplicaChanges {
  private ReplicaChanges() {}

  /** A change ready to propose: the configuration change carrying the descriptor it produces. */
  record Plan(ConfChange change, RangeDescriptor next) {}

  /** The refusal of a {@code what} decided from generation {@code expected} of range {@code d}. */
  static KvResponse staleGeneration(RangeDescriptor d, long expected, String what) {
    return Errors.invalid(
        "range "
            + d.getRangeId()
            + " is at generation "
            + d.getGeneration()
            + ", not "
            + expected
            + ": decide the "
            + what
            + " again from its current descriptor "
            + d);
  }

  /**
   * The change {@code c} asks of range {@code d}, led by the replica on {@code leaderNode}; or the
   * error that refuses it (in {@code refusal}).
   */
  static Plan plan(
      RangeDescriptor d, ChangeReplicasRequest c, long leaderNode, KvResponse[] refusal) {
    if (c.getExpectedGeneration() != d.getGeneration()) {
      refusal[0] = staleGeneration(d, c.getExpectedGeneration(), "change");
      return null;
    }
    ReplicaDescriptor existing = null;
    for (ReplicaDescriptor r : d.getReplicasList()) {
      if (r.getNodeId() == c.getNodeId()) {
        existing = r;
      }
    }
    RangeDescriptor.Builder next =
        d.toBuilder().setGeneration(d.getGeneration() + 1).clearReplicas();
    ConfChange change;
    switch (c.getType()) {
      case REPLICA_CHANGE_ADD_LEARNER -> {
        if (existing != null) {
          refusal[0] =
              Errors.invalid("node " + c.getNodeId() + " already holds replica " + existing);
          return null;
        }
        long id = Math.max(d.getNextReplicaId(), maxReplicaId(d) + 1);
        next.addAllReplicas(d.getReplicasList())
            .addReplicas(
                ReplicaDescriptor.newBuilder()
                    .setNodeId(c.getNodeId())
                    .setReplicaId(id)
                    .setRole(ReplicaRole.REPLICA_ROLE_LEARNER))
            .setNextReplicaId(id + 1);
        change = ConfChange.addLearner(id);
      }
      case REPLICA_CHANGE_PROMOTE -> {
        if (existing == null || existing.getRole() != ReplicaRole.REPLICA_ROLE_LEARNER) {
          refusal[0] = Errors.invalid("node " + c.getNodeId() + " holds no learner of the range");
          return null;
        }
        for (ReplicaDescriptor r : d.getReplicasList()) {
          next.addReplicas(
              r.getNodeId() == c.getNodeId()
                  ? r.toBuilder().setRole(ReplicaRole.REPLICA_ROLE_VOTER).build()
                  : r);
        }
        change = ConfChange.addVoter(existing.getReplicaId());
      }
      case REPLICA_CHANGE_REMOVE -> {
        if (existing == null) {
          refusal[0] = Errors.invalid("node " + c.getNodeId() + " holds no replica of the range");
          return null;
        }
        if (c.getNodeId() == leaderNode) {
          refusal[0] =
              Errors.invalid(
                  "node "
                      + c.getNodeId()
                      + " leads the range: move the leadership away before removing its replica");
          return null;
        }
        long voters =
            d.getReplicasList().stream()
                .filter(r -> r.getRole() == ReplicaRole.REPLICA_ROLE_VOTER)
                .count();
        if (existing.getRole() == ReplicaRole.REPLICA_ROLE_VOTER && voters <= 1) {
          refusal[0] = Errors.invalid("the range's last voter cannot be removed");
          return null;
        }
        for (ReplicaDescriptor r : d.getReplicasList()) {
          if (r.getNodeId() != c.getNodeId()) {
            next.addReplicas(r);
          }
        }
        change = ConfChange.removeNode(existing.getReplicaId());
      }
      default -> {
        refusal[0] = Errors.invalid("unknown replica change " + c.getType());
        return null;
      }
    }
    if (next.getNextReplicaId() == 0) {
      next.setNextReplicaId(maxReplicaId(d) + 1);
    }
    RangeDescriptor built = next.build();
    return new Plan(change.withContext(built.toByteArray()), built);
  }

  private static long maxReplicaId(RangeDescriptor d) {
    long max = 0;
    for (ReplicaDescriptor r : d.getReplicasList()) {
      max = Math.max(max, r.getReplicaId());
    }
    return max;
  }

  /**
   * The descriptor carried by a configuration change entry's data, or null if it carries none (the
   * core's own leave-joint entry).
   */
  static RangeDescriptor descriptorOf(long rangeId, long index, byte[] entryData) {
    byte[] context;
    try {
      context = ConfChange.decode(entryData).context();
    } catch (IllegalArgumentException e) {
      throw new CorruptionException(
          "range " + rangeId + " configuration change at index " + index + " does not decode", e);
    }
    if (context.length == 0) {
      return null;
    }
    try {
      return RangeDescriptor.parseFrom(context);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException(
          "range " + rangeId + " descriptor of the change at index " + index + " does not parse",
          e);
    }
  }

  /** Whether {@code d} names a replica on {@code nodeId}. */
  static boolean holds(RangeDescriptor d, long nodeId) {
    return d.getReplicasList().stream().anyMatch(r -> r.getNodeId() == nodeId);
  }

  /**
   * Proposes, on leader {@code r}, the replica change {@code p} asks for (see {@link
   * ReplicaChanges}), answered with the new descriptor once applied.
   */
  static void propose(Replica r, Pending p) {
    KvResponse notNow = notNow(r);
    if (notNow != null) {
      p.reply(notNow);
      return;
    }
    KvResponse[] refusal = new KvResponse[1];
    ReplicaChanges.Plan plan =
        ReplicaChanges.plan(r.descriptor, p.request.getChangeReplicas(), r.store.nodeId(), refusal);
    if (plan == null) {
      p.reply(refusal[0]);
      return;
    }
    RaftNode.ProposeResult pr = r.raft().proposeConfChange(plan.change());
    if (!pr.accepted()) {
      p.reply(Errors.unavailable("replica change of range " + r.rangeId + ": " + pr.outcome()));
      return;
    }
    r.forget(r.proposals.put(pr.index(), new Replica.Proposal(pr.term(), p, null)));
    r.adminIndex = pr.index();
  }

  /**
   * Proposes {@code p} on {@code r} if it asks for a change of the range itself (a split, replica
   * change, leadership transfer, freeze or merge), or refuses it if the range is frozen; false if
   * it is an ordinary read or write of a range that is not.
   */
  static boolean handledAsAdmin(Replica r, Pending p) {
    switch (p.request.getRequestCase()) {
      case SPLIT_RANGE -> ReplicaSplits.propose(r, p);
      case CHANGE_REPLICAS -> propose(r, p);
      case TRANSFER_LEADER -> transferLeader(r, p);
      case FREEZE_RANGE -> ReplicaMerges.proposeFreeze(r, p);
      case MERGE_RANGES -> ReplicaMerges.proposeMerge(r, p);
      default -> {
        if (r.frozen == null) {
          return false;
        }
        p.reply(ReplicaMerges.frozenRefusal(r));
      }
    }
    return true;
  }

  /**
   * Why replica {@code r} cannot propose a change of its range (a replica change, split, freeze or
   * merge) now, or null if it can: it must be a leader that has applied its predecessors' entries,
   * not frozen, with no other change of its own in flight.
   */
  static KvResponse notNow(Replica r) {
    if (!r.isLeader || r.writtenApplied < r.leaderReadyIndex) {
      return r.isLeader
          ? Errors.unavailable("range " + r.rangeId + "'s new leader is not ready yet")
          : Errors.notLeader(r.rangeId, r.leader, r.store.address(r.leader));
    }
    if (r.frozen != null) {
      return ReplicaMerges.frozenRefusal(r);
    }
    if (r.prepared != null) {
      return Errors.unavailable(
          "range " + r.rangeId + " has a merge prepared: try again once it is done");
    }
    if (r.adminPending()) {
      return Errors.unavailable(
          "range " + r.rangeId + " has another change in flight: try again once it applies");
    }
    return null;
  }

  /**
   * Applies, on replica {@code r}, the descriptor a configuration change entry carries if it is
   * newer; returns the replica's descriptor.
   */
  static RangeDescriptor apply(Replica r, Entry e, WriteBatch applyBatch) {
    RangeDescriptor next = ReplicaChanges.descriptorOf(r.rangeId, e.index(), e.data());
    if (next == null || next.getGeneration() <= r.descriptor.getGeneration()) {
      return r.descriptor; // the core's own leave-joint entry, or one a snapshot already covered
    }
    r.descriptor = next;
    StoreRecords.putDescriptor(applyBatch, next);
    if (!holds(next, r.store.nodeId())) {
      r.removed = true;
    }
    r.store.listener.replicasChanged(r.rangeId, next);
    return next;
  }

  /**
   * Asks leader {@code r} to hand its leadership to its voter on the node {@code p} names (the core
   * catches it up and tells it to campaign); answered at once, the transfer under way.
   */
  static void transferLeader(Replica r, Pending p) {
    if (!r.isLeader) {
      p.reply(Errors.notLeader(r.rangeId, r.leader, r.store.address(r.leader)));
      return;
    }
    long node = p.request.getTransferLeader().getNodeId();
    ReplicaDescriptor target = null;
    for (ReplicaDescriptor d : r.descriptor.getReplicasList()) {
      if (d.getNodeId() == node && d.getRole() == ReplicaRole.REPLICA_ROLE_VOTER) {
        target = d;
      }
    }
    if (target == null) {
      p.reply(Errors.invalid("node " + node + " holds no voter of range " + r.rangeId));
      return;
    }
    if (node != r.store.nodeId() && !r.raft().transferLeader(target.getReplicaId())) {
      p.reply(Errors.unavailable("range " + r.rangeId + " is already transferring its leadership"));
      return;
    }
    r.store.dirty.add(r);
    p.reply(
        KvResponse.newBuilder()
            .setTransferLeader(TransferLeaderResponse.getDefaultInstance())
            .build());
  }

  /**
   * Asks leader {@code r}'s follower with the most of the log to take over (the core wakes a
   * quiesced range, catches the follower up and tells it to campaign at once). A transfer that does
   * not finish within an election timeout aborts in the core, and the next tick tries again.
   */
  static void handOverLeadership(Replica r) {
    RaftNode.Status st = r.core.status();
    if (st.leadTransferee() != 0) {
      return;
    }
    long target = 0;
    long best = -1;
    for (Map.Entry<Long, Long> e : st.matchIndex().entrySet()) {
      if (e.getKey() != r.replicaId
          && st.confState().voters().contains(e.getKey())
          && e.getValue() > best) {
        target = e.getKey();
        best = e.getValue();
      }
    }
    if (target != 0 && r.raft().transferLeader(target)) {
      r.store.dirty.add(r);
    }
  }
}
