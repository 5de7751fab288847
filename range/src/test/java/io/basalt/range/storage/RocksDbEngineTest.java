package io.basalt.range.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RocksDbEngineTest extends EngineContractTest {
  @TempDir Path directory;

  @Override
  protected Engine open() {
    return RocksDbEngine.open(directory);
  }

  @Override
  protected Engine reopen(Engine engine) {
    engine.close();
    return RocksDbEngine.open(directory);
  }

  /**
   * The batch the engine serializes itself is, byte for byte, the one RocksDB's own WriteBatch
   * builds from the same mutations: every column family, every kind of mutation, and lengths whose
   * varints take one, two and three bytes.
   */
  @Test
  void theEncodedBatchIsRocksDbsOwn(@TempDir Path own) throws Exception {
    SplittableRandom random = new SplittableRandom(11);
    try (RocksDbEngine engine = RocksDbEngine.open(own)) {
      WriteBatch batch = new WriteBatch();
      try (org.rocksdb.WriteBatch reference = new org.rocksdb.WriteBatch()) {
        for (ColumnFamily cf : ColumnFamily.values()) {
          for (int length : new int[] {0, 1, 127, 128, 300, 20_000}) {
            byte[] key = bytes(random, 1 + length % 200);
            byte[] value = bytes(random, length);
            batch.put(cf, key, value);
            reference.put(engine.handle(cf), key, value);
          }
          byte[] deleted = bytes(random, 130);
          batch.delete(cf, deleted);
          reference.delete(engine.handle(cf), deleted);
          byte[] lower = {1, 2};
          byte[] upper = bytes(random, 129);
          upper[0] = 9;
          batch.deleteRange(cf, lower, upper);
          reference.deleteRange(engine.handle(cf), lower, upper);
        }
        byte[] encoded = RocksDbEngine.encode(batch.ops(), engine.columnFamilyIds());
        assertThat(encoded).isEqualTo(reference.data());
        assertThat(Arrays.stream(engine.columnFamilyIds()).min().orElseThrow())
            .as("no family of ours is the default one (id 0)")
            .isPositive();
      }
    }
  }

  @Test
  void aBatchOfManyMutationsCountsThemAll(@TempDir Path own) throws Exception {
    // 70,000 mutations: every byte of the count is compared.
    try (RocksDbEngine engine = RocksDbEngine.open(own);
        org.rocksdb.WriteBatch reference = new org.rocksdb.WriteBatch()) {
      WriteBatch batch = new WriteBatch();
      for (int i = 0; i < 70_000; i++) {
        byte[] key = {(byte) (i >>> 16), (byte) (i >>> 8), (byte) i};
        batch.put(ColumnFamily.MVCC, key, key);
        reference.put(engine.handle(ColumnFamily.MVCC), key, key);
      }
      assertThat(RocksDbEngine.encode(batch.ops(), engine.columnFamilyIds()))
          .isEqualTo(reference.data());
      engine.write(batch, false);
      assertThat(engine.get(ColumnFamily.MVCC, new byte[] {1, 17, 111}))
          .containsExactly(1, 17, 111);
    }
  }

  @Test
  void theDefaultFamilysRecordsCarryNoFamilyId() {
    // The ids as a database with our families in the default one's place would have them.
    WriteBatch batch = new WriteBatch();
    batch.put(ColumnFamily.RAFT, new byte[] {7}, new byte[] {8, 9});
    batch.delete(ColumnFamily.RAFT, new byte[] {7});
    batch.deleteRange(ColumnFamily.RAFT, new byte[] {1}, new byte[] {2});
    byte[] encoded = RocksDbEngine.encode(batch.ops(), new int[] {0, 1, 2});
    assertThat(encoded)
        .isEqualTo(
            new byte[] {
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              3,
              0,
              0,
              0, // sequence, count
              0x1,
              1,
              7,
              2,
              8,
              9, // put
              0x0,
              1,
              7, // delete
              0xF,
              1,
              1,
              1,
              2 // range delete
            });
  }

  private static byte[] bytes(SplittableRandom random, int length) {
    byte[] b = new byte[length];
    random.nextBytes(b);
    return b;
  }
}
