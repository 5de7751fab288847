package io.basalt.client;

/**
 * A replica refused a request because it is not its range's leader. The client follows such
 * redirects itself; this exception is seen only as the cause of a {@link DeadlineExceededException}
 * or {@link AmbiguousResultException} when the redirects did not settle before the deadline (for
 * example during a long election).
 */
public final class NotLeaderException extends BasaltException {
  private static final long serialVersionUID = 1L;

  private final long rangeId;
  private final long leaderHint;

  NotLeaderException(String message, long rangeId, long leaderHint) {
    super(message);
    this.rangeId = rangeId;
    this.leaderHint = leaderHint;
  }

  /** The range the request was for. */
  public long rangeId() {
    return rangeId;
  }

  /** The node the refusing replica believed to be the leader, or 0 if it knew none. */
  public long leaderHint() {
    return leaderHint;
  }
}
