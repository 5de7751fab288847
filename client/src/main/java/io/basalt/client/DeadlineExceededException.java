package io.basalt.client;

/**
 * The request did not complete within its deadline ({@link BasaltClient.Builder#callTimeout}), and
 * it certainly had no effect: it was a read, or a write every attempt of which ended in a way that
 * proves it was not applied (it could not be sent, or a node refused it before evaluating it:
 * NotLeader, RangeNotFound, KeyNotInRange, Unavailable, {@code NOT_INITIALIZED}, {@code
 * NOT_SERVING}). The cause, when set, is the last failure the client retried (for example a {@link
 * NotLeaderException} or an {@link UnavailableException}).
 *
 * <p>A write any attempt of which may have been applied (one sent and left unanswered, timed out,
 * or answered with anything else) ends in an {@link AmbiguousResultException} instead, even if
 * every later attempt was refused.
 */
public final class DeadlineExceededException extends BasaltException {
  private static final long serialVersionUID = 1L;

  DeadlineExceededException(String message, Throwable lastFailure) {
    super(message, lastFailure);
  }
}
