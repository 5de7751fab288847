package io.basalt.client;

import java.util.Objects;

/**
 * One write of a {@linkplain BasaltClient#writeBatch batch}: a {@link Put} or a {@link Delete}.
 * Create them with {@link #put} and {@link #delete}; keys are validated when the batch is sent.
 */
public sealed interface Mutation {
  /** The key this mutation writes. */
  byte[] key();

  /** Sets {@code key} to {@code value}. */
  static Mutation put(byte[] key, byte[] value) {
    return new Put(key, value);
  }

  /** Removes {@code key}'s value, if any. */
  static Mutation delete(byte[] key) {
    return new Delete(key);
  }

  /** Sets a key's value. The arrays are not copied: do not modify them until the batch is done. */
  record Put(byte[] key, byte[] value) implements Mutation {
    /** Rejects null arrays. */
    public Put {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
    }

    @Override
    public String toString() {
      return "Put[" + KeyValue.printable(key) + "]";
    }
  }

  /** Removes a key's value. The array is not copied: do not modify it until the batch is done. */
  record Delete(byte[] key) implements Mutation {
    /** Rejects a null key. */
    public Delete {
      Objects.requireNonNull(key, "key");
    }

    @Override
    public String toString() {
      return "Delete[" + KeyValue.printable(key) + "]";
    }
  }
}
