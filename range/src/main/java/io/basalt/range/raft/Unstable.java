package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.List;

/**
 * Entries (and possibly a snapshot) accepted by the core but not yet reported persisted by the
 * application. {@code entries.get(i)} has index {@code offset + i}; an unstable snapshot, if any,
 * precedes them at index {@code offset - 1}.
 *
 * <p>Entries below {@code offsetInProgress} were handed to the application to persist and are on
 * their way to disk; the rest are still to be handed out. {@code offset <= offsetInProgress <=
 * offset + entries.size()}. A conflicting append that replaces entries in progress moves {@code
 * offsetInProgress} back, so the replacements are handed out again.
 */
final class Unstable {
  private Snapshot snapshot;
  private final ArrayList<Entry> entries = new ArrayList<>();
  private long offset;
  private long offsetInProgress;
  private long rewrites;

  Unstable(long offset) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  long offset() {
    return offset;
  }

  Snapshot snapshot() {
    return snapshot;
  }

  List<Entry> entries() {
    return List.copyOf(entries);
  }

  /**
   * How many times entries here were replaced (by a conflicting append or a snapshot): a write
   * handed out before the last replacement may have been overwritten on disk by a later one.
   */
  long rewrites() {
    return rewrites;
  }

  /** Entries not yet handed out to be persisted. */
  List<Entry> entriesToPersist() {
    return List.copyOf(entries.subList((int) (offsetInProgress - offset), entries.size()));
  }

  boolean hasEntriesToPersist() {
    return offsetInProgress < offset + entries.size();
  }

  /** Entries up to {@code index} were handed out to be persisted. */
  void acceptInProgress(long index) {
    offsetInProgress = Math.max(offsetInProgress, Math.min(index + 1, offset + entries.size()));
  }

  /** The first index if there is an unstable snapshot, else -1. */
  long maybeFirstIndex() {
    return snapshot != null ? snapshot.metadata().index() + 1 : -1;
  }

  /** The last index if there are unstable entries or an unstable snapshot, else -1. */
  long maybeLastIndex() {
    if (!entries.isEmpty()) {
      return offset + entries.size() - 1;
    }
    return snapshot != null ? snapshot.metadata().index() : -1;
  }

  /** The term of {@code index} if unstable state knows it, else -1. */
  long maybeTerm(long index) {
    if (index < offset) {
      if (snapshot != null && snapshot.metadata().index() == index) {
        return snapshot.metadata().term();
      }
      return -1;
    }
    long last = maybeLastIndex();
    if (last < 0 || index > last) {
      return -1;
    }
    return entries.get((int) (index - offset)).term();
  }

  /** Entries up to {@code index} were persisted, if the entry there still has term {@code term}. */
  void stableTo(long index, long term) {
    long t = maybeTerm(index);
    if (t != term || index < offset || entries.isEmpty()) {
      return; // Replaced by a newer leader's entries meanwhile: they are still unstable.
    }
    entries.subList(0, (int) (index + 1 - offset)).clear();
    offset = index + 1;
    offsetInProgress = Math.max(offsetInProgress, offset);
  }

  void stableSnapTo(long index) {
    if (snapshot != null && snapshot.metadata().index() == index) {
      snapshot = null;
    }
  }

  void restore(Snapshot s) {
    rewrites++;
    offset = s.metadata().index() + 1;
    offsetInProgress = offset;
    entries.clear();
    snapshot = s;
  }

  void truncateAndAppend(List<Entry> ents) {
    long after = ents.get(0).index();
    if (after != offset + entries.size()) {
      rewrites++;
    }
    if (after == offset + entries.size()) {
      entries.addAll(ents);
    } else if (after <= offset) {
      // Replaces everything unstable (and, once persisted, the stable suffix from `after` on).
      offset = after;
      entries.clear();
      entries.addAll(ents);
    } else {
      entries.subList((int) (after - offset), entries.size()).clear();
      entries.addAll(ents);
    }
    // Entries from `after` on are new, even where their indexes were in progress.
    offsetInProgress = Math.max(offset, Math.min(offsetInProgress, after));
  }

  /** Entries in {@code [lo, hi)}, all of which must be unstable. */
  List<Entry> slice(long lo, long hi) {
    return new ArrayList<>(entries.subList((int) (lo - offset), (int) (hi - offset)));
  }
}
