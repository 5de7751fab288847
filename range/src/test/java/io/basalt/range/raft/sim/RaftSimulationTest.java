package io.basalt.range.raft.sim;

import io.basalt.range.raft.Config;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Runs the deterministic Raft {@link Simulation} over many seeds (VERIFICATION.md, tier 2).
 *
 * <ul>
 *   <li>{@code -Dbasalt.sim.seeds=N}: how many seeds (default 500);
 *   <li>{@code -Dbasalt.sim.seed=S}: the first seed (default 1);
 *   <li>{@code -Dbasalt.sim.bugs=VOTE_WITHOUT_LOG_CHECK,...}: turn on deliberately broken variants
 *       of the core (test-only), to see the simulator catch them.
 * </ul>
 *
 * A failure names the seed and the one-line command that replays it.
 */
class RaftSimulationTest {
  static Set<Config.BuggyBehavior> bugsFromProperty() {
    String bugs = System.getProperty("basalt.sim.bugs", "").trim();
    Set<Config.BuggyBehavior> out = EnumSet.noneOf(Config.BuggyBehavior.class);
    if (!bugs.isEmpty()) {
      for (String bug : bugs.split(",")) {
        out.add(Config.BuggyBehavior.valueOf(bug.trim()));
      }
    }
    return out;
  }

  static String replayCommand(long seed, Set<Config.BuggyBehavior> bugs) {
    String command =
        "bin/test -pl range -am -Dtest=RaftSimulationTest -Dbasalt.sim.seed="
            + seed
            + " -Dbasalt.sim.seeds=1";
    if (!bugs.isEmpty()) {
      command += " -Dbasalt.sim.bugs=" + String.join(",", bugs.stream().map(Enum::name).toList());
    }
    return command;
  }

  /** Runs one seed; on a violation, rethrows it with the seed and the replay command. */
  static Simulation runSeed(long seed, Set<Config.BuggyBehavior> bugs) {
    Simulation simulation = new Simulation(seed, bugs);
    try {
      simulation.run();
    } catch (Simulation.Violation | RuntimeException e) {
      throw new AssertionError(
          "simulation seed "
              + seed
              + " failed: "
              + e.getMessage()
              + "\nreplay: "
              + replayCommand(seed, bugs),
          e);
    }
    return simulation;
  }

  @Test
  void raftKeepsItsSafetyAndLivenessPropertiesUnderFaults() {
    long first = Long.getLong("basalt.sim.seed", 1);
    int seeds = Integer.getInteger("basalt.sim.seeds", 500);
    Set<Config.BuggyBehavior> bugs = bugsFromProperty();
    long events = 0;
    long ops = 0;
    Simulation.Stats totals = new Simulation.Stats();
    long started = System.nanoTime();
    for (long seed = first; seed < first + seeds; seed++) {
      Simulation simulation = runSeed(seed, bugs);
      events += simulation.stats.events;
      ops += simulation.historySize();
      totals.crashes += simulation.stats.crashes;
      totals.crashesKeepingUnsynced += simulation.stats.crashesKeepingUnsynced;
      totals.confChanges += simulation.stats.confChanges;
      totals.transfers += simulation.stats.transfers;
      totals.snapshotsSent += simulation.stats.snapshotsSent;
      totals.leaseReads += simulation.stats.leaseReads;
      totals.partitions += simulation.stats.partitions;
      totals.oldTermCommits += simulation.stats.oldTermCommits;
    }
    System.out.printf(
        "simulated seeds %d..%d: %d events, %d client operations, %d crashes (%d keeping unsynced"
            + " writes), %d partitions,"
            + " %d conf changes, %d leader transfers, %d snapshots sent, %d lease reads,"
            + " %d commits of earlier-term entries in %.1fs%n",
        first,
        first + seeds - 1,
        events,
        ops,
        totals.crashes,
        totals.crashesKeepingUnsynced,
        totals.partitions,
        totals.confChanges,
        totals.transfers,
        totals.snapshotsSent,
        totals.leaseReads,
        totals.oldTermCommits,
        (System.nanoTime() - started) / 1e9);
    if (seeds >= 200 && totals.crashesKeepingUnsynced == 0) {
      throw new AssertionError(
          "no crash in " + seeds + " seeds kept part of the unsynced log: the crash model is off");
    }
  }
}
