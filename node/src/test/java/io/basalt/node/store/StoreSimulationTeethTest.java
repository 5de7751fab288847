package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.check.LinearizabilityChecker;
import io.basalt.range.check.RegisterModel;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole-cluster simulation has teeth: each deliberate {@link Store.Bug} makes some seed fail
 * its checks. The test searches seeds 1..200 and reports the first that catches the bug.
 */
class StoreSimulationTeethTest {

  @ParameterizedTest
  @EnumSource(
      value = Store.Bug.class,
      // The simulated clients never reuse a request id for other keys, and a retry's own latches
      // keep it from being proposed while its first copy is in flight: FirstInLogTest has the
      // probe for this one.
      names = "FIRST_IN_LOG_DESPITE_PROPOSAL_IN_FLIGHT",
      mode = EnumSource.Mode.EXCLUDE)
  void simulationCatchesDeliberateBug(Store.Bug bug) {
    for (long seed = 1; seed <= 200; seed++) {
      if (fails(seed, bug)) {
        System.out.println(bug + " caught by seed " + seed);
        return;
      }
    }
    assertThat(false).as("no seed in 1..200 caught %s", bug).isTrue();
  }

  private static boolean fails(long seed, Store.Bug bug) {
    StoreSimulation sim = new StoreSimulation(seed, Set.of(bug));
    try {
      sim.run(8_000, 6);
    } catch (RuntimeException | AssertionError e) {
      return true;
    }
    return !new LinearizabilityChecker().check(new RegisterModel(), sim.history).linearizable()
        || !sim.divergence().isEmpty()
        || !sim.unwritableKeysAfterHeal().isEmpty()
        || sim.unansweredRequests() > 0;
  }
}
