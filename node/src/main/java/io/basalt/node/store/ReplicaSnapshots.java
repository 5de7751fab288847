package io.basalt.node.store;

import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.raft.Message;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.snapshot.SnapshotReceiver;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.WriteBatch;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The snapshot streams of one replica. As leader it streams the range's state to followers the core
 * names ({@link OutgoingSnapshot}, pulled by the network as the connection takes it) and reports
 * the streams that ended; as follower it receives a stream chunk by chunk, checks it, steps the
 * snapshot into the core once it is whole, and keeps its data until the core installs it in a
 * round's write ({@link #stageData}).
 */
final class ReplicaSnapshots {
  private final Replica replica;
  private final Store store;
  private final long rangeId;

  ReplicaSnapshots(Replica replica, Store store) {
    this.replica = replica;
    this.store = store;
    this.rangeId = replica.rangeId;
  }

  /** A snapshot stream being received, by sending replica, with the stream's id. */
  private final Map<Long, Map.Entry<Long, SnapshotReceiver>> receiving = new HashMap<>();

  /** The snapshot stream last started to each follower replica (leader), until it ends. */
  private final Map<Long, OutgoingSnapshot> outgoingSnapshots = new TreeMap<>();

  /** A received snapshot: its data and the sender's descriptor of the range it holds. */
  private record Received(WriteBatch data, RangeDescriptor descriptor) {}

  /**
   * The received snapshot the core accepted and has not installed yet, by (index, term): a snapshot
   * the core refuses must not displace the one it accepted.
   */
  private final TreeMap<String, Received> pendingSnapshots = new TreeMap<>();

  /**
   * Streams a snapshot to a follower. The core names the compaction point (index, term,
   * membership); the data is the range's current state, read from one consistent view. That state
   * is at the applied index, at or past the compaction point, and carries its own applied index, so
   * the follower's state machine skips the entries between the two when the leader sends them after
   * the snapshot (apply is idempotent by index).
   */
  void send(Message m, long toNode) {
    io.basalt.range.raft.SnapshotMetadata md = m.snapshot().metadata();
    long snapshotId = (rangeId << 32) ^ (md.index() * 31 + store.ticks());
    // The descriptor and span of the data, read from the view the data is read from: the
    // replica's own may be newer (applied, not yet written), and the receiver applies the entries
    // after the data's applied index from the data's descriptor on.
    io.basalt.range.storage.ReadView view = store.engine.newReadView();
    RangeDescriptor sent;
    try {
      sent = RangeDescriptor.parseFrom(view.get(ColumnFamily.LOCAL, LocalKeys.descriptor(rangeId)));
    } catch (InvalidProtocolBufferException | NullPointerException e) {
      view.close();
      throw new CorruptionException("range " + rangeId + " has no readable descriptor", e);
    }
    OutgoingSnapshot stream =
        new OutgoingSnapshot(
            view,
            spanOf(sent),
            store.options.snapshotChunkBytes(),
            SnapshotChunk.newBuilder()
                .setRangeId(rangeId)
                .setFrom(m.from())
                .setTo(m.to())
                .setTerm(m.term())
                .setSnapshotId(snapshotId)
                .setRangeDescriptor(sent)
                .build(),
            io.basalt.api.SnapshotMetadata.newBuilder()
                .setIndex(md.index())
                .setTerm(md.term())
                .setConfState(RaftMessages.toProto(md.confState()))
                .build());
    OutgoingSnapshot previous = outgoingSnapshots.put(m.to(), stream);
    if (previous != null) {
      previous.cancel();
    }
    if (!store.network.sendSnapshot(toNode, stream)) {
      stream.abort("no connection to node " + toNode);
    }
    checkOutgoing();
  }

  /**
   * A stream whose connection takes no chunk for this long is given up (a follower stopped, or a
   * connection that stays open and is never read): it would otherwise keep the core waiting, and
   * its engine view pinned, for good.
   */
  static final long STREAM_STALL_NANOS = 10_000_000_000L;

  /** For each stream being sent: the chunks taken when last seen to move, and when (nanos). */
  private final Map<OutgoingSnapshot, long[]> progress = new java.util.IdentityHashMap<>();

  private boolean stalled(long to, OutgoingSnapshot s) {
    long now = store.nanoTime.getAsLong();
    long[] seen = progress.computeIfAbsent(s, k -> new long[] {-1, now});
    long chunks = s.chunksSent();
    if (chunks != seen[0]) {
      seen[0] = chunks;
      seen[1] = now;
      return false;
    }
    return now - seen[1] > STREAM_STALL_NANOS;
  }

