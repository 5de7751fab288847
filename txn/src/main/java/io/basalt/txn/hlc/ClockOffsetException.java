package io.basalt.txn.hlc;

/** A remote clock is further from ours than the configured maximum offset allows. */
public final class ClockOffsetException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ClockOffsetException(String message) {
    super(message);
  }
}
