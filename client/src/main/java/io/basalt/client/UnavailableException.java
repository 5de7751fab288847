package io.basalt.client;

/**
 * A node could not be reached or could not serve: the connection failed or broke, the range had no
 * quorum, or the node is not initialized or not serving (for example because its clock is too far
 * from the cluster's). The client retries these with backoff; this exception is seen as the cause
 * of a {@link DeadlineExceededException} or {@link AmbiguousResultException}.
 */
public final class UnavailableException extends BasaltException {
  private static final long serialVersionUID = 1L;

  UnavailableException(String message) {
    super(message);
  }

  UnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  UnavailableException(String message, String code) {
    super(message, code, null);
  }
}
