package io.basalt.range.log;

/** The requested log index lies in the compacted prefix; a snapshot is needed instead. */
public final class LogCompactedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LogCompactedException(long rangeId, long index, long firstIndex) {
    super(
        "range "
            + rangeId
            + " log index "
            + index
            + " is compacted (first index "
            + firstIndex
            + ")");
  }
}
