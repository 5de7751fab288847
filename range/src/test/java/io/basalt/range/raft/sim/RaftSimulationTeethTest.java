package io.basalt.range.raft.sim;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.raft.Config.BuggyBehavior;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The simulator has teeth: each deliberately broken variant of the core (a test-only switch in
 * {@code Config}) fails the simulation at a recorded seed, while the correct core passes the same
 * seed. The seeds are the first that caught each variant in a search, the first even one (Readies
 * advanced in one step) and the first odd one (asynchronous persistence), among seeds 1..3,000:
 *
 * <pre>
 * bin/test -pl range -am -Dtest=RaftSimulationTest -Dbasalt.sim.seeds=10000 -Dbasalt.sim.bugs=VARIANT
 * </pre>
 */
class RaftSimulationTeethTest {
  @ParameterizedTest(name = "{0} is caught at seed {1}")
  @CsvSource({
    "VOTE_WITHOUT_LOG_CHECK, 8, Leader Completeness",
    "VOTE_WITHOUT_LOG_CHECK, 7, Leader Completeness",
    "COMMIT_PREVIOUS_TERM_BY_COUNTING, 904, Leader Completeness",
    "COMMIT_PREVIOUS_TERM_BY_COUNTING, 983, Leader Completeness",
    "LEASE_WITHOUT_CHECK_QUORUM, 78, two valid leases",
    "LEASE_WITHOUT_CHECK_QUORUM, 1775, two valid leases"
  })
  void brokenVariantFailsTheSimulation(BuggyBehavior bug, long seed, String violation) {
    assertThatCode(() -> RaftSimulationTest.runSeed(seed, Set.of())).doesNotThrowAnyException();
    assertThatThrownBy(() -> RaftSimulationTest.runSeed(seed, Set.of(bug)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("seed " + seed)
        .hasMessageContaining(violation)
        .hasMessageContaining("-Dbasalt.sim.bugs=" + bug.name());
  }
}
