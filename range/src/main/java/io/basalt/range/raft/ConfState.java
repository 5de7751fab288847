package io.basalt.range.raft;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * A Raft group's membership. Outside joint consensus only {@code voters} and {@code learners} are
 * set. In a joint configuration (Raft thesis §4.3) {@code votersOutgoing} holds the old voters, and
 * decisions need a majority of both {@code voters} and {@code votersOutgoing}; {@code learnersNext}
 * holds voters of the old configuration that become learners when the joint configuration is left.
 * Sets are sorted and immutable so that iteration is deterministic.
 *
 * @param voters the (incoming) voters
 * @param learners non-voting members that receive the log
 * @param votersOutgoing the old voters while joint, else empty
 * @param learnersNext outgoing voters to turn into learners on leaving the joint configuration
 * @param autoLeave whether the leader leaves the joint configuration on its own once it is applied
 */
public record ConfState(
    SortedSet<Long> voters,
    SortedSet<Long> learners,
    SortedSet<Long> votersOutgoing,
    SortedSet<Long> learnersNext,
    boolean autoLeave) {

  /** No members at all (a replica that has not been bootstrapped or received a snapshot). */
  public static final ConfState EMPTY =
      new ConfState(List.of(), List.of(), List.of(), List.of(), false);

  public ConfState {
    voters = sorted(voters);
    learners = sorted(learners);
    votersOutgoing = sorted(votersOutgoing);
    learnersNext = sorted(learnersNext);
  }

  /** A configuration from plain collections, copied into sorted immutable sets. */
  public ConfState(
      Collection<Long> voters,
      Collection<Long> learners,
      Collection<Long> votersOutgoing,
      Collection<Long> learnersNext,
      boolean autoLeave) {
    this(sorted(voters), sorted(learners), sorted(votersOutgoing), sorted(learnersNext), autoLeave);
  }

  /** A simple (non-joint) configuration of the given voters and no learners. */
  public static ConfState ofVoters(long... ids) {
    TreeSet<Long> v = new TreeSet<>();
    for (long id : ids) {
      v.add(id);
    }
    return new ConfState(v, List.of(), List.of(), List.of(), false);
  }

  /** Whether a joint configuration is in effect. */
  public boolean isJoint() {
    return !votersOutgoing.isEmpty();
  }

  /** Whether {@code id} takes part in the group in any role. */
  public boolean contains(long id) {
    return voters.contains(id)
        || learners.contains(id)
        || votersOutgoing.contains(id)
        || learnersNext.contains(id);
  }

  /** Whether {@code id} votes (in either half of a joint configuration). */
  public boolean isVoter(long id) {
    return voters.contains(id) || votersOutgoing.contains(id);
  }

  /** Every member, voters and learners, in ascending order. */
  public SortedSet<Long> allMembers() {
    TreeSet<Long> all = new TreeSet<>(voters);
    all.addAll(learners);
    all.addAll(votersOutgoing);
    all.addAll(learnersNext);
    return Collections.unmodifiableSortedSet(all);
  }

  private static SortedSet<Long> sorted(Collection<Long> ids) {
    if (ids == null) {
      return Collections.unmodifiableSortedSet(new TreeSet<>());
    }
    for (Long id : ids) {
      if (id == null || id <= 0) {
        throw new IllegalArgumentException("replica ids must be positive: " + ids);
      }
    }
    return Collections.unmodifiableSortedSet(new TreeSet<>(ids));
  }
}
