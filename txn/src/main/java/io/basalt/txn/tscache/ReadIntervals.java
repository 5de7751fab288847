package io.basalt.txn.tscache;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.txn.tscache.TimestampCache.Entry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The intervals of a {@link TimestampCache}: non-overlapping key intervals, each with the entry
 * that answers for its keys, indexed by start key (to find those over a span) and by timestamp,
 * then start key (to find the lowest, for eviction). Touching intervals never carry the same entry:
 * they are merged.
 */
final class ReadIntervals {
  static final Comparator<ByteString> KEYS = ByteString.unsignedLexicographicalComparator();

  /** The keys {@code [start, end)}, all answered by {@code entry}. */
  record Interval(ByteString start, ByteString end, Entry entry) {}

  /** Unique, since intervals do not overlap and so do not share a start. */
  private static final Comparator<Interval> BY_TS_THEN_START =
      Comparator.comparing((Interval i) -> i.entry().ts()).thenComparing(Interval::start, KEYS);

  private final TreeMap<ByteString, Interval> byStart = new TreeMap<>(KEYS);
  private final TreeSet<Interval> byTs = new TreeSet<>(BY_TS_THEN_START);

  int size() {
    return byStart.size();
  }

  /** The lowest timestamp of any interval; there must be one. */
  Timestamp lowestTs() {
    return byTs.first().entry().ts();
  }

  /**
   * The join of {@code floor} and the entries of the intervals overlapping {@code [start, end)}.
   */
  Entry max(ByteString start, ByteString end, Entry floor) {
    Entry max = floor;
    for (Interval i : overlapping(start, end)) {
      max = max.join(i.entry());
    }
    return max;
  }

  /**
   * Joins {@code read} into the entries of the keys in {@code [start, end)}: the intervals it
   * overlaps are replaced by their parts outside the span, their parts inside it joined with {@code
   * read}, and {@code read} itself over the gaps between them; then touching intervals with equal
   * entries are merged.
   */
  void raise(ByteString start, ByteString end, Entry read) {
    List<Interval> old = new ArrayList<>(overlapping(start, end));
    List<Interval> pieces = new ArrayList<>(2 * old.size() + 1);
    ByteString covered = start; // the span's keys below this have their pieces
    for (Interval o : old) {
      if (KEYS.compare(o.start(), start) < 0) {
        pieces.add(new Interval(o.start(), start, o.entry()));
      } else if (KEYS.compare(covered, o.start()) < 0) {
        pieces.add(new Interval(covered, o.start(), read));
      }
      ByteString overlapEnd = KEYS.compare(o.end(), end) < 0 ? o.end() : end;
      pieces.add(new Interval(maxKey(o.start(), start), overlapEnd, o.entry().join(read)));
      if (KEYS.compare(o.end(), end) > 0) {
        pieces.add(new Interval(end, o.end(), o.entry()));
      }
      covered = overlapEnd;
    }
    if (KEYS.compare(covered, end) < 0) {
      pieces.add(new Interval(covered, end, read));
    }
    old.forEach(this::remove);

    // The pieces tile one run of keys; merge them with each other and with the neighbours
    // touching that run on either side.
    List<Interval> merged = new ArrayList<>(pieces.size() + 2);
    Map.Entry<ByteString, Interval> left = byStart.lowerEntry(pieces.get(0).start());
    if (left != null && left.getValue().end().equals(pieces.get(0).start())) {
      remove(left.getValue());
      merged.add(left.getValue());
    }
    pieces.forEach(p -> append(merged, p));
    Interval right = byStart.get(merged.get(merged.size() - 1).end());
    if (right != null) {
      remove(right);
      append(merged, right);
    }
    merged.forEach(this::insert);
  }

  /** Forgets the intervals at or below {@code ts}. */
  void removeAtOrBelow(Timestamp ts) {
    while (!byTs.isEmpty() && !byTs.first().entry().ts().isAfter(ts)) {
      byStart.remove(byTs.pollFirst().start());
    }
  }

  /**
   * A broken invariant of the two indexes, described, or null: they hold the same intervals, which
   * are not empty, do not overlap, and do not touch one with the same entry.
   */
  String invariantViolation() {
    if (byStart.size() != byTs.size()) {
      return byStart.size() + " intervals by start but " + byTs.size() + " by timestamp";
    }
    Interval prev = null;
    for (Map.Entry<ByteString, Interval> e : byStart.entrySet()) {
      Interval i = e.getValue();
      if (!e.getKey().equals(i.start()) || !byTs.contains(i)) {
        return "interval " + show(i) + " indexed inconsistently";
      }
      if (KEYS.compare(i.start(), i.end()) >= 0) {
        return "empty interval " + show(i);
      }
      if (prev != null && KEYS.compare(prev.end(), i.start()) > 0) {
        return "intervals " + show(prev) + " and " + show(i) + " overlap";
      }
      if (prev != null && prev.end().equals(i.start()) && prev.entry().equals(i.entry())) {
        return "touching intervals " + show(prev) + " and " + show(i) + " are not merged";
      }
      prev = i;
    }
    return null;
  }

  /** The intervals holding a key in {@code [start, end)}, in key order: a view. */
  private Collection<Interval> overlapping(ByteString start, ByteString end) {
    Map.Entry<ByteString, Interval> before = byStart.lowerEntry(start);
    ByteString from =
        before != null && KEYS.compare(before.getValue().end(), start) > 0
            ? before.getKey()
            : start;
    return byStart.subMap(from, true, end, false).values();
  }

  /** Adds {@code next}, which starts where the last of {@code run} ends, merging equal entries. */
  private static void append(List<Interval> run, Interval next) {
    int last = run.size() - 1;
    if (last >= 0 && run.get(last).entry().equals(next.entry())) {
      run.set(last, new Interval(run.get(last).start(), next.end(), next.entry()));
    } else {
      run.add(next);
    }
  }

  private void insert(Interval i) {
    byStart.put(i.start(), i);
    byTs.add(i);
  }

  private void remove(Interval i) {
    byStart.remove(i.start());
    byTs.remove(i);
  }

  private static ByteString maxKey(ByteString a, ByteString b) {
    return KEYS.compare(a, b) >= 0 ? a : b;
  }

  private static String show(Interval i) {
    return "["
        + TextFormat.escapeBytes(i.start())
        + ", "
        + TextFormat.escapeBytes(i.end())
        + ") at "
        + i.entry().ts()
        + " by "
        + TextFormat.escapeBytes(i.entry().txnId());
  }
}
