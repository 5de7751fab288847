package io.basalt.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.ResponseHeader;
import io.basalt.api.Timestamp;
import org.junit.jupiter.api.Test;

/** The client's estimate of the cluster's clock, on a fake ticker. */
class ClusterClockTest {
  private final FakeTicker ticker = new FakeTicker();
  private final ClusterClock clock = new ClusterClock(ticker);

  private static Timestamp ts(long wall, int logical) {
    return Timestamp.newBuilder().setWallNanos(wall).setLogical(logical).build();
  }

  @Test
  void noEstimateBeforeAReading() {
    assertThat(clock.estimate()).isNull();
    clock.observe(ResponseHeader.getDefaultInstance());
    assertThat(clock.estimate()).isNull();
  }

  @Test
  void theEstimateIsTheHighestReadingAdvancedByTheTimeSince() {
    clock.observe(ts(1_000, 3));
    assertThat(clock.estimate()).isEqualTo(ts(1_000, 3));
    ticker.advance(java.time.Duration.ofNanos(50));
    assertThat(clock.estimate()).isEqualTo(ts(1_050, 0));
    clock.observe(ts(1_020, 0)); // behind the estimate: changes nothing
    assertThat(clock.estimate()).isEqualTo(ts(1_050, 0));
    clock.observe(ResponseHeader.newBuilder().setTimestamp(ts(2_000, 0)).build());
    ticker.advance(java.time.Duration.ofNanos(10));
    assertThat(clock.estimate()).isEqualTo(ts(2_010, 0));
  }
}
