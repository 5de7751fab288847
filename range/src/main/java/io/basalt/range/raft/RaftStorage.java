package io.basalt.range.raft;

import java.util.List;

/**
 * A read-only view of a replica's stable storage: what has been persisted from earlier {@link
 * Ready}s (the etcd/raft {@code Storage} contract). The application writes storage; the core only
 * reads it. The log in storage is contiguous from {@link #firstIndex()} to {@link #lastIndex()};
 * everything before the first index has been compacted into {@link #snapshot()}, whose index is
 * {@code firstIndex() - 1}.
 *
 * <p>Errors: reading compacted entries throws {@link LogCompactedException}; reading beyond the
 * last index throws {@link LogUnavailableException}. Any other failure (an I/O error, a checksum
 * mismatch) must be thrown as an unchecked exception and is fatal for the replica (DESIGN.md
 * decision 10): the core does not catch it.
 */
public interface RaftStorage {

  /**
   * The persisted hard state, and the configuration of the group as of the snapshot index (the
   * point a restarted replica resumes applying from).
   */
  record InitialState(HardState hardState, ConfState confState) {}

  /** The state to restart from. */
  InitialState initialState();

  /**
   * The entries in {@code [lo, hi)}, stopping early once their total size exceeds {@code maxBytes},
   * but always returning at least one entry when {@code lo < hi}.
   *
   * @throws LogCompactedException if {@code lo < firstIndex()}
   * @throws LogUnavailableException if {@code hi > lastIndex() + 1}
   */
  List<Entry> entries(long lo, long hi, long maxBytes);

  /**
   * The term of the entry at {@code index}, for {@code firstIndex() - 1 <= index <= lastIndex()}
   * (the term at {@code firstIndex() - 1} is the snapshot's).
   *
   * @throws LogCompactedException if {@code index < firstIndex() - 1}
   * @throws LogUnavailableException if {@code index > lastIndex()}
   */
  long term(long index);

  /** The index of the first entry still in the log (the snapshot index plus one). */
  long firstIndex();

  /** The index of the last entry in the log (the snapshot index if the log is empty). */
  long lastIndex();

  /** The most recent snapshot. */
  Snapshot snapshot();

  /** The requested entries were compacted into a snapshot. */
  final class LogCompactedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LogCompactedException(long index, long firstIndex) {
      super("index " + index + " is compacted (first index is " + firstIndex + ")");
    }
  }

  /** The requested entries are beyond the end of the log. */
  final class LogUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LogUnavailableException(long index, long lastIndex) {
      super("index " + index + " is unavailable (last index is " + lastIndex + ")");
    }
  }
}
