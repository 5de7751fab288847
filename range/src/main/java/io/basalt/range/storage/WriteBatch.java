package io.basalt.range.storage;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An ordered list of mutations that an {@link Engine} applies atomically. Batches are
 * engine-agnostic values so that the group-committing log writer can merge the batches of many
 * ranges and threads into one engine write. Not thread-safe; a batch must not be modified after it
 * has been handed to a writer.
 */
public final class WriteBatch {
  /** One mutation. */
  public sealed interface Op permits Put, Delete, DeleteRange {
    ColumnFamily cf();
  }

  /** Sets {@code key} to {@code value}. */
  public record Put(ColumnFamily cf, byte[] key, byte[] value) implements Op {}

  /** Removes {@code key}. */
  public record Delete(ColumnFamily cf, byte[] key) implements Op {}

  /** Removes every key in {@code [lowerInclusive, upperExclusive)}. */
  public record DeleteRange(ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive)
      implements Op {}

  private final List<Op> ops = new ArrayList<>();
  private long byteSize;

  /** Position of the last delete or range delete, or -1: a put before it cannot be replaced. */
  private int lastDelete = -1;

  private boolean hasDeleteRange;

  public WriteBatch put(ColumnFamily cf, byte[] key, byte[] value) {
    Objects.requireNonNull(cf, "cf");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    ops.add(new Put(cf, key, value));
    byteSize += key.length + value.length;
    return this;
  }

  /**
   * Stages a put and returns its position, which {@link #replaceValue} accepts while no delete has
   * been staged after it: a value rewritten many times in one batch (an applied index) then costs
   * the engine one mutation, not one per rewrite.
   */
  public int putReplaceable(ColumnFamily cf, byte[] key, byte[] value) {
    put(cf, key, value);
    return ops.size() - 1;
  }

  /**
   * Sets the value of the put at {@code position} (from {@link #putReplaceable}) as if it were put
   * again at the end of the batch, and returns true; returns false, changing nothing, when a delete
   * staged after it could have removed the key (the caller then stages a new put).
   */
  public boolean replaceValue(int position, byte[] value) {
    Objects.requireNonNull(value, "value");
    if (position <= lastDelete || !(ops.get(position) instanceof Put put)) {
      return false;
    }
    ops.set(position, new Put(put.cf(), put.key(), value));
    byteSize += value.length - put.value().length;
    return true;
  }

  public WriteBatch delete(ColumnFamily cf, byte[] key) {
    Objects.requireNonNull(cf, "cf");
    Objects.requireNonNull(key, "key");
    lastDelete = ops.size();
    ops.add(new Delete(cf, key));
    byteSize += key.length;
    return this;
  }

  public WriteBatch deleteRange(ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive) {
    Objects.requireNonNull(cf, "cf");
    Objects.requireNonNull(lowerInclusive, "lowerInclusive");
    Objects.requireNonNull(upperExclusive, "upperExclusive");
    if (Bytes.compare(lowerInclusive, upperExclusive) > 0) {
      throw new IllegalArgumentException(
          "deleteRange lower bound "
              + Bytes.toHex(lowerInclusive)
              + " is above upper bound "
              + Bytes.toHex(upperExclusive));
    }
    lastDelete = ops.size();
    hasDeleteRange = true;
    ops.add(new DeleteRange(cf, lowerInclusive, upperExclusive));
    byteSize += lowerInclusive.length + upperExclusive.length;
    return this;
  }

  /** Appends every mutation of {@code other} after this batch's own. */
  public WriteBatch addAll(WriteBatch other) {
    hasDeleteRange |= other.hasDeleteRange;
    if (other.lastDelete >= 0) {
      lastDelete = ops.size() + other.lastDelete;
    }
    ops.addAll(other.ops);
    byteSize += other.byteSize;
    return this;
  }

  /**
   * The mutations in an order with the same effect that an engine inserts fastest: by column
   * family, then key (a skip list inserts a key next to the previous one cheaply). Puts and deletes
   * of different keys commute and the sort is stable, so each key keeps its own order; a batch with
   * a range delete keeps its order, since a range delete does not commute with the keys it covers.
   */
  public List<Op> opsInKeyOrder() {
    if (hasDeleteRange || ops.size() < 2) {
      return ops();
    }
    List<Op> sorted = new ArrayList<>(ops);
    sorted.sort(WriteBatch::compareByKey);
    return Collections.unmodifiableList(sorted);
  }

  private static int compareByKey(Op a, Op b) {
    int byCf = Integer.compare(a.cf().ordinal(), b.cf().ordinal());
    return byCf != 0 ? byCf : Bytes.compare(key(a), key(b));
  }

  private static byte[] key(Op op) {
    return switch (op) {
      case Put p -> p.key();
      case Delete d -> d.key();
      case DeleteRange r -> r.lowerInclusive();
    };
  }

  public List<Op> ops() {
    return Collections.unmodifiableList(ops);
  }

  public int count() {
    return ops.size();
  }

  public boolean isEmpty() {
    return ops.isEmpty();
  }

  /** Bytes of keys and values in the batch (an estimate of its cost, not an encoded size). */
  public long byteSize() {
    return byteSize;
  }
}
