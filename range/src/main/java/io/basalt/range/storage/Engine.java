package io.basalt.range.storage;

/**
 * A node's storage engine: one ordered, durable key-value store with {@link ColumnFamily column
 * families}, shared by every range the node hosts (DESIGN.md decision 2).
 *
 * <p>Contract (checked for every implementation by the engine contract test suite):
 *
 * <ul>
 *   <li>{@link #write} applies a {@link WriteBatch} atomically: after a crash either all of it or
 *       none of it is visible, across column families.
 *   <li>A write with {@code sync = true} returns only after it, and every write before it, is
 *       durable. A write with {@code sync = false} is visible at once but may be lost by a crash
 *       until a later synced write or {@link #sync()}.
 *   <li>Keys are ordered by unsigned lexicographic byte order.
 *   <li>{@link #newReadView()} gives a consistent snapshot of all column families.
 *   <li>An I/O error raises {@link StorageException}; the engine does not retry it.
 * </ul>
 */
public interface Engine extends Reader, AutoCloseable {
  /** Applies {@code batch} atomically; with {@code sync}, durably before returning. */
  void write(WriteBatch batch, boolean sync);

  /** Makes every write applied so far durable. */
  void sync();

  /** Opens a consistent read view of the whole engine. */
  ReadView newReadView();

  /**
   * About how many bytes the keys of {@code cf} in {@code [lower, upper)} take (for placement:
   * range sizes). This default counts them; an engine with a cheaper estimate overrides it.
   */
  default long approximateSize(ColumnFamily cf, byte[] lower, byte[] upper) {
    long bytes = 0;
    try (EngineIterator it = newIterator(cf, lower, upper)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        bytes += it.key().length + it.value().length;
      }
    }
    return bytes;
  }

  @Override
  void close();
}
