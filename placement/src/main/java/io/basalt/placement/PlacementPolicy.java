package io.basalt.placement;

import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the placement driver does next (DESIGN.md, "Placement"): a pure function of what it knows of
 * the cluster (when it last heard from each node, each range's descriptor and leader, which
 * learners are caught up) and the time, so it is tested without a cluster. Each pass decides at
 * most one operation per range, and at most {@link Options#maxOperations} in all, so that repair
 * and balancing never flood the cluster; the driver carries them out and asks again.
 *
 * <p>In order, for each range: a learner on a dead node is removed, a caught-up learner promoted; a
 * range with a voter on a dead node (silent for the dead timeout, counted from when the driver
 * started, so a new driver repairs nothing until it has watched a full timeout) gets a learner on a
 * live node, and once it has enough live voters the dead one is removed; a range with fewer voters
 * than wanted gets a learner, one with more loses the voter on the most loaded node (never the
 * leader's: its leadership moves first). A range whose live voters are not a majority is reported
 * and left alone: changing it needs its quorum. Then, with the budget left, replica counts are
 * balanced (a learner on the least loaded node for a range of the most loaded, whose surplus voter
 * the next passes remove) and then leader counts (a transfer from the node leading the most ranges
 * to one leading the fewest). A node being decommissioned gets nothing; its leaderships move away,
 * then its voters are replaced like a dead node's (a learner elsewhere, promoted, then it removed).
 * Where nodes have localities, a new replica goes to a zone (the first tier) the range does not use
 * yet when one is left, a surplus voter sharing its zone with another goes first, and balancing
 * never puts two replicas of a range in one zone. A settled range (every replica a live voter) that
 * repair leaves alone and whose leader reports more data than {@link Options#rangeMaxBytes} is
 * split at its middle key, or more load than {@link Options#rangeMaxQps} at a key that halves the
 * load.
 */
public final class PlacementPolicy {
  private PlacementPolicy() {}

  /**
   * @param replicas the voters each range should have
   * @param deadAfterMillis how long a node may be silent before its replicas are replaced
   * @param liveWithinMillis how recently a node must have answered to count as up
   * @param maxOperations the most operations one pass decides
   * @param rangeMaxBytes the size above which a range is split in two
   * @param rangeMaxQps the load (requests per second at its leader) above which a range is split at
   *     a key that halves it
   * @param mergeDelayMillis how long two neighbours must have kept their descriptors (no split,
   *     merge or replica change) before they are merged, when together they are small and cold
   *     (below a quarter of {@code rangeMaxBytes} and half of {@code rangeMaxQps}); {@link
   *     Long#MAX_VALUE}: never
   */
  public record Options(
      int replicas,
      long deadAfterMillis,
      long liveWithinMillis,
      int maxOperations,
      long rangeMaxBytes,
      double rangeMaxQps,
      long mergeDelayMillis) {
    public Options {
      if (replicas < 1
          || deadAfterMillis <= 0
          || liveWithinMillis <= 0
          || maxOperations < 1
          || rangeMaxBytes < 1
          || !(rangeMaxQps > 0)
          || mergeDelayMillis < 0) {
        throw new IllegalArgumentException("bad placement options");
      }
    }

    /** Merging after {@link #DEFAULT_MERGE_DELAY_MILLIS}. */
    public Options(
        int replicas,
        long deadAfterMillis,
        long liveWithinMillis,
        int maxOperations,
        long rangeMaxBytes,
        double rangeMaxQps) {
      this(
          replicas,
          deadAfterMillis,
          liveWithinMillis,
          maxOperations,
          rangeMaxBytes,
          rangeMaxQps,
          DEFAULT_MERGE_DELAY_MILLIS);
    }

    /**
     * With ranges split above {@link #DEFAULT_RANGE_MAX_BYTES} and {@link #DEFAULT_RANGE_MAX_QPS}.
     */
    public Options(int replicas, long deadAfterMillis, long liveWithinMillis, int maxOperations) {
      this(
          replicas,
          deadAfterMillis,
          liveWithinMillis,
          maxOperations,
          DEFAULT_RANGE_MAX_BYTES,
          DEFAULT_RANGE_MAX_QPS);
    }
  }

  /** The load above which a range is split, unless set otherwise: requests per second. */
  public static final double DEFAULT_RANGE_MAX_QPS = 2500;

  /** The size above which a range is split, unless set otherwise: 64 MiB. */
  public static final long DEFAULT_RANGE_MAX_BYTES = 64L << 20;

  /** How long neighbours stay unchanged before they may merge, unless set otherwise: 10 min. */
  public static final long DEFAULT_MERGE_DELAY_MILLIS = 10 * 60_000L;

  /**
   * One range as the driver sees it.
   *
   * @param descriptor its newest descriptor
   * @param leaderNode the node leading it (0 if unknown)
   * @param caughtUpLearners nodes whose learner of it has installed its snapshot
   * @param caughtUpVoters nodes whose voter of it has applied about all the leader committed: the
   *     only ones a leadership is moved to (a transfer to a replica far behind holds the range's
   *     writes until it catches up or the transfer times out)
   * @param approximateBytes the size of its data as its leader estimates it (0: unknown)
   * @param requestsPerSecond its load as its leader counts it
   * @param loadSplitKey a key that halves that load (empty: none is known)
   * @param unchangedForMillis how long the driver has seen it at this descriptor's generation
   */
  public record RangeView(
      RangeDescriptor descriptor,
      long leaderNode,
      Set<Long> caughtUpLearners,
      Set<Long> caughtUpVoters,
      long approximateBytes,
      double requestsPerSecond,
      com.google.protobuf.ByteString loadSplitKey,
      long unchangedForMillis) {
    /** One the driver has only just seen at its generation (not merged yet). */
    public RangeView(
        RangeDescriptor descriptor,
        long leaderNode,
        Set<Long> caughtUpLearners,
        Set<Long> caughtUpVoters,
        long approximateBytes,
        double requestsPerSecond,
        com.google.protobuf.ByteString loadSplitKey) {
      this(
          descriptor,
          leaderNode,
          caughtUpLearners,
          caughtUpVoters,
          approximateBytes,
          requestsPerSecond,
          loadSplitKey,
          0);
    }

    /** A range whose size and load are not known (never split). */
    public RangeView(
        RangeDescriptor descriptor,
        long leaderNode,
        Set<Long> caughtUpLearners,
        Set<Long> caughtUpVoters) {
      this(
          descriptor,
          leaderNode,
          caughtUpLearners,
          caughtUpVoters,
          0,
          0,
          com.google.protobuf.ByteString.EMPTY);
    }
  }

  /**
   * What the driver knows.
   *
   * @param nowMillis the time of this pass
   * @param startedMillis when this driver started (it repairs nothing within a dead timeout of it)
   * @param knownNodes every node of the cluster
   * @param lastHeardMillis when each node that answered the driver last did (a node that never
   *     answered is silent since the driver started)
   * @param ranges every range
   * @param decommissioning nodes being decommissioned: their leaderships, then their replicas, move
   *     to other nodes, and nothing moves to them
   * @param localities each node's locality ("zone=a,rack=r1"; absent or empty: none): a range's
   *     replicas go to distinct values of the first tier when there are enough
   * @param notServing nodes that answer but serve no client (drained, or a clock too far off):
   *     nothing moves to them, and what they hold stays
   */
  public record ClusterView(
      long nowMillis,
      long startedMillis,
      Set<Long> knownNodes,
      Map<Long, Long> lastHeardMillis,
      List<RangeView> ranges,
      Set<Long> decommissioning,
      Map<Long, String> localities,
      Set<Long> notServing) {
    /** A cluster with no node being decommissioned, and no localities. */
    public ClusterView(
        long nowMillis,
        long startedMillis,
        Set<Long> knownNodes,
        Map<Long, Long> lastHeardMillis,
        List<RangeView> ranges) {
      this(
          nowMillis,
          startedMillis,
          knownNodes,
          lastHeardMillis,
          ranges,
          Set.of(),
          Map.of(),
          Set.of());
    }

    /** A cluster with no localities. */
    public ClusterView(
        long nowMillis,
        long startedMillis,
        Set<Long> knownNodes,
        Map<Long, Long> lastHeardMillis,
        List<RangeView> ranges,
        Set<Long> decommissioning) {
      this(
          nowMillis,
          startedMillis,
          knownNodes,
          lastHeardMillis,
          ranges,
          decommissioning,
          Map.of(),
          Set.of());
    }

    /** The first tier of {@code node}'s locality ("zone=a"), or "" if it has none. */
    String zone(long node) {
      String l = localities.getOrDefault(node, "");
      int comma = l.indexOf(',');
      return comma < 0 ? l : l.substring(0, comma);
    }
  }

  /** An operation on one range, decided from its descriptor (whose generation it names). */
  public sealed interface Operation {
    RangeDescriptor range();

    long nodeId();
  }

  /** Adds a learner of {@code range} on {@code nodeId}. */
  public record AddLearner(RangeDescriptor range, long nodeId) implements Operation {}

  /** Makes the learner of {@code range} on {@code nodeId} a voter. */
  public record Promote(RangeDescriptor range, long nodeId) implements Operation {}

  /** Removes the replica of {@code range} on {@code nodeId}. */
  public record Remove(RangeDescriptor range, long nodeId) implements Operation {}

  /** Moves the leadership of {@code range} to its voter on {@code nodeId}. */
  public record TransferLeader(RangeDescriptor range, long nodeId) implements Operation {}

  /**
   * Splits {@code range}, led from {@code nodeId}, in two at {@code splitKey} (one that halves its
   * load), or, if empty, at the key its leader finds halves its data.
   */
  public record Split(RangeDescriptor range, long nodeId, com.google.protobuf.ByteString splitKey)
      implements Operation {}

  /**
   * Merges {@code right} into its left-hand neighbour {@code range}, led from {@code nodeId} (their
   * replicas are on the same nodes).
   */
  public record Merge(RangeDescriptor range, long nodeId, RangeDescriptor right)
      implements Operation {}

  /**
   * The decision of one pass.
   *
   * @param operations what to do now
   * @param unavailable ranges whose live voters are not a majority (left alone)
   * @param underReplicated ranges with fewer live voters than wanted
   * @param deadNodes nodes taken as dead
   */
  public record Decision(
      List<Operation> operations,
      List<Long> unavailable,
      List<Long> underReplicated,
      Set<Long> deadNodes) {}

  public static Decision decide(ClusterView view, Options o) {
    Set<Long> dead = new HashSet<>();
    Set<Long> live = new HashSet<>();
    boolean watchedLongEnough = view.nowMillis() - view.startedMillis() >= o.deadAfterMillis();
    Set<Long> known = new java.util.TreeSet<>(view.knownNodes());
    known.addAll(view.lastHeardMillis().keySet());
    for (long node : known) {
      Long heard = view.lastHeardMillis().get(node);
      long silent = view.nowMillis() - (heard == null ? view.startedMillis() : heard);
      if (heard != null && silent < o.liveWithinMillis()) {
        live.add(node); // (only a node that answered is up)
      } else if (silent >= o.deadAfterMillis() && watchedLongEnough) {
        dead.add(node);
      }
    }
    // Where replicas and leaderships may go: live nodes not being decommissioned.
    Set<Long> targets = new HashSet<>(live);
    targets.removeAll(view.decommissioning());
    targets.removeAll(view.notServing());
    Map<Long, Integer> replicasOn = new TreeMap<>();
    Map<Long, Integer> leadersOn = new TreeMap<>();
    for (long n : targets) {
      replicasOn.put(n, 0);
      leadersOn.put(n, 0);
    }
    for (RangeView r : view.ranges()) {
      for (ReplicaDescriptor d : r.descriptor().getReplicasList()) {
        replicasOn.computeIfPresent(d.getNodeId(), (k, v) -> v + 1);
      }
      leadersOn.computeIfPresent(r.leaderNode(), (k, v) -> v + 1);
    }
    List<Operation> ops = new ArrayList<>();
    List<Long> unavailable = new ArrayList<>();
    List<Long> underReplicated = new ArrayList<>();
    Set<Long> touched = new HashSet<>();
    List<RangeView> ranges = new ArrayList<>(view.ranges());
    MergePlan merging = MergePlan.of(view, live, o);
    // The meta range first: every other repair goes through its directory.
    ranges.sort(Comparator.comparingLong(r -> r.descriptor().getRangeId()));
    for (RangeView r : ranges) {
      List<ReplicaDescriptor> voters = role(r, ReplicaRole.REPLICA_ROLE_VOTER);
      long liveVoters = voters.stream().filter(v -> live.contains(v.getNodeId())).count();
      if (liveVoters * 2 <= voters.size()) {
        unavailable.add(r.descriptor().getRangeId());
        continue;
      }
      long healthyVoters =
          voters.stream()
              .filter(v ->
                  !dead.contains(v.getNodeId()) && !view.decommissioning().contains(v.getNodeId()))
              .count();
      if (healthyVoters < o.replicas()) {
        underReplicated.add(r.descriptor().getRangeId());
      }
      if (ops.size() >= o.maxOperations()) {
        continue;
      }
      Operation op =
          repair(r, voters, healthyVoters, live, targets, dead, view, replicasOn, o, merging);
      if (op == null) {
        op = split(r, voters, live, o);
      }
      if (op != null) {
        ops.add(op);
        touched.add(r.descriptor().getRangeId());
        count(op, replicasOn);
      }
    }
    if (ops.size() < o.maxOperations()) {
      Operation op = merging.next(touched, targets);
      if (op != null) {
        ops.add(op);
        touched.add(op.range().getRangeId());
        if (op instanceof Merge m) {
          touched.add(m.right().getRangeId()); // (nothing else moves it while it merges)
        }
        count(op, replicasOn);
      }
    }
    if (ops.size() < o.maxOperations()) {
      Operation op = balanceReplicas(view, touched, targets, replicasOn);
      if (op != null) {
        ops.add(op);
        touched.add(op.range().getRangeId());
      }
    }
    if (ops.size() < o.maxOperations()) {
      Operation op = balanceLeaders(view.ranges(), touched, targets, leadersOn);
      if (op != null) {
        ops.add(op);
      }
    }
    return new Decision(List.copyOf(ops), unavailable, underReplicated, Set.copyOf(dead));
  }

  private static Operation repair(
      RangeView r,
      List<ReplicaDescriptor> voters,
      long healthyVoters,
      Set<Long> live,
      Set<Long> targets,
      Set<Long> dead,
      ClusterView view,
      Map<Long, Integer> replicasOn,
      Options o,
      MergePlan merging) {
    RangeDescriptor d = r.descriptor();
    Set<Long> decommissioning = view.decommissioning();
    if (decommissioning.contains(r.leaderNode())) {
      // Leaderships leave a node being decommissioned first, to a caught-up voter elsewhere.
      for (ReplicaDescriptor v : voters) {
        if (targets.contains(v.getNodeId()) && r.caughtUpVoters().contains(v.getNodeId())) {
          return new TransferLeader(d, v.getNodeId());
        }
      }
    }
    List<ReplicaDescriptor> learners = role(r, ReplicaRole.REPLICA_ROLE_LEARNER);
    for (ReplicaDescriptor l : learners) {
      if (!live.contains(l.getNodeId()) || decommissioning.contains(l.getNodeId())) {
        return new Remove(d, l.getNodeId()); // its node stopped answering: added again later
      }
    }
    for (ReplicaDescriptor l : learners) {
      if (r.caughtUpLearners().contains(l.getNodeId())) {
        return new Promote(d, l.getNodeId());
      }
    }
    if (!learners.isEmpty()) {
      return null; // learners catching up: wait for them
    }
    if (healthyVoters < o.replicas()) {
      long target = leastLoaded(d, targets, replicasOn, view);
      return target == 0 ? null : new AddLearner(d, target);
    }
    if (voters.size() > o.replicas()) {
      // Too many (a dead voter replaced, or a move half done): drop one that does not answer
      // first (dead before merely silent), else the voter on the most loaded node, if the live
      // voters left are still a majority.
      ReplicaDescriptor victim =
          voters.stream()
              .filter(v -> dead.contains(v.getNodeId()))
              .findFirst()
              .or(() -> voters.stream().filter(v -> !live.contains(v.getNodeId())).findFirst())
              .or(() ->
                  voters.stream().filter(v -> decommissioning.contains(v.getNodeId())).findFirst())
              .or(() -> merging.notColocated(d, voters))
              .orElseGet(() ->
                  voters.stream()
                      .max(
                          // One sharing its zone with another voter, then the most loaded.
                          Comparator.comparingInt(
                                  (ReplicaDescriptor v) -> sharingZone(view, voters, v.getNodeId()))
                              .thenComparingInt((ReplicaDescriptor v) ->
                                  replicasOn.getOrDefault(v.getNodeId(), 0))
                              .thenComparingLong(ReplicaDescriptor::getNodeId))
                      .orElseThrow());
      long liveLeft =
          voters.stream().filter(v -> v != victim && live.contains(v.getNodeId())).count();
      if (liveLeft * 2 <= voters.size() - 1) {
        return null; // removing it would leave no live majority
      }
      if (victim.getNodeId() == r.leaderNode()) {
        for (ReplicaDescriptor v : voters) {
          if (v.getNodeId() != victim.getNodeId()
              && targets.contains(v.getNodeId())
              && r.caughtUpVoters().contains(v.getNodeId())) {
            return new TransferLeader(d, v.getNodeId()); // leadership leaves before the replica
          }
        }
        return null;
      }
      return new Remove(d, victim.getNodeId());
    }
    return null;
  }

  /**
   * A split of {@code r} if it is settled (not the meta range, led, every replica a voter on a live
   * node) and above the size limit (at its middle key) or the load limit (at the key that halves
   * its load, if its leader knows one); else null.
   */
  private static Operation split(
      RangeView r, List<ReplicaDescriptor> voters, Set<Long> live, Options o) {
    RangeDescriptor d = r.descriptor();
    boolean settled =
        d.getRangeId() != io.basalt.api.KeySpace.META_RANGE_ID
            && r.leaderNode() != 0
            && voters.size() == d.getReplicasCount()
            && voters.stream().allMatch(v -> live.contains(v.getNodeId()));
    if (!settled) {
      return null;
    }
    if (r.approximateBytes() > o.rangeMaxBytes()) {
      return new Split(d, r.leaderNode(), com.google.protobuf.ByteString.EMPTY);
    }
    if (r.requestsPerSecond() > o.rangeMaxQps() && !r.loadSplitKey().isEmpty()) {
      return new Split(d, r.leaderNode(), r.loadSplitKey());
    }
    return null;
  }

  /**
   * The live node without a replica of {@code d} in a zone holding the fewest of its live replicas
   * (a zone of its own when one is left), the one with the fewest replicas among those; or 0.
   */
  private static long leastLoaded(
      RangeDescriptor d, Set<Long> live, Map<Long, Integer> replicasOn, ClusterView view) {
    Set<Long> holding = new HashSet<>();
    Map<String, Integer> perZone = new HashMap<>();
    for (ReplicaDescriptor x : d.getReplicasList()) {
      holding.add(x.getNodeId());
      if (live.contains(x.getNodeId())) {
        perZone.merge(view.zone(x.getNodeId()), 1, Integer::sum);
      }
    }
    long best = 0;
    int bestZone = Integer.MAX_VALUE;
    int bestCount = Integer.MAX_VALUE;
    for (long n : new java.util.TreeSet<>(live)) {
      int z = perZone.getOrDefault(view.zone(n), 0);
      int c = replicasOn.getOrDefault(n, 0);
      if (!holding.contains(n) && (z < bestZone || (z == bestZone && c < bestCount))) {
        best = n;
        bestZone = z;
        bestCount = c;
      }
    }
    return best;
  }

  /** How many distinct zones {@code d}'s replicas are in. */
  private static int zones(ClusterView view, RangeDescriptor d) {
    Set<String> zones = new HashSet<>();
    d.getReplicasList().forEach(x -> zones.add(view.zone(x.getNodeId())));
    return zones.size();
  }

  /**
   * How many distinct zones {@code d}'s replicas would be in, moved from {@code from} to {@code
   * to}.
   */
  private static int zonesAfterMove(ClusterView view, RangeDescriptor d, long from, long to) {
    Set<String> zones = new HashSet<>();
    d.getReplicasList().stream()
        .filter(x -> x.getNodeId() != from)
        .forEach(x -> zones.add(view.zone(x.getNodeId())));
    zones.add(view.zone(to));
    return zones.size();
  }

  /** How many other voters of {@code voters} share {@code node}'s zone. */
  private static int sharingZone(ClusterView view, List<ReplicaDescriptor> voters, long node) {
    int n = 0;
    for (ReplicaDescriptor v : voters) {
      if (v.getNodeId() != node && view.zone(v.getNodeId()).equals(view.zone(node))) {
        n++;
      }
    }
    return n;
  }

  private static void count(Operation op, Map<Long, Integer> replicasOn) {
    if (op instanceof AddLearner) {
      replicasOn.computeIfPresent(op.nodeId(), (k, v) -> v + 1);
    } else if (op instanceof Remove) {
      replicasOn.computeIfPresent(op.nodeId(), (k, v) -> v - 1);
    }
  }

  /**
   * A learner on the live node with the fewest replicas, for a settled range of the one with the
   * most, when they differ by two or more (the range's surplus voter is removed afterwards), never
   * for a range the move would leave in fewer zones.
   */
  private static Operation balanceReplicas(
      ClusterView view, Set<Long> touched, Set<Long> live, Map<Long, Integer> replicasOn) {
    List<RangeView> ranges = view.ranges();
    if (live.size() < 2) {
      return null;
    }
    long most = argMax(replicasOn);
    long fewest = argMin(replicasOn);
    if (replicasOn.get(most) - replicasOn.get(fewest) < 2) {
      return null;
    }
    for (RangeView r : ranges) {
      RangeDescriptor d = r.descriptor();
      if (touched.contains(d.getRangeId())
          || !role(r, ReplicaRole.REPLICA_ROLE_LEARNER).isEmpty()
          || d.getReplicasList().stream().noneMatch(x -> x.getNodeId() == most)
          || d.getReplicasList().stream().anyMatch(x -> x.getNodeId() == fewest)
          || d.getReplicasList().stream().anyMatch(x -> !live.contains(x.getNodeId()))
          || zonesAfterMove(view, d, most, fewest) < zones(view, d)) {
        continue; // (the move would leave its replicas in fewer zones)
      }
      return new AddLearner(d, fewest);
    }
    return null;
  }

  /**
   * A transfer of one range's leadership from the live node leading the most ranges to one leading
   * the fewest that holds a voter of it, when their counts differ by two or more.
   */
  private static Operation balanceLeaders(
      List<RangeView> ranges, Set<Long> touched, Set<Long> live, Map<Long, Integer> leadersOn) {
    if (live.size() < 2) {
      return null;
    }
    long most = argMax(leadersOn);
    int max = leadersOn.get(most);
    List<Map.Entry<Long, Integer>> byCount = new ArrayList<>(leadersOn.entrySet());
    byCount.sort(
        Map.Entry.<Long, Integer>comparingByValue().thenComparing(Map.Entry.comparingByKey()));
    for (Map.Entry<Long, Integer> low : byCount) {
      if (max - low.getValue() < 2) {
        return null;
      }
      for (RangeView r : ranges) {
        if (r.leaderNode() == most
            && !touched.contains(r.descriptor().getRangeId())
            && r.caughtUpVoters().contains(low.getKey())
            && role(r, ReplicaRole.REPLICA_ROLE_VOTER).stream()
                .anyMatch(v -> v.getNodeId() == low.getKey())) {
          return new TransferLeader(r.descriptor(), low.getKey());
        }
      }
    }
    return null;
  }

  private static long argMax(Map<Long, Integer> counts) {
    return counts.entrySet().stream()
        .max(Map.Entry.<Long, Integer>comparingByValue().thenComparing(e -> -e.getKey()))
        .orElseThrow()
        .getKey();
  }

  private static long argMin(Map<Long, Integer> counts) {
    return counts.entrySet().stream()
        .min(Map.Entry.<Long, Integer>comparingByValue().thenComparing(Map.Entry.comparingByKey()))
        .orElseThrow()
        .getKey();
  }

  private static List<ReplicaDescriptor> role(RangeView r, ReplicaRole role) {
    List<ReplicaDescriptor> out = new ArrayList<>();
    for (ReplicaDescriptor d : r.descriptor().getReplicasList()) {
      if (d.getRole() == role) {
        out.add(d);
      }
    }
    return out;
  }
}
