package io.basalt.txn.hlc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClockOffsetMonitorTest {
  private static final long MS = 1_000_000L;
  private final ClockOffsetMonitor monitor = new ClockOffsetMonitor(500 * MS, 10_000 * MS);

  @Test
  void offsetIsEstimatedFromTheRoundTripMidpointWithHalfTheRoundTripAsError() {
    ClockOffsetMonitor.Measurement m = monitor.record(2, 1000 * MS, 1300 * MS, 1100 * MS);
    assertThat(m.offsetNanos()).isEqualTo(250 * MS);
    assertThat(m.errorNanos()).isEqualTo(50 * MS);
  }

  @Test
  void aNodeWithNoMeasurementsIsHealthy() {
    assertThat(monitor.healthy(0)).isTrue();
  }

  @Test
  void aNodeFarFromMostPeersIsUnhealthy() {
    monitor.record(2, 0, 900 * MS, 2 * MS);
    monitor.record(3, 0, 950 * MS, 2 * MS);
    assertThat(monitor.healthy(3 * MS)).isFalse();
  }

  @Test
  void oneSkewedPeerDoesNotMakeTheRestUnhealthy() {
    monitor.record(2, 0, 900 * MS, 2 * MS);
    monitor.record(3, 0, 10 * MS, 2 * MS);
    assertThat(monitor.healthy(3 * MS)).isTrue();
  }

  @Test
  void anOffsetThatIsOnlyPossiblyWithinTheBoundDoesNotCount() {
    // Estimate 450 ms, but the round trip was 200 ms: the offset may be 550 ms.
    monitor.record(2, 0, 550 * MS, 200 * MS);
    monitor.record(3, 0, 550 * MS, 200 * MS);
    assertThat(monitor.healthy(201 * MS)).isFalse();
  }

  @Test
  void staleMeasurementsAreIgnored() {
    monitor.record(2, 0, 900 * MS, 2 * MS);
    monitor.record(3, 0, 950 * MS, 2 * MS);
    assertThat(monitor.healthy(20_000 * MS)).isTrue();
    assertThat(monitor.measurements(20_000 * MS)).isEmpty();
  }

  @Test
  void aSlowRoundTripDoesNotReplaceAPreciseMeasurement() {
    // Precise: both peers within 10 ms. Then a 560 ms round trip (a pause) whose estimate says
    // -280 ms with an error of 280 ms: it might be 560 ms, but it proves nothing.
    monitor.record(2, 0, 10 * MS, 2 * MS);
    monitor.record(3, 0, 10 * MS, 2 * MS);
    ClockOffsetMonitor.Measurement slow = monitor.record(2, 1_000 * MS, 1_000 * MS, 1_560 * MS);
    assertThat(slow.within(500 * MS)).as("the slow measurement alone").isFalse();
    assertThat(monitor.measurements(1_600 * MS).get(2L).errorNanos())
        .as("the precise one stands")
        .isEqualTo(1 * MS);
    monitor.record(3, 1_000 * MS, 1_000 * MS, 1_560 * MS);
    assertThat(monitor.healthy(1_600 * MS)).isTrue();
  }

  @Test
  void aSlowRoundTripThatProvesTheOffsetBeyondTheBoundCounts() {
    // A 400 ms round trip (error 200 ms) with the peer 2 s ahead: beyond the bound however the
    // round trip fell.
    monitor.record(2, 0, 10 * MS, 2 * MS);
    monitor.record(3, 0, 10 * MS, 2 * MS);
    monitor.record(2, 1_000 * MS, 3_200 * MS, 1_400 * MS);
    monitor.record(3, 1_000 * MS, 3_200 * MS, 1_400 * MS);
    assertThat(monitor.healthy(1_500 * MS)).isFalse();
  }
}
