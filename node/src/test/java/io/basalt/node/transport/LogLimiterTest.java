package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LogLimiterTest {
  @Test
  void atMostTheLimitPerWindowAndTheNextLineCountsWhatWasLeftOut() {
    AtomicLong now = new AtomicLong(1_000);
    LogLimiter limiter = new LogLimiter(3, 100, now::get);
    assertThat(limiter.admit("a")).isZero();
    assertThat(limiter.admit("a")).isZero();
    assertThat(limiter.admit("a")).isZero();
    // A flood within the window: left out, counted.
    for (int i = 0; i < 1000; i++) {
      assertThat(limiter.admit("a")).isEqualTo(LogLimiter.SUPPRESS);
    }
    // Another kind is not hidden by the flood.
    assertThat(limiter.admit("b")).isZero();
    now.addAndGet(99);
    assertThat(limiter.admit("a")).as("still the same window").isEqualTo(LogLimiter.SUPPRESS);
    now.addAndGet(1);
    assertThat(limiter.admit("a"))
        .as("a new window: the first line counts those left out")
        .isEqualTo(1001);
    assertThat(limiter.admit("a")).isZero();
  }

  @Test
  void kindsBeyondTheLimitShareOneCount() {
    LogLimiter limiter = new LogLimiter(1, 100, () -> 0);
    for (int k = 0; k < LogLimiter.MAX_KINDS; k++) {
      assertThat(limiter.admit("kind " + k)).isZero();
    }
    assertThat(limiter.admit("one more")).isZero();
    assertThat(limiter.admit("and another")).isEqualTo(LogLimiter.SUPPRESS);
    assertThat(limiter.admit("kind 0"))
        .as("a kind told apart keeps its own count")
        .isEqualTo(LogLimiter.SUPPRESS);
  }
}
