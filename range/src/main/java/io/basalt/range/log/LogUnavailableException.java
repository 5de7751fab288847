package io.basalt.range.log;

/** The requested log index lies after the last stored entry. */
public final class LogUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LogUnavailableException(long rangeId, long index, long lastIndex) {
    super("range " + rangeId + " log index " + index + " is after the last index " + lastIndex);
  }
}
