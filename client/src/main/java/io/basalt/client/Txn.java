package io.basalt.client;

import java.util.List;

/**
 * One transaction: reads at one timestamp across every range (a consistent snapshot), writes that
 * it reads back itself but nobody else sees before it commits, and a commit that applies them all
 * or none. Not thread-safe: one thread drives a transaction.
 *
 * <p>Writes are kept by the client until {@link #commit}: a transaction whose writes all fall in
 * one range commits in one round; otherwise its writes become intents in their ranges, beside a
 * record in the range of its first key, which the commit flips to committed.
 *
 * <p>Any method may throw {@link TransactionRetryException} or {@link TransactionAbortedException}
 * (nothing was applied; run the transaction again), and {@link #commit} may throw {@link
 * AmbiguousResultException} (the outcome is unknown: it may have committed).
 */
public interface Txn {
  /** The value of {@code key} as this transaction sees it (its own writes included), or null. */
  byte[] get(byte[] key);

  /**
   * As {@link #get}, and locks {@code key} for this transaction until it ends: another
   * transaction's write of it (or locking read) waits, so a read-modify-write of a contended key
   * commits without a retry instead of failing its commit. Plain and non-locking reads are not
   * blocked. Between two transactions that want each other's locks, the older one wins and the
   * younger is aborted (and retried by {@link BasaltClient#txn}).
   */
  byte[] getForUpdate(byte[] key);

  /** Sets {@code key} to {@code value} when the transaction commits. */
  void put(byte[] key, byte[] value);

  /** Removes {@code key} when the transaction commits. */
  void delete(byte[] key);

  /**
   * The pairs in {@code [start, end)} (an empty {@code end}: to the end of the key space) as this
   * transaction sees them, in key order, at most {@code limit}.
   */
  List<KeyValue> scan(byte[] start, byte[] end, int limit);

  /**
   * Commits. Returns the commit timestamp: every other transaction's view is before or after all of
   * this one's writes, by that timestamp.
   */
  HlcTimestamp commit();

  /** Abandons the transaction: none of its writes is applied. Safe to call more than once. */
  void rollback();
}
