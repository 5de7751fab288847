package io.basalt.range.storage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteOptions;

/**
 * The production {@link Engine}: one RocksDB instance per node with a column family per {@link
 * ColumnFamily} (DESIGN.md decision 2). Durability comes from RocksDB's write-ahead log: a synced
 * write returns after the WAL is fsynced, and the WAL makes each write batch atomic across column
 * families on recovery.
 */
public final class RocksDbEngine implements Engine {
  static {
    RocksDB.loadLibrary();
  }

  /** The size of one memtable of each column family (see {@link #newCfOptions}). */
  static final long MEMTABLE_BYTES = 8L << 20;

  private final Path directory;
  private final DBOptions dbOptions;
  private final LRUCache blockCache;
  private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<ColumnFamily, ColumnFamilyHandle> handleByCf =
      new EnumMap<>(ColumnFamily.class);
  private final int[] cfIds = new int[ColumnFamily.values().length];
  private final WriteOptions syncWrite;
  private final WriteOptions asyncWrite;
  private final RocksDB db;

  private RocksDbEngine(Path directory, long blockCacheBytes) {
    this.directory = directory;
    this.dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setMaxBackgroundJobs(2)
            .setBytesPerSync(1 << 20)
            // Reuse write-ahead log files instead of growing new ones: a synced append to a file
            // whose size does not change needs no file-system journal commit, which is most of
            // an fsync's cost on ext4 when several processes sync at once.
            .setRecycleLogFileNum(4);
    this.blockCache = new LRUCache(blockCacheBytes);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, newCfOptions(null)));
    for (ColumnFamily cf : ColumnFamily.values()) {
      descriptors.add(
          new ColumnFamilyDescriptor(
              cf.rocksName().getBytes(java.nio.charset.StandardCharsets.UTF_8), newCfOptions(cf)));
    }
    try {
      Files.createDirectories(directory);
      this.db = RocksDB.open(dbOptions, directory.toString(), descriptors, handles);
    } catch (RocksDBException | java.io.IOException e) {
      closeOptions();
      throw new StorageException("cannot open RocksDB at " + directory + ": " + e.getMessage(), e);
    }
    for (ColumnFamily cf : ColumnFamily.values()) {
      handleByCf.put(cf, handles.get(cf.ordinal() + 1));
      cfIds[cf.ordinal()] = handleByCf.get(cf).getID();
    }
    this.syncWrite = new WriteOptions().setSync(true);
    this.asyncWrite = new WriteOptions().setSync(false);
  }

  /** Opens (creating if missing) the engine stored in {@code directory}. */
  public static RocksDbEngine open(Path directory) {
    return new RocksDbEngine(directory, 64L << 20);
  }

  private ColumnFamilyOptions newCfOptions(ColumnFamily cf) {
    BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(blockCache);
    if (cf == ColumnFamily.MVCC) {
      table.setFilterPolicy(new BloomFilter(10, false)).setWholeKeyFiltering(false);
    }
    if (cf == ColumnFamily.LOCAL) {
      // Every replicated write looks up its request id's dedupe record, which almost never
      // exists: whole-key Bloom filters, in the tables and the memtable, answer most misses.
      table.setFilterPolicy(new BloomFilter(10, false)).setWholeKeyFiltering(true);
    }
    // Flushes (level 0) and the first level below it uncompressed, as TiKV does: a flush's LZ4
    // pass was about 1% of a node's CPU under the put load. With dynamic level sizes (RocksDB's
    // default) the list's second entry is for the base level, which in a small database is the
    // last one, so the last level is compressed explicitly.
    ColumnFamilyOptions options =
        new ColumnFamilyOptions()
            .setTableFormatConfig(table)
            .setCompressionPerLevel(
                List.of(
                    CompressionType.NO_COMPRESSION,
                    CompressionType.NO_COMPRESSION,
                    CompressionType.LZ4_COMPRESSION,
                    CompressionType.LZ4_COMPRESSION,
                    CompressionType.LZ4_COMPRESSION,
                    CompressionType.LZ4_COMPRESSION,
                    CompressionType.LZ4_COMPRESSION))
            .setBottommostCompressionType(CompressionType.LZ4_COMPRESSION);
    if (cf == ColumnFamily.LOCAL) {
      options.setMemtablePrefixBloomSizeRatio(0.05).setMemtableWholeKeyFiltering(true);
    }
    // Small memtables: every write inserts into a skip list, and a 64 MiB one (the default) is
    // a walk of cache misses per insert once it outgrows the CPU caches. With 8 MiB a round's
    // write took about 40% less time in a microbenchmark of the node's write pattern, and the
    // cluster put load gained about 6% (three paired runs, all in the same direction); flushes
    // come more often, and the log's flushes are mostly dropped (its entries are deleted by
    // then). Four of them may wait for a flush before writes stall. Level 1 is sized like a
    // full level 0 (four memtables) and files like a memtable, RocksDB's tuning rule: with the
    // default 256 MiB level 1, each 32 MiB of level 0 would rewrite up to eight times its size.
    options
        .setWriteBufferSize(MEMTABLE_BYTES)
        .setMaxWriteBufferNumber(4)
        .setMaxBytesForLevelBase(4 * MEMTABLE_BYTES)
        .setTargetFileSizeBase(MEMTABLE_BYTES);
    cfOptions.add(options);
    return options;
  }

  public Path directory() {
    return directory;
  }

  @Override
  public byte[] get(ColumnFamily cf, byte[] key) {
    try {
      return db.get(handleByCf.get(cf), key);
    } catch (RocksDBException e) {
      throw new StorageException("get failed in " + cf + ": " + e.getMessage(), e);
    }
  }

  @Override
  public EngineIterator newIterator(ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive) {
    return new RocksEngineIterator(cf, null, lowerInclusive, upperExclusive);
  }

  @Override
  public void write(WriteBatch batch, boolean sync) {
    Objects.requireNonNull(batch, "batch");
    if (batch.isEmpty() && !sync) {
      return;
    }
    try (org.rocksdb.WriteBatch rocksBatch =
        new org.rocksdb.WriteBatch(encode(batch.opsInKeyOrder(), cfIds))) {
      db.write(sync ? syncWrite : asyncWrite, rocksBatch);
    } catch (RocksDBException e) {
      throw new StorageException(
          "write of " + batch.count() + " mutations failed (sync=" + sync + "): " + e.getMessage(),
          e);
    }
  }

  /**
   * The batch in RocksDB's own serialized form (write_batch.cc: a 12-byte header of sequence and
   * count, then one record per mutation: a type byte, the column family id as a varint unless it is
   * the default family, then length-prefixed key and value), built in one array so that handing it
   * over is one native call instead of one call per mutation: that was 3.5% of a node's CPU under
   * the put load. RocksDB reads the form only when it inserts the batch into its memtables, after
   * the log append, so a malformed batch would reach its log: RocksDbEngineTest compares the form
   * byte for byte with RocksDB's own, which also guards an upgrade of RocksDB.
   */
  static byte[] encode(List<WriteBatch.Op> ops, int[] cfIds) {
    long size = 12;
    for (WriteBatch.Op op : ops) {
      int cf = cfIds[op.cf().ordinal()];
      size += 1 + (cf == 0 ? 0 : varintSize(cf));
      switch (op) {
        case WriteBatch.Put put -> size += sliceSize(put.key()) + sliceSize(put.value());
        case WriteBatch.Delete delete -> size += sliceSize(delete.key());
        case WriteBatch.DeleteRange range ->
            size += sliceSize(range.lowerInclusive()) + sliceSize(range.upperExclusive());
      }
    }
    if (size > Integer.MAX_VALUE - 16) {
      throw new StorageException("a write batch of " + size + " bytes is too large to write");
    }
    byte[] out = new byte[(int) size];
    // Sequence (8 bytes, zero: RocksDB assigns it) and count (4 bytes), both little-endian.
    int n = ops.size();
    out[8] = (byte) n;
    out[9] = (byte) (n >>> 8);
    out[10] = (byte) (n >>> 16);
    out[11] = (byte) (n >>> 24);
    int at = 12;
    for (WriteBatch.Op op : ops) {
      int cf = cfIds[op.cf().ordinal()];
      // Value types (dbformat.h): without a column family, and with one.
      switch (op) {
        case WriteBatch.Put put -> {
          at = putType(out, at, cf, 0x1, 0x5);
          at = putSlice(out, putSlice(out, at, put.key()), put.value());
        }
        case WriteBatch.Delete delete ->
            at = putSlice(out, putType(out, at, cf, 0x0, 0x4), delete.key());
        case WriteBatch.DeleteRange range -> {
          at = putType(out, at, cf, 0xF, 0xE);
          at = putSlice(out, putSlice(out, at, range.lowerInclusive()), range.upperExclusive());
        }
      }
    }
    return out;
  }

  /** A record's type byte, and its column family's id unless it is the default family (0). */
  private static int putType(byte[] out, int at, int cf, int plainType, int cfType) {
    if (cf == 0) {
      out[at] = (byte) plainType;
      return at + 1;
    }
    out[at] = (byte) cfType;
    return putVarint(out, at + 1, cf);
  }

  private static int varintSize(int v) {
    int size = 1;
    while ((v & ~0x7F) != 0) {
      v >>>= 7;
      size++;
    }
    return size;
  }

  private static int sliceSize(byte[] b) {
    return varintSize(b.length) + b.length;
  }

  private static int putVarint(byte[] out, int at, int v) {
    while ((v & ~0x7F) != 0) {
      out[at++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out[at++] = (byte) v;
    return at;
  }

  private static int putSlice(byte[] out, int at, byte[] b) {
    at = putVarint(out, at, b.length);
    System.arraycopy(b, 0, out, at, b.length);
    return at + b.length;
  }

  /** The column family ids, by {@link ColumnFamily} ordinal (for tests of {@link #encode}). */
  int[] columnFamilyIds() {
    return cfIds.clone();
  }

  /** RocksDB's estimate from its files' indexes and its memtables, without reading the data. */
  @Override
  public long approximateSize(ColumnFamily cf, byte[] lower, byte[] upper) {
    try (org.rocksdb.Slice from = new org.rocksdb.Slice(lower);
        org.rocksdb.Slice to = new org.rocksdb.Slice(upper)) {
      long[] sizes =
          db.getApproximateSizes(
              handle(cf),
              List.of(new org.rocksdb.Range(from, to)),
              org.rocksdb.SizeApproximationFlag.INCLUDE_FILES,
              org.rocksdb.SizeApproximationFlag.INCLUDE_MEMTABLES);
      return sizes[0];
    }
  }

  /** The RocksDB handle of {@code cf} (for tests of {@link #encode}). */
  ColumnFamilyHandle handle(ColumnFamily cf) {
    return handleByCf.get(cf);
  }

  @Override
  public void sync() {
    try {
      db.flushWal(true);
    } catch (RocksDBException e) {
      throw new StorageException("WAL sync failed: " + e.getMessage(), e);
    }
  }

  @Override
  public ReadView newReadView() {
    return new RocksReadView(db.getSnapshot());
  }

  @Override
  public void close() {
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      // Nothing acknowledged depends on this sync (acknowledged writes were synced already).
    }
    syncWrite.close();
    asyncWrite.close();
    for (ColumnFamilyHandle handle : handles) {
      handle.close();
    }
    db.close();
    closeOptions();
  }

  private void closeOptions() {
    dbOptions.close();
    for (ColumnFamilyOptions options : cfOptions) {
      options.close();
    }
    blockCache.close();
  }

  private final class RocksReadView implements ReadView {
    private final Snapshot snapshot;
    private final ReadOptions readOptions;

    RocksReadView(Snapshot snapshot) {
      this.snapshot = snapshot;
      this.readOptions = new ReadOptions().setSnapshot(snapshot);
    }

    @Override
    public byte[] get(ColumnFamily cf, byte[] key) {
      try {
        return db.get(handleByCf.get(cf), readOptions, key);
      } catch (RocksDBException e) {
        throw new StorageException("get failed in " + cf + ": " + e.getMessage(), e);
      }
    }

    @Override
    public EngineIterator newIterator(
        ColumnFamily cf, byte[] lowerInclusive, byte[] upperExclusive) {
      return new RocksEngineIterator(cf, snapshot, lowerInclusive, upperExclusive);
    }

    @Override
    public void close() {
      readOptions.close();
      db.releaseSnapshot(snapshot);
    }
  }

  private final class RocksEngineIterator implements EngineIterator {
    private final ReadOptions options;
    private final Slice lower;
    private final Slice upper;
    private final byte[] lowerBytes;
    private final RocksIterator iterator;
    private boolean positioned;

    RocksEngineIterator(ColumnFamily cf, Snapshot snapshot, byte[] lowerBytes, byte[] upperBytes) {
      this.options = new ReadOptions();
      if (snapshot != null) {
        options.setSnapshot(snapshot);
      }
      this.lowerBytes = lowerBytes;
      this.lower = lowerBytes == null ? null : new Slice(lowerBytes);
      this.upper = upperBytes == null ? null : new Slice(upperBytes);
      if (lower != null) {
        options.setIterateLowerBound(lower);
      }
      if (upper != null) {
        options.setIterateUpperBound(upper);
      }
      this.iterator = db.newIterator(handleByCf.get(cf), options);
    }

    @Override
    public void seekToFirst() {
      if (lowerBytes != null) {
        iterator.seek(lowerBytes);
      } else {
        iterator.seekToFirst();
      }
      positioned = true;
    }

    @Override
    public void seek(byte[] target) {
      if (lowerBytes != null && Bytes.compare(target, lowerBytes) < 0) {
        iterator.seek(lowerBytes);
      } else {
        iterator.seek(target);
      }
      positioned = true;
    }

    @Override
    public boolean valid() {
      if (!positioned) {
        return false;
      }
      if (iterator.isValid()) {
        return true;
      }
      try {
        iterator.status();
      } catch (RocksDBException e) {
        throw new StorageException("iteration failed: " + e.getMessage(), e);
      }
      return false;
    }

    @Override
    public void next() {
      iterator.next();
    }

    @Override
    public byte[] key() {
      return iterator.key();
    }

    @Override
    public byte[] value() {
      return iterator.value();
    }

    @Override
    public void close() {
      iterator.close();
      options.close();
      if (lower != null) {
        lower.close();
      }
      if (upper != null) {
        upper.close();
      }
    }
  }
}
