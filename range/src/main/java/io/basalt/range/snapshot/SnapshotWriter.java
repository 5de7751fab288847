package io.basalt.range.snapshot;

import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.ReadView;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Exports one range's data as a stream of chunks, read from one consistent {@link ReadView} (so the
 * stream is the range's state at a single point, whatever is written meanwhile).
 *
 * <p>Chunk format: a sequence of records {@code cf (1 byte) | varint key length | key | varint
 * value length | value}; records never straddle chunks. The CRC32C of all chunks' bytes, in order,
 * is {@link #streamCrc()} once the stream is done; the receiver checks it before it installs
 * anything. Call {@link #close()} to release the view.
 */
public final class SnapshotWriter implements AutoCloseable {
  private final ReadView view;
  private final List<RangeSpan.EngineSpan> spans;
  private final int chunkBytes;
  private final CRC32C crc = new CRC32C();
  private int spanIndex = -1;
  private EngineIterator iterator;
  private boolean done;
  private long records;

  /** Opens a read view of {@code engine} now; chunks hold about {@code chunkBytes} each. */
  public SnapshotWriter(Engine engine, RangeSpan span, int chunkBytes) {
    this(engine.newReadView(), span, chunkBytes);
  }

  /**
   * Reads {@code span} from {@code view}, which it closes when done: the caller opened it to read
   * the range's descriptor from the same state, so that the span sent is the span of the data.
   */
  public SnapshotWriter(ReadView view, RangeSpan span, int chunkBytes) {
    if (chunkBytes < 1) {
      view.close();
      throw new IllegalArgumentException("chunkBytes must be >= 1, got " + chunkBytes);
    }
    this.view = view;
    this.spans = span.engineSpans();
    this.chunkBytes = chunkBytes;
    advanceSpan();
  }

  private void advanceSpan() {
    if (iterator != null) {
      iterator.close();
      iterator = null;
    }
    while (++spanIndex < spans.size()) {
      RangeSpan.EngineSpan span = spans.get(spanIndex);
      iterator = view.newIterator(span.cf(), span.lower(), span.upper());
      iterator.seekToFirst();
      if (iterator.valid()) {
        return;
      }
      iterator.close();
      iterator = null;
    }
    done = true;
  }

  /** Whether another chunk remains. The first call may return a chunk even for an empty range. */
  public boolean hasNext() {
    return !done;
  }

  /** The next chunk (possibly empty, for an empty range). */
  public byte[] nextChunk() {
    if (done) {
      throw new IllegalStateException("snapshot stream is complete");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(chunkBytes, 1 << 20) + 64);
    while (!done && out.size() < chunkBytes) {
      RangeSpan.EngineSpan span = spans.get(spanIndex);
      byte[] key = iterator.key();
      byte[] value = iterator.value();
      out.write(span.cf().ordinal());
      Varints.write(out, key.length);
      out.writeBytes(key);
      Varints.write(out, value.length);
      out.writeBytes(value);
      records++;
      iterator.next();
      if (!iterator.valid()) {
        advanceSpan();
      }
    }
    byte[] chunk = out.toByteArray();
    crc.update(chunk);
    return chunk;
  }

  /** The CRC32C of the whole stream; valid once {@link #hasNext()} is false. */
  public int streamCrc() {
    if (!done) {
      throw new IllegalStateException("snapshot stream is not complete");
    }
    return (int) crc.getValue();
  }

  /** Records written so far. */
  public long recordCount() {
    return records;
  }

  @Override
  public void close() {
    if (iterator != null) {
      iterator.close();
    }
    view.close();
  }
}
