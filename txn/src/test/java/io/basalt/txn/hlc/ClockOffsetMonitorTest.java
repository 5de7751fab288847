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
}
