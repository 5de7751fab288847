package io.basalt.client;

/**
 * A node refused the request as invalid (error code {@code INVALID_ARGUMENT}). Never retried: the
 * same request would be refused again. The request was not applied: a write an earlier attempt of
 * which may have been applied ends in an {@link AmbiguousResultException} with this as its cause
 * instead.
 */
public final class InvalidArgumentException extends BasaltException {
  private static final long serialVersionUID = 1L;

  InvalidArgumentException(String message) {
    super(message, "INVALID_ARGUMENT", null);
  }
}
