package io.basalt.txn.eval;

import java.util.EnumSet;
import java.util.Set;

/**
 * Deliberate bugs in transaction evaluation for the store simulation's teeth tests, planted from
 * test code through the package-private {@link EvalRules} seam (the node's stores take them through
 * their own test-side rules). Production code has no way to select them.
 */
public enum PlantedEvalBug {
  /** Reads read beneath another transaction's intent, as if it were not there. */
  READS_IGNORE_INTENTS,
  /** A transaction's read takes no notice of values in its uncertainty interval. */
  NO_UNCERTAINTY_CHECK,
  /** Writes do not go above the reads the timestamp cache recorded. */
  NO_TIMESTAMP_CACHE,
  /** A serializable transaction commits above its read timestamp without refreshing its reads. */
  COMMIT_WITHOUT_REFRESH,
  /**
   * A recovery's query of a missing in-flight write does not prevent it: the write may land after
   * the query, below the staging timestamp.
   */
  RECOVERY_WITHOUT_PREVENTION;

  /** {@code ctx} with {@code bugs} planted in its rules (none: {@code ctx} itself). */
  public static Commands.Context plant(Commands.Context ctx, Set<PlantedEvalBug> bugs) {
    if (bugs.isEmpty()) {
      return ctx;
    }
    Set<PlantedEvalBug> planted = EnumSet.copyOf(bugs);
    EvalRules broken =
        new EvalRules() {
          @Override
          public boolean readsMeetIntents() {
            return !planted.contains(READS_IGNORE_INTENTS);
          }

          @Override
          public boolean readsCheckUncertainty() {
            return !planted.contains(NO_UNCERTAINTY_CHECK);
          }

          @Override
          public boolean writesGoAboveReads() {
            return !planted.contains(NO_TIMESTAMP_CACHE);
          }

          @Override
          public boolean serializableCommitsAtReadTimestamp() {
            return !planted.contains(COMMIT_WITHOUT_REFRESH);
          }

          @Override
          public boolean queriesPreventMissingWrites() {
            return !planted.contains(RECOVERY_WITHOUT_PREVENTION);
          }
        };
    return new Commands.Context(
        ctx.now(), ctx.maxOffsetNanos(), ctx.txnExpiryNanos(), ctx.tscache(), broken);
  }
}
