/**
 * Transactions: hybrid logical clocks, MVCC read/write evaluation with intents, transaction records
 * and two-phase commit (DESIGN.md decisions 5 and 6). Arrives with the transactions issue.
 */
package io.basalt.txn;
