package io.basalt.range.mvcc;

/**
 * A hybrid logical clock reading (DESIGN.md decision 5): wall time in nanoseconds since the Unix
 * epoch, and a logical counter that orders events within one wall reading. Ordered by wall time,
 * then logical.
 */
public record Timestamp(long wallNanos, int logical) implements Comparable<Timestamp> {
  public static final Timestamp MIN = new Timestamp(0, 0);
  public static final Timestamp MAX = new Timestamp(Long.MAX_VALUE, Integer.MAX_VALUE);

  public Timestamp {
    if (wallNanos < 0) {
      throw new IllegalArgumentException("wallNanos must not be negative, got " + wallNanos);
    }
    if (logical < 0) {
      throw new IllegalArgumentException("logical must not be negative, got " + logical);
    }
  }

  @Override
  public int compareTo(Timestamp other) {
    int byWall = Long.compare(wallNanos, other.wallNanos);
    return byWall != 0 ? byWall : Integer.compare(logical, other.logical);
  }

  public boolean isAfter(Timestamp other) {
    return compareTo(other) > 0;
  }

  public boolean atOrBefore(Timestamp other) {
    return compareTo(other) <= 0;
  }

  /** The smallest timestamp after this one. */
  public Timestamp next() {
    return logical == Integer.MAX_VALUE
        ? new Timestamp(wallNanos + 1, 0)
        : new Timestamp(wallNanos, logical + 1);
  }

  /** The wire form of this timestamp. */
  public io.basalt.api.Timestamp toProto() {
    return io.basalt.api.Timestamp.newBuilder().setWallNanos(wallNanos).setLogical(logical).build();
  }

  /**
   * A timestamp from its wire form.
   *
   * @throws IllegalArgumentException if its wall time or logical counter is negative
   */
  public static Timestamp fromProto(io.basalt.api.Timestamp ts) {
    return new Timestamp(ts.getWallNanos(), ts.getLogical());
  }

  @Override
  public String toString() {
    return wallNanos + "," + logical;
  }
}
