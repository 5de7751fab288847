package io.basalt.txn.tscache;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.basalt.range.mvcc.Timestamp;
import java.util.Objects;

/**
 * The timestamp cache a range leader keeps (CockroachDB's {@code pkg/kv/kvserver/tscache}): for
 * every key, the highest timestamp at which it was read and by which transaction, so that a later
 * write to the key is pushed above every read that did not see it. Without it a write could land
 * beneath a read of the same key and change, after the fact, what that read should have returned:
 * the reader's serializability would be lost.
 *
 * <h2>What it answers</h2>
 *
 * A key's answer is the <em>join</em> of every read that covered it and of the low-water mark: the
 * highest timestamp, and the transaction that read at it when exactly one did. When several readers
 * read at that same timestamp, or a non-transactional one (an empty id) did, the answer names none
 * ({@link ByteString#EMPTY}). The low-water mark counts as such an unnamed reader at its timestamp:
 * everything below it is forgotten, and who read at it is unknown. A writer may write at the
 * answer's timestamp only if the answer names it; otherwise it must go above. A span's answer is
 * the join over its keys.
 *
 * <h2>Representation</h2>
 *
 * Non-overlapping intervals {@code [start, end)} of keys in unsigned byte order, each carrying the
 * join of the reads of its keys, every one strictly above the low-water mark; a key outside all of
 * them is at the low-water mark. A read of key {@code k} is the interval {@code [k, k+0x00)}: no
 * key lies between the two, so points and spans are one kind of thing. A read splits the intervals
 * it partly covers and raises what it covers; touching intervals that end up with the same entry
 * are merged, so that a scan replaces the older reads beneath it with one interval. A read at or
 * below the low-water mark changes nothing: the mark answers at least as high, and names nobody.
 *
 * <h2>Eviction</h2>
 *
 * At most {@code maxEntries} intervals are kept. Past that, the interval with the lowest timestamp
 * goes and the low-water mark rises to its timestamp; every interval at or below the new mark goes
 * with it, since the mark now says as much. So an answer is always exactly the join of the true
 * answer (over every read ever added) and the current low-water mark: never below the truth, and
 * wrong only in the safe direction (higher, or naming nobody where one reader could have been
 * named). {@link #raiseLowWater}, which a new leader calls because it does not know its
 * predecessor's reads, works the same way.
 *
 * <h2>Cost</h2>
 *
 * With {@code n <= maxEntries} intervals: {@link #max(ByteString)} and {@link #add(ByteString,
 * Timestamp, ByteString)} of a key take O(log n). A span visits the {@code k} intervals it
 * overlaps: {@link #max(ByteString, ByteString)} takes O(log n + k) and {@link #add(ByteString,
 * ByteString, Timestamp, ByteString)} O((k + 1) log n). Intervals a span read covers at lower
 * timestamps are replaced, paid for by the adds that made them; intervals with higher timestamps
 * stay, and the new read fills the gaps between them, so a span read beneath {@code s} higher ones
 * costs O((s + 1) log n) and adds up to {@code s + 1} intervals. Eviction and {@link
 * #raiseLowWater} take O(log n) per interval removed, paid for by the add that made it.
 *
 * <p>Not thread-safe: one range's cache is touched by its store's thread only.
 */
public final class TimestampCache {
  /**
   * An answer: the highest read timestamp, and the transaction that read at it if it was the only
   * reader there ({@link ByteString#EMPTY} if none, several, or a non-transactional reader did).
   */
  public record Entry(Timestamp ts, ByteString txnId) {
    public Entry {
      Objects.requireNonNull(ts, "ts");
      Objects.requireNonNull(txnId, "txnId");
    }

    /**
     * The answer over the keys of both: the higher timestamp; at equal timestamps, the reader if
     * both name the same one, otherwise nobody.
     */
    Entry join(Entry other) {
      int byTs = ts.compareTo(other.ts);
      if (byTs != 0) {
        return byTs > 0 ? this : other;
      }
      return txnId.equals(other.txnId) ? this : new Entry(ts, ByteString.EMPTY);
    }
  }

  private static final ByteString ZERO_BYTE = ByteString.copyFrom(new byte[] {0});

  private final int maxEntries;
  private final ReadIntervals intervals = new ReadIntervals();
  private Timestamp lowWater;

  /**
   * A cache that knows no reads yet: every key is at {@code lowWater}.
   *
   * @param maxEntries how many intervals it keeps before it evicts the lowest
   * @throws IllegalArgumentException if {@code maxEntries} is not positive
   */
  public TimestampCache(Timestamp lowWater, int maxEntries) {
    this.lowWater = Objects.requireNonNull(lowWater, "lowWater");
    if (maxEntries <= 0) {
      throw new IllegalArgumentException("maxEntries must be positive, got " + maxEntries);
    }
    this.maxEntries = maxEntries;
  }