  /** Whether no snapshot is being sent from here (nothing to check on a tick). */
  boolean idle() {
    return outgoingSnapshots.isEmpty();
  }

  /**
   * Reports the snapshot streams that ended: a failed one to the core (it probes again and sends
   * another) and to the listener (logged, counted); a sent one only to the listener: the core waits
   * for the follower's answer once it installed it (its own timeout covers a follower that dropped
   * the stream). Until then the core sends this follower no appends, which it could not use before
   * the snapshot is in.
   */
  void checkOutgoing() {
    if (outgoingSnapshots.isEmpty()) {
      return;
    }
    progress.keySet().retainAll(outgoingSnapshots.values());
    for (Iterator<Map.Entry<Long, OutgoingSnapshot>> it = outgoingSnapshots.entrySet().iterator();
        it.hasNext(); ) {
      Map.Entry<Long, OutgoingSnapshot> e = it.next();
      OutgoingSnapshot s = e.getValue();
      if (s.state() == OutgoingSnapshot.State.SENDING && stalled(e.getKey(), s)) {
        s.abort(
            "no chunk taken by the connection to node "
                + replica.nodeOf(e.getKey())
                + " for "
                + STREAM_STALL_NANOS / 1_000_000
                + " ms");
      }
      switch (s.state()) {
        case SENDING -> replica.raft().snapshotInProgress(e.getKey());
        case SENT -> {
          it.remove();
          store.listener.snapshotSent(
              rangeId, replica.nodeOf(e.getKey()), s.chunksSent(), s.bytesSent());
        }
        case FAILED -> {
          it.remove();
          replica.raft().reportSnapshot(e.getKey(), false);
          store.listener.snapshotNotSent(rangeId, replica.nodeOf(e.getKey()), s.failure());
          store.dirty.add(replica);
        }
        case CANCELLED -> it.remove();
      }
    }
  }

  private static RangeSpan spanOf(RangeDescriptor d) {
    return new RangeSpan(
        d.getRangeId(), d.getStartKey().toByteArray(), d.getEndKey().toByteArray());
  }

  /** The descriptor of the snapshot stream being received (the sender's). */
  private RangeDescriptor incoming;

