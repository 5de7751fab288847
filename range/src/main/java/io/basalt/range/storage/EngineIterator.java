package io.basalt.range.storage;

/**
 * A cursor over one column family within the bounds it was opened with. Keys and values returned
 * are copies owned by the caller.
 */
public interface EngineIterator extends AutoCloseable {
  /** Positions at the first key within bounds. */
  void seekToFirst();

  /** Positions at the first key {@code >= target} (clamped to the lower bound). */
  void seek(byte[] target);

  /** Whether the cursor is at a key within bounds. */
  boolean valid();

  /** Advances to the next key. Requires {@link #valid()}. */
  void next();

  /** The current key. Requires {@link #valid()}. */
  byte[] key();

  /** The current value. Requires {@link #valid()}. */
  byte[] value();

  @Override
  void close();
}
