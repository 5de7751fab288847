package io.basalt.range.raft;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.log.Checksummed;
import io.basalt.range.log.RaftLogStore;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link RaftStorage} over the node's {@link Engine}: one range's log and hard state in a {@link
 * RaftLogStore}, plus its latest snapshot and applied membership, all in the {@code RAFT} column
 * family. This is how a replica's Raft state survives a restart (DESIGN.md decision 2).
 *
 * <p>Writes are staged into a caller's {@link WriteBatch}, so that the Ready of many ranges is
 * persisted by one group-committed write; the caller writes the batch (synced) before it sends the
 * Ready's after-persist messages and calls {@code advance}. The snapshot is stored whole, with its
 * data; it is bounded by the range size.
 *
 * <p>A new replica is either bootstrapped ({@link #bootstrap}: an initial snapshot point with the
 * initial membership, so its log starts after it and a replica added later must receive a
 * snapshot), or left empty, to be filled by the first snapshot its leader sends.
 */
public final class EngineRaftStorage implements RaftStorage {
  // The log store's exceptions are named in full below: the simple names would resolve to the
  // RaftStorage member types this class inherits, and the catch would never match.
  private final Engine engine;
  private final long rangeId;
  private final RaftLogStore log;

  /**
   * The newest entries staged into the log, consecutive and ending at the log's last index, as Raft
   * handed them over: applying committed entries and replicating recent ones read them here rather
   * than from the engine (which would read, verify and decode what was just written). Bounded per
   * range by {@link #CACHE_MAX_ENTRIES} and {@link #CACHE_MAX_BYTES}; emptied by anything that
   * replaces the log, and trimmed by compaction.
   */
  private final ArrayList<Entry> cache = new ArrayList<>();

  private long cacheBytes;

  static final int CACHE_MAX_ENTRIES = 512;
  static final long CACHE_MAX_BYTES = 256 << 10;

  public EngineRaftStorage(Engine engine, long rangeId) {
    this.engine = engine;
    this.rangeId = rangeId;
    this.log = new RaftLogStore(engine, rangeId);
  }

  public long rangeId() {
    return rangeId;
  }

  /**
   * Stages the initial state of a new group's first replicas: a snapshot point at {@code (index,
   * term)} whose membership is {@code confState} and whose data is {@code data}, and a hard state
   * at that term with that commit.
   */
  public void bootstrap(WriteBatch batch, long index, long term, ConfState confState, byte[] data) {
    if (log.lastIndex() != 0 || !snapshot().isEmpty()) {
      throw new IllegalStateException("range " + rangeId + " is already initialized");
    }
    Snapshot initial = new Snapshot(new SnapshotMetadata(index, term, confState), data);
    applySnapshot(batch, initial);
    setHardState(batch, new HardState(term, 0, index));
  }

  @Override
  public InitialState initialState() {
    io.basalt.api.HardState stored = log.hardState();
    HardState hardState = new HardState(stored.getTerm(), stored.getVote(), stored.getCommit());
    byte[] key = LocalKeys.confState(rangeId);
    byte[] value = engine.get(ColumnFamily.RAFT, key);
    ConfState confState = ConfState.EMPTY;
    if (value != null) {
      try {
        confState =
            fromProto(
                io.basalt.api.ConfState.parseFrom(
                    Checksummed.unwrap(key, value, "range " + rangeId + " conf state")));
      } catch (InvalidProtocolBufferException e) {
        throw new CorruptionException("range " + rangeId + " conf state does not parse", e);
      }
    }
    return new InitialState(hardState, confState);
  }

  @Override
  public List<Entry> entries(long lo, long hi, long maxBytes) {
    if (lo < hi && cached(lo) != null && cached(hi - 1) != null) {
      List<Entry> out = new ArrayList<>((int) (hi - lo));
      long bytes = 0;
      for (long i = lo; i < hi; i++) {
        Entry e = cached(i);
        bytes += storedSize(e);
        if (!out.isEmpty() && bytes > maxBytes) {
          break;
        }
        out.add(e);
      }
      return out;
    }
    try {
      List<io.basalt.api.Entry> stored = log.entries(lo, hi, maxBytes);
      List<Entry> out = new ArrayList<>(stored.size());
      for (io.basalt.api.Entry e : stored) {
        out.add(fromProto(e));
      }
      return out;
    } catch (io.basalt.range.log.LogCompactedException e) {
      throw new RaftStorage.LogCompactedException(lo, log.firstIndex());
    } catch (io.basalt.range.log.LogUnavailableException e) {
      throw new RaftStorage.LogUnavailableException(hi - 1, log.lastIndex());
    }
  }

  @Override
  public long term(long index) {
    Entry hit = cached(index);
    if (hit != null) {
      return hit.term();
    }
    try {
      return log.term(index);
    } catch (io.basalt.range.log.LogCompactedException e) {
      throw new RaftStorage.LogCompactedException(index, log.firstIndex());
    } catch (io.basalt.range.log.LogUnavailableException e) {
      throw new RaftStorage.LogUnavailableException(index, log.lastIndex());
    }
  }

  @Override
  public long firstIndex() {
    return log.firstIndex();
  }

  @Override
  public long lastIndex() {
    return log.lastIndex();
  }

  @Override
  public Snapshot snapshot() {
    byte[] key = LocalKeys.raftSnapshot(rangeId);
    byte[] value = engine.get(ColumnFamily.RAFT, key);
    if (value == null) {
      return Snapshot.EMPTY;
    }
    try {
      io.basalt.api.SnapshotChunk stored =
          io.basalt.api.SnapshotChunk.parseFrom(
              Checksummed.unwrap(key, value, "range " + rangeId + " snapshot"));
      io.basalt.api.SnapshotMetadata m = stored.getMetadata();
      return new Snapshot(
          new SnapshotMetadata(m.getIndex(), m.getTerm(), fromProto(m.getConfState())),
          stored.getData().toByteArray());
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("range " + rangeId + " snapshot does not parse", e);
    }
  }

  /**
   * Stages what {@code ready} asks to persist, in the order Raft requires: its snapshot (which
   * replaces the log), then its entries, then its hard state. Write the batch (synced when {@link
   * Ready#mustSync()}) before sending the Ready's after-persist messages and advancing.
   */
  public void stage(WriteBatch batch, Ready ready) {
    if (ready.snapshot() != null) {
      applySnapshot(batch, ready.snapshot());
    }
    append(batch, ready.entries());
    if (ready.hardState() != null) {
      setHardState(batch, ready.hardState());
    }
  }

  /** Stages unstable entries from a Ready (replacing any conflicting suffix). */
  public void append(WriteBatch batch, List<Entry> entries) {
    if (entries.isEmpty()) {
      return;
    }
    List<io.basalt.api.Entry> protos = new ArrayList<>(entries.size());
    for (Entry e : entries) {
      protos.add(toProto(e));
    }
    log.append(batch, protos);
    // The log accepted them: a conflicting suffix of the cache is replaced, as in the log; a cache
    // that does not reach up to them starts over.
    long first = entries.get(0).index();
    if (cache.isEmpty() || first < cacheFirst() || first > cacheFirst() + cache.size()) {
      clearCache();
    } else {
      dropCached((int) (first - cacheFirst()), cache.size());
    }
    for (Entry e : entries) {
      cache.add(e);
      cacheBytes += storedSize(e);
    }
    int drop = 0;
    long bytesLeft = cacheBytes;
    while (drop < cache.size() - 1
        && (cache.size() - drop > CACHE_MAX_ENTRIES || bytesLeft > CACHE_MAX_BYTES)) {
      bytesLeft -= storedSize(cache.get(drop++));
    }
    dropCached(0, drop);
  }

  /**
   * The cached entry at {@code index}, or null (the cache serves only while it ends at the log's).
   */
  private Entry cached(long index) {
    if (cache.isEmpty()) {
      return null;
    }
    long first = cacheFirst();
    long last = first + cache.size() - 1;
    if (last != log.lastIndex() || index < first || index > last) {
      return null;
    }
    return cache.get((int) (index - first));
  }

  private long cacheFirst() {
    return cache.get(0).index();
  }

  /** Drops the cached entries at positions {@code [from, to)}. */
  private void dropCached(int from, int to) {
    List<Entry> dropped = cache.subList(from, to);
    for (Entry e : dropped) {
      cacheBytes -= storedSize(e);
    }
    dropped.clear();
  }

  private void clearCache() {
    cache.clear();
    cacheBytes = 0;
  }

  /** What the log store counts for an entry against a read's byte limit: its stored form. */
  private static long storedSize(Entry e) {
    long size =
        CodedOutputStream.computeUInt64Size(1, e.term())
            + CodedOutputStream.computeUInt64Size(2, e.index());
    if (e.type() != EntryType.NORMAL) {
      size += CodedOutputStream.computeEnumSize(3, 1);
    }
    if (e.data().length > 0) {
      size += CodedOutputStream.computeByteArraySize(4, e.data());
    }
    return size;
  }

  /** Entries cached, for tests. */
  int cachedEntries() {
    return cache.size();
  }

  public void setHardState(WriteBatch batch, HardState hardState) {
    log.setHardState(
        batch,
        io.basalt.api.HardState.newBuilder()
            .setTerm(hardState.term())
            .setVote(hardState.vote())
            .setCommit(hardState.commit())
            .build());
  }

  /** Stages the membership as of the latest snapshot (what a restart resumes from). */
  public void setConfState(WriteBatch batch, ConfState confState) {
    byte[] key = LocalKeys.confState(rangeId);
    batch.put(ColumnFamily.RAFT, key, Checksummed.wrap(key, toProto(confState).toByteArray()));
  }

  /**
   * Stages a snapshot the state machine took at {@code snapshot.metadata().index()} (which it has
   * applied), and compacts the log up to {@code compactTo} (at most that index).
   */
  public void saveSnapshot(WriteBatch batch, Snapshot snapshot, long compactTo) {
    long index = snapshot.metadata().index();
    if (compactTo > index) {
      throw new IllegalArgumentException(
          "range "
              + rangeId
              + ": cannot compact to "
              + compactTo
              + " past the snapshot at "
              + index);
    }
    putSnapshot(batch, snapshot);
    // A restart resumes from the snapshot, so the membership stored is the one as of it.
    setConfState(batch, snapshot.metadata().confState());
    if (compactTo >= log.firstIndex()) {
      log.compact(batch, compactTo);
      if (!cache.isEmpty()) {
        dropCached(0, Math.clamp(compactTo + 1 - cacheFirst(), 0, cache.size()));
      }
    }
  }

  /** Stages a snapshot received from the leader: it replaces the whole log and the membership. */
  public void applySnapshot(WriteBatch batch, Snapshot snapshot) {
    SnapshotMetadata m = snapshot.metadata();
    putSnapshot(batch, snapshot);
    log.resetToSnapshot(batch, m.index(), m.term());
    clearCache();
    setConfState(batch, m.confState());
  }

  private void putSnapshot(WriteBatch batch, Snapshot snapshot) {
    SnapshotMetadata m = snapshot.metadata();
    byte[] key = LocalKeys.raftSnapshot(rangeId);
    io.basalt.api.SnapshotChunk stored =
        io.basalt.api.SnapshotChunk.newBuilder()
            .setRangeId(rangeId)
            .setMetadata(
                io.basalt.api.SnapshotMetadata.newBuilder()
                    .setIndex(m.index())
                    .setTerm(m.term())
                    .setConfState(toProto(m.confState())))
            .setData(ByteString.copyFrom(snapshot.data()))
            .setLast(true)
            .build();
    batch.put(ColumnFamily.RAFT, key, Checksummed.wrap(key, stored.toByteArray()));
  }

  /** Stages the deletion of all of this replica's Raft state (it was removed from the group). */
  public void destroy(WriteBatch batch) {
    log.destroy(batch);
    clearCache();
  }

  static io.basalt.api.Entry toProto(Entry e) {
    return io.basalt.api.Entry.newBuilder()
        .setTerm(e.term())
        .setIndex(e.index())
        .setType(
            e.type() == EntryType.CONF_CHANGE
                ? io.basalt.api.EntryType.ENTRY_TYPE_CONF_CHANGE
                : io.basalt.api.EntryType.ENTRY_TYPE_NORMAL)
        .setData(ByteString.copyFrom(e.data()))
        .build();
  }

  static Entry fromProto(io.basalt.api.Entry e) {
    EntryType type =
        switch (e.getType()) {
          case ENTRY_TYPE_NORMAL -> EntryType.NORMAL;
          case ENTRY_TYPE_CONF_CHANGE -> EntryType.CONF_CHANGE;
          case UNRECOGNIZED ->
              throw new CorruptionException("log entry " + e.getIndex() + " has an unknown type");
        };
    return new Entry(e.getTerm(), e.getIndex(), type, e.getData().toByteArray());
  }

  /** The wire form of a membership. */
  public static io.basalt.api.ConfState toProto(ConfState c) {
    return io.basalt.api.ConfState.newBuilder()
        .addAllVoters(c.voters())
        .addAllLearners(c.learners())
        .addAllVotersOutgoing(c.votersOutgoing())
        .addAllLearnersNext(c.learnersNext())
        .setAutoLeave(c.autoLeave())
        .build();
  }

  /** A membership from its wire form. */
  public static ConfState fromProto(io.basalt.api.ConfState c) {
    return new ConfState(
        c.getVotersList(),
        c.getLearnersList(),
        c.getVotersOutgoingList(),
        c.getLearnersNextList(),
        c.getAutoLeave());
  }
}
