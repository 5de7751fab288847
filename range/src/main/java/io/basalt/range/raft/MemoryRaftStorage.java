package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * {@link RaftStorage} in memory, for tests and the simulator. Not thread-safe: the deterministic
 * world is single-threaded.
 *
 * <p>The log is kept as a list whose element 0 is a dummy entry at the snapshot's index and term,
 * so that the term of {@code firstIndex() - 1} is always known.
 */
public final class MemoryRaftStorage implements RaftStorage {

  private HardState hardState = HardState.EMPTY;
  private Snapshot snapshot;
  private final ArrayList<Entry> entries = new ArrayList<>();

  /**
   * An empty log whose configuration is {@code confState} as of index 0, outside the log. Every
   * member must be created this way with the same configuration; a replica added later cannot learn
   * it from the log and must be sent a snapshot. Prefer {@link #bootstrap(ConfState)}.
   */
  public MemoryRaftStorage(ConfState confState) {
    Objects.requireNonNull(confState, "confState");
    this.snapshot = new Snapshot(new SnapshotMetadata(0, 0, confState), new byte[0]);
    entries.add(new Entry(0, 0, EntryType.NORMAL, null));
  }

  /** An empty log for a replica that will learn its group from a leader's snapshot. */
  public MemoryRaftStorage() {
    this(ConfState.EMPTY);
  }

  /**
   * The storage of an initial member of a new group: the log holds {@link
   * RaftNode#bootstrapEntries(ConfState)}, committed, so that replicas added later learn the
   * configuration by replaying the log.
   */
  public static MemoryRaftStorage bootstrap(ConfState initial) {
    MemoryRaftStorage st = new MemoryRaftStorage();
    List<Entry> ents = RaftNode.bootstrapEntries(initial);
    st.append(ents);
    st.setHardState(new HardState(0, 0, ents.size()));
    return st;
  }

  /** The hard state, and the configuration of the latest snapshot (the restart point). */
  @Override
  public InitialState initialState() {
    return new InitialState(hardState, snapshot.metadata().confState());
  }

  @Override
  public List<Entry> entries(long lo, long hi, long maxBytes) {
    long offset = entries.get(0).index();
    if (lo <= offset) {
      throw new LogCompactedException(lo, offset + 1);
    }
    if (hi > lastIndex() + 1) {
      throw new LogUnavailableException(hi - 1, lastIndex());
    }
    List<Entry> out = new ArrayList<>();
    long size = 0;
    for (long i = lo; i < hi; i++) {
      Entry e = entries.get((int) (i - offset));
      size += e.sizeBytes();
      if (!out.isEmpty() && size > maxBytes) {
        break;
      }
      out.add(e);
    }
    return out;
  }

  @Override
  public long term(long index) {
    long offset = entries.get(0).index();
    if (index < offset) {
      throw new LogCompactedException(index, offset + 1);
    }
    if (index > lastIndex()) {
      throw new LogUnavailableException(index, lastIndex());
    }
    return entries.get((int) (index - offset)).term();
  }

  @Override
  public long firstIndex() {
    return entries.get(0).index() + 1;
  }

  @Override
  public long lastIndex() {
    return entries.get(0).index() + entries.size() - 1;
  }

  @Override
  public Snapshot snapshot() {
    return snapshot;
  }

  /** Persists the hard state of a {@link Ready}. */
  public void setHardState(HardState hardState) {
    this.hardState = Objects.requireNonNull(hardState, "hardState");
  }

  /**
   * Appends the entries of a {@link Ready}. Entries from the first new index on are replaced (a new
   * leader may overwrite an uncommitted suffix, Raft §5.3); entries already compacted are skipped.
   *
   * @throws IllegalArgumentException if the entries are not contiguous or leave a gap after the log
   */
  public void append(List<Entry> newEntries) {
    if (newEntries.isEmpty()) {
      return;
    }
    for (int i = 1; i < newEntries.size(); i++) {
      if (newEntries.get(i).index() != newEntries.get(i - 1).index() + 1) {
        throw new IllegalArgumentException("entries are not contiguous: " + newEntries);
      }
    }
    long first = firstIndex();
    long last = newEntries.get(newEntries.size() - 1).index();
    if (last < first) {
      return;
    }
    List<Entry> toAdd = newEntries;
    if (first > newEntries.get(0).index()) {
      toAdd = newEntries.subList((int) (first - newEntries.get(0).index()), newEntries.size());
    }
    long start = toAdd.get(0).index();
    long offset = entries.get(0).index();
    if (start > lastIndex() + 1) {
      throw new IllegalArgumentException(
          "missing log entries: last index " + lastIndex() + ", appending at " + start);
    }
    int keep = (int) (start - offset);
    entries.subList(keep, entries.size()).clear();
    entries.addAll(toAdd);
  }

  /**
   * Discards entries up to and including {@code compactIndex}, which must have been applied and
   * captured by a snapshot the application keeps.
   *
   * @throws IllegalArgumentException if {@code compactIndex} is beyond the last index
   */
  public void compact(long compactIndex) {
    long offset = entries.get(0).index();
    if (compactIndex <= offset) {
      return;
    }
    if (compactIndex > lastIndex()) {
      throw new IllegalArgumentException(
          "compact index " + compactIndex + " is beyond last index " + lastIndex());
    }
    int i = (int) (compactIndex - offset);
    Entry dummy = new Entry(entries.get(i).term(), compactIndex, EntryType.NORMAL, null);
    List<Entry> rest = new ArrayList<>(entries.subList(i + 1, entries.size()));
    entries.clear();
    entries.add(dummy);
    entries.addAll(rest);
  }

  /**
   * Records a snapshot of the applied state at {@code index} (which must be in the log), taken
   * under {@code confState}. Does not compact; call {@link #compact(long)} afterwards.
   *
   * @return the snapshot, or the existing one if it is newer
   */
  public Snapshot createSnapshot(long index, ConfState confState, byte[] data) {
    if (index <= snapshot.metadata().index()) {
      return snapshot;
    }
    if (index > lastIndex()) {
      throw new IllegalArgumentException(
          "snapshot index " + index + " is beyond last index " + lastIndex());
    }
    snapshot = new Snapshot(new SnapshotMetadata(index, term(index), confState), data);
    return snapshot;
  }

  /**
   * Installs a snapshot received in a {@link Ready}: the log is replaced by the snapshot, and the
   * configuration becomes the snapshot's. Snapshots older than the current one are ignored.
   */
  public void applySnapshot(Snapshot s) {
    if (s.metadata().index() <= snapshot.metadata().index()) {
      return;
    }
    snapshot = s;
    entries.clear();
    entries.add(new Entry(s.metadata().term(), s.metadata().index(), EntryType.NORMAL, null));
    if (hardState.commit() < s.metadata().index()) {
      hardState = new HardState(hardState.term(), hardState.vote(), s.metadata().index());
    }
  }
}