  /**
   * The cache of a new leader, which does not know what its predecessors read, only a bound on it:
   * a leader records a read only once its own physical clock has reached the read's timestamp (the
   * node holds back a request that would record one above it), and no two clocks differ by more
   * than {@code maxOffsetNanos}; so every read recorded before this leader took over lies below
   * {@code physicalNanos + maxOffsetNanos}. The mark is that, or the leader's clock {@code now} if
   * higher; a write in the first max offset after the election lands above it.
   */
  public static TimestampCache forNewLeader(
      Timestamp now, long physicalNanos, long maxOffsetNanos, int maxEntries) {
    Timestamp bound = new Timestamp(physicalNanos + maxOffsetNanos + 1, 0);
    return new TimestampCache(bound.isAfter(now) ? bound : now, maxEntries);
  }

  /**
   * Records a read of the single key {@code key} at {@code ts} by {@code txnId} ({@link
   * ByteString#EMPTY} for a non-transactional read): {@link #add(ByteString, ByteString, Timestamp,
   * ByteString)} over {@code [key, key+0x00)}.
   */
  public void add(ByteString key, Timestamp ts, ByteString txnId) {
    add(key, successor(key), ts, txnId);
  }

  /**
   * Records a read of the keys in {@code [start, end)} at {@code ts} by {@code txnId} ({@link
   * ByteString#EMPTY} for a non-transactional read). A read at or below the low-water mark changes
   * nothing. May evict, raising the low-water mark.
   *
   * @throws IllegalArgumentException if {@code end} is not above {@code start}
   */
  public void add(ByteString start, ByteString end, Timestamp ts, ByteString txnId) {
    checkSpan(start, end);
    Entry read = new Entry(ts, txnId);
    if (!ts.isAfter(lowWater)) {
      return;
    }
    intervals.raise(start, end, read);
    while (intervals.size() > maxEntries) {
      evictLowest();
    }
  }

  /**
   * The highest timestamp at which {@code key} was read, never below the low-water mark, with the
   * transaction that read at it when exactly one did ({@link ByteString#EMPTY} when none did: the
   * low-water mark, a non-transactional read; or when several did).
   */
  public Entry max(ByteString key) {
    return max(key, successor(key));
  }

  /**
   * The highest timestamp at which any key in {@code [start, end)} was read, never below the
   * low-water mark, with the transaction that read at it when exactly one did ({@link
   * ByteString#EMPTY} when none did: the low-water mark, a non-transactional read; or when several
   * did, of the same or of different keys).
   *
   * @throws IllegalArgumentException if {@code end} is not above {@code start}
   */
  public Entry max(ByteString start, ByteString end) {
    checkSpan(start, end);
    return intervals.max(start, end, new Entry(lowWater, ByteString.EMPTY));
  }

  /**
   * Raises the low-water mark to {@code ts} (nothing if it is not above the mark): every key is
   * then read at least at {@code ts}, by nobody known. A new leader calls this with a timestamp
   * above anything its predecessor could have served a read at. Forgets the reads it covers.
   */
  public void raiseLowWater(Timestamp ts) {
    Objects.requireNonNull(ts, "ts");
    if (ts.isAfter(lowWater)) {
      lowWater = ts;
      intervals.removeAtOrBelow(ts);
    }
  }

  /** The low-water mark: no answer is below it. */
  public Timestamp lowWater() {
    return lowWater;
  }

  /** How many intervals are kept (at most {@code maxEntries}). */
  public int size() {
    return intervals.size();
  }

  /**
   * A broken invariant of this cache's bookkeeping, described, or null: a check for tests and
   * simulators.
   */
  String invariantViolation() {
    String broken = intervals.invariantViolation();
    if (broken != null) {
      return broken;
    }
    if (intervals.size() > maxEntries) {
      return intervals.size() + " intervals kept, more than " + maxEntries;
    }
    if (intervals.size() > 0 && !intervals.lowestTs().isAfter(lowWater)) {
      return "an interval at " + intervals.lowestTs() + ", not above the low water " + lowWater;
    }
    return null;
  }

  /**
   * Forgets the interval with the lowest timestamp, and any others at it, raising the low-water
   * mark to that timestamp.
   */
  private void evictLowest() {
    Timestamp lowest = intervals.lowestTs();
    if (lowest.isAfter(lowWater)) {
      lowWater = lowest;
    }
    intervals.removeAtOrBelow(lowest);
  }

  /** The key right after {@code key}: {@code [key, successor(key))} holds {@code key} alone. */
  static ByteString successor(ByteString key) {
    return Objects.requireNonNull(key, "key").concat(ZERO_BYTE);
  }

  private static void checkSpan(ByteString start, ByteString end) {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(end, "end");
    if (ReadIntervals.KEYS.compare(start, end) >= 0) {
      throw new IllegalArgumentException(
          "a span's end must be above its start, got ["
              + TextFormat.escapeBytes(start)
              + ", "
              + TextFormat.escapeBytes(end)
              + ")");
    }
  }
}
