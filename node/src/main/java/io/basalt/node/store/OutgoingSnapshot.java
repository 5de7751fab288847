package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.SnapshotChunk;
import io.basalt.api.SnapshotMetadata;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.snapshot.SnapshotWriter;
import io.basalt.range.storage.ReadView;

/**
 * A {@link SnapshotStream} read from a {@link SnapshotWriter}: chunks numbered from 0, the last one
 * carrying the stream checksum and the Raft metadata. Its state is read by the store's thread (on
 * its ticks) while the transport's thread pulls, hence the volatile fields.
 */
final class OutgoingSnapshot implements SnapshotStream {
  enum State {
    SENDING,
    SENT,
    FAILED,
    CANCELLED
  }

  private final long rangeId;
  private final SnapshotChunk header;
  private final SnapshotMetadata metadata;
  private final SnapshotWriter writer;
  private int sequence;
  private long bytes;
  private volatile State state = State.SENDING;
  private volatile String failure;
  private boolean closed;

  /**
   * Reads {@code span} of {@code view}, which it owns from now on. {@code header} holds the
   * addressing fields every chunk repeats (range, from, to, term, snapshot id).
   */
  OutgoingSnapshot(
      ReadView view, RangeSpan span, int chunkBytes, SnapshotChunk header, SnapshotMetadata md) {
    this.rangeId = header.getRangeId();
    this.header = header;
    this.metadata = md;
    this.writer = new SnapshotWriter(view, span, chunkBytes);
  }

  @Override
  public long rangeId() {
    return rangeId;
  }

  @Override
  public synchronized SnapshotChunk next() {
    if (state != State.SENDING) {
      return null;
    }
    byte[] data = writer.hasNext() ? writer.nextChunk() : new byte[0];
    bytes += data.length;
    SnapshotChunk.Builder chunk =
        header.toBuilder().setSequence(sequence++).setData(ByteString.copyFrom(data));
    if (sequence > 1) {
      chunk.clearRangeDescriptor(); // (the first chunk carries it)
    }
    if (!writer.hasNext()) {
      chunk.setLast(true).setStreamCrc32C(writer.streamCrc()).setMetadata(metadata);
      release();
      state = State.SENT;
    }
    return chunk.build();
  }

  @Override
  public synchronized void abort(String reason) {
    release();
    if (state == State.SENDING) {
      failure = reason;
      state = State.FAILED;
    }
  }

  /** Stops the stream at its next chunk (a newer snapshot for the same follower replaces it). */
  synchronized void cancel() {
    if (state == State.SENDING) {
      state = State.CANCELLED;
      release();
    }
  }

  private void release() {
    if (!closed) {
      closed = true;
      writer.close();
    }
  }

  State state() {
    return state;
  }

  String failure() {
    return failure;
  }

  synchronized int chunksSent() {
    return sequence;
  }

  synchronized long bytesSent() {
    return bytes;
  }
}
