package io.basalt.placement;

import io.basalt.api.KeySpace;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.placement.PlacementPolicy.AddLearner;
import io.basalt.placement.PlacementPolicy.ClusterView;
import io.basalt.placement.PlacementPolicy.Merge;
import io.basalt.placement.PlacementPolicy.Operation;
import io.basalt.placement.PlacementPolicy.Options;
import io.basalt.placement.PlacementPolicy.RangeView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The merge one pass works toward: the first two neighbours (in key order) that are together small
 * and cold (below a quarter of the split size and half of the split load, so that a merge is never
 * undone by the next split), whose left-hand one is settled (led, every replica a voter on a live
 * node, fully replicated) and unchanged for the merge delay (the split that made their boundary
 * changed it: never a merge right after that split), and whose right-hand one is led with its
 * replicas on live nodes. If their replicas are on the same nodes they are merged; else the
 * right-hand one's replicas move onto the left-hand one's nodes first: a learner on one of them,
 * then (by the repair of a range with a voter too many) the removal of a voter on a node the
 * left-hand one does not use.
 */
final class MergePlan {
  private final RangeView left;
  private final RangeView right;

  private MergePlan(RangeView left, RangeView right) {
    this.left = left;
    this.right = right;
  }

  static MergePlan of(ClusterView view, Set<Long> live, Options o) {
    if (o.mergeDelayMillis() == Long.MAX_VALUE) {
      return new MergePlan(null, null);
    }
    List<RangeView> sorted = new ArrayList<>(view.ranges());
    Comparator<com.google.protobuf.ByteString> order =
        com.google.protobuf.ByteString.unsignedLexicographicalComparator();
    sorted.sort(
        (a, b) -> order.compare(a.descriptor().getStartKey(), b.descriptor().getStartKey()));
    for (int i = 0; i + 1 < sorted.size(); i++) {
      RangeView a = sorted.get(i);
      RangeView b = sorted.get(i + 1);
      if (!a.descriptor().getEndKey().isEmpty()
          && a.descriptor().getEndKey().equals(b.descriptor().getStartKey())
          && settled(a, live, o)
          && a.unchangedForMillis() >= o.mergeDelayMillis()
          && b.leaderNode() != 0
          && b.descriptor().getReplicasList().stream().allMatch(x -> live.contains(x.getNodeId()))
          && a.approximateBytes() + b.approximateBytes() <= o.rangeMaxBytes() / 4
          && a.requestsPerSecond() + b.requestsPerSecond() < o.rangeMaxQps() / 2) {
        return new MergePlan(a, b);
      }
    }
    return new MergePlan(null, null);
  }

  private static boolean settled(RangeView r, Set<Long> live, Options o) {
    RangeDescriptor d = r.descriptor();
    return d.getRangeId() != KeySpace.META_RANGE_ID
        && r.leaderNode() != 0
        && d.getReplicasCount() == o.replicas()
        && d.getReplicasList().stream()
            .allMatch(
                x -> x.getRole() == ReplicaRole.REPLICA_ROLE_VOTER && live.contains(x.getNodeId()));
  }

  private static Set<Long> nodes(RangeDescriptor d) {
    Set<Long> out = new TreeSet<>();
    d.getReplicasList().forEach(x -> out.add(x.getNodeId()));
    return out;
  }

  /**
   * For the right-hand range of the planned merge, with a voter too many: a voter on a node the
   * left-hand range does not use (the one to remove). Empty for any other range.
   */
  Optional<ReplicaDescriptor> notColocated(RangeDescriptor d, List<ReplicaDescriptor> voters) {
    if (right == null || d.getRangeId() != right.descriptor().getRangeId()) {
      return Optional.empty();
    }
    Set<Long> wanted = nodes(left.descriptor());
    return voters.stream().filter(v -> !wanted.contains(v.getNodeId())).findFirst();
  }

  /**
   * The planned merge's next step, or null: the merge if the two ranges are colocated, else a
   * learner of the right-hand one on a node of the left-hand one's (a node {@code targets} allows).
   * Nothing for a range another operation of this pass touched.
   */
  Operation next(Set<Long> touched, Set<Long> targets) {
    if (left == null
        || touched.contains(left.descriptor().getRangeId())
        || touched.contains(right.descriptor().getRangeId())) {
      return null;
    }
    Set<Long> want = nodes(left.descriptor());
    Set<Long> have = nodes(right.descriptor());
    RangeDescriptor r = right.descriptor();
    boolean settled =
        r.getReplicasCount() == want.size()
            && r.getReplicasList().stream()
                .allMatch(x -> x.getRole() == ReplicaRole.REPLICA_ROLE_VOTER);
    if (!settled) {
      return null; // a move under way: its learner promoted, its extra voter removed by repair
    }
    if (want.equals(have)) {
      return new Merge(left.descriptor(), left.leaderNode(), r);
    }
    for (long n : want) {
      if (!have.contains(n) && targets.contains(n)) {
        return new AddLearner(right.descriptor(), n);
      }
    }
    return null;
  }
}
