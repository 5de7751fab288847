package io.basalt.range.raft;

/**
 * The state a replica must persist before it answers anyone (Raft §5.1, Figure 2 "persistent
 * state"): the current term, the candidate voted for in it, and the commit index (the last may lag,
 * it only saves re-replication after a restart).
 *
 * @param term the latest term this replica has seen
 * @param vote the replica voted for in {@code term}, or 0 for none
 * @param commit the highest log index known to be committed
 */
public record HardState(long term, long vote, long commit) {

  /** The state of a replica that has never run. */
  public static final HardState EMPTY = new HardState(0, 0, 0);

  public HardState {
    if (term < 0 || vote < 0 || commit < 0) {
      throw new IllegalArgumentException(
          "hard state fields must not be negative: term="
              + term
              + " vote="
              + vote
              + " commit="
              + commit);
    }
  }

  boolean isEmpty() {
    return equals(EMPTY);
  }
}
