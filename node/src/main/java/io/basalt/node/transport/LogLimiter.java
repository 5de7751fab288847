package io.basalt.node.transport;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * At most {@code limit} log lines of one kind per window: a flood of bad connections (a scanner, a
 * misconfigured client retrying) cannot fill the disk or drown the lines that matter, and one kind
 * of flood never hides another kind. The lines left out are counted, and the next line of that kind
 * logged says how many. At most {@value #MAX_KINDS} kinds are told apart; beyond them all share one
 * count.
 */
final class LogLimiter {
  /** What {@link #admit} answers when the line is to be left out. */
  static final long SUPPRESS = -1;

  static final int MAX_KINDS = 64;

  private final int limit;
  private final long windowNanos;
  private final LongSupplier nanoTime;
  private final Map<String, Window> windows = new HashMap<>();

  private static final class Window {
    long start;
    int logged;
    long suppressed;
  }

  LogLimiter(int limit, long windowNanos, LongSupplier nanoTime) {
    this.limit = limit;
    this.windowNanos = windowNanos;
    this.nanoTime = nanoTime;
  }

  /**
   * Whether to log a line of {@code kind} now: {@link #SUPPRESS} to leave it out, otherwise how
   * many lines of that kind were left out since the last one logged (to say so in this one).
   */
  synchronized long admit(String kind) {
    long now = nanoTime.getAsLong();
    String key = windows.containsKey(kind) || windows.size() < MAX_KINDS ? kind : "";
    Window w =
        windows.computeIfAbsent(
            key,
            k -> {
              Window fresh = new Window();
              fresh.start = now;
              return fresh;
            });
    if (now - w.start >= windowNanos) {
      w.start = now;
      w.logged = 0;
    }
    if (w.logged >= limit) {
      w.suppressed++;
      return SUPPRESS;
    }
    w.logged++;
    long before = w.suppressed;
    w.suppressed = 0;
    return before;
  }
}
