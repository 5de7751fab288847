package io.basalt.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private final Backoff backoff = new Backoff(10_000_000, 1_000_000_000);

  @Test
  void theCeilingDoublesPerRetryUpToTheMaximum() {
    assertThat(backoff.delayNanos(0, 0.999999)).isEqualTo(9_999_995);
    assertThat(backoff.delayNanos(1, 0.999999)).isEqualTo(19_999_990);
    assertThat(backoff.delayNanos(6, 0.999999)).isEqualTo(639_999_680);
    assertThat(backoff.delayNanos(7, 0.999999)).isEqualTo(999_999_500);
    assertThat(backoff.delayNanos(1_000, 0.999999)).isEqualTo(999_999_500);
  }

  @Test
  void halfOfEachDelayIsJitter() {
    long seed = 42;
    SplittableRandom random = new SplittableRandom(seed);
    for (int retry = 0; retry < 40; retry++) {
      long ceiling = Math.min(1_000_000_000L, 10_000_000L << Math.min(retry, 20));
      long delay = backoff.delayNanos(retry, random.nextDouble());
      assertThat(delay).as("retry %d, seed %d", retry, seed).isBetween(ceiling / 2, ceiling);
    }
    assertThat(backoff.delayNanos(3, 0.0)).isEqualTo(40_000_000);
  }

  @Test
  void whileALeaderIsElectedWaitsStopGrowingAtThePollInterval() {
    long poll = 200_000_000;
    SplittableRandom random = new SplittableRandom(7);
    for (int retry = 0; retry < 40; retry++) {
      double r = random.nextDouble();
      long plain = backoff.delayNanos(retry, r);
      long electing = backoff.delayWhileElectingNanos(retry, r, poll);
      assertThat(electing)
          .as("retry %d", retry)
          .isLessThanOrEqualTo(poll)
          .isLessThanOrEqualTo(plain);
      if (retry < 4) {
        assertThat(electing).as("below the poll interval the backoff is the same").isEqualTo(plain);
      }
    }
    // The control: the plain backoff grows far beyond it.
    assertThat(backoff.delayNanos(7, 0.5)).isGreaterThan(3 * poll);
  }

  @Test
  void aBackoffThatNeverReachesThePollIntervalIsUnchanged() {
    Backoff small = new Backoff(5_000_000, 200_000_000);
    for (int retry = 0; retry < 20; retry++) {
      assertThat(small.delayWhileElectingNanos(retry, 0.9, 200_000_000))
          .isEqualTo(small.delayNanos(retry, 0.9));
    }
  }

  @Test
  void rejectsAMaximumBelowTheInitialDelay() {
    assertThatThrownBy(() -> new Backoff(10, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("max backoff 5ns must not be below the initial 10ns");
  }
}
