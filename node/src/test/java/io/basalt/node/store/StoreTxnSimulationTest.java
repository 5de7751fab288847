package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The whole-cluster simulation with transactions ({@link TxnSimWorkload}): the client's real
 * coordinator runs bank and list-append transactions, and plain gets and compare-and-sets on the
 * same keys, beside the register clients, under every fault of {@link StoreSimulation}, clock
 * offsets up to 0.9x the max offset and clients that die in the middle of a commit. Every check of
 * {@link StoreSimulation#runAndCheck} must pass in every seed.
 *
 * <p>{@code -Dbasalt.storesim.txnseeds=N} (or {@code -Dbasalt.storesim.seeds=N}, which sets the
 * register simulation's count too) runs seeds 1..N (default 500); {@code
 * -Dbasalt.storesim.txnseed=S} runs one seed. Replay a failure with {@code bin/test -pl node -am
 * -Dtest=StoreTxnSimulationTest -Dsurefire.failIfNoSpecifiedTests=false
 * -Dbasalt.storesim.txnseed=S}.
 */
class StoreTxnSimulationTest {

  @Test
  void transactionsStaySerializableUnderFaults() {
    String one = System.getProperty("basalt.storesim.txnseed");
    long first = 1;
    long last =
        Long.getLong("basalt.storesim.txnseeds", Long.getLong("basalt.storesim.seeds", 500));
    if (one != null) {
      first = Long.parseLong(one);
      last = first;
    }
    long committed = 0;
    long failed = 0;
    long unknown = 0;
    long deaths = 0;
    long ops = 0;
    for (long seed = first; seed <= last; seed++) {
      StoreSimulation sim = new StoreSimulation(seed, Set.of(), true);
      Map<String, String> failures = sim.runAndCheck();
      assertThat(failures)
          .as(
              "seed %d: checks failed (%s)\n%s\nreplay: bin/test -pl node -am"
                  + " -Dtest=StoreTxnSimulationTest -Dsurefire.failIfNoSpecifiedTests=false"
                  + " -Dbasalt.storesim.txnseed=%d",
              seed, failures.keySet(), failures, seed)
          .isEmpty();
      committed += sim.txns.committed;
      failed += sim.txns.failed;
      unknown += sim.txns.unknown;
      deaths += sim.txns.deaths;
      ops += sim.stats.opsOk;
    }
    System.out.printf(
        "store transaction simulation seeds %d..%d: transactions committed=%d failed=%d"
            + " unknown=%d, coordinators killed mid-commit=%d, register operations=%d%n",
        first, last, committed, failed, unknown, deaths, ops);
    if (last - first >= 49) {
      // (Over a run of seeds, not a single replayed one.)
      assertThat(committed).as("transactions committed").isPositive();
      assertThat(deaths).as("coordinators killed mid-commit").isPositive();
    }
  }

  /** A seed replays exactly: the clients' virtual threads run in the simulation's own order. */
  @Test
  void aSeedReplaysExactly() {
    StoreSimulation a = new StoreSimulation(7, Set.of(), true);
    StoreSimulation b = new StoreSimulation(7, Set.of(), true);
    assertThat(a.runAndCheck()).isEmpty();
    assertThat(b.runAndCheck()).isEmpty();
    assertThat(b.stats.toString()).isEqualTo(a.stats.toString());
    assertThat(b.txns.history).isEqualTo(a.txns.history);
    assertThat(b.txns.committed).isEqualTo(a.txns.committed).isPositive();
  }
}
