package io.basalt.node.store;

import io.basalt.api.ChangeReplicasRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaChangeType;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.SplitRangeRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Replica changes and splits under the simulation's faults: every few hundred milliseconds of the
 * faulty period, a random range's leader is asked to add a learner on a node without a replica,
 * promote or remove a learner, remove a voter that is not its own, or (one time in four) split the
 * range at one of the workload's keys, decided from the descriptor it holds (so some are refused as
 * stale). Draws from its own random source, so it changes nothing of a seed's run but what the
 * changes themselves cause.
 */
final class ReplicaChaos {
  private final StoreSimulation sim;
  private final SplittableRandom random;
  long proposed;
  long applied;
  long refused;

  ReplicaChaos(StoreSimulation sim, long seed) {
    this.sim = sim;
    this.random = new SplittableRandom(seed ^ 0x5EA7C4A05L);
    this.mergeRandom = new SplittableRandom(seed ^ 0x3E56E5L);
  }

  void start(long untilMs) {
    sim.at(sim.now + 200 + random.nextInt(300), () -> step(untilMs));
    sim.at(sim.now + 300 + mergeRandom.nextInt(500), () -> mergeStep(untilMs));
    sim.at(sim.now + 250, () -> resumeFrozen(untilMs + 20_000));
  }

  // ---------------------------------------------------------------------------------------------
  // Merges

  /** Merges' own random source: the changes and splits draw what they drew before merges. */
  private final SplittableRandom mergeRandom;

  long mergesStarted;
  long mergesApplied;
  long mergesAbandoned;

  /** Test hook for the teeth: whether merges skip the wait for every frozen replica. */
  boolean mergeWithoutWait;

  /** The merges running, by merge id, with the two ranges each touches. */
  private final java.util.Map<Long, long[]> running = new java.util.HashMap<>();

  private boolean busy(long rangeId) {
    return running.values().stream().anyMatch(r -> r[0] == rangeId || r[1] == rangeId);
  }

  /**
   * Every half second or so of the faulty period, a random range and its right-hand neighbour are
   * merged if their replicas are on the same nodes (splits leave such pairs) and no merge running
   * touches them, through the one {@link RangeMerge} runner over the simulated network. Throughout,
   * any range left frozen by a merge whose runner gave up is taken over ({@link
   * RangeMerge#resume}).
   */
  private void mergeStep(long untilMs) {
    if (sim.now >= untilMs) {
      return;
    }
    sim.refreshRanges();
    RangeDescriptor left = sim.ranges.get(mergeRandom.nextInt(sim.ranges.size()));
    RangeDescriptor right = null;
    for (RangeDescriptor d : sim.ranges) {
      if (!left.getEndKey().isEmpty() && d.getStartKey().equals(left.getEndKey())) {
        right = d;
      }
    }
    if (right != null
        && left.getRangeId() != io.basalt.api.KeySpace.META_RANGE_ID
        && !busy(left.getRangeId())
        && !busy(right.getRangeId())
        && nodes(left).equals(nodes(right))) {
      long id = 1 + mergeRandom.nextLong(Long.MAX_VALUE - 1);
      long l = left.getRangeId();
      long r = right.getRangeId();
      running.put(id, new long[] {l, r});
      mergesStarted++;
      RangeMerge m = RangeMerge.start(mergeIo, left, right, id, o -> merged(o, id, l, r));
      m.skipWaitForReplicas = mergeWithoutWait;
      started.add(m);
    }
    sim.at(sim.now + 200 + mergeRandom.nextInt(800), () -> mergeStep(untilMs));
  }

  /** The merges started, for a failure's report ({@link #describeMerges}). */
  private final List<RangeMerge> started = new ArrayList<>();

  /** Every merge run, with its outcome and last steps. */
  String describeMerges() {
    StringBuilder b = new StringBuilder();
    started.forEach(m -> b.append("\n  ").append(m.outcome()).append(" ").append(m));
    return b.toString();
  }

  private void merged(RangeMerge.Outcome o, long id, long left, long right) {
    running.remove(id);
    sim.highestRangeId = Math.max(sim.highestRangeId, right);
    if (o.merged() != null) {
      mergesApplied++;
      sim.ranges.removeIf(d -> d.getRangeId() == right);
      for (int i = 0; i < sim.ranges.size(); i++) {
        if (sim.ranges.get(i).getRangeId() == left
            && sim.ranges.get(i).getGeneration() < o.merged().getGeneration()) {
          sim.ranges.set(i, o.merged());
        }
      }
    } else {
      mergesAbandoned++;
    }
  }

