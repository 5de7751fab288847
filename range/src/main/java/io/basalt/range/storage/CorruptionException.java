package io.basalt.range.storage;

/** Stored bytes failed their checksum or could not be decoded; they are never returned as data. */
public final class CorruptionException extends StorageException {
  private static final long serialVersionUID = 1L;

  public CorruptionException(String message) {
    super(message);
  }

  public CorruptionException(String message, Throwable cause) {
    super(message, cause);
  }
}
