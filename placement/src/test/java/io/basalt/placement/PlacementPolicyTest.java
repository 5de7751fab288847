package io.basalt.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.placement.PlacementPolicy.AddLearner;
import io.basalt.placement.PlacementPolicy.ClusterView;
import io.basalt.placement.PlacementPolicy.Decision;
import io.basalt.placement.PlacementPolicy.Operation;
import io.basalt.placement.PlacementPolicy.Options;
import io.basalt.placement.PlacementPolicy.Promote;
import io.basalt.placement.PlacementPolicy.RangeView;
import io.basalt.placement.PlacementPolicy.Remove;
import io.basalt.placement.PlacementPolicy.TransferLeader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlacementPolicyTest {
  private static final Options OPTIONS = new Options(3, 10_000, 3_000, 8);
  private static final long NOW = 1_000_000;

  /** A range on {@code nodes} (voters; a negative number is a learner on that node). */
  private static RangeDescriptor range(long id, long... nodes) {
    RangeDescriptor.Builder b = RangeDescriptor.newBuilder().setRangeId(id).setGeneration(5);
    long replicaId = 1;
    for (long n : nodes) {
      b.addReplicas(
          ReplicaDescriptor.newBuilder()
              .setNodeId(Math.abs(n))
              .setReplicaId(replicaId++)
              .setRole(n < 0 ? ReplicaRole.REPLICA_ROLE_LEARNER : ReplicaRole.REPLICA_ROLE_VOTER));
    }
    return b.setNextReplicaId(replicaId).build();
  }

  private static Map<Long, Long> heard(long silentMillis, long silentNode, long... nodes) {
    Map<Long, Long> m = new HashMap<>();
    for (long n : nodes) {
      m.put(n, n == silentNode ? NOW - silentMillis : NOW - 100);
    }
    return m;
  }

  private static Decision decide(Map<Long, Long> heard, long started, RangeView... ranges) {
    return PlacementPolicy.decide(
        new ClusterView(NOW, started, heard.keySet(), heard, List.of(ranges)), OPTIONS);
  }

  /** A range whose voters are all caught up, and whose learners on {@code caughtUp} are. */
  private static RangeView view(RangeDescriptor d, long leader, Long... caughtUp) {
    Set<Long> voters = new java.util.HashSet<>();
    d.getReplicasList().stream()
        .filter(r -> r.getRole() == ReplicaRole.REPLICA_ROLE_VOTER)
        .forEach(r -> voters.add(r.getNodeId()));
    return new RangeView(d, leader, Set.of(caughtUp), voters);
  }

  @Test
  void aDeadNodesReplicaIsReplacedLearnerFirstThenPromotedThenTheDeadOneRemoved() {
    Map<Long, Long> heard = heard(20_000, 3, 1, 2, 3, 4);
    Decision add = decide(heard, 0, view(range(2, 1, 2, 3), 1));
    assertThat(add.deadNodes()).containsExactly(3L);
    assertThat(add.underReplicated()).containsExactly(2L);
    assertThat(add.operations()).containsExactly(new AddLearner(range(2, 1, 2, 3), 4));

    RangeDescriptor withLearner = range(2, 1, 2, 3, -4);
    assertThat(decide(heard, 0, view(withLearner, 1)).operations())
        .as("the learner is still catching up")
        .isEmpty();
    assertThat(decide(heard, 0, view(withLearner, 1, 4L)).operations())
        .containsExactly(new Promote(withLearner, 4));

    RangeDescriptor promoted = range(2, 1, 2, 3, 4);
    assertThat(decide(heard, 0, view(promoted, 1)).operations())
        .containsExactly(new Remove(promoted, 3));
    assertThat(decide(heard, 0, view(range(2, 1, 2, 4), 1)).operations()).isEmpty();
  }

  @Test
  void nothingIsRepairedBeforeTheDriverHasWatchedAFullDeadTimeout() {
    Map<Long, Long> heard = heard(20_000, 3, 1, 2, 3, 4);
    Decision d = decide(heard, NOW - 5_000, view(range(2, 1, 2, 3), 1));
    assertThat(d.deadNodes()).isEmpty();
    assertThat(d.operations()).isEmpty();
    // A node silent for less than the dead timeout is not dead either (but not live).
    assertThat(decide(heard(5_000, 3, 1, 2, 3, 4), 0, view(range(2, 1, 2, 3), 1)).operations())
        .isEmpty();
  }

  @Test
  void aRangeWithoutALiveMajorityIsReportedAndLeftAlone() {
    Map<Long, Long> heard = new HashMap<>(heard(20_000, 3, 1, 2, 3, 4));
    heard.put(2L, NOW - 20_000);
    Decision d = decide(heard, 0, view(range(2, 1, 2, 3), 1));
    assertThat(d.unavailable()).containsExactly(2L);
    assertThat(d.operations()).isEmpty();
  }

  @Test
  void theLeadersReplicaIsNeverRemovedItsLeadershipMovesFirst() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3, 4, 5, 6);
    // Four voters where three are wanted; node 1 holds the most replicas and leads.
    RangeDescriptor four = range(2, 1, 2, 3, 4);
    RangeDescriptor other = range(3, 1, 2, 3);
    RangeDescriptor third = range(4, 1, 5, 6);
    Decision d = decide(heard, 0, view(four, 1), view(other, 2), view(third, 5));
    assertThat(d.operations()).first().isInstanceOf(TransferLeader.class);
    assertThat(d.operations().get(0).range()).isEqualTo(four);
    assertThat(d.operations().get(0).nodeId()).isNotEqualTo(1);
    // Led elsewhere, node 1's replica is the one removed.
    assertThat(decide(heard, 0, view(four, 2), view(other, 2), view(third, 5)).operations())
        .first()
        .isEqualTo(new Remove(four, 1));
  }

  @Test
  void replicasSpreadToANewNodeAndLeadersEvenOut() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3, 4);
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 1; id <= 6; id++) {
      ranges.add(view(range(id, 1, 2, 3), 1)); // node 4 is new and empty; node 1 leads all
    }
    Decision d = decide(heard, 0, ranges.toArray(RangeView[]::new));
    List<Operation> ops = d.operations();
    assertThat(ops).hasSize(2);
    assertThat(ops.get(0)).isInstanceOf(AddLearner.class);
    assertThat(ops.get(0).nodeId()).isEqualTo(4);
    assertThat(ops.get(1)).isInstanceOf(TransferLeader.class);
    assertThat(ops.get(1).nodeId()).isIn(2L, 3L);
    assertThat(ops.get(1).range()).isNotEqualTo(ops.get(0).range());
  }

  @Test
  void aBalancedClusterIsLeftAsItIs() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3);
    Decision d =
        decide(
            heard,
            0,
            view(range(1, 1, 2, 3), 1),
            view(range(2, 1, 2, 3), 2),
            view(range(3, 1, 2, 3), 3),
            view(range(4, 1, 2, 3), 1));
    assertThat(d.operations()).isEmpty();
    assertThat(d.unavailable()).isEmpty();
    assertThat(d.underReplicated()).isEmpty();
  }

  @Test
  void oneOperationPerRangeAndNoMoreThanTheBudget() {
    Map<Long, Long> heard = heard(20_000, 3, 1, 2, 3, 4, 5);
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 1; id <= 20; id++) {
      ranges.add(view(range(id, 1, 2, 3), 1));
    }
    Decision d = decide(heard, 0, ranges.toArray(RangeView[]::new));
    assertThat(d.operations()).hasSize(OPTIONS.maxOperations());
    assertThat(d.operations().stream().map(o -> o.range().getRangeId()).distinct().count())
        .isEqualTo(OPTIONS.maxOperations());
    assertThat(d.underReplicated()).hasSize(20);
    // Spread over the two spare nodes, not all on one.
    assertThat(d.operations().stream().map(Operation::nodeId).distinct())
        .containsExactlyInAnyOrder(4L, 5L);
  }

  @Test
  void aNodeThatNeverAnsweredGetsNoReplicaAndNoLeadership() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3);
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 1; id <= 6; id++) {
      ranges.add(view(range(id, 1, 2, 3), 1));
    }
    // Node 4 is known but has never answered this driver.
    Decision d =
        PlacementPolicy.decide(
            new ClusterView(NOW, NOW - 1_000, Set.of(1L, 2L, 3L, 4L), heard, ranges), OPTIONS);
    assertThat(d.operations()).noneMatch(op -> op.nodeId() == 4);
    // Silent since the driver started, for longer than the dead timeout: dead.
    Decision later =
        PlacementPolicy.decide(
            new ClusterView(NOW, NOW - 20_000, Set.of(1L, 2L, 3L, 4L), heard, ranges), OPTIONS);
    assertThat(later.deadNodes()).containsExactly(4L);
  }

  @Test
  void aLearnerWhoseNodeStoppedAnsweringIsRemovedRatherThanWaitedFor() {
    Map<Long, Long> heard = heard(5_000, 4, 1, 2, 3, 4); // node 4 silent 5 s: not dead, not up
    RangeDescriptor withLearner = range(2, 1, 2, 3, -4);
    assertThat(decide(heard, 0, view(withLearner, 1)).operations())
        .containsExactly(new Remove(withLearner, 4));
  }

  @Test
  void aSurplusVoterThatDoesNotAnswerGoesBeforeALiveOne() {
    // Five voters, two of them silent (not dead yet): removing a live one would leave 2 of 4 live.
    Map<Long, Long> heard = new HashMap<>(heard(0, 0, 1, 2, 3, 4, 5));
    heard.put(4L, NOW - 5_000);
    heard.put(5L, NOW - 5_000);
    RangeDescriptor five = range(2, 1, 2, 3, 4, 5);
    assertThat(decide(heard, 0, view(five, 1)).operations()).containsExactly(new Remove(five, 4));
    RangeDescriptor four = range(2, 1, 2, 3, 5);
    assertThat(decide(heard, 0, view(four, 1)).operations()).containsExactly(new Remove(four, 5));
  }

  @Test
  void aLeadershipIsNeverMovedToAVoterThatIsBehind() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3);
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 1; id <= 6; id++) {
      // Node 1 leads all; node 3 is up but still catching up (a restart), node 2 is current.
      ranges.add(new RangeView(range(id, 1, 2, 3), 1, Set.of(), Set.of(1L, 2L)));
    }
    List<Operation> ops = decide(heard, 0, ranges.toArray(RangeView[]::new)).operations();
    assertThat(ops).singleElement().isInstanceOf(TransferLeader.class);
    assertThat(ops.get(0).nodeId()).isEqualTo(2);
    List<RangeView> nobodyCurrent = new ArrayList<>();
    for (long id = 1; id <= 6; id++) {
      nobodyCurrent.add(new RangeView(range(id, 1, 2, 3), 1, Set.of(), Set.of(1L)));
    }
    assertThat(decide(heard, 0, nobodyCurrent.toArray(RangeView[]::new)).operations()).isEmpty();
  }

  private static RangeView sized(RangeDescriptor d, long leader, long bytes) {
    RangeView v = view(d, leader);
    return new RangeView(
        d,
        leader,
        v.caughtUpLearners(),
        v.caughtUpVoters(),
        bytes,
        0,
        com.google.protobuf.ByteString.EMPTY);
  }

  @Test
  void aSettledRangeAboveTheSizeLimitIsSplitAndNoOtherIs() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3);
    long big = PlacementPolicy.DEFAULT_RANGE_MAX_BYTES + 1;
    Decision d =
        decide(
            heard,
            0,
            sized(range(1, 1, 2, 3), 1, big), // the meta range never splits
            sized(range(2, 1, 2, 3), 2, big),
            sized(range(3, 1, 2, 3), 3, PlacementPolicy.DEFAULT_RANGE_MAX_BYTES),
            sized(range(4, 1, 2, -3), 1, big), // a learner catching up: not settled
            sized(range(5, 1, 2, 3), 0, big)); // no leader to ask
    assertThat(d.operations())
        .filteredOn(o -> o instanceof PlacementPolicy.Split)
        .containsExactly(
            new PlacementPolicy.Split(range(2, 1, 2, 3), 2, com.google.protobuf.ByteString.EMPTY));
    assertThat(new Options(3, 10_000, 3_000, 8, 1 << 20, 100).rangeMaxBytes()).isEqualTo(1 << 20);
  }

  @Test
  void aHotRangeIsSplitAtTheKeyThatHalvesItsLoadAndOnlyIfItsLeaderKnowsOne() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3);
    com.google.protobuf.ByteString middle = com.google.protobuf.ByteString.copyFromUtf8("k5");
    RangeView hot =
        new RangeView(range(2, 1, 2, 3), 1, Set.of(), Set.of(1L, 2L, 3L), 10, 5000, middle);
    RangeView hotOnOneKey =
        new RangeView(
            range(3, 1, 2, 3),
            1,
            Set.of(),
            Set.of(1L, 2L, 3L),
            10,
            5000,
            com.google.protobuf.ByteString.EMPTY);
    RangeView cool =
        new RangeView(range(4, 1, 2, 3), 1, Set.of(), Set.of(1L, 2L, 3L), 10, 2000, middle);
    assertThat(decide(heard, 0, hot, hotOnOneKey, cool).operations())
        .filteredOn(o -> o instanceof PlacementPolicy.Split)
        .containsExactly(new PlacementPolicy.Split(range(2, 1, 2, 3), 1, middle));
  }

  @Test
  void aDecommissionedNodeLosesItsLeadershipsThenItsReplicasAndGetsNothing() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3, 4);
    Set<Long> leaving = Set.of(3L);
    java.util.function.Function<RangeView, Decision> decide =
        v ->
            PlacementPolicy.decide(
                new ClusterView(NOW, 0, heard.keySet(), heard, List.of(v), leaving), OPTIONS);
    // Led from node 3: the leadership moves first.
    assertThat(decide.apply(view(range(2, 1, 2, 3), 3)).operations())
        .containsExactly(new TransferLeader(range(2, 1, 2, 3), 1));
    // Then a learner on the node that is not leaving, promoted, and node 3's voter removed.
    assertThat(decide.apply(view(range(2, 1, 2, 3), 1)).operations())
        .containsExactly(new AddLearner(range(2, 1, 2, 3), 4));
    assertThat(decide.apply(view(range(2, 1, 2, 3, -4), 1, 4L)).operations())
        .containsExactly(new Promote(range(2, 1, 2, 3, -4), 4));
    assertThat(decide.apply(view(range(2, 1, 2, 3, 4), 1)).operations())
        .containsExactly(new Remove(range(2, 1, 2, 3, 4), 3));
    assertThat(decide.apply(view(range(2, 1, 2, 4), 1)).operations()).isEmpty();
    // Nothing moves to it: not a replica, not a leadership, however empty it is.
    Decision balance =
        PlacementPolicy.decide(
            new ClusterView(
                NOW,
                0,
                heard.keySet(),
                heard,
                List.of(
                    view(range(2, 1, 2, 4), 1),
                    view(range(3, 1, 2, 4), 1),
                    view(range(4, 1, 2, 4), 1),
                    view(range(5, 1, 2, 4), 2)),
                leaving),
            OPTIONS);
    assertThat(balance.operations()).noneMatch(op -> op.nodeId() == 3);
  }

  @Test
  void replicasSpreadOverZonesAndStaySoAfterARepair() {
    // Six nodes in three zones; node 2 (zone b) dies.
    Map<Long, Long> heard = heard(20_000, 2, 1, 2, 3, 4, 5, 6);
    Map<Long, String> zones =
        Map.of(
            1L, "zone=a,rack=1",
            2L, "zone=b,rack=1",
            3L, "zone=c,rack=1",
            4L, "zone=a,rack=2",
            5L, "zone=b,rack=2",
            6L, "zone=c,rack=2");
    java.util.function.Function<RangeView[], Decision> decide =
        v ->
            PlacementPolicy.decide(
                new ClusterView(
                    NOW, 0, heard.keySet(), heard, List.of(v), Set.of(), zones, Set.of()),
                OPTIONS);
    // Node 5, in the dead node's zone, gets the learner, though node 4 and 6 hold fewer replicas.
    RangeView lost = view(range(2, 1, 2, 3), 1);
    RangeView busy5 = view(range(3, 1, 5, 6), 1);
    RangeView busy5b = view(range(4, 3, 5, 4), 3);
    assertThat(decide.apply(new RangeView[] {lost, busy5, busy5b}).operations())
        .contains(new AddLearner(range(2, 1, 2, 3), 5));
    // With two voters in zone a (a move half done), the surplus one there goes, not node 3's.
    RangeView surplus = view(range(5, 1, 3, 4, 5), 3);
    Map<Long, Long> allUp = heard(0, 0, 1, 2, 3, 4, 5, 6);
    Decision d =
        PlacementPolicy.decide(
            new ClusterView(
                NOW, 0, allUp.keySet(), allUp, List.of(surplus), Set.of(), zones, Set.of()),
            OPTIONS);
    assertThat(d.operations()).hasSize(1);
    assertThat(d.operations().get(0)).isInstanceOf(Remove.class);
    assertThat(d.operations().get(0).nodeId()).isIn(1L, 4L);
    // Balancing never puts two replicas of a range in one zone: node 4 (zone a) is empty, but
    // every range already has a replica in zone a on a node other than the fullest.
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 2; id <= 7; id++) {
      ranges.add(view(range(id, 1, 2, 3), 1));
    }
    ranges.add(view(range(8, 5, 6, 1), 5));
    Decision balance =
        PlacementPolicy.decide(
            new ClusterView(NOW, 0, allUp.keySet(), allUp, ranges, Set.of(), zones, Set.of()),
            OPTIONS);
    for (Operation op : balance.operations()) {
      if (op instanceof AddLearner add) {
        java.util.Set<String> used = new java.util.HashSet<>();
        for (ReplicaDescriptor x : add.range().getReplicasList()) {
          used.add(zones.get(x.getNodeId()).split(",")[0]);
        }
        // The learner's zone is new to the range, or it replaces the replica of the fullest
        // node in that zone (node 1, zone a, which a later pass removes).
        String zone = zones.get(add.nodeId()).split(",")[0];
        assertThat(!used.contains(zone) || zone.equals("zone=a")).as("%s", op).isTrue();
      }
    }
  }

  @Test
  void nothingMovesToANodeThatDoesNotServeAndOneSharedFirstTierDoesNotStopBalancing() {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3, 4);
    List<RangeView> ranges = new ArrayList<>();
    for (long id = 1; id <= 6; id++) {
      ranges.add(view(range(id, 1, 2, 3), 1)); // node 4 is empty and leads nothing
    }
    Decision drained =
        PlacementPolicy.decide(
            new ClusterView(NOW, 0, heard.keySet(), heard, ranges, Set.of(), Map.of(), Set.of(4L)),
            OPTIONS);
    assertThat(drained.operations()).noneMatch(op -> op.nodeId() == 4);
    // Every node in one region: the first tier is shared, no move loses a zone, so node 4 is
    // filled as without localities.
    Map<Long, String> oneRegion =
        Map.of(
            1L,
            "region=us,zone=a",
            2L,
            "region=us,zone=b",
            3L,
            "region=us,zone=c",
            4L,
            "region=us,zone=a");
    Decision balance =
        PlacementPolicy.decide(
            new ClusterView(NOW, 0, heard.keySet(), heard, ranges, Set.of(), oneRegion, Set.of()),
            OPTIONS);
    assertThat(balance.operations()).anyMatch(op -> op instanceof AddLearner && op.nodeId() == 4);
  }

  /** A range of {@code [start, end)} on {@code nodes}, {@code bytes} big, unchanged for a while. */
  private static RangeView neighbour(
      long id, String start, String end, long bytes, long unchangedFor, long... nodes) {
    RangeDescriptor d =
        range(id, nodes).toBuilder()
            .setStartKey(com.google.protobuf.ByteString.copyFromUtf8(start))
            .setEndKey(com.google.protobuf.ByteString.copyFromUtf8(end))
            .build();
    Set<Long> voters = new java.util.HashSet<>();
    d.getReplicasList().forEach(r -> voters.add(r.getNodeId()));
    return new RangeView(
        d,
        Math.abs(nodes[0]),
        Set.of(),
        voters,
        bytes,
        0,
        com.google.protobuf.ByteString.EMPTY,
        unchangedFor);
  }

  /** The operations one pass decides on ranges 2 and 3 (nodes 1 to 4 answering). */
  private static List<Operation> mergeOps(long mergeDelay, RangeView... ranges) {
    Map<Long, Long> heard = heard(0, 0, 1, 2, 3, 4);
    Options o = new Options(3, 10_000, 3_000, 8, 64 << 20, 2500, mergeDelay);
    return PlacementPolicy.decide(
            new ClusterView(NOW, 0, heard.keySet(), heard, List.of(ranges)), o)
        .operations()
        .stream()
        .filter(
            op -> !(op instanceof AddLearner a && a.nodeId() == 4 && a.range().getRangeId() == 2))
        .toList(); // (node 4, emptier, is also given a replica of range 2 by balancing)
  }

  @Test
  void smallColdNeighboursOnTheSameNodesAreMergedOnceTheLeftOneSettled() {
    RangeView a = neighbour(2, "a", "m", 1 << 20, 60_000, 1, 2, 3);
    RangeView b = neighbour(3, "m", "z", 1 << 20, 0, 2, 3, 1);
    assertThat(mergeOps(30_000, a, b))
        .containsExactly(new PlacementPolicy.Merge(a.descriptor(), 1, b.descriptor()));
    // The left one changed a moment ago (the split that made the boundary): no merge yet.
    RangeView fresh = neighbour(2, "a", "m", 1 << 20, 1_000, 1, 2, 3);
    assertThat(mergeOps(30_000, fresh, b)).noneMatch(op -> op instanceof PlacementPolicy.Merge);
    // Too big together (above a quarter of the split size), or merging off: none.
    RangeView big = neighbour(3, "m", "z", 16 << 20, 60_000, 2, 3, 1);
    assertThat(mergeOps(30_000, a, big)).noneMatch(op -> op instanceof PlacementPolicy.Merge);
    assertThat(mergeOps(Long.MAX_VALUE, a, b)).noneMatch(op -> op instanceof PlacementPolicy.Merge);
    // Not neighbours (a gap between them): none.
    RangeView apart = neighbour(3, "n", "z", 1 << 20, 60_000, 2, 3, 1);
    assertThat(mergeOps(30_000, a, apart)).noneMatch(op -> op instanceof PlacementPolicy.Merge);
  }

  @Test
  void theRightHandRangeMovesOntoTheLeftHandRangesNodesBeforeTheMerge() {
    RangeView a = neighbour(2, "a", "m", 1 << 20, 60_000, 1, 2, 3);
    RangeView b = neighbour(3, "m", "z", 1 << 20, 60_000, 2, 3, 4);
    assertThat(mergeOps(30_000, a, b)).containsExactly(new AddLearner(b.descriptor(), 1));
    // Promoted: the surplus voter removed is the one on the node the left range does not use.
    RangeView four = neighbour(3, "m", "z", 1 << 20, 0, 2, 3, 4, 1);
    assertThat(mergeOps(30_000, a, four)).containsExactly(new Remove(four.descriptor(), 4));
  }
}