  /** Every quarter second until {@code untilMs}: takes over the merges of ranges left frozen. */
  private void resumeFrozen(long untilMs) {
    for (int n = 1; n <= sim.nodeCount; n++) {
      if (!sim.nodes[n].running()) {
        continue;
      }
      for (ReplicaStatus st : sim.nodes[n].store.status()) {
        if (!st.getRole().equals("LEADER")) {
          continue; // (a follower may not have applied the merge's end yet)
        }
        if (st.getFrozenMergeId() != 0) {
          resume(st.getFrozenMergeId(), st.getRange(), st.getFrozenInto());
        }
        if (st.getPreparedMergeId() != 0) {
          resume(st.getPreparedMergeId(), st.getPreparedRight(), st.getRange());
        }
      }
    }
    if (sim.now < untilMs) {
      sim.at(sim.now + 250, () -> resumeFrozen(untilMs));
    }
  }

  private void resume(long id, RangeDescriptor right, RangeDescriptor left) {
    if (running.containsKey(id)) {
      return;
    }
    long r = right.getRangeId();
    long l = left.getRangeId();
    running.put(id, new long[] {l, r});
    started.add(RangeMerge.resume(mergeIo, right, id, left, o -> merged(o, id, l, r)));
  }

  private static java.util.Set<Long> nodes(RangeDescriptor d) {
    java.util.Set<Long> out = new java.util.TreeSet<>();
    for (ReplicaDescriptor r : d.getReplicasList()) {
      out.add(r.getNodeId());
    }
    return out;
  }

  /**
   * Requests go straight to a node's store; an answer arrives a millisecond later, or not at all.
   */
  private final RangeMerge.Io mergeIo =
      new RangeMerge.Io() {
        @Override
        public void send(
            long nodeId,
            KvRequest request,
            java.util.function.Consumer<io.basalt.api.KvResponse> reply) {
          boolean[] answered = {false};
          java.util.function.Consumer<io.basalt.api.KvResponse> once =
              r -> {
                if (!answered[0]) {
                  answered[0] = true;
                  reply.accept(r);
                }
              };
          StoreSimulation.SimNode n = sim.nodes[(int) nodeId];
          if (!n.running()) {
            sim.at(sim.now + 1, () -> once.accept(io.basalt.api.Errors.unavailable("node down")));
            return;
          }
          n.store.submit(request, r -> sim.at(sim.now + 1, () -> once.accept(r)));
          n.store.process();
          sim.at(sim.now + 2_000, () -> once.accept(io.basalt.api.Errors.timeout("no answer")));
        }

        @Override
        public void after(long millis, Runnable step) {
          sim.at(sim.now + millis, step);
        }
      };

  private void step(long untilMs) {
    if (sim.now >= untilMs) {
      return;
    }
    tryChange();
    sim.at(sim.now + 100 + random.nextInt(500), () -> step(untilMs));
  }

  private void tryChange() {
    sim.refreshRanges();
    int index = random.nextInt(sim.ranges.size());
    long rangeId = sim.ranges.get(index).getRangeId();
    boolean split = random.nextInt(4) == 0;
    StoreSimulation.SimNode leader = null;
    for (int i = 1; i <= sim.nodeCount; i++) {
      StoreSimulation.SimNode n = sim.nodes[i];
      if (n.running() && n.store.isLeader(rangeId)) {
        leader = n;
      }
    }
    if (leader == null) {
      return;
    }
    RangeDescriptor d = descriptorOn(leader.store, rangeId);
    if (d == null) {
      return;
    }
    if (split) {
      trySplit(leader, d);
      return;
    }
    List<ReplicaDescriptor> learners = new ArrayList<>();
    List<Long> otherVoters = new ArrayList<>();
    List<Long> holders = new ArrayList<>();
    for (ReplicaDescriptor r : d.getReplicasList()) {
      holders.add(r.getNodeId());
      if (r.getRole() == ReplicaRole.REPLICA_ROLE_LEARNER) {
        learners.add(r);
      } else if (r.getNodeId() != leader.id) {
        otherVoters.add(r.getNodeId());
      }
    }
    List<Long> spare = new ArrayList<>();
    for (long n = 1; n <= sim.nodeCount; n++) {
      if (!holders.contains(n)) {
        spare.add(n);
      }
    }
    ReplicaChangeType type;
    long node;
    if (!learners.isEmpty()) {
      node = learners.get(0).getNodeId();
      type =
          random.nextInt(4) == 0
              ? ReplicaChangeType.REPLICA_CHANGE_REMOVE
              : ReplicaChangeType.REPLICA_CHANGE_PROMOTE;
    } else if (otherVoters.size() + 1 > sim.replication
        || (spare.isEmpty() && otherVoters.size() >= 2 && random.nextInt(3) == 0)) {
      node = otherVoters.get(random.nextInt(otherVoters.size()));
      type = ReplicaChangeType.REPLICA_CHANGE_REMOVE;
    } else if (!spare.isEmpty()) {
      node = spare.get(random.nextInt(spare.size()));
      type = ReplicaChangeType.REPLICA_CHANGE_ADD_LEARNER;
    } else {
      return;
    }
    // Now and then decided from a descriptor one generation old, as a driver with a stale view.
    long generation = d.getGeneration() - (random.nextInt(10) == 0 ? 1 : 0);
    KvRequest request =
        KvRequest.newBuilder()
            .setHeader(RequestHeader.newBuilder().setRangeId(rangeId))
            .setChangeReplicas(
                ChangeReplicasRequest.newBuilder()
                    .setType(type)
                    .setNodeId(node)
                    .setExpectedGeneration(generation))
            .build();
    proposed++;
    leader.store.submit(
        request,
        response -> {
          if (response.hasChangeReplicas()) {
            applied++;
            RangeDescriptor next = response.getChangeReplicas().getRange();
            for (int i = 0; i < sim.ranges.size(); i++) {
              if (sim.ranges.get(i).getRangeId() == rangeId
                  && sim.ranges.get(i).getGeneration() < next.getGeneration()) {
                sim.ranges.set(i, next);
              }
            }
          } else {
            refused++;
          }
        });
    leader.store.process();
  }

