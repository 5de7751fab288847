package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.check.LinearizabilityChecker;
import io.basalt.range.check.RegisterModel;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The whole-cluster simulation of the node issue: clusters of 3 or 5 {@link Store}s with crashes,
 * partitions, pauses, message loss and duplication, and clients with retries, checked for per-key
 * linearizability, replica agreement and liveness after healing.
 *
 * <p>{@code -Dbasalt.storesim.seeds=N} runs seeds 1..N (default 200); {@code
 * -Dbasalt.storesim.seed=S} runs one seed. Replay a failure with {@code bin/test -pl node -am
 * -Dtest=StoreSimulationTest -Dsurefire.failIfNoSpecifiedTests=false -Dbasalt.storesim.seed=S}.
 */
class StoreSimulationTest {

  @Test
  void clustersOfStoresStayLinearizableUnderFaults() {
    String one = System.getProperty("basalt.storesim.seed");
    long first = 1;
    long last = Long.getLong("basalt.storesim.seeds", 200);
    if (one != null) {
      first = Long.parseLong(one);
      last = first;
    }
    StoreSimulation.Stats total = new StoreSimulation.Stats();
    for (long seed = first; seed <= last; seed++) {
      StoreSimulation.Stats s = runSeed(seed);
      total.events += s.events;
      total.opsOk += s.opsOk;
      total.opsFailed += s.opsFailed;
      total.writesFailed += s.writesFailed;
      total.opsUnknown += s.opsUnknown;
      total.retries += s.retries;
      total.crashes += s.crashes;
      total.crashesKeepingUnsynced += s.crashesKeepingUnsynced;
      total.partitions += s.partitions;
      total.lossyBursts += s.lossyBursts;
      total.lostProposalSchedules += s.lostProposalSchedules;
      total.pauses += s.pauses;
      total.messages += s.messages;
      total.dropped += s.dropped;
      total.snapshots += s.snapshots;
      total.snapshotsInstalled += s.snapshotsInstalled;
    }
    System.out.println("store simulation seeds " + first + ".." + last + ": " + total);
    assertThat(total.opsOk).as("operations completed").isPositive();
    assertThat(total.crashes + total.partitions + total.pauses).as("faults").isPositive();
    if (last - first >= 20) {
      assertThat(total.snapshotsInstalled).as("snapshots installed").isPositive();
      assertThat(total.crashesKeepingUnsynced)
          .as("crashes that kept part of the unsynced log")
          .isPositive();
    }
  }

  /**
   * The same clusters, faults and checks with replica changes during the faults ({@link
   * ReplicaChaos}): learners added on nodes without a replica and caught up by snapshot, promoted,
   * removed; voters removed; ranges split at workload keys while clients with requests in flight
   * still name the old range; some changes decided from a stale descriptor. After the heal the
   * ranges tile the key space, and every replica a range's descriptor names holds that descriptor
   * and the Raft configuration it describes. {@code -Dbasalt.storesim.changeSeeds=N} runs seeds
   * 1..N (default 500; from {@code -Dbasalt.storesim.changeFrom}, if given); {@code
   * -Dbasalt.storesim.changeSeed=S} one seed.
   */
  @Test
  void replicaChangesUnderFaultsKeepEverythingAbove() {
    String one = System.getProperty("basalt.storesim.changeSeed");
    long first = one != null ? Long.parseLong(one) : Long.getLong("basalt.storesim.changeFrom", 1);
    long last = one != null ? first : Long.getLong("basalt.storesim.changeSeeds", 500);
    long applied = 0;
    long refused = 0;
    long installed = 0;
    long splits = 0;
    long redirects = 0;
    long merges = 0;
    long abandoned = 0;
    for (long seed = first; seed <= last; seed++) {
      String replay =
          "replay: bin/test -pl node -am"
              + " -Dtest=StoreSimulationTest#replicaChangesUnderFaultsKeepEverythingAbove"
              + " -Dsurefire.failIfNoSpecifiedTests=false -Dbasalt.storesim.changeSeed="
              + seed;
      StoreSimulation sim = new StoreSimulation(seed).withReplicaChanges(seed);
      check(sim, seed, replay);
      assertThat(sim.configurationsDisagree())
          .as(
              "seed %d: replicas whose descriptor or configuration is not current\n%s",
              seed, replay)
          .isEmpty();
      applied += sim.chaos.applied;
      refused += sim.chaos.refused;
      installed += sim.stats.snapshotsInstalled;
      splits += sim.chaos.splitsApplied;
      redirects += sim.stats.redirects;
      merges += sim.chaos.mergesApplied;
      abandoned += sim.chaos.mergesAbandoned;
    }
    System.out.printf(
        "store simulation with replica changes, seeds %d..%d: changes applied=%d refused=%d,"
            + " splits=%d, merges=%d (abandoned %d), redirected requests=%d,"
            + " snapshots installed=%d%n",
        first, last, applied, refused, splits, merges, abandoned, redirects, installed);
    if (last - first >= 20) {
      assertThat(applied).as("replica changes applied").isGreaterThan(last - first);
      assertThat(refused).as("stale changes refused").isPositive();
      assertThat(splits).as("splits applied").isGreaterThan((last - first) / 4);
      assertThat(merges).as("merges applied").isGreaterThan((last - first) / 10);
      assertThat(redirects).as("requests redirected after splits").isPositive();
    }
  }

