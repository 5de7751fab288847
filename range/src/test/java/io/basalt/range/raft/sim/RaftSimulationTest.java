package io.basalt.range.raft.sim;

import io.basalt.range.raft.PlantedBug;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Runs the deterministic Raft {@link Simulation} over many seeds (VERIFICATION.md, tier 2).
 *
 * <ul>
 *   <li>{@code -Dbasalt.sim.seeds=N}: how many seeds (default 500);
 *   <li>{@code -Dbasalt.sim.seed=S}: the first seed (default 1);
 *   <li>{@code -Dbasalt.sim.bugs=READ_INDEX_WITHOUT_QUORUM,...}: plant deliberately broken variants
 *       of the core ({@link PlantedBug}, test-only), to see the simulator catch them;
 *   <li>{@code -Dbasalt.sim.internalChecks=false}: check only what clients saw (linearizability,
 *       acknowledged writes) and liveness, not the white-box Raft-property oracles;
 *   <li>{@code -Dbasalt.sim.survey=true}: with bugs, run every seed and report which check caught
 *       the bug at which seeds instead of stopping at the first. A planted bug can livelock a
 *       group; a seed that takes more than {@code -Dbasalt.sim.maxEvents} events (default
 *       1,000,000, about 20 times the largest correct seed of 1..500) is reported as such and the
 *       survey moves on.
 * </ul>
 *
 * A failure names the seed and the one-line command that replays it.
 */
class RaftSimulationTest {
  static Set<PlantedBug> bugsFromProperty() {
    String bugs = System.getProperty("basalt.sim.bugs", "").trim();
    Set<PlantedBug> out = EnumSet.noneOf(PlantedBug.class);
    if (!bugs.isEmpty()) {
      for (String bug : bugs.split(",")) {
        out.add(PlantedBug.valueOf(bug.trim()));
      }
    }
    return out;
  }

  static String replayCommand(long seed, Set<PlantedBug> bugs, boolean internalChecks) {
    String command =
        "bin/test -pl range -am -Dtest=RaftSimulationTest -Dbasalt.sim.seed="
            + seed
            + " -Dbasalt.sim.seeds=1";
    if (!bugs.isEmpty()) {
      command += " -Dbasalt.sim.bugs=" + String.join(",", bugs.stream().map(Enum::name).toList());
    }
    if (!internalChecks) {
      command += " -Dbasalt.sim.internalChecks=false";
    }
    return command;
  }

  /** Runs one seed; on a failure, rethrows it with the seed and the replay command. */
  static Simulation runSeed(long seed, Set<PlantedBug> bugs) {
    return runSeed(seed, bugs, true);
  }

  /**
   * Runs one seed. A failed check is rethrown as a {@link SeedFailure} naming the check, the seed
   * and the replay command; anything else thrown (the core's own guards) as an AssertionError.
   */
  static Simulation runSeed(long seed, Set<PlantedBug> bugs, boolean internalChecks) {
    return runSeed(new Simulation(seed, bugs, internalChecks), seed, bugs, internalChecks);
  }

  private static Simulation runSeed(
      Simulation simulation, long seed, Set<PlantedBug> bugs, boolean internalChecks) {
    try {
      simulation.run();
    } catch (Simulation.Violation e) {
      throw new SeedFailure(e.check, seed, bugs, internalChecks, e);
    } catch (RuntimeException e) {
      throw new AssertionError(
          "simulation seed "
              + seed
              + " failed: "
              + e
              + "\nreplay: "
              + replayCommand(seed, bugs, internalChecks),
          e);
    }
    return simulation;
  }

  /** A seed failed the named check. */
  static final class SeedFailure extends AssertionError {
    private static final long serialVersionUID = 1L;

    final Simulation.Check check;

    SeedFailure(
        Simulation.Check check,
        long seed,
        Set<PlantedBug> bugs,
        boolean internalChecks,
        Simulation.Violation cause) {
      super(
          "simulation seed "
              + seed
              + " failed check "
              + check
              + ": "
              + cause.getMessage()
              + "\nreplay: "
              + replayCommand(seed, bugs, internalChecks),
          cause);
      this.check = check;
    }
  }

