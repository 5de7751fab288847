/**
 * Hybrid logical clocks and clock-offset monitoring (DESIGN.md decision 5). The rest of the
 * transaction layer (MVCC evaluation with intents, transaction records, 2PC) comes with the
 * transactions issue.
 */
package io.basalt.txn.hlc;
