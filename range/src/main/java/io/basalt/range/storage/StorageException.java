package io.basalt.range.storage;

/**
 * An I/O failure of the storage engine. A failure to write or sync the log is fatal for the node
 * (DESIGN.md decision 10): callers must not retry, they crash and recover from what was synced.
 */
public class StorageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