  @Test
  void raftKeepsItsSafetyAndLivenessPropertiesUnderFaults() {
    long first = Long.getLong("basalt.sim.seed", 1);
    int seeds = Integer.getInteger("basalt.sim.seeds", 500);
    Set<PlantedBug> bugs = bugsFromProperty();
    boolean internalChecks =
        Boolean.parseBoolean(System.getProperty("basalt.sim.internalChecks", "true"));
    if (!bugs.isEmpty() && Boolean.getBoolean("basalt.sim.survey")) {
      survey(first, seeds, bugs, internalChecks);
      return;
    }
    long ops = 0;
    Simulation.Stats totals = new Simulation.Stats();
    List<Long> seedsWithoutWrites = new ArrayList<>();
    long started = System.nanoTime();
    for (long seed = first; seed < first + seeds; seed++) {
      Simulation simulation = runSeed(seed, bugs, internalChecks);
      ops += simulation.historySize();
      totals.add(simulation.stats);
      if (simulation.stats.okWrites == 0) {
        seedsWithoutWrites.add(seed);
      }
    }
    System.out.printf(
        "simulated seeds %d..%d: %d events, %d client operations (%d acknowledged writes, %d reads"
            + " of which %d from a lease, %d unknown), %d crashes (%d keeping unsynced writes), %d"
            + " partitions, %d conf changes applied (%d proposed), %d leader transfers, %d"
            + " compactions, %d snapshots sent, %d commits of earlier-term entries in %.1fs%n",
        first,
        first + seeds - 1,
        totals.events,
        ops,
        totals.okWrites,
        totals.okReads,
        totals.leaseReads,
        totals.unknownOps,
        totals.crashes,
        totals.crashesKeepingUnsynced,
        totals.partitions,
        totals.confChangesApplied,
        totals.confChanges,
        totals.transfers,
        totals.compactions,
        totals.snapshotsSent,
        totals.oldTermCommits,
        (System.nanoTime() - started) / 1e9);
    // The workload must have done what the checks claim to cover.
    if (!seedsWithoutWrites.isEmpty()) {
      throw new AssertionError("seeds acknowledged no write at all: " + seedsWithoutWrites);
    }
    if (seeds >= 200) {
      require(totals.okReads > 0, "no read succeeded");
      require(totals.leaseReads > 0, "no read was served from a lease");
      require(totals.compactions > 0, "no log was compacted");
      require(totals.snapshotsSent > 0, "no snapshot was sent");
      require(totals.confChangesApplied > 0, "no membership change was applied");
      require(totals.transfers > 0, "no leadership was transferred");
      require(totals.crashesKeepingUnsynced > 0, "no crash kept part of the unsynced log");
    }
  }

  private static void require(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what + " over all seeds: the workload or fault model is off");
    }
  }

  /** Runs every seed with {@code bugs} planted and prints which check caught them where. */
  private static void survey(long first, int seeds, Set<PlantedBug> bugs, boolean internalChecks) {
    java.util.Map<String, List<Long>> caught = new java.util.TreeMap<>();
    long maxEvents = Long.getLong("basalt.sim.maxEvents", 1_000_000);
    for (long seed = first; seed < first + seeds; seed++) {
      Simulation simulation = new Simulation(seed, bugs, internalChecks).eventBudget(maxEvents);
      try {
        runSeed(simulation, seed, bugs, internalChecks);
      } catch (SeedFailure e) {
        caught.computeIfAbsent(e.check.name(), k -> new ArrayList<>()).add(seed);
      } catch (AssertionError e) {
        String what =
            e.getCause() instanceof Simulation.EventBudgetExhausted
                ? "event budget exhausted"
                : "core exception";
        caught.computeIfAbsent(what, k -> new ArrayList<>()).add(seed);
      }
    }
    System.out.printf(
        "survey %s internalChecks=%s seeds %d..%d:%n",
        bugs, internalChecks, first, first + seeds - 1);
    caught.forEach((check, at) -> System.out.printf("  %s: %d seeds %s%n", check, at.size(), at));
  }
}