  void receiveChunk(SnapshotChunk chunk) {
    long from = chunk.getFrom();
    Message message;
    try {
      Map.Entry<Long, SnapshotReceiver> current = receiving.get(from);
      SnapshotReceiver rx;
      if (chunk.getSequence() == 0) {
        // A new stream replaces any unfinished one, from this sender (which abandoned it) or from
        // another (a leader since deposed): one half-received snapshot at most is held in memory.
        receiving.clear();
        RangeDescriptor d = chunk.hasRangeDescriptor() ? chunk.getRangeDescriptor() : null;
        if (d != null
            && (d.getRangeId() != rangeId
                || (replica.initialized && d.getGeneration() < replica.descriptor.getGeneration())
                || d.getGeneration() == 0
                || !ReplicaLifecycle.fits(store, d))) {
          Replica other = ReplicaLifecycle.overlapping(store, d);
          if (other != null) {
            // Ranges' current spans never overlap: the replica in the way has not applied a split
            // of its range. Lagging, its leader catches it up; removed while away, it would stay
            // in the way for good, so it asks its members, who say so if it is.
            ReplicaLifecycle.probe(store, other);
          }
          store.listener.droppedMessage(
              from,
              rangeId,
              "snapshot of descriptor "
                  + d
                  + " does not fit this store"
                  + (other == null ? "" : " (replica of " + other.descriptor + " overlaps it)"));
          return;
        }
        if (d == null && !replica.initialized) {
          store.listener.droppedMessage(from, rangeId, "snapshot without a descriptor");
          return;
        }
        incoming = d != null ? d : replica.descriptor;
        rx = new SnapshotReceiver(spanOf(incoming));
        receiving.put(from, Map.entry(chunk.getSnapshotId(), rx));
      } else if (current == null || current.getKey() != chunk.getSnapshotId()) {
        // The rest of a stream that a newer one replaced, or whose start was lost: not an error
        // of the stream being received.
        store.listener.droppedMessage(from, rangeId, "snapshot chunk of an abandoned stream");
        return;
      } else {
        rx = current.getValue();
      }
      rx.accept(chunk.getSequence(), chunk.getData().toByteArray());
      if (!chunk.getLast()) {
        return;
      }
      receiving.remove(from);
      if (!incoming.equals(replica.descriptor) && !ReplicaLifecycle.fits(store, incoming)) {
        // Checked again now that it is whole: another replica may have come to cover some of its
        // keys while it streamed (a snapshot installed, a split applied).
        store.listener.droppedMessage(
            from, rangeId, "snapshot of descriptor " + incoming + " no longer fits this store");
        return;
      }
      WriteBatch data = rx.finish(chunk.getStreamCrc32C());
      io.basalt.api.SnapshotMetadata md = chunk.getMetadata();
      pendingSnapshots.put(snapshotKey(md.getIndex(), md.getTerm()), new Received(data, incoming));
      message =
          Message.builder(Message.Type.SNAPSHOT, from, replica.replicaId, chunk.getTerm())
              .snapshot(
                  new io.basalt.range.raft.Snapshot(
                      new io.basalt.range.raft.SnapshotMetadata(
                          md.getIndex(), md.getTerm(), RaftMessages.fromProto(md.getConfState())),
                      new byte[0]))
              .build();
    } catch (RuntimeException e) {
      // A bad stream (gap, corrupt record, checksum) is dropped; the leader sends another.
      receiving.remove(from);
      store.listener.droppedMessage(from, rangeId, "snapshot stream refused: " + e.getMessage());
      return;
    }
    try {
      replica.raft().step(message);
    } catch (IllegalArgumentException malformed) {
      store.listener.droppedMessage(from, rangeId, "snapshot refused: " + malformed.getMessage());
    }
    // Keep the data of exactly the snapshot the core now means to install (this one if it
    // accepted it, an earlier one if it refused this one), and nothing else.
    long accepted = replica.raft().pendingSnapshotIndex();
    pendingSnapshots
        .keySet()
        .removeIf(k -> Long.parseLong(k.substring(0, k.indexOf('/'))) != accepted);
    // Anything else the core throws is a broken invariant: it stops the store (decision 10).
  }

  private static String snapshotKey(long index, long term) {
    // Zero-padded so that the map's order is the index order.
    return String.format(java.util.Locale.ROOT, "%020d/%020d", index, term);
  }

  /** Stages the data of the snapshot the core is installing, in the round's write. */
  void stageData(WriteBatch batch, io.basalt.range.raft.Snapshot snapshot) {
    long index = snapshot.metadata().index();
    String key = snapshotKey(index, snapshot.metadata().term());
    Received received = pendingSnapshots.get(key);
    if (received == null) {
      throw new IllegalStateException(
          "range "
              + rangeId
              + " installs snapshot "
              + key
              + " without its data (holding "
              + pendingSnapshots.keySet()
              + ")");
    }
    RangeDescriptor d = received.descriptor();
    if (replica.initialized && !replica.descriptor.equals(d)) {
      // The old span's data goes too: a range the snapshot shows split has given its right-hand
      // keys to another range, whose own snapshot brings them (DESIGN.md, "Splits").
      for (RangeSpan.EngineSpan s : spanOf(replica.descriptor).engineSpans()) {
        batch.deleteRange(s.cf(), s.lower(), s.upper());
      }
    }
    ReplicaMerges.absorbSubsumed(store, replica, d, batch);
    batch.addAll(store.rules().snapshotDataToInstall(received.data()));
    // The descriptor of the data (the sender read both from one view): the entries after the
    // data's applied index are applied from it on.
    replica.descriptor = d;
    replica.initializedWhenWritten = true; // (Store.written: the snapshot is in the engine)
    StoreRecords.putDescriptor(batch, d);
    if (!ReplicaChanges.holds(d, store.nodeId())) {
      replica.removed = true;
    }
    pendingSnapshots.clear();
    store.listener.snapshotInstalled(rangeId, index);
  }

  /** The descriptor of the snapshot the core accepted and has not installed yet, or null. */
  RangeDescriptor pendingDescriptor() {
    return pendingSnapshots.isEmpty() ? null : pendingSnapshots.lastEntry().getValue().descriptor();
  }

  /** Cancels every stream to a follower (this replica is no longer the leader). */
  void cancelOutgoing() {
    outgoingSnapshots.values().forEach(OutgoingSnapshot::cancel);
    outgoingSnapshots.clear();
    progress.clear();
  }
}
