package io.basalt.client;

import io.basalt.api.Error;
import io.basalt.api.Transaction;

/**
 * A node's answer that concerns the transaction rather than the call: it must restart or refresh
 * ({@code TransactionRetryError}, {@code ReadWithinUncertaintyError}), or it was aborted. The
 * router ends the call with it; the transaction's coordinator decides what follows.
 */
final class TxnErrorException extends BasaltException {
  private static final long serialVersionUID = 1L;

  final transient Error error;

  /** The transaction as the node that refused left it (its read timestamp assigned), or null. */
  final transient Transaction txn;

  TxnErrorException(Error error, Transaction txn) {
    super(Failures.describe(error), error.getDetailCase().name(), null);
    this.error = error;
    this.txn = txn;
  }
}
