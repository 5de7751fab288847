package io.basalt.client;

/**
 * A transaction was aborted, by a conflicting transaction of higher priority or because its record
 * went unheard of past the expiry, and none of its writes was applied. Running it again may
 * succeed; {@link BasaltClient#txn} does so itself.
 */
public final class TransactionAbortedException extends BasaltException {
  private static final long serialVersionUID = 1L;

  TransactionAbortedException(String reason) {
    super(reason, "TXN_ABORTED", null);
  }
}
