package io.basalt.node.store;

import io.basalt.api.Errors;
import io.basalt.api.FreezeRangeRequest;
import io.basalt.api.FreezeRangeResponse;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MergePhase;
import io.basalt.api.MergeRangesRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RangeStateRequest;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.RequestHeader;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs one merge of range {@code right} into its left-hand neighbour {@code left} from outside the
 * ranges (the placement driver; the tests): the left-hand range prepares it, the right-hand range
 * freezes, every replica of the frozen range applies the freeze, and the left-hand range commits it
 * (see {@code ReplicaMerges} for why each step is safe). The left-hand range's log decides: a merge
 * whose commit is not yet known is abandoned there (after which it never commits) before the
 * right-hand range is unfrozen; nothing is ever unfrozen on a guess. A merge taken over from
 * another runner ({@link #resume}) is abandoned unless it committed.
 */
public final class RangeMerge {
  /** How the merge reaches the nodes; calls may be answered on any thread, one at a time. */
  public interface Io {
    /** Sends {@code request} to node {@code nodeId}; {@code reply} gets its answer or an error. */
    void send(long nodeId, KvRequest request, Consumer<KvResponse> reply);

    /** Runs {@code step} about {@code millis} from now. */
    void after(long millis, Runnable step);
  }

  /** How a merge ended: the merged range, or null if it did not happen (nothing changed). */
  public record Outcome(RangeDescriptor merged, String reason) {}

  /** How long to wait between tries. */
  static final long RETRY_MILLIS = 100;

  /** How many times a step is tried before the merge is abandoned. */
  static final int TRIES = 50;

  /** How long the freeze may wait for a replica that does not apply it before it is abandoned. */
  static final long WAIT_FOR_REPLICAS_MILLIS = 10_000;

  private final Io io;
  private final RangeDescriptor left;
  private RangeDescriptor right;
  private final long mergeId;
  private final Consumer<Outcome> done;
  private final Map<Long, Long> leaderGuess = new HashMap<>();
  private FreezeRangeResponse frozen;
  private long waitedMillis;
  private int tries;
  private int rotation;

  /** Test hook: whether the merge is committed before every replica applied the freeze. */
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
   * descriptors are now, under {@code mergeId} (random, never 0); {@code done} gets the outcome
   * once.
   */
  public static RangeMerge start(
      Io io, RangeDescriptor left, RangeDescriptor right, long mergeId, Consumer<Outcome> done) {
    RangeMerge m = new RangeMerge(io, left, right, mergeId, done);
    m.prepare();
    return m;
  }

  /**
   * Takes over merge {@code mergeId} of {@code right} into {@code left} from a runner that left it
   * (the left-hand range reports it prepared, or the right-hand range frozen for it): abandons it
   * unless it committed, then unfreezes the right-hand range.
   */
  public static RangeMerge resume(
      Io io, RangeDescriptor right, long mergeId, RangeDescriptor left, Consumer<Outcome> done) {
    RangeMerge m = new RangeMerge(io, left, right, mergeId, done);
    m.abandon("taken over from a runner that left it");
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

  private void send(RangeDescriptor d, KvRequest request, String step, Consumer<KvResponse> then) {
    long node = target(d);
    io.send(
        node,
        request,
        r -> {
          learn(d, node, r);
          note(step + " at node " + node + ": " + message(r));
          then.accept(r);
        });
  }

  private MergeRangesRequest.Builder step(MergePhase phase) {
    return MergeRangesRequest.newBuilder()
        .setPhase(phase)
        .setMergeId(mergeId)
        .setExpectedGeneration(left.getGeneration())
        .setRight(right);
  }

  /** Tries {@code step} again shortly, or, after {@link #TRIES}, abandons the merge. */
  private void retry(Runnable step, String what) {
    if (++tries >= TRIES) {
      abandon(what + " did not succeed in " + TRIES + " tries");
    } else {
      io.after(RETRY_MILLIS, step);
    }
  }

  // 1. The left-hand range prepares the merge.

  private void prepare() {
    send(
        left,
        to(left).setMergeRanges(step(MergePhase.MERGE_PHASE_PREPARE)).build(),
        "prepare",
        r -> {
          if (r.hasMergeRanges()) {
            tries = 0;
            freeze();
          } else if (invalid(r)) {
            // Refused by its descriptor at that generation (any other try of it too).
            finish(null, "the left-hand range refused to prepare: " + message(r));
          } else {
            retry(this::prepare, "prepare");
          }
        });
  }

  // 2. The right-hand range freezes.

  private void freeze() {
    send(
        right,
        to(right)
            .setFreezeRange(
                FreezeRangeRequest.newBuilder()
                    .setMergeId(mergeId)
                    .setExpectedGeneration(right.getGeneration())
                    .setInto(left))
            .build(),
        "freeze",
        r -> {
          if (r.hasFreezeRange()) {
            frozen = r.getFreezeRange();
            right = frozen.getFrozen();
            tries = 0;
            awaitReplicas();
          } else if (invalid(r)) {
            abandon("the right-hand range refused to freeze: " + message(r));
          } else {
            retry(this::freeze, "freeze");
          }
        });
  }

  // 3. Every replica of the frozen range applies the freeze (and syncs it).

  private void awaitReplicas() {
    if (skipWaitForReplicas) {
      commit();
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
            all[0] &=
                r.hasRangeState()
                    && r.getRangeState().getPresent()
                    && r.getRangeState().getFrozenMergeId() == mergeId
                    && r.getRangeState().getAppliedIndex() >= frozen.getFreezeIndex();
            if (++answered[0] == count) {
              if (all[0]) {
                commit();
              } else if (waitedMillis >= WAIT_FOR_REPLICAS_MILLIS) {
                abandon("a replica of the right-hand range did not apply the freeze in time");
              } else {
                waitedMillis += RETRY_MILLIS;
                io.after(RETRY_MILLIS, this::awaitReplicas);
              }
            }
          });
    }
  }

  // 4. The left-hand range commits the merge.

  private void commit() {
    send(
        left,
        to(left)
            .setMergeRanges(
                step(MergePhase.MERGE_PHASE_COMMIT)
                    .setFreezeIndex(frozen.getFreezeIndex())
                    .setReadHighWater(frozen.getReadHighWater())
                    .setWrittenUpToNanos(frozen.getWrittenUpToNanos()))
            .build(),
        "commit",
        r -> {
          if (r.hasMergeRanges()) {
            finish(r.getMergeRanges().getMerged(), "merged");
          } else {
            // Unknown, or refused (not prepared: another runner abandoned it, or an earlier try
            // committed it): whatever it is, abandoning settles it.
            retry(this::commit, "commit");
          }
        });
  }

  // 5. Abandon: after it the merge never commits; then the frozen range is unfrozen.

  private void abandon(String why) {
    send(
        left,
        to(left).setMergeRanges(step(MergePhase.MERGE_PHASE_ABANDON)).build(),
        "abandon",
        r -> {
          if (!r.hasMergeRanges()) {
            // Not answered, or the left-hand range is gone (merged away itself since): its
            // replicas' records tell.
            if (++abandonTries % 10 == 0) {
              committedBefore(left, Long.MAX_VALUE, why, () -> abandon(why));
            } else {
              io.after(RETRY_MILLIS, () -> abandon(why));
            }
          } else if (r.getMergeRanges().getWasPrepared()) {
            unfreeze(why); // it was prepared, so it had not committed: it never will
          } else {
            long index = r.getMergeRanges().getIndex();
            RangeDescriptor now = r.getMergeRanges().getRange();
            committedBefore(now, index, why, () -> abandon(why));
          }
        });
  }

  private int abandonTries;

  /**
   * The abandonment at {@code index} found the merge not prepared: committed before it, or never
   * prepared (and now never will be). A replica of the left-hand range ({@code l}, as the
   * abandonment left it) that has applied that index tells which, as does one merged away since
   * (its records were kept; it had applied past the abandonment). If none can tell yet, {@code
   * otherwise} runs.
   */
  private void committedBefore(RangeDescriptor l, long index, String why, Runnable otherwise) {
    int[] answered = {0};
    RangeDescriptor[] merged = {null};
    boolean[] known = {false};
    boolean[] committed = {false};
    int count = l.getReplicasCount();
    for (ReplicaDescriptor x : l.getReplicasList()) {
      io.send(
          x.getNodeId(),
          to(left).setRangeState(RangeStateRequest.newBuilder().setMergeId(mergeId)).build(),
          r -> {
            var s = r.getRangeState();
            note("abandoned at " + index + "; node " + x.getNodeId() + ": " + s);
            if (s.getMerged()) {
              committed[0] = true;
              merged[0] = s.getPresent() ? s.getRange() : null;
            } else if ((s.getPresent() && s.getAppliedIndex() >= index) || s.getMergedAway()) {
              // (A replica merged away since had applied past the abandonment: it was not frozen
              // when that applied, and its merge records were kept.)
              known[0] = true;
            }
            if (++answered[0] == count) {
              if (committed[0]) {
                finish(merged[0], merged[0] != null ? "merged" : "merged, and merged again since");
              } else if (known[0]) {
                unfreeze(why);
              } else if (index == Long.MAX_VALUE) {
                otherwise.run();
              } else {
                io.after(RETRY_MILLIS, () -> committedBefore(l, index, why, otherwise));
              }
            }
          });
    }
  }

  private int unfreezeTries;

  private void unfreeze(String why) {
    send(
        right,
        to(right)
            .setFreezeRange(
                FreezeRangeRequest.newBuilder().setMergeId(mergeId).setUnfreeze(true).setInto(left))
            .build(),
        "unfreeze",
        r -> {
          if (r.hasFreezeRange()) {
            finish(null, why);
          } else if (++unfreezeTries >= TRIES) {
            // (Gone, absorbed by another merge, or unreachable: if it is still frozen for this
            // merge, whoever finds it so takes the merge over.)
            finish(null, why + "; the right-hand range did not answer the unfreeze");
          } else {
            io.after(RETRY_MILLIS, () -> unfreeze(why));
          }
        });
  }

  // ---------------------------------------------------------------------------------------------

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

  private boolean finished;

  private Outcome outcome;

  /** Whether it has ended (merged or not). */
  public boolean finished() {
    return finished;
  }

  /** How it ended, or null while it runs. */
  public Outcome outcome() {
    return outcome;
  }

  private void finish(RangeDescriptor merged, String reason) {
    if (!finished) {
      finished = true;
      outcome = new Outcome(merged, reason);
      done.accept(outcome);
    }
  }

  private static String message(KvResponse r) {
    return r.hasError() ? r.getError().toString().replace('\n', ' ') : "ok";
  }
}
