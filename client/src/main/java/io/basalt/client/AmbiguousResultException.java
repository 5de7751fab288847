package io.basalt.client;

/**
 * A write may or may not have been applied. At least one attempt of the call may have taken effect
 * and no later attempt succeeded: an attempt was sent and the connection broke before its answer,
 * or no answer came within the attempt timeout or the deadline, or the node answered Timeout, an
 * error code this client does not know (such as {@code INTERNAL}, which a node answers when it
 * cannot read the result it recorded for the write), or an answer this client cannot interpret; or
 * the client was closed, or the thread waiting in {@link BasaltClient} was interrupted, while an
 * attempt was under way. Once that happened, the call ends in this exception whatever its later
 * attempts were told, even a refusal that proves they were not applied (NotLeader, {@code
 * INVALID_ARGUMENT}, …), since such a refusal says nothing of the earlier attempt.
 *
 * <p>Every attempt carried the same request id, so the write was applied at most once. The caller
 * must read to learn the outcome, or retry the write knowing it may apply twice if the retry is a
 * new call.
 *
 * <p>The cause is the failure that ended the call (the last one the client retried, when the
 * deadline ended it), not necessarily the one that made the outcome unknown.
 */
public final class AmbiguousResultException extends BasaltException {
  private static final long serialVersionUID = 1L;

  AmbiguousResultException(String message, Throwable lastFailure) {
    super(message, lastFailure);
  }
}
