package io.basalt.client;

/**
 * The base of every exception the client throws for a failed request (unchecked). A plain {@code
 * BasaltException} is an error the client cannot recover from by retrying, such as an error code it
 * does not know ({@link #code()}); the subclasses name the cases a caller may want to handle.
 *
 * <p>A write that fails with anything but an {@link AmbiguousResultException} was certainly not
 * applied; an error that leaves a write's outcome unknown (an unknown error code among them) is
 * always reported as an {@code AmbiguousResultException}, with the error as its cause.
 *
 * <p>Bad input (an invalid key, a batch that spans ranges) is not a {@code BasaltException}: it is
 * rejected with an {@link IllegalArgumentException} before anything is sent.
 */
public class BasaltException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String code;

  BasaltException(String message) {
    this(message, null, null);
  }

  BasaltException(String message, Throwable cause) {
    this(message, null, cause);
  }

  BasaltException(String message, String code, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /**
   * The server's machine-readable error code (such as {@code "INVALID_ARGUMENT"}) when the error
   * came from a node as a generic error, or null.
   */
  public String code() {
    return code;
  }
}
