package io.basalt.node.store;

import io.basalt.range.raft.RaftNode;
import io.basalt.range.storage.WriteBatch;

/** When and how far a replica's Raft log is compacted. */
final class LogCompaction {
  private LogCompaction() {}

  /**
   * Compacts the log once it holds more than {@code after} ({@code compactLogAfter}; 0: never)
   * entries, to a point half that far behind the applied index, so that followers a little behind
   * still catch up from the log. The point's recorded membership is the current one, so the point
   * is never before the last conf change (after a restart, conservatively, before the last index at
   * restart).
   */
  static void maybeCompact(Replica r, int after) {
    if (after <= 0) {
      return;
    }
    // Only what is applied in the engine: entries whose applied writes are still on their way
    // to disk would be needed again after a crash.
    long applied = r.writtenApplied;
    long first = r.storage.firstIndex();
    if (applied - first + 1 <= after) {
      return;
    }
    // After a snapshot the state machine can be ahead of the log (the data carried a later
    // applied index than the snapshot's point); compact only what the core itself applied.
    RaftNode.Status status = r.core.status();
    long to = Math.min(applied, status.applied()) - after / 2;
    if (to < first || to < r.lastConfChangeIndex || to <= r.storage.snapshot().metadata().index()) {
      return;
    }
    WriteBatch batch = new WriteBatch();
    r.storage.saveSnapshot(
        batch,
        new io.basalt.range.raft.Snapshot(
            new io.basalt.range.raft.SnapshotMetadata(to, r.storage.term(to), status.confState()),
            new byte[0]),
        to);
    // Not synced: losing it in a crash only leaves a longer log (the writes it follows in the
    // engine's write-ahead log are durable whenever it is).
    r.engine.write(batch, false);
  }
}
