package io.basalt.range.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class WriteBatchTest {
  /** The state a batch leaves, applied op by op in the order given, into a map keyed by cf/key. */
  static Map<String, String> apply(List<WriteBatch.Op> ops) {
    Map<String, String> state = new HashMap<>();
    for (WriteBatch.Op op : ops) {
      switch (op) {
        case WriteBatch.Put p ->
            state.put(p.cf() + "/" + Bytes.toHex(p.key()), Bytes.toHex(p.value()));
        case WriteBatch.Delete d -> state.remove(d.cf() + "/" + Bytes.toHex(d.key()));
        case WriteBatch.DeleteRange r ->
            throw new AssertionError("no range deletes in this test: " + r);
      }
    }
    return state;
  }

  @Test
  void keyOrderLeavesTheSameStateAsBatchOrder() {
    for (long seed = 1; seed <= 500; seed++) {
      SplittableRandom random = new SplittableRandom(seed);
      WriteBatch batch = new WriteBatch();
      ColumnFamily[] cfs = ColumnFamily.values();
      int n = random.nextInt(1, 60);
      for (int i = 0; i < n; i++) {
        ColumnFamily cf = cfs[random.nextInt(cfs.length)];
        byte[] key = {(byte) random.nextInt(4), (byte) random.nextInt(256)};
        if (random.nextInt(4) == 0) {
          batch.delete(cf, key);
        } else {
          batch.put(cf, key, new byte[] {(byte) i}); // each put of a key has its own value
        }
      }
      assertThat(apply(batch.opsInKeyOrder())).as("seed %d", seed).isEqualTo(apply(batch.ops()));
      List<WriteBatch.Op> sorted = batch.opsInKeyOrder();
      for (int i = 1; i < sorted.size(); i++) {
        WriteBatch.Op a = sorted.get(i - 1);
        WriteBatch.Op b = sorted.get(i);
        assertThat(a.cf().ordinal()).isLessThanOrEqualTo(b.cf().ordinal());
      }
    }
  }

  @Test
  void aBatchWithARangeDeleteKeepsItsOrder() {
    WriteBatch batch = new WriteBatch();
    batch.put(ColumnFamily.RAFT, new byte[] {5}, new byte[] {1});
    batch.deleteRange(ColumnFamily.RAFT, new byte[] {0}, new byte[] {9});
    batch.put(ColumnFamily.RAFT, new byte[] {1}, new byte[] {2});
    assertThat(batch.opsInKeyOrder()).isEqualTo(batch.ops());
    List<WriteBatch.Op> expected = new ArrayList<>(batch.ops());
    assertThat(batch.opsInKeyOrder()).containsExactlyElementsOf(expected);
  }
}
