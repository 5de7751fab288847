package io.basalt.node.store;

import io.basalt.range.storage.WriteBatch;
import java.util.function.LongConsumer;

/**
 * Writes a round's batch: its new log entries, hard states, applied state and snapshots.
 *
 * <p>The default writes on the store's thread and reports at once. A node hands the batch to a
 * writer thread instead (TiKV's asynchronous log writes): the store goes on with the next round
 * while the fsync runs, and learns of it through {@code written}, run on the store's thread.
 * Batches are written, and reported, in the order they were handed over; once one is reported, so
 * is every earlier one.
 */
public interface Persister {
  /**
   * Writes {@code batch} (synced if {@code sync}), then runs {@code written} with the write's
   * duration in nanoseconds on the store's thread (-1 for a batch whose write was shared with a
   * later batch, which reports the duration).
   */
  void persist(WriteBatch batch, boolean sync, LongConsumer written);
}
