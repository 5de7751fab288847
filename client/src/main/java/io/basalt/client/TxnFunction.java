package io.basalt.client;

/**
 * The body of a transaction run by {@link BasaltClient#txn}. It may run more than once (each run a
 * new attempt, after a retryable conflict), so it must do nothing outside the transaction that is
 * unsafe to repeat, and must not keep what it read from a failed attempt.
 */
@FunctionalInterface
public interface TxnFunction<T> {
  T apply(Txn tx) throws Exception;
}
