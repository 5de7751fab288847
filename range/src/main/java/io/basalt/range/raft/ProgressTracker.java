package io.basalt.range.raft;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The current configuration and, at a leader, each member's {@link Progress}; votes at a candidate.
 * Applies {@link ConfChange}s (simple and joint, thesis §4.3) with validation. Iteration is always
 * in ascending id order, so behaviour does not depend on hash order.
 */
final class ProgressTracker {
  private ConfState config = ConfState.EMPTY;
  private final TreeMap<Long, Progress> progress = new TreeMap<>();
  private final TreeMap<Long, Boolean> votes = new TreeMap<>();
  private final int maxInflight;
  private final long maxInflightBytes;

  ProgressTracker(int maxInflight, long maxInflightBytes) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  ConfState config() {
    return config;
  }

  SortedMap<Long, Progress> progress() {
    return Collections.unmodifiableSortedMap(progress);
  }

  Progress get(long id) {
    return progress.get(id);
  }

  boolean isSingleton() {
    return config.voters().size() == 1 && config.votersOutgoing().isEmpty();
  }

  /** The largest index replicated on a quorum of voters (both majorities when joint). */
  long committed() {
    return Quorum.jointCommitted(
        config,
        id -> {
          Progress p = progress.get(id);
          return p == null ? 0 : p.match;
        });
  }

  /** Whether a quorum of voters was recently active (CheckQuorum, thesis §6.2). */
  boolean quorumActive(long self) {
    Map<Long, Boolean> active = new HashMap<>();
    progress.forEach((id, p) -> active.put(id, id == self || p.recentActive));
    return Quorum.jointVote(config, active) == Quorum.VoteResult.WON;
  }

  /** The latest heartbeat send tick acknowledged by a quorum of voters (-1 if none). */
  long quorumLeaseAckTick(long self, long now) {
    return Quorum.jointCommitted(
        config,
        id -> {
          if (id == self) {
            return now;
          }
          Progress p = progress.get(id);
          return p == null ? -1 : p.leaseAckTick;
        });
  }

  void resetVotes() {
    votes.clear();
  }

  void recordVote(long id, boolean granted) {
    votes.putIfAbsent(id, granted);
  }

  Quorum.VoteResult tallyVotes() {
    return Quorum.jointVote(config, votes);
  }

  /** Resets every member's progress, e.g. when a new leader takes over (§5.3: next = last + 1). */
  void resetProgress(long lastIndex) {
    progress.replaceAll(
        (id, p) -> new Progress(lastIndex + 1, maxInflight, maxInflightBytes, p.isLearner));
  }

  /** Replaces the configuration (restart or snapshot install) and creates fresh progress. */
  void restore(ConfState cs, long lastIndex) {
    validate(cs);
    config = cs;
    progress.clear();
    for (long id : cs.allMembers()) {
      progress.put(id, newProgress(lastIndex, isLearner(cs, id)));
    }
  }

  private Progress newProgress(long lastIndex, boolean learner) {
    Progress p = new Progress(Math.max(lastIndex, 1), maxInflight, maxInflightBytes, learner);
    // A new member gets one CheckQuorum round to answer before it counts as inactive.
    p.recentActive = true;
    return p;
  }

  private static boolean isLearner(ConfState cs, long id) {
    return cs.learners().contains(id) || cs.learnersNext().contains(id);
  }

  /**
   * The configuration that results from applying {@code cc} to the current one.
   *
   * @throws IllegalArgumentException if the change is not allowed in the current configuration
   */
  ConfState plan(ConfChange cc) {
    ConfState c = config;
    if (cc.isLeaveJoint()) {
      if (!c.isJoint()) {
        throw new IllegalArgumentException("cannot leave a joint configuration: not joint");
      }
      TreeSet<Long> learners = new TreeSet<>(c.learners());
      learners.addAll(c.learnersNext());
      ConfState next = new ConfState(c.voters(), learners, new TreeSet<>(), new TreeSet<>(), false);
      validate(next);
      return next;
    }
    boolean joint = cc.entersJoint();
    if (c.isJoint()) {
      throw new IllegalArgumentException(
          "configuration is joint: leave it before making another change");
    }
    TreeSet<Long> incoming = new TreeSet<>(c.voters());
    TreeSet<Long> outgoing = joint ? new TreeSet<>(c.voters()) : new TreeSet<>();
    TreeSet<Long> learners = new TreeSet<>(c.learners());
    TreeSet<Long> learnersNext = new TreeSet<>();
    for (ConfChange.Change ch : cc.changes()) {
      long id = ch.nodeId();
      switch (ch.kind()) {
        case ADD_VOTER -> {
          learners.remove(id);
          learnersNext.remove(id);
          incoming.add(id);
        }
        case ADD_LEARNER -> {
          incoming.remove(id);
          if (outgoing.contains(id)) {
            learnersNext.add(id); // Still votes in the old half until the joint config is left.
          } else {
            learners.add(id);
          }
        }
        case REMOVE_NODE -> {
          incoming.remove(id);
          learners.remove(id);
          learnersNext.remove(id);
        }
      }
    }
    if (!joint) {
      TreeSet<Long> symdiff = new TreeSet<>(incoming);
      symdiff.addAll(c.voters());
      TreeSet<Long> both = new TreeSet<>(incoming);
      both.retainAll(c.voters());
      symdiff.removeAll(both);
      if (symdiff.size() > 1) {
        throw new IllegalArgumentException(
            "more than one voter changed without joint consensus: " + symdiff);
      }
    }
    if (incoming.isEmpty()) {
      throw new IllegalArgumentException("a change must not remove all voters");
    }
    ConfState next =
        new ConfState(incoming, learners, outgoing, learnersNext, joint && cc.autoLeave());
    validate(next);
    return next;
  }

  /**
   * Switches to {@code next} (computed by {@link #plan}), keeping progress of remaining members.
   */
  void apply(ConfState next, long lastIndex) {
    validate(next);
    config = next;
    TreeSet<Long> members = new TreeSet<>(next.allMembers());
    progress.keySet().retainAll(members);
    for (long id : members) {
      Progress p = progress.get(id);
      if (p == null) {
        progress.put(id, newProgress(lastIndex, isLearner(next, id)));
      } else {
        p.isLearner = isLearner(next, id);
      }
    }
  }

  private static void validate(ConfState c) {
    if (c.voters().isEmpty() && !c.votersOutgoing().isEmpty()) {
      throw new IllegalArgumentException("a joint configuration needs incoming voters: " + c);
    }
    for (long id : c.learners()) {
      if (c.isVoter(id)) {
        throw new IllegalArgumentException(id + " is both a learner and a voter: " + c);
      }
    }
    for (long id : c.learnersNext()) {
      if (!c.votersOutgoing().contains(id) || c.voters().contains(id)) {
        throw new IllegalArgumentException(id + " is in learnersNext but not an outgoing voter");
      }
    }
    if (c.autoLeave() && !c.isJoint()) {
      throw new IllegalArgumentException("autoLeave set on a non-joint configuration: " + c);
    }
  }
}
