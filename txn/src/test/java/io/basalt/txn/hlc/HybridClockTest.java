package io.basalt.txn.hlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.mvcc.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class HybridClockTest {
  private static final long MAX_OFFSET = 500_000_000L;
  private final AtomicLong physical = new AtomicLong(1_000_000_000_000L);
  private final HybridClock clock = new HybridClock(physical::get, MAX_OFFSET);

  @Test
  void readingFollowsThePhysicalClockWhenItAdvances() {
    Timestamp first = clock.now();
    physical.addAndGet(1000);
    assertThat(clock.now()).isEqualTo(new Timestamp(first.wallNanos() + 1000, 0));
  }

  @Test
  void readingsWithinOneWallValueAreOrderedByTheLogicalComponent() {
    Timestamp a = clock.now();
    Timestamp b = clock.now();
    assertThat(b).isEqualTo(new Timestamp(a.wallNanos(), a.logical() + 1));
  }

  @Test
  void readingsNeverGoBackwardsWhenThePhysicalClockDoes() {
    Timestamp before = clock.now();
    physical.addAndGet(-10_000_000_000L);
    Timestamp after = clock.now();
    assertThat(after).isGreaterThan(before);
    assertThat(after.wallNanos()).isEqualTo(before.wallNanos());
  }

  @Test
  void updateMovesPastARemoteTimestampAhead() {
    Timestamp remote = new Timestamp(physical.get() + 100_000_000L, 7);
    clock.update(remote);
    assertThat(clock.now()).isGreaterThan(remote);
  }

  @Test
  void remoteTimestampBeyondTheMaximumOffsetIsRefusedAndLeavesTheClockAlone() {
    Timestamp before = clock.now();
    Timestamp remote = new Timestamp(physical.get() + MAX_OFFSET + 1, 0);
    assertThatThrownBy(() -> clock.update(remote))
        .isInstanceOf(ClockOffsetException.class)
        .hasMessageContaining("maximum offset is 500 ms");
    assertThat(clock.now()).isEqualTo(new Timestamp(before.wallNanos(), before.logical() + 1));
  }

  @Test
  void remoteTimestampBehindDoesNotMoveTheWallBack() {
    Timestamp now = clock.now();
    Timestamp after = clock.update(new Timestamp(now.wallNanos() - 5_000, 3));
    assertThat(after).isGreaterThan(now);
  }

  record Step(boolean receive, long physicalDelta, long remoteSkew, int remoteLogical) {}

  @Provide
  Arbitrary<List<Step>> steps() {
    return net.jqwik.api.Combinators.combine(
            Arbitraries.of(true, false),
            Arbitraries.longs().between(-2_000_000_000L, 2_000_000_000L),
            Arbitraries.longs().between(-1_000_000_000L, 1_000_000_000L),
            Arbitraries.integers().between(0, 5))
        .as(Step::new)
        .list()
        .ofMaxSize(60);
  }

  /**
   * Whatever the physical clock does (including jumps backwards), readings strictly increase, and
   * every reading after an accepted update is above the remote timestamp.
   */
  @Property(tries = 500)
  void readingsAreMonotonicAndAboveEveryAcceptedRemote(@ForAll("steps") List<Step> steps) {
    AtomicLong pt = new AtomicLong(5_000_000_000_000L);
    HybridClock hlc = new HybridClock(pt::get, MAX_OFFSET);
    Timestamp last = Timestamp.MIN;
    Timestamp highestRemote = Timestamp.MIN;
    List<Timestamp> readings = new ArrayList<>();
    for (Step step : steps) {
      pt.addAndGet(step.physicalDelta());
      Timestamp reading;
      if (step.receive()) {
        Timestamp remote = new Timestamp(pt.get() + step.remoteSkew(), step.remoteLogical());
        try {
          reading = hlc.update(remote);
          assertThat(reading).isGreaterThan(remote);
          if (remote.compareTo(highestRemote) > 0) {
            highestRemote = remote;
          }
        } catch (ClockOffsetException e) {
          assertThat(step.remoteSkew()).isGreaterThan(MAX_OFFSET);
          continue;
        }
      } else {
        reading = hlc.now();
      }
      assertThat(reading).isGreaterThan(last).isGreaterThan(highestRemote);
      last = reading;
      readings.add(reading);
    }
  }
}
