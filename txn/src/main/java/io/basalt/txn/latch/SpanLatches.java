package io.basalt.txn.latch;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Latches over key spans, in read and write modes, held by requests while they are evaluated and
 * until their effects are in the engine, so that requests that touch the same keys run one after
 * another. Two spans conflict when they overlap and at least one is a write. A request acquires all
 * its spans at once or waits for all of them; waiters are granted in arrival order, and a request
 * also waits behind an earlier waiter it conflicts with, so a stream of readers cannot starve a
 * writer. Single-threaded: one replica's latches are touched by its store's thread only.
 *
 * <p>Point spans (one key) are indexed by key, so the common case, a write to a few keys, costs a
 * hash lookup per key; spans over key ranges (scans) are checked one by one.
 *
 * @param <T> the owner of a set of latches (a request), told apart by {@code equals} (for a request
 *     object without its own, by identity)
 */
public final class SpanLatches<T> {
  /** A latch's mode: readers share a key, a writer excludes everyone. */
  public enum Mode {
    READ,
    WRITE
  }

  /**
   * A span {@code [start, end)} in {@code mode}; an empty {@code end} makes it the single key
   * {@code start}.
   */
  public record Span(ByteString start, ByteString end, Mode mode) {
    public Span {
      Objects.requireNonNull(start, "start");
      Objects.requireNonNull(end, "end");
      Objects.requireNonNull(mode, "mode");
      if (!end.isEmpty() && KEYS.compare(start, end) >= 0) {
        throw new IllegalArgumentException("a span's start must be below its end");
      }
    }

    /** The single key {@code key}. */
    public static Span point(ByteString key, Mode mode) {
      return new Span(key, ByteString.EMPTY, mode);
    }

    boolean isPoint() {
      return end.isEmpty();
    }

    /** Whether the two spans share a key. */
    public boolean overlaps(Span o) {
      if (isPoint() && o.isPoint()) {
        return start.equals(o.start);
      }
      if (isPoint()) {
        return o.containsKey(start);
      }
      if (o.isPoint()) {
        return containsKey(o.start);
      }
      return KEYS.compare(start, o.end) < 0 && KEYS.compare(o.start, end) < 0;
    }

    private boolean containsKey(ByteString key) {
      return KEYS.compare(start, key) <= 0 && KEYS.compare(key, end) < 0;
    }

    /** Whether the two spans overlap and at least one of them writes. */
    public boolean conflictsWith(Span o) {
      return (mode == Mode.WRITE || o.mode == Mode.WRITE) && overlaps(o);
    }
  }

  private static final Comparator<ByteString> KEYS = ByteString.unsignedLexicographicalComparator();

  /** Who holds latches, with their spans, in the order they were granted. */
  private final Map<T, List<Span>> granted = new LinkedHashMap<>();

  /** Who waits, with their spans, in arrival order. */
  private final Map<T, List<Span>> waiting = new LinkedHashMap<>();

  /** How many granted latches cover each key held by point spans: readers, and writers. */
  private final Map<ByteString, int[]> pointHolders = new HashMap<>();

  /** The granted spans over key ranges, with their owners. */
  private final List<Map.Entry<T, Span>> rangeHolders = new ArrayList<>();

  /**
   * Acquires {@code spans} for {@code owner}: true if they are granted now; false if {@code owner}
   * now waits, and is granted them by a later {@link #release} (which returns it).
   *
   * @throws IllegalStateException if {@code owner} already holds or waits for latches
   */
  public boolean acquire(T owner, Collection<Span> spans) {
    if (granted.containsKey(owner) || waiting.containsKey(owner)) {
      throw new IllegalStateException("already holds or waits for latches: " + owner);
    }
    List<Span> list = List.copyOf(spans);
    if (conflictsWithGranted(list) || conflictsWithAny(list, waiting.values())) {
      waiting.put(owner, list);
      return false;
    }
    grant(owner, list);
    return true;
  }

