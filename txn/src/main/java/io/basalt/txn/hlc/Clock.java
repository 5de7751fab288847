package io.basalt.txn.hlc;

/**
 * A physical wall clock, in nanoseconds since the Unix epoch. Injected everywhere time is read
 * (DESIGN.md decision 1): the system clock in production, a controllable clock in tests and the
 * simulator (offsets, drift, jumps).
 */
@FunctionalInterface
public interface Clock {
  long wallNanos();

  /** The system's wall clock, at the best resolution the JDK offers. */
  static Clock system() {
    return () -> {
      java.time.Instant now = java.time.Instant.now();
      return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    };
  }
}
