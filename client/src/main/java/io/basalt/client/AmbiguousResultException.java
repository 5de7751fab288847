package io.basalt.client;

/**
 * A write may or may not have been applied: an attempt reached a node and its outcome was lost (the
 * connection broke, the node answered with a timeout, or no answer came before the deadline), and
 * no retry succeeded before the deadline. Retries carried the same request id, so the write was
 * applied at most once. The caller must read to learn the outcome, or retry the write knowing it
 * may apply twice if the retry is a new call.
 *
 * <p>The cause is the last failure seen.
 */
public final class AmbiguousResultException extends BasaltException {
  private static final long serialVersionUID = 1L;

  AmbiguousResultException(String message, Throwable lastFailure) {
    super(message, lastFailure);
  }
}
