package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.List;

/**
 * The replica's view of its log: stable entries in {@link RaftStorage}, followed by {@link
 * Unstable} entries, plus the commit and applied indexes. Invariant: {@code applied <= committed <=
 * lastIndex()}; {@code committed} never decreases (a committed entry is never lost, §5.4).
 */
final class RaftLog {
  private final RaftStorage storage;
  private final Unstable unstable;
  private long committed;
  private long applied;

  RaftLog(RaftStorage storage) {
    this.storage = storage;
    long first = storage.firstIndex();
    long last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  RaftStorage storage() {
    return storage;
  }

  long committed() {
    return committed;
  }

  long applied() {
    return applied;
  }

  long firstIndex() {
    long i = unstable.maybeFirstIndex();
    return i >= 0 ? i : storage.firstIndex();
  }

  long lastIndex() {
    long i = unstable.maybeLastIndex();
    return i >= 0 ? i : storage.lastIndex();
  }

  /** The last index known persisted by the application. */
  long stableLastIndex() {
    return unstable.snapshot() != null ? 0 : unstable.offset() - 1;
  }

  long lastTerm() {
    return termOrZero(lastIndex());
  }

  /** Whether the term of {@code index} is no longer known (compacted into a snapshot). */
  boolean isCompacted(long index) {
    return index < firstIndex() - 1;
  }

  /**
   * The term of {@code index}, or 0 if the index is out of the log's known range (compacted or
   * beyond the end). Term 0 is never a real term for index > 0.
   */
  long termOrZero(long index) {
    if (index < firstIndex() - 1 || index > lastIndex()) {
      return 0;
    }
    long t = unstable.maybeTerm(index);
    if (t >= 0) {
      return t;
    }
    try {
      return storage.term(index);
    } catch (RaftStorage.LogCompactedException | RaftStorage.LogUnavailableException e) {
      return 0;
    }
  }

  boolean matchTerm(long index, long term) {
    if (index < firstIndex() - 1 || index > lastIndex()) {
      return false;
    }
    return termOrZero(index) == term;
  }

  /**
   * Raft §5.4.1: a candidate's log ({@code lastIndex}, {@code lastTerm}) is at least as up-to-date
   * as ours if its last term is higher, or equal with an index at least as high.
   */
  boolean isUpToDate(long lastIndex, long lastTerm) {
    long ourTerm = lastTerm();
    return lastTerm > ourTerm || (lastTerm == ourTerm && lastIndex >= lastIndex());
  }

  /**
   * The AppendEntries receiver rules (§5.3, Figure 2): if our entry at {@code prevIndex} has term
   * {@code prevTerm}, delete any conflicting suffix, append the new entries, and advance the commit
   * index to min(leaderCommit, index of the last new entry).
   *
   * @return the index of the last entry now known to match the leader's log, or -1 on mismatch
   */
  long maybeAppend(long prevIndex, long prevTerm, long leaderCommit, List<Entry> ents) {
    if (!matchTerm(prevIndex, prevTerm)) {
      return -1;
    }
    long lastNew = prevIndex + ents.size();
    long conflict = findConflict(ents);
    if (conflict != 0) {
      if (conflict <= committed) {
        throw new IllegalStateException(
            "entry " + conflict + " conflicts with committed entry (committed " + committed + ")");
      }
      append(ents.subList((int) (conflict - (prevIndex + 1)), ents.size()));
    }
    commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Appends entries at the end (a leader's own proposals) or over an uncommitted suffix. */
  long append(List<Entry> ents) {
    if (ents.isEmpty()) {
      return lastIndex();
    }
    long after = ents.get(0).index() - 1;
    if (after < committed) {
      throw new IllegalStateException(
          "appending after " + after + " would overwrite committed index " + committed);
    }
    if (after > lastIndex()) {
      throw new IllegalStateException(
          "appending after " + after + " leaves a gap after last index " + lastIndex());
    }
    unstable.truncateAndAppend(ents);
    return lastIndex();
  }

  /**
   * The index of the first entry in {@code ents} whose term differs from ours at that index (or
   * that we do not have), or 0 if all match.
   */
  long findConflict(List<Entry> ents) {
    for (Entry e : ents) {
      if (!matchTerm(e.index(), e.term())) {
        return e.index();
      }
    }
    return 0;
  }

  /**
   * Fast backtracking (§5.3, the optimisation at the end of the section): the largest index {@code
   * <= index} whose term is {@code <= term}, with that term. Every entry after it up to {@code
   * index} has a higher term and therefore cannot match a log whose entry at {@code index} has
   * {@code term}. If the terms are unknown (compacted) the index itself is returned with term 0.
   */
  long[] findConflictByTerm(long index, long term) {
    long i = Math.min(index, lastIndex());
    while (i > 0) {
      if (isCompacted(i)) {
        return new long[] {i, 0};
      }
      long t = termOrZero(i);
      if (t <= term) {
        return new long[] {i, t};
      }
      i--;
    }
    return new long[] {0, 0};
  }

  void commitTo(long index) {
    if (index <= committed) {
      return; // The commit index never regresses.
    }
    if (index > lastIndex()) {
      throw new IllegalStateException(
          "commit index " + index + " is beyond last index " + lastIndex());
    }
    committed = index;
  }

  void appliedTo(long index) {
    if (index == 0) {
      return;
    }
    if (index > committed || index < applied) {
      throw new IllegalStateException(
          "applied index " + index + " is outside [" + applied + ", " + committed + "]");
    }
    applied = index;
  }

  /** Entries in {@code [lo, hi)}, at most {@code maxBytes} of them but at least one. */
  List<Entry> entries(long lo, long hi, long maxBytes) {
    if (lo >= hi) {
      return List.of();
    }
    if (lo < firstIndex()) {
      throw new RaftStorage.LogCompactedException(lo, firstIndex());
    }
    if (hi > lastIndex() + 1) {
      throw new RaftStorage.LogUnavailableException(hi - 1, lastIndex());
    }
    List<Entry> out = new ArrayList<>();
    long uo = unstable.offset();
    if (lo < uo) {
      out.addAll(storage.entries(lo, Math.min(hi, uo), maxBytes));
      if (out.size() < Math.min(hi, uo) - lo) {
        return out; // Size limit reached inside storage.
      }
    }
    if (hi > uo) {
      List<Entry> tail = unstable.slice(Math.max(lo, uo), hi);
      long size = 0;
      for (Entry e : out) {
        size += e.sizeBytes();
      }
      for (Entry e : tail) {
        size += e.sizeBytes();
        if (!out.isEmpty() && size > maxBytes) {
          break;
        }
        out.add(e);
      }
    }
    return out;
  }

  /** Every entry from {@code lo} to the end of the log, unlimited in size. */
  List<Entry> entriesFrom(long lo) {
    return entries(lo, lastIndex() + 1, Long.MAX_VALUE);
  }

  /** Entries to hand to the application for persisting. */
  List<Entry> unstableEntries() {
    return unstable.entries();
  }

  /** Unstable entries not yet handed out to be persisted. */
  List<Entry> entriesToPersist() {
    return unstable.entriesToPersist();
  }

  boolean hasEntriesToPersist() {
    return unstable.hasEntriesToPersist();
  }

  void acceptInProgress(long index) {
    unstable.acceptInProgress(index);
  }

  /** How many times unstable entries were replaced (see {@link Unstable#rewrites()}). */
  long rewrites() {
    return unstable.rewrites();
  }

  Snapshot unstableSnapshot() {
    return unstable.snapshot();
  }

  /**
   * Committed entries not yet applied, limited to those this replica has persisted: a replica never
   * applies an entry it could lose in a crash.
   */
  List<Entry> nextCommittedEntries(long maxBytes) {
    if (unstable.snapshot() != null) {
      return List.of(); // The snapshot must be installed first.
    }
    long lo = Math.max(applied + 1, firstIndex());
    long hi = Math.min(committed, stableLastIndex()) + 1;
    if (lo >= hi) {
      return List.of();
    }
    return entries(lo, hi, maxBytes);
  }

  boolean hasNextCommittedEntries() {
    if (unstable.snapshot() != null) {
      return false;
    }
    return Math.max(applied + 1, firstIndex()) <= Math.min(committed, stableLastIndex());
  }

  void stableTo(long index, long term) {
    unstable.stableTo(index, term);
  }

  void stableSnapTo(long index) {
    unstable.stableSnapTo(index);
  }

  /** The snapshot to send a follower that needs compacted entries. */
  Snapshot snapshot() {
    Snapshot s = unstable.snapshot();
    return s != null ? s : storage.snapshot();
  }

  /** Replaces the log with a snapshot received from the leader (§7). */
  void restore(Snapshot s) {
    committed = s.metadata().index();
    unstable.restore(s);
  }

  /** After a snapshot is installed the state machine is at the snapshot's index. */
  void appliedSnapshot(long index) {
    if (index > applied) {
      applied = index;
    }
  }

  void restoreCommitAndApplied(long commit, long appliedIndex) {
    if (commit > lastIndex()) {
      throw new IllegalStateException(
          "persisted commit index " + commit + " is beyond last index " + lastIndex());
    }
    commitTo(commit);
    if (appliedIndex > applied) {
      appliedTo(Math.min(appliedIndex, committed));
    }
  }
}
