package io.basalt.range.storage;

/**
 * A consistent point-in-time view of the whole engine: reads through it never observe a write
 * committed after the view was opened. Must be closed.
 */
public interface ReadView extends Reader, AutoCloseable {
  @Override
  void close();
}
