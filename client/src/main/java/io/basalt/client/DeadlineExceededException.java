package io.basalt.client;

/**
 * The request did not complete within its deadline ({@link BasaltClient.Builder#callTimeout}), and
 * it certainly had no effect: it was a read, or a write that every node it reached refused before
 * applying it. The cause, when set, is the last failure the client retried (for example a {@link
 * NotLeaderException} or an {@link UnavailableException}).
 *
 * <p>A write that may have been applied ends in an {@link AmbiguousResultException} instead.
 */
public final class DeadlineExceededException extends BasaltException {
  private static final long serialVersionUID = 1L;

  DeadlineExceededException(String message, Throwable lastFailure) {
    super(message, lastFailure);
  }
}
