package io.basalt.range.storage;

/** Point reads and bounded ordered iteration over the engine's column families. */
public interface Reader {
  /** Returns the value stored under {@code key}, or {@code null} when there is none. */
  byte[] get(ColumnFamily cf, byte[] key);

  /**
   * Opens an iterator over the keys of {@code cf} in {@code [lowerInclusive, upperExclusive)}, in
   * unsigned lexicographic order, positioned before the first key (call {@link
   * EngineIterator#seekToFirst()} or {@link EngineIterator#seek(byte[])}). A {@code null} bound is
   * unbounded. The caller must close it.
   */
  EngineIterator newIterator(ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive);
}
