package io.basalt.node.server;

import io.basalt.node.store.StoreListener;

/** Tells two store listeners of every event (the log and the meters). */
record Listeners(StoreListener first, StoreListener second) implements StoreListener {
  @Override
  public void leaderChanged(long rangeId, long leaderNode, boolean isLocal) {
    first.leaderChanged(rangeId, leaderNode, isLocal);
    second.leaderChanged(rangeId, leaderNode, isLocal);
  }

  @Override
  public void replicaCreated(long rangeId, boolean loaded) {
    first.replicaCreated(rangeId, loaded);
    second.replicaCreated(rangeId, loaded);
  }

  @Override
  public void replicasChanged(long rangeId, io.basalt.api.RangeDescriptor descriptor) {
    first.replicasChanged(rangeId, descriptor);
    second.replicasChanged(rangeId, descriptor);
  }

  @Override
  public void replicaDestroyed(long rangeId, long replicaId) {
    first.replicaDestroyed(rangeId, replicaId);
    second.replicaDestroyed(rangeId, replicaId);
  }

  @Override
  public void raftStateWritten(long nanos, int ranges, boolean synced) {
    first.raftStateWritten(nanos, ranges, synced);
    second.raftStateWritten(nanos, ranges, synced);
  }

  @Override
  public void proposed(int commands) {
    first.proposed(commands);
    second.proposed(commands);
  }

  @Override
  public void applied(int entries, long nanos) {
    first.applied(entries, nanos);
    second.applied(entries, nanos);
  }

  @Override
  public void requestDone(String method, long nanos, boolean ok) {
    first.requestDone(method, nanos, ok);
    second.requestDone(method, nanos, ok);
  }

  @Override
  public void droppedMessage(long fromNode, long rangeId, String reason) {
    first.droppedMessage(fromNode, rangeId, reason);
    second.droppedMessage(fromNode, rangeId, reason);
  }

  @Override
  public void snapshotInstalled(long rangeId, long index) {
    first.snapshotInstalled(rangeId, index);
    second.snapshotInstalled(rangeId, index);
  }

  @Override
  public void snapshotSent(long rangeId, long toNode, int chunks, long bytes) {
    first.snapshotSent(rangeId, toNode, chunks, bytes);
    second.snapshotSent(rangeId, toNode, chunks, bytes);
  }

  @Override
  public void snapshotNotSent(long rangeId, long toNode, String reason) {
    first.snapshotNotSent(rangeId, toNode, reason);
    second.snapshotNotSent(rangeId, toNode, reason);
  }
}
