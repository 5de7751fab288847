package io.basalt.client;

/**
 * A hybrid logical clock timestamp, as nodes order versions: wall time in nanoseconds since the
 * Unix epoch, then a logical counter.
 */
public record HlcTimestamp(long wallNanos, int logical) {
  static HlcTimestamp of(io.basalt.api.Timestamp ts) {
    return new HlcTimestamp(ts.getWallNanos(), ts.getLogical());
  }

  @Override
  public String toString() {
    return wallNanos + "," + logical;
  }
}
