package io.basalt.range.storage;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;

/**
 * An in-memory {@link Engine} for tests and the deterministic simulator. It keeps two images of the
 * data: the <em>live</em> image every read sees, and the <em>durable</em> image that survives
 * {@link #crash()}. A synced write (or {@link #sync()}) moves everything written so far into the
 * durable image; a crash returns a new engine holding exactly the durable image, so it loses
 * exactly the writes that were never synced — and loses them whole, batch by batch. {@link
 * #crash(int)} keeps a prefix of the unsynced writes instead, as a log the operating system had
 * partly written does.
 *
 * <p>Fault injection for the simulator: {@link #failIo(boolean)} makes every later write and sync
 * throw {@link StorageException} (an I/O error the node must crash on, never retry).
 *
 * <p>Thread-safe (every method is synchronized); iterators over the live engine see a consistent
 * copy of their bounded span taken when they are positioned, so they never observe half a batch.
 */
public final class MemEngine implements Engine {
  private final Map<ColumnFamily, TreeMap<byte[], byte[]>> live;
  private final Map<ColumnFamily, TreeMap<byte[], byte[]>> durable;
  private final List<WriteBatch> unsynced = new ArrayList<>();
  private boolean failIo;
  private boolean closed;
  private long syncCount;

  public MemEngine() {
    this(emptyImage());
  }

  private MemEngine(Map<ColumnFamily, TreeMap<byte[], byte[]>> durableImage) {
    this.durable = durableImage;
    this.live = copyOf(durableImage);
  }

  private static Map<ColumnFamily, TreeMap<byte[], byte[]>> emptyImage() {
    Map<ColumnFamily, TreeMap<byte[], byte[]>> image = new EnumMap<>(ColumnFamily.class);
    for (ColumnFamily cf : ColumnFamily.values()) {
      image.put(cf, new TreeMap<>(Bytes.ORDER));
    }
    return image;
  }

  private static Map<ColumnFamily, TreeMap<byte[], byte[]>> copyOf(
      Map<ColumnFamily, TreeMap<byte[], byte[]>> image) {
    Map<ColumnFamily, TreeMap<byte[], byte[]>> copy = new EnumMap<>(ColumnFamily.class);
    image.forEach((cf, map) -> copy.put(cf, new TreeMap<>(map)));
    return copy;
  }

  /**
   * Simulates a process crash: this engine is closed and a new one is returned that holds only what
   * was synced.
   */
  public synchronized MemEngine crash() {
    return crash(0);
  }

  /**
   * Simulates a crash after which the first {@code keptUnsynced} writes since the last sync survive
   * (the operating system had written that much of the log when the power went: a log keeps a
   * prefix of its records, each batch whole or not at all) and the rest are lost.
   */
  public synchronized MemEngine crash(int keptUnsynced) {
    closed = true;
    Map<ColumnFamily, TreeMap<byte[], byte[]>> image = copyOf(durable);
    for (WriteBatch batch : unsynced.subList(0, Math.min(keptUnsynced, unsynced.size()))) {
      apply(image, batch);
    }
    return new MemEngine(image);
  }

  /** How many writes were made since the last sync (what a crash may lose). */
  public synchronized int unsyncedWrites() {
    return unsynced.size();
  }

  /** While on, every write and sync fails with a {@link StorageException}. */
  public synchronized void failIo(boolean on) {
    this.failIo = on;
  }

  /** How many times the durable image was updated by a sync. */
  public synchronized long syncCount() {
    return syncCount;
  }

  @Override
  public synchronized byte[] get(ColumnFamily cf, byte[] key) {
    checkOpen();
    byte[] value = live.get(cf).get(key);
    return value == null ? null : value.clone();
  }

  @Override
  public EngineIterator newIterator(ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive) {
    return new SpanIterator(this, live.get(cf), lowerInclusive, upperExclusive);
  }

  @Override
  public synchronized void write(WriteBatch batch, boolean sync) {
    Objects.requireNonNull(batch, "batch");
    checkOpen();
    if (failIo) {
      throw new StorageException("injected I/O error on write");
    }
    apply(live, batch);
    unsynced.add(batch);
    if (sync) {
      syncLocked();
    }
  }

