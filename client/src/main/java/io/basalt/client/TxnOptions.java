package io.basalt.client;

/**
 * How a transaction runs: its isolation level ({@link Isolation#SERIALIZABLE} unless asked) and how
 * many attempts {@link BasaltClient#txn} makes before it gives up with a {@link
 * TransactionRetryException}.
 */
public record TxnOptions(Isolation isolation, int maxAttempts) {
  /** Isolation levels. */
  public enum Isolation {
    /** Every transaction appears to run alone, in commit-timestamp order. */
    SERIALIZABLE,
    /**
     * Reads see one snapshot; writes conflict only with writes (first committer wins), so write
     * skew is possible.
     */
    SNAPSHOT
  }

  public TxnOptions {
    if (isolation == null) {
      throw new IllegalArgumentException("isolation must not be null");
    }
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1, got " + maxAttempts);
    }
  }

  /** Serializable, at most 10 attempts. */
  public static TxnOptions defaults() {
    return new TxnOptions(Isolation.SERIALIZABLE, 10);
  }

  public TxnOptions withIsolation(Isolation isolation) {
    return new TxnOptions(isolation, maxAttempts);
  }

  public TxnOptions withMaxAttempts(int maxAttempts) {
    return new TxnOptions(isolation, maxAttempts);
  }
}
