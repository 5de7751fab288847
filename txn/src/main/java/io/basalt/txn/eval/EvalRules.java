package io.basalt.txn.eval;

/**
 * The decisions on which a transaction's isolation rests, gathered at one seam. Evaluation always
 * asks these methods, and a leader always uses {@link #CORRECT}, whose answers are the right ones.
 * The seam is package-private: only tests in this package can substitute deliberately broken rules
 * (the test-side {@code PlantedEvalBug}), to prove that the store simulation's transaction
 * workloads catch them. There is no configuration switch that breaks evaluation.
 */
interface EvalRules {
  /** The right rules. Stateless. */
  EvalRules CORRECT = new EvalRules() {};

  /**
   * Whether a read stops at another transaction's intent (unless it lies above a transaction's
   * uncertainty interval) rather than reading the version beneath it. Always: the intent may be
   * committed already.
   */
  default boolean readsMeetIntents() {
    return true;
  }

  /**
   * Whether a transaction's read restarts on a value in its uncertainty interval. Always: the value
   * may have been committed before the transaction began, on a faster clock.
   */
  default boolean readsCheckUncertainty() {
    return true;
  }

  /** Whether a write goes above every read the timestamp cache recorded. Always. */
  default boolean writesGoAboveReads() {
    return true;
  }

  /**
   * Whether a serializable transaction commits (or stages) only at its read timestamp, its reads
   * refreshed first when its writes moved above it. Always.
   */
  default boolean serializableCommitsAtReadTimestamp() {
    return true;
  }

  /**
   * Whether a recovery's query of an in-flight write that is not there prevents it from landing
   * later at or below the staging timestamp. Always: else the write may land after the query, and
   * the transaction both aborted by the recovery and committed by its writes.
   */
  default boolean queriesPreventMissingWrites() {
    return true;
  }
}
