package io.basalt.deploy;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition by polling it (every 100 ms), failing with what was awaited. */
final class Poll {
  private Poll() {}

  static void until(BooleanSupplier condition, String what, Duration limit, Supplier<String> why)
      throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      boolean ok;
      try {
        ok = condition.getAsBoolean();
      } catch (RuntimeException e) {
        ok = false;
      }
      if (ok) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within " + limit + ": " + what + "\n" + why.get());
      }
      Thread.sleep(100);
    }
  }
}
