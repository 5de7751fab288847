package io.basalt.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.ResponseHeader;
import io.basalt.api.Timestamp;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The client's estimate of the cluster's clock, on a fake ticker. */
class ClusterClockTest {
  private final FakeTicker ticker = new FakeTicker();
  private final ClusterClock clock = new ClusterClock(ticker);

  private static Timestamp ts(long wall, int logical) {
    return Timestamp.newBuilder().setWallNanos(wall).setLogical(logical).build();
  }

  private static ResponseHeader header(Timestamp hlc, long physical) {
    return ResponseHeader.newBuilder().setTimestamp(hlc).setPhysicalNanos(physical).build();
  }

  @Test
  void noEstimateBeforeAReading() {
    assertThat(clock.estimate()).isNull();
    clock.observe(ResponseHeader.getDefaultInstance());
    assertThat(clock.estimate()).isNull();
  }

  @Test
  void thePhysicalReadingIsAdvancedByTheTimeSince() {
    clock.observe(header(ts(1_000, 3), 1_000));
    assertThat(clock.estimate()).isEqualTo(ts(1_000, 3));
    ticker.advance(Duration.ofNanos(50));
    assertThat(clock.estimate()).isEqualTo(ts(1_050, 0));
    clock.observe(header(ts(1_020, 0), 1_020)); // behind the estimate: changes nothing
    assertThat(clock.estimate()).isEqualTo(ts(1_050, 0));
    clock.observe(header(ts(2_000, 0), 2_000));
    ticker.advance(Duration.ofNanos(10));
    assertThat(clock.estimate()).isEqualTo(ts(2_010, 0));
  }

  /**
   * CI's benchmark saw it: a node's HLC 500 ms ahead of its physical clock (it had applied writes
   * made in the first max offset after an election), advanced by the time elapsed, kept the
   * estimate 500 ms ahead for good, and every transaction that read nothing waited 500 ms for its
   * leaders' clocks to pass its writes.
   */
  @Test
  void anHlcReadingAheadOfThePhysicalClockIsNotAdvancedAndIsOvertaken() {
    clock.observe(header(ts(1_500, 2), 1_000));
    assertThat(clock.estimate()).as("never below a reading seen").isEqualTo(ts(1_500, 2));
    ticker.advance(Duration.ofNanos(300));
    assertThat(clock.estimate()).as("the HLC reading stays put").isEqualTo(ts(1_500, 2));
    ticker.advance(Duration.ofNanos(300));
    assertThat(clock.estimate()).as("the physical clock overtakes it").isEqualTo(ts(1_600, 0));
  }

  @Test
  void aNodeThatSendsNoPhysicalReadingHasItsHlcReadingTakenForOne() {
    clock.observe(ResponseHeader.newBuilder().setTimestamp(ts(1_000, 0)).build());
    ticker.advance(Duration.ofNanos(10));
    assertThat(clock.estimate()).isEqualTo(ts(1_010, 0));
  }
}
