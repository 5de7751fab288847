package io.basalt.range.raft;

/**
 * The leader's view of one member's log (etcd/raft's Progress). {@code match} is the highest index
 * known to be replicated on the member; {@code next} is the next index to send.
 *
 * <ul>
 *   <li>PROBE: we do not know where the member's log diverges; send one append per heartbeat
 *       interval and back off on rejection.
 *   <li>REPLICATE: the member's log matches up to {@code match}; stream appends optimistically
 *       ({@code next} runs ahead of {@code match}), bounded by the in-flight window.
 *   <li>SNAPSHOT: the member needs entries we have compacted; a snapshot is on its way and no
 *       appends are sent until it is acknowledged or reported failed.
 * </ul>
 */
final class Progress {
  enum State {
    PROBE,
    REPLICATE,
    SNAPSHOT
  }

  long match;
  long next;
  State state = State.PROBE;
  long pendingSnapshot;

  /** Whether we heard from the member since the last CheckQuorum round. */
  boolean recentActive;

  /** In PROBE, an append was sent and we wait for its answer (or the next heartbeat response). */
  boolean probeSent;

  /**
   * Ticks spent in SNAPSHOT state (a lost snapshot whose failure nobody reported must not stall).
   */
  int snapshotTicks;

  /** The leader tick at which the newest heartbeat this member acknowledged was sent. */
  long leaseAckTick = -1;

  final Inflights inflights;
  boolean isLearner;

  Progress(long next, int maxInflight, long maxInflightBytes, boolean isLearner) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  void becomeProbe() {
    if (state == State.SNAPSHOT) {
      long pending = pendingSnapshot;
      resetState(State.PROBE);
      next = Math.max(match + 1, pending + 1);
    } else {
      resetState(State.PROBE);
      next = match + 1;
    }
  }

  void becomeReplicate() {
    resetState(State.REPLICATE);
    next = match + 1;
  }

  void becomeSnapshot(long snapshotIndex) {
    resetState(State.SNAPSHOT);
    pendingSnapshot = snapshotIndex;
    snapshotTicks = 0;
  }

  private void resetState(State s) {
    state = s;
    probeSent = false;
    pendingSnapshot = 0;
    inflights.reset();
  }

  /** Records an acknowledgement up to {@code index}; returns whether {@code match} advanced. */
  boolean maybeUpdate(long index) {
    boolean updated = false;
    if (match < index) {
      match = index;
      updated = true;
      probeSent = false;
    }
    next = Math.max(next, index + 1);
    return updated;
  }

  /**
   * Handles a rejection of the append whose preceding index was {@code rejected}, with the member's
   * hint {@code hint} of where to probe next. Returns false for stale rejections (of an append we
   * have since moved past), which must be ignored.
   */
  boolean maybeDecrTo(long rejected, long hint) {
    if (state == State.REPLICATE) {
      if (rejected <= match) {
        return false; // Stale: we already know the log matches beyond this point.
      }
      next = match + 1;
      return true;
    }
    if (next - 1 != rejected) {
      return false; // Stale: not the probe we are waiting for.
    }
    next = Math.max(Math.min(rejected, hint + 1), match + 1);
    probeSent = false;
    return true;
  }

  /** Whether sending appends to this member must wait. */
  boolean isPaused() {
    return switch (state) {
      case PROBE -> probeSent;
      case REPLICATE -> inflights.full();
      case SNAPSHOT -> true;
    };
  }

  /** Records that an append with {@code count} entries of {@code bytes} total was sent. */
  void sentEntries(int count, long bytes) {
    switch (state) {
      case REPLICATE -> {
        if (count > 0) {
          next += count;
          inflights.add(next - 1, bytes);
        }
      }
      case PROBE -> probeSent = true;
      case SNAPSHOT -> throw new IllegalStateException("sending entries in snapshot state");
    }
  }

  @Override
  public String toString() {
    return state + " match=" + match + " next=" + next + (isLearner ? " learner" : "");
  }
}
