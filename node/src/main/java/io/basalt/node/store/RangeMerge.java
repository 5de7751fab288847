package io.basalt.node.store;

import io.basalt.api.Errors;
import io.basalt.api.FreezeRangeRequest;
import io.basalt.api.FreezeRangeResponse;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MergeRangesRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RangeStateRequest;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.RequestHeader;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs one merge of range {@code right} into its left-hand neighbour {@code left} from outside the
 * ranges (the placement driver; the simulation): freeze the right-hand range, wait until every
 * replica of it has applied the freeze, merge at the left-hand range, and if the merge can no
 * longer apply, unfreeze (see {@code ReplicaMerges} for why each step is safe). It gives up only
 * where giving up is safe: before anything froze, or once the left-hand range shows the merge never
 * happened and the right-hand range is unfrozen. Until then it keeps trying, however long the
 * ranges are unavailable.
 *
 * <p>A driver that finds a range frozen by a merge it does not know of (its predecessor's) takes it
 * over with {@link #resume}.
 */
public final class RangeMerge {
  /** How the merge reaches the nodes; calls may be answered on any thread, one at a time. */
  public interface Io {
    /** Sends {@code request} to node {@code nodeId}; {@code reply} gets its answer or an error. */
    void send(long nodeId, KvRequest request, Consumer<KvResponse> reply);

    /** Runs {@code step} about {@code millis} from now. */
    void after(long millis, Runnable step);
  }

  /** How a merge ended: the merged range, or null if it was abandoned (nothing changed). */
  public record Outcome(RangeDescriptor merged, String reason) {}

  /** How long to wait between tries. */
  static final long RETRY_MILLIS = 100;

  /** How long the freeze may wait for a replica that does not apply it before it is undone. */
  static final long WAIT_FOR_REPLICAS_MILLIS = 10_000;

  private final Io io;
  private final RangeDescriptor left;
  private RangeDescriptor right;
  private final long mergeId;
  private final Consumer<Outcome> done;
  private final Map<Long, Long> leaderGuess = new HashMap<>();
  private FreezeRangeResponse frozen;
  private boolean mergeSent;
  private long waitedMillis;
  private int rotation;

  /** Whether it took over another runner's merge: it asks for the freeze only if it holds. */
  private boolean resumed;

  /** Test hook: whether the merge is proposed before every replica applied the freeze. */
  boolean skipWaitForReplicas;

  private RangeMerge(
      Io io, RangeDescriptor left, RangeDescriptor right, long mergeId, Consumer<Outcome> done) {
    if (mergeId == 0) {
      throw new IllegalArgumentException("a merge id is never 0");
    }
    this.io = io;
    this.left = left;
    this.right = right;
    this.mergeId = mergeId;
    this.done = done;
  }

  /**
   * Starts merging {@code right} into {@code left} (adjacent, replicas on the same nodes), as their
   * descriptors are now; {@code done} gets the outcome once.
   */
  public static RangeMerge start(
      Io io, RangeDescriptor left, RangeDescriptor right, long mergeId, Consumer<Outcome> done) {
    RangeMerge m = new RangeMerge(io, left, right, mergeId, done);
    m.freeze();
    return m;
  }

  /**
   * Takes over merge {@code mergeId}, which froze {@code right} for a merge into {@code into} (the
   * left-hand range at the generation the merge applies to, as the freeze names it): completes it,
   * or undoes the freeze if the merge can no longer apply.
   */
  public static RangeMerge resume(
      Io io, RangeDescriptor right, long mergeId, RangeDescriptor into, Consumer<Outcome> done) {
    RangeMerge m = new RangeMerge(io, into, right, mergeId, done);
    m.mergeSent = true; // (the predecessor may have sent it: only the left-hand range can tell)
    m.resumed = true; // (and may have unfrozen the range since: it is never frozen again)
    m.freeze();
    return m;
  }

  private KvRequest.Builder to(RangeDescriptor d) {
    return KvRequest.newBuilder().setHeader(RequestHeader.newBuilder().setRangeId(d.getRangeId()));
  }

  /** The node to ask for {@code d}'s leader: the last hint, else its replicas in turn. */
  private long target(RangeDescriptor d) {
    Long hint = leaderGuess.get(d.getRangeId());
    if (hint != null && hint != 0) {
      return hint;
    }
    rotation++;
    return d.getReplicas(Math.floorMod(rotation, d.getReplicasCount())).getNodeId();
  }

  private void learn(RangeDescriptor d, long node, KvResponse r) {
    if (r.hasError() && r.getError().hasNotLeader()) {
      leaderGuess.put(d.getRangeId(), r.getError().getNotLeader().getLeaderHint().getNodeId());
    } else if (r.hasError()) {
      leaderGuess.remove(d.getRangeId());
    } else {
      leaderGuess.put(d.getRangeId(), node);
    }
  }

  private static boolean invalid(KvResponse r) {
    return r.hasError()
        && r.getError().hasGeneric()
        && r.getError().getGeneric().getCode().equals(Errors.INVALID_ARGUMENT);
  }

  // 1. Freeze the right-hand range.

  /** What the merge did last (its last dozen steps' answers), for reports. */
  private final java.util.ArrayDeque<String> trace = new java.util.ArrayDeque<>();

  private void note(String what) {
    trace.add(what.replace('\n', ' '));
    if (trace.size() > 12) {
      trace.poll();
    }
  }

  @Override
  public String toString() {
    return "merge "
        + mergeId
        + " of range "
        + right.getRangeId()
        + " into "
        + left.getRangeId()
        + ": "
        + String.join(" | ", trace);
  }

  private void freeze() {
    long node = target(right);
    io.send(
        node,
        to(right)
            .setFreezeRange(
                FreezeRangeRequest.newBuilder()
                    .setMergeId(mergeId)
                    .setExpectedGeneration(right.getGeneration())
                    .setInto(left)
                    .setIfFrozen(resumed))
            .build(),
        r -> {
          learn(right, node, r);
          note("freeze at node " + node + ": " + message(r));
          if (r.hasFreezeRange()) {
            frozen = r.getFreezeRange();
            right = frozen.getFrozen();
            awaitReplicas();
          } else if (invalid(r) && resumed) {
            // Not frozen for this merge (any more): its runner finished or undid it, unless the
            // merge applied (the left-hand range knows); if a freeze of it applies later, whoever
            // finds the range frozen takes it over again.
            resolve(() -> finish(null, "the range is not frozen for this merge"));
          } else if (invalid(r) && !mergeSent) {
            // Refused by the range's state (it moved on): this merge never freezes it, as an
            // earlier try of it would apply only to the same state.
            finish(null, "the right-hand range refused to freeze: " + message(r));
          } else if (mergeSent) {
            // Gone (absorbed where the merge applied) or moved on: the left-hand range knows.
            resolve(() -> io.after(RETRY_MILLIS, this::freeze));
          } else if (++freezeTries >= FREEZE_TRIES) {
            // Safe to leave: if a try still freezes the range, whoever runs merges finds it frozen
            // and takes the merge over (resume).
            finish(null, "the right-hand range did not answer the freeze: " + message(r));
          } else {
            io.after(RETRY_MILLIS, this::freeze);
          }
        });
  }

  private int freezeTries;

  /** How many times a new merge asks for the freeze before it leaves the range to a resume. */
  static final int FREEZE_TRIES = 50;

  // 2. Wait until every replica of it has applied the freeze (and synced it).

  private void awaitReplicas() {
    if (skipWaitForReplicas) {
      merge();
      return;
    }
    int[] answered = {0};
    boolean[] all = {true};
    int count = right.getReplicasCount();
    for (ReplicaDescriptor x : right.getReplicasList()) {
      io.send(
          x.getNodeId(),
          to(right).setRangeState(RangeStateRequest.newBuilder().setMergeId(mergeId)).build(),
          r -> {
            boolean applied =
                r.hasRangeState()
                    && r.getRangeState().getPresent()
                    && r.getRangeState().getFrozenMergeId() == mergeId
                    && r.getRangeState().getAppliedIndex() >= frozen.getFreezeIndex();
            all[0] &= applied;
            note("awaiting replicas: " + x.getNodeId() + " " + r.getRangeState() + message(r));
            if (++answered[0] == count) {
              if (all[0]) {
                merge();
              } else if (mergeSent) {
                // (A replica that absorbed it is gone: the left-hand range knows.)
                resolve(() -> io.after(RETRY_MILLIS, this::awaitReplicas));
              } else if (waitedMillis >= WAIT_FOR_REPLICAS_MILLIS) {
                // No merge of this id was ever proposed: unfreezing cannot race one.
                unfreeze("a replica of the right-hand range did not apply the freeze in time");
              } else {
                waitedMillis += RETRY_MILLIS;
                io.after(RETRY_MILLIS, this::awaitReplicas);
              }
            }
          });
    }
  }

  // 3. Merge at the left-hand range.

  private void merge() {
    mergeSent = true;
    long node = target(left);
    io.send(
        node,
        to(left)
            .setMergeRanges(
                MergeRangesRequest.newBuilder()
                    .setExpectedGeneration(left.getGeneration())
                    .setRight(right)
                    .setMergeId(mergeId)
                    .setFreezeIndex(frozen.getFreezeIndex())
                    .setReadHighWater(frozen.getReadHighWater()))
            .build(),
        r -> {
          learn(left, node, r);
          note("merge at node " + node + ": " + message(r));
          if (r.hasMergeRanges()) {
            finish(r.getMergeRanges().getMerged(), "merged");
          } else {
            // Every replica applied the freeze durably: trying again needs no new wait.
            resolve(() -> io.after(RETRY_MILLIS, this::merge));
          }
        });
  }

  // 4. Whether the merge happened, can still happen, or never will.

  private void resolve(Runnable otherwise) {
    int[] answered = {0};
    RangeDescriptor[] merged = {null};
    boolean[] never = {false};
    int count = left.getReplicasCount();
    for (ReplicaDescriptor x : left.getReplicasList()) {
      io.send(
          x.getNodeId(),
          to(left).setRangeState(RangeStateRequest.newBuilder().setMergeId(mergeId)).build(),
          r -> {
            note("resolve: " + r.getRangeState());
            if (r.hasRangeState() && r.getRangeState().getPresent()) {
              var s = r.getRangeState();
              if (s.getMerged()) {
                merged[0] = s.getRange();
              } else if (s.getRange().getGeneration() == left.getGeneration()
                  && refusedAtItsGeneration(s.getRange())) {
                // The range holds one descriptor per generation, and at this one every replica
                // refuses the merge when it applies: it never will.
                never[0] = true;
              } else if (s.getRange().getGeneration() > left.getGeneration()) {
                // That replica applied its range's log past the merge's generation without it:
                // the merge applies only at that generation, so it never will (every replica
                // applies the same log).
                never[0] = true;
              }
            }
            if (++answered[0] == count) {
              if (merged[0] != null) {
                finish(merged[0], "merged");
              } else if (never[0]) {
                unfreeze("the left-hand range changed before the merge applied");
              } else {
                otherwise.run();
              }
            }
          });
    }
  }

  /**
   * Whether the left-hand range's descriptor {@code d} (at the merge's generation) makes every
   * replica refuse the merge: a learner, or replicas on other nodes than the frozen range's.
   */
  private boolean refusedAtItsGeneration(RangeDescriptor d) {
    java.util.Set<Long> mine = new java.util.TreeSet<>();
    java.util.Set<Long> theirs = new java.util.TreeSet<>();
    for (ReplicaDescriptor x : d.getReplicasList()) {
      if (x.getRole() != ReplicaRole.REPLICA_ROLE_VOTER) {
        return true;
      }
      mine.add(x.getNodeId());
    }
    right.getReplicasList().forEach(x -> theirs.add(x.getNodeId()));
    return !mine.equals(theirs) || !d.getEndKey().equals(right.getStartKey());
  }

  // 5. Undo the freeze (only when no merge of this id can apply).

  private void unfreeze(String why) {
    long node = target(right);
    io.send(
        node,
        to(right)
            .setFreezeRange(
                FreezeRangeRequest.newBuilder().setMergeId(mergeId).setUnfreeze(true).setInto(left))
            .build(),
        r -> {
          learn(right, node, r);
          if (r.hasFreezeRange()) {
            finish(null, why);
          } else {
            io.after(RETRY_MILLIS, () -> unfreeze(why));
          }
        });
  }

  private boolean finished;

  private Outcome outcome;

  /** How it ended, or null while it runs. */
  public Outcome outcome() {
    return outcome;
  }

  /** Whether it has ended (merged or abandoned). */
  public boolean finished() {
    return finished;
  }

  private void finish(RangeDescriptor merged, String reason) {
    if (!finished) {
      finished = true;
      outcome = new Outcome(merged, reason);
      done.accept(outcome);
    }
  }

  private static String message(KvResponse r) {
    return r.hasError() ? r.getError().toString().replace('\n', ' ') : "";
  }
}