  @Override
  public synchronized void sync() {
    checkOpen();
    if (failIo) {
      throw new StorageException("injected I/O error on sync");
    }
    syncLocked();
  }

  private void syncLocked() {
    for (WriteBatch batch : unsynced) {
      apply(durable, batch);
    }
    unsynced.clear();
    syncCount++;
  }

  private static void apply(Map<ColumnFamily, TreeMap<byte[], byte[]>> image, WriteBatch batch) {
    for (WriteBatch.Op op : batch.ops()) {
      TreeMap<byte[], byte[]> map = image.get(op.cf());
      switch (op) {
        case WriteBatch.Put put -> map.put(put.key().clone(), put.value().clone());
        case WriteBatch.Delete delete -> map.remove(delete.key());
        case WriteBatch.DeleteRange range ->
            map.subMap(range.lowerInclusive(), true, range.upperExclusive(), false).clear();
      }
    }
  }

  @Override
  public synchronized ReadView newReadView() {
    checkOpen();
    Map<ColumnFamily, TreeMap<byte[], byte[]>> frozen = copyOf(live);
    return new ReadView() {
      @Override
      public byte[] get(ColumnFamily cf, byte[] key) {
        byte[] value = frozen.get(cf).get(key);
        return value == null ? null : value.clone();
      }

      @Override
      public EngineIterator newIterator(
          ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive) {
        return new SpanIterator(frozen, frozen.get(cf), lowerInclusive, upperExclusive);
      }

      @Override
      public void close() {}
    };
  }

  @Override
  public synchronized void close() {
    closed = true;
  }

  private void checkOpen() {
    if (closed) {
      throw new StorageException("engine is closed (or crashed)");
    }
  }

  /**
   * Iterates a bounded span of one map, copying it under the map's lock a chunk at a time, so each
   * chunk is one consistent state. Over a {@link ReadView} (a frozen map) the whole iteration is
   * consistent; over the live engine a write between chunks may be seen (use a read view for a
   * consistent scan).
   */
  private static final class SpanIterator implements EngineIterator {
    private static final int CHUNK = 64;

    private final Object lock;
    private final NavigableMap<byte[], byte[]> map;
    private final byte[] lower;
    private final byte[] upper;
    private final List<Map.Entry<byte[], byte[]>> chunk = new ArrayList<>(CHUNK);
    private int position;
    private boolean exhausted = true;

    SpanIterator(Object lock, NavigableMap<byte[], byte[]> map, byte[] lower, byte[] upper) {
      this.lock = lock;
      this.map = map;
      this.lower = lower;
      this.upper = upper;
    }

    @Override
    public void seekToFirst() {
      fill(lower, true);
    }

    @Override
    public void seek(byte[] target) {
      fill(lower != null && Bytes.compare(target, lower) < 0 ? lower : target, true);
    }

    private void fill(byte[] from, boolean inclusive) {
      chunk.clear();
      position = 0;
      synchronized (lock) {
        NavigableMap<byte[], byte[]> span = map;
        if (from != null) {
          span = span.tailMap(from, inclusive);
        }
        if (upper != null) {
          span = span.headMap(upper, false);
        }
        for (Map.Entry<byte[], byte[]> entry : span.entrySet()) {
          if (chunk.size() == CHUNK) {
            break;
          }
          chunk.add(Map.entry(entry.getKey(), entry.getValue()));
        }
      }
      exhausted = chunk.size() < CHUNK;
    }

    @Override
    public boolean valid() {
      return position < chunk.size();
    }

    @Override
    public void next() {
      position++;
      if (position == chunk.size() && !exhausted) {
        fill(chunk.get(chunk.size() - 1).getKey(), false);
      }
    }

    @Override
    public byte[] key() {
      return chunk.get(position).getKey().clone();
    }

    @Override
    public byte[] value() {
      return chunk.get(position).getValue().clone();
    }

    @Override
    public void close() {
      chunk.clear();
    }
  }
}