  /**
   * Releases {@code owner}'s latches, or takes it out of the queue if it waits (nothing if it has
   * neither). Returns the owners granted their latches as a result, in arrival order.
   */
  public List<T> release(T owner) {
    if (waiting.remove(owner) != null) {
      // A waiter leaving may unblock those that waited behind it only.
      return grantWaiters();
    }
    List<Span> spans = granted.remove(owner);
    if (spans == null) {
      return List.of();
    }
    boolean heldRanges = false;
    for (Span s : spans) {
      if (s.isPoint()) {
        int[] counts = pointHolders.get(s.start());
        counts[s.mode().ordinal()]--;
        if (counts[0] == 0 && counts[1] == 0) {
          pointHolders.remove(s.start());
        }
      } else {
        heldRanges = true;
      }
    }
    if (heldRanges) {
      rangeHolders.removeIf(e -> e.getKey().equals(owner));
    }
    return grantWaiters();
  }

  /** Whether {@code owner} holds its latches. */
  public boolean holds(T owner) {
    return granted.containsKey(owner);
  }

  /** Whether {@code owner} waits for its latches. */
  public boolean isWaiting(T owner) {
    return waiting.containsKey(owner);
  }

  /** The owners holding latches, in the order they were granted. */
  public List<T> holders() {
    return List.copyOf(granted.keySet());
  }

  /** The owners waiting, in arrival order. */
  public List<T> waiters() {
    return List.copyOf(waiting.keySet());
  }

  /** The spans {@code owner} holds or waits for (empty if neither). */
  public List<Span> spansOf(T owner) {
    List<Span> spans = granted.get(owner);
    if (spans == null) {
      spans = waiting.get(owner);
    }
    return spans == null ? List.of() : spans;
  }

  /**
   * A waiter that conflicts with no holder and no earlier waiter (so should have been granted), or
   * null: a check of this structure's own bookkeeping, for tests and simulators.
   */
  public T waiterWaitingForNothing() {
    List<List<Span>> earlier = new ArrayList<>();
    for (Map.Entry<T, List<Span>> e : waiting.entrySet()) {
      if (!conflictsWithAny(e.getValue(), granted.values())
          && !conflictsWithAny(e.getValue(), earlier)) {
        return e.getKey();
      }
      earlier.add(e.getValue());
    }
    return null;
  }

  private List<T> grantWaiters() {
    if (waiting.isEmpty()) {
      return List.of();
    }
    List<T> out = new ArrayList<>();
    List<List<Span>> stillWaiting = new ArrayList<>();
    for (Iterator<Map.Entry<T, List<Span>>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<T, List<Span>> e = it.next();
      List<Span> spans = e.getValue();
      if (!conflictsWithGranted(spans) && !conflictsWithAny(spans, stillWaiting)) {
        it.remove();
        grant(e.getKey(), spans);
        out.add(e.getKey());
      } else {
        stillWaiting.add(spans);
      }
    }
    return out;
  }

  private void grant(T owner, List<Span> spans) {
    granted.put(owner, spans);
    for (Span s : spans) {
      if (s.isPoint()) {
        pointHolders.computeIfAbsent(s.start(), k -> new int[2])[s.mode().ordinal()]++;
      } else {
        rangeHolders.add(Map.entry(owner, s));
      }
    }
  }

  private boolean conflictsWithGranted(List<Span> spans) {
    for (Span s : spans) {
      if (s.isPoint()) {
        int[] counts = pointHolders.get(s.start());
        if (counts != null
            && (counts[Mode.WRITE.ordinal()] > 0
                || (s.mode() == Mode.WRITE && counts[Mode.READ.ordinal()] > 0))) {
          return true;
        }
      } else {
        for (Map.Entry<ByteString, int[]> e : pointHolders.entrySet()) {
          int[] counts = e.getValue();
          boolean writers = counts[Mode.WRITE.ordinal()] > 0;
          if ((writers || s.mode() == Mode.WRITE)
              && s.overlaps(Span.point(e.getKey(), Mode.READ))) {
            return true;
          }
        }
      }
      for (Map.Entry<T, Span> e : rangeHolders) {
        if (s.conflictsWith(e.getValue())) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean conflictsWithAny(List<Span> spans, Collection<List<Span>> others) {
    for (List<Span> other : others) {
      for (Span a : spans) {
        for (Span b : other) {
          if (a.conflictsWith(b)) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
