package io.basalt.client;

/**
 * Exponential backoff with jitter: the n-th wait (from 0) is drawn uniformly from {@code [c/2, c]}
 * where {@code c = min(max, initial * 2^n)}. Half the delay is jitter, so clients that failed
 * together do not retry together; the other half keeps the growth, so a struggling node sees fewer
 * retries over time. Pure: the caller supplies the random draw.
 */
record Backoff(long initialNanos, long maxNanos) {
  Backoff {
    if (initialNanos <= 0) {
      throw new IllegalArgumentException("initial backoff must be positive, got " + initialNanos);
    }
    if (maxNanos < initialNanos) {
      throw new IllegalArgumentException(
          "max backoff " + maxNanos + "ns must not be below the initial " + initialNanos + "ns");
    }
  }

  /**
   * The wait before retry number {@code retry} (0 for the first).
   *
   * @param random01 a uniform draw from {@code [0, 1)}
   */
  long delayNanos(int retry, double random01) {
    if (retry < 0) {
      throw new IllegalArgumentException("retry must not be negative, got " + retry);
    }
    long ceiling = maxNanos;
    if (retry < 62 && initialNanos <= (maxNanos >> retry)) {
      ceiling = Math.min(maxNanos, initialNanos << retry);
    }
    long half = ceiling / 2;
    return half + (long) (random01 * (ceiling - half));
  }

  /**
   * The wait before retry number {@code retry} while a leader is being elected: as {@link
   * #delayNanos}, but drawn from {@code [poll/2, poll]} once that would be shorter (the growth
   * stops at {@code pollNanos}). A backoff whose maximum is at most {@code pollNanos} is unchanged.
   */
  long delayWhileElectingNanos(int retry, double random01, long pollNanos) {
    long delay = delayNanos(retry, random01);
    if (maxNanos <= pollNanos) {
      return delay;
    }
    return Math.min(delay, pollNanos / 2 + (long) (random01 * (pollNanos - pollNanos / 2)));
  }
}
