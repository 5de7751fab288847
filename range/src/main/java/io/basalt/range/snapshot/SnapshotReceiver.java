package io.basalt.range.snapshot;

import io.basalt.range.storage.Bytes;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Receives a range snapshot stream made by {@link SnapshotWriter} and turns it into one {@link
 * WriteBatch} that first deletes the range's old data (every span of {@link RangeSpan}) and then
 * writes the snapshot's records. Written in one engine write, the replacement is atomic: a crash
 * leaves either the old data or the new, never a mix.
 *
 * <p>Chunks must arrive in order, numbered from 0; a record outside the range's spans, a bad
 * record, a chunk out of order or a stream checksum mismatch is refused with an exception, and
 * nothing is installed. The batch holds the whole snapshot in memory: a node needs heap for the
 * largest range it may receive.
 */
public final class SnapshotReceiver {
  private final RangeSpan span;
  private final WriteBatch batch = new WriteBatch();
  private final CRC32C crc = new CRC32C();
  private int nextSequence;
  private boolean finished;
  private long records;

  public SnapshotReceiver(RangeSpan span) {
    this.span = span;
    for (RangeSpan.EngineSpan engineSpan : span.engineSpans()) {
      batch.deleteRange(engineSpan.cf(), engineSpan.lower(), engineSpan.upper());
    }
  }

  /** Accepts chunk number {@code sequence}. */
  public void accept(int sequence, byte[] chunk) {
    if (finished) {
      throw new IllegalStateException("snapshot of range " + span.rangeId() + " already finished");
    }
    if (sequence != nextSequence) {
      throw new IllegalStateException(
          "range "
              + span.rangeId()
              + " snapshot chunk "
              + sequence
              + " arrived, expected "
              + nextSequence);
    }
    ByteBuffer in = ByteBuffer.wrap(chunk);
    while (in.hasRemaining()) {
      int cfOrdinal = in.get() & 0xFF;
      if (cfOrdinal >= ColumnFamily.values().length) {
        throw new CorruptionException("snapshot record has unknown column family " + cfOrdinal);
      }
      ColumnFamily cf = ColumnFamily.values()[cfOrdinal];
      byte[] key = readBytes(in);
      byte[] value = readBytes(in);
      checkInSpan(cf, key);
      batch.put(cf, key, value);
      records++;
    }
    crc.update(chunk);
    nextSequence++;
  }

  private static byte[] readBytes(ByteBuffer in) {
    int length = Varints.read(in);
    if (length > in.remaining()) {
      throw new CorruptionException(
          "snapshot record claims " + length + " bytes, " + in.remaining() + " remain");
    }
    byte[] out = new byte[length];
    in.get(out);
    return out;
  }

  private void checkInSpan(ColumnFamily cf, byte[] key) {
    for (RangeSpan.EngineSpan engineSpan : span.engineSpans()) {
      if (engineSpan.cf() == cf
          && Bytes.compare(key, engineSpan.lower()) >= 0
          && Bytes.compare(key, engineSpan.upper()) < 0) {
        return;
      }
    }
    throw new CorruptionException(
        "snapshot record "
            + Bytes.toHex(key)
            + " in "
            + cf
            + " is outside range "
            + span.rangeId());
  }

  /**
   * Checks the stream checksum and returns the batch that replaces the range's data; the caller
   * writes it (synced), together with the Raft state reset, in one engine write.
   */
  public WriteBatch finish(int expectedStreamCrc) {
    if (finished) {
      throw new IllegalStateException("snapshot of range " + span.rangeId() + " already finished");
    }
    int actual = (int) crc.getValue();
    if (actual != expectedStreamCrc) {
      throw new CorruptionException(
          "range "
              + span.rangeId()
              + " snapshot stream checksum mismatch: expected "
              + Integer.toHexString(expectedStreamCrc)
              + ", computed "
              + Integer.toHexString(actual));
    }
    finished = true;
    return batch;
  }

  public long recordCount() {
    return records;
  }
}