  /**
   * Asks {@code leader} to split range {@code d} at one of the workload's keys inside it, into a
   * range with the next unused id; on success the simulation's clients route by the new descriptors
   * at once (those with a request in flight still name the old range).
   */
  private void trySplit(StoreSimulation.SimNode leader, RangeDescriptor d) {
    if (d.getRangeId() == io.basalt.api.KeySpace.META_RANGE_ID) {
      return;
    }
    List<String> inside = new ArrayList<>();
    for (String k : sim.keys) {
      com.google.protobuf.ByteString key = com.google.protobuf.ByteString.copyFromUtf8(k);
      var order = com.google.protobuf.ByteString.unsignedLexicographicalComparator();
      if (order.compare(key, d.getStartKey()) > 0
          && (d.getEndKey().isEmpty() || order.compare(key, d.getEndKey()) < 0)) {
        inside.add(k);
      }
    }
    if (inside.isEmpty()) {
      return;
    }
    long newId = nextRangeId();
    KvRequest request =
        KvRequest.newBuilder()
            .setHeader(RequestHeader.newBuilder().setRangeId(d.getRangeId()))
            .setSplitRange(
                SplitRangeRequest.newBuilder()
                    .setSplitKey(
                        com.google.protobuf.ByteString.copyFromUtf8(
                            inside.get(random.nextInt(inside.size()))))
                    .setExpectedGeneration(d.getGeneration())
                    .setNewRangeId(newId))
            .build();
    splitsProposed++;
    leader.store.submit(
        request,
        response -> {
          if (response.hasSplitRange()) {
            splitsApplied++;
            RangeDescriptor left = response.getSplitRange().getLeft();
            for (int i = 0; i < sim.ranges.size(); i++) {
              if (sim.ranges.get(i).getRangeId() == left.getRangeId()
                  && sim.ranges.get(i).getGeneration() < left.getGeneration()) {
                sim.ranges.set(i, left);
              }
            }
            if (sim.ranges.stream().noneMatch(x -> x.getRangeId() == newId)) {
              sim.ranges.add(response.getSplitRange().getRight());
            }
          } else {
            refused++;
          }
        });
    leader.store.process();
  }

  long splitsProposed;
  long splitsApplied;

  /** The lowest range id no range of the simulation has (nor any split asked for before). */
  private long nextRangeId() {
    long max = Math.max(lastAllocated, sim.highestRangeId);
    for (RangeDescriptor r : sim.ranges) {
      max = Math.max(max, r.getRangeId());
    }
    lastAllocated = max + 1;
    return lastAllocated;
  }

  private long lastAllocated;

  /** The descriptor of range {@code rangeId} on {@code store}, or null if it holds none. */
  static RangeDescriptor descriptorOn(Store store, long rangeId) {
    for (ReplicaStatus s : store.status()) {
      if (s.getRange().getRangeId() == rangeId) {
        return s.getRange();
      }
    }
    return null;
  }
}
