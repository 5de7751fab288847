package io.basalt.txn.hlc;

import static io.basalt.range.prop.PropertyRunner.forAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.prop.Gen;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
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

  /**
   * One step of a clock's life: the physical clock moves by {@code physicalDelta} (backwards too),
   * then the clock either takes a reading or receives a timestamp {@code remoteSkew} from the
   * physical clock (clamped at 0) with logical component {@code remoteLogical}.
   */
  record Step(boolean receive, long physicalDelta, long remoteSkew, int remoteLogical) {}

  /** A history: where the physical clock starts, then up to 60 steps. */
  record History(long startNanos, List<Step> steps) {}

  /**
   * Histories that start at 0, at the edge of the time line (wall readings near {@code
   * Long.MAX_VALUE}, with enough headroom that 60 steps cannot overflow the physical clock), or
   * anywhere between; remote timestamps at exactly the maximum offset and one past it, and remote
   * logical components of 0 and of the counter maximum (which forces the clock to carry into the
   * wall component) are common.
   */
  private static final Gen<Step> STEPS =
      random ->
          new Step(
              random.nextBoolean(),
              Gen.longs(-2_000_000_000L, 2_000_000_000L).next(random),
              Gen.frequency(
                      1,
                      Gen.oneOf(MAX_OFFSET, MAX_OFFSET + 1, MAX_OFFSET - 1, 0L),
                      4,
                      Gen.longs(-1_000_000_000L, 1_000_000_000L))
                  .next(random),
              Gen.frequency(1, Gen.ints(0, 5), 1, Gen.ints(0, Integer.MAX_VALUE)).next(random));

  private static final Gen<History> HISTORIES =
      random ->
          new History(
              Gen.longs(0, Long.MAX_VALUE - (1L << 40)).next(random),
              STEPS.list(0, 60).next(random));

  /**
   * Whatever the physical clock does (including jumps backwards), readings strictly increase, every
   * reading after an accepted update is above the remote timestamp, and an update is refused
   * exactly when the remote timestamp is more than the maximum offset ahead of the physical clock.
   */
  @Test
  void readingsAreMonotonicAndAboveEveryAcceptedRemote() {
    forAll(500, HISTORIES, HybridClockTest::checkHistory);
  }

  private static void checkHistory(History history) {
    AtomicLong pt = new AtomicLong(history.startNanos());
    HybridClock hlc = new HybridClock(pt::get, MAX_OFFSET);
    Timestamp last = Timestamp.MIN;
    Timestamp highestRemote = Timestamp.MIN;
    for (int i = 0; i < history.steps().size(); i++) {
      Step step = history.steps().get(i);
      String at = "step " + i + " " + step;
      pt.set(Math.max(0, pt.get() + step.physicalDelta()));
      Timestamp reading;
      if (step.receive()) {
        Timestamp remote =
            new Timestamp(Math.max(0, pt.get() + step.remoteSkew()), step.remoteLogical());
        long skew = remote.wallNanos() - pt.get();
        try {
          reading = hlc.update(remote);
        } catch (ClockOffsetException e) {
          assertThat(skew).as("refused at " + at).isGreaterThan(MAX_OFFSET);
          continue;
        }
        assertThat(skew).as("accepted at " + at).isLessThanOrEqualTo(MAX_OFFSET);
        assertThat(reading).as("update at " + at).isGreaterThan(remote);
        if (remote.compareTo(highestRemote) > 0) {
          highestRemote = remote;
        }
      } else {
        reading = hlc.now();
      }
      assertThat(reading).as("reading at " + at).isGreaterThan(last).isGreaterThan(highestRemote);
      last = reading;
    }
  }
}