  /**
   * The same clusters and checks with election timeouts in rank order, as a node runs (the seeds
   * above, and the teeth, keep random timeouts: their schedules were chosen with them), with and
   * without the transaction workloads. {@code -Dbasalt.storesim.rankedSeeds=N} runs seeds 1..N
   * (default 60), {@code -Dbasalt.storesim.rankedSeed=S} one seed.
   */
  @Test
  void rankedElectionTimeoutsKeepEverythingAbove() {
    String one = System.getProperty("basalt.storesim.rankedSeed");
    long first = one != null ? Long.parseLong(one) : 1;
    long last = one != null ? first : Long.getLong("basalt.storesim.rankedSeeds", 60);
    long ops = 0;
    long committed = 0;
    for (long seed = first; seed <= last; seed++) {
      String replay =
          "replay: bin/test -pl node -am"
              + " -Dtest=StoreSimulationTest#rankedElectionTimeoutsKeepEverythingAbove"
              + " -Dsurefire.failIfNoSpecifiedTests=false -Dbasalt.storesim.rankedSeed="
              + seed;
      boolean txns = seed % 2 == 0;
      StoreSimulation sim = new StoreSimulation(seed, java.util.Set.of(), txns, true);
      Map<String, String> failed = sim.runAndCheck();
      assertThat(failed)
          .as("seed %d (ranked timeouts, transactions %s)\n%s", seed, txns, replay)
          .isEmpty();
      ops += sim.stats.opsOk;
      committed += txns ? sim.txns.committed : 0;
    }
    System.out.printf(
        "store simulation with ranked election timeouts, seeds %d..%d: %d operations, %d"
            + " transactions committed%n",
        first, last, ops, committed);
    assertThat(ops).isPositive();
  }

  private static StoreSimulation.Stats runSeed(long seed) {
    String replay =
        "replay: bin/test -pl node -am -Dtest=StoreSimulationTest"
            + " -Dsurefire.failIfNoSpecifiedTests=false -Dbasalt.storesim.seed="
            + seed;
    StoreSimulation sim = new StoreSimulation(seed);
    check(sim, seed, replay);
    return sim.stats;
  }

  /** Runs {@code sim} for 8 s of faults with 6 clients and asserts every check. */
  private static void check(StoreSimulation sim, long seed, String replay) {
    try {
      sim.run(8_000, 6);
    } catch (RuntimeException | AssertionError e) {
      throw new AssertionError(
          "seed "
              + seed
              + " failed: "
              + e
              + "\n"
              + replay
              + (sim.chaos == null ? "" : "\nmerges:" + sim.chaos.describeMerges()),
          e);
    }

    var result = new LinearizabilityChecker().check(new RegisterModel(), sim.history);
    assertThat(result.linearizable())
        .as("seed %d: per-key linearizability\n%s\n%s", seed, result.describe(), replay)
        .isTrue();
    String merges =
        sim.chaos == null
            ? ""
            : "\nstores:" + sim.storesDump() + "\nmerges:" + sim.chaos.describeMerges();
    assertThat(sim.unreadKeysAfterHeal())
        .as("seed %d: keys not readable after the cluster healed\n%s%s", seed, replay, merges)
        .isEmpty();
    assertThat(sim.unwritableKeysAfterHeal())
        .as("seed %d: keys not writable after the cluster healed\n%s%s", seed, replay, merges)
        .isEmpty();
    assertThat(sim.unansweredRequests())
        .as("seed %d: requests a running store never answered\n%s", seed, replay)
        .isZero();
    assertThat(sim.divergence()).as("seed %d: replicas disagree\n%s", seed, replay).isEmpty();
    assertThat(sim.laggingReplicas())
        .as("seed %d: replicas that did not catch up after the cluster healed\n%s", seed, replay)
        .isEmpty();
    assertThat(sim.definiteFailuresApplied())
        .as("seed %d: writes failed for certain that were applied\n%s", seed, replay)
        .isEmpty();
  }
}
