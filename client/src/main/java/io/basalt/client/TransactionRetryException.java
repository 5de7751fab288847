package io.basalt.client;

/**
 * A transaction could not commit as it stood and was not applied: a conflicting write or read moved
 * it, a refresh of its reads failed, or (from {@link BasaltClient#txn}) it was retried the
 * configured number of times. Running it again may succeed. {@link #getMessage()} gives the last
 * reason.
 */
public final class TransactionRetryException extends BasaltException {
  private static final long serialVersionUID = 1L;

  TransactionRetryException(String reason) {
    super(reason, "TXN_RETRY", null);
  }

  TransactionRetryException(String reason, Throwable cause) {
    super(reason, "TXN_RETRY", cause);
  }
}
