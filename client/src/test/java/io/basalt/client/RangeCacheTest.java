package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.KeySpace;
import io.basalt.api.RangeDescriptor;
import org.junit.jupiter.api.Test;

class RangeCacheTest {
  private final RangeCache cache = new RangeCache(1_000);

  private static RangeDescriptor range(long id, String start, String end, long generation) {
    byte[] from = start.isEmpty() ? KeySpace.USER_START : b(start);
    return FakeCluster.descriptor(id, from, b(end), generation, 1, 2, 3);
  }

  private Long rangeOf(String key) {
    RangeCache.CachedRange found = cache.find(b(key));
    return found == null ? null : found.rangeId();
  }

  @Test
  void findsTheRangeWhoseSpanHoldsTheKey() {
    cache.put(range(2, "", "h", 1));
    cache.put(range(3, "h", "p", 1));
    cache.put(range(4, "t", "", 1));

    assertThat(rangeOf("a")).isEqualTo(2);
    assertThat(rangeOf("h")).isEqualTo(3);
    assertThat(rangeOf("o~")).isEqualTo(3);
    assertThat(rangeOf("p")).isNull(); // a gap: not cached
    assertThat(rangeOf("zzz")).isEqualTo(4);
  }

  @Test
  void aNewDescriptorReplacesEveryCachedRangeItOverlaps() {
    cache.put(range(2, "", "h", 1));
    cache.put(range(3, "h", "p", 1));
    cache.put(range(4, "p", "", 1));

    cache.put(range(3, "c", "t", 2)); // a merge of sorts: overlaps all three

    assertThat(rangeOf("a")).isNull();
    assertThat(rangeOf("c")).isEqualTo(3);
    assertThat(rangeOf("s")).isEqualTo(3);
    assertThat(rangeOf("t")).isNull();
    assertThat(cache.size()).isEqualTo(1);
  }

  @Test
  void anOlderDescriptorOfACachedRangeIsIgnored() {
    cache.put(range(2, "", "h", 2));
    cache.put(range(2, "", "z", 1));

    assertThat(rangeOf("k")).isNull();
    assertThat(cache.get(2).descriptor().getGeneration()).isEqualTo(2);
  }

  @Test
  void keepsTheLeaderAcrossANewDescriptorThatStillHasItsReplica() {
    cache.put(range(2, "", "h", 1));
    cache.setLeader(2, 3);
    cache.put(range(2, "", "d", 2));
    assertThat(cache.get(2).leaderNode().get()).isEqualTo(3);

    cache.put(FakeCluster.descriptor(2, KeySpace.USER_START, b("d"), 3, 1, 2));
    assertThat(cache.get(2).leaderNode().get()).isZero();
  }

  @Test
  void clearsTheLeaderOnlyIfItIsStillTheOneThatFailed() {
    cache.put(range(2, "", "h", 1));
    cache.setLeader(2, 3);

    cache.clearLeader(2, 1);
    assertThat(cache.get(2).leaderNode().get()).isEqualTo(3);
    cache.clearLeader(2, 3);
    assertThat(cache.get(2).leaderNode().get()).isZero();
  }

  @Test
  void invalidateForgetsTheRange() {
    cache.put(range(2, "", "h", 1));

    cache.invalidate(2);

    assertThat(rangeOf("a")).isNull();
    assertThat(cache.get(2)).isNull();
  }

  @Test
  void evictionKeepsTheIndexConsistent() {
    RangeCache small = new RangeCache(4);
    for (int i = 0; i < 100; i++) {
      small.put(
          FakeCluster.descriptor(
              10 + i, b(String.format("k%03d", i)), b(String.format("k%03d", i + 1)), 1, 1));
    }
    assertThat(small.size()).isLessThanOrEqualTo(4);
    int found = 0;
    for (int i = 0; i < 100; i++) {
      RangeCache.CachedRange range = small.find(b(String.format("k%03d", i)));
      if (range != null) {
        assertThat(range.rangeId()).isEqualTo(10 + i);
        found++;
      }
    }
    assertThat(found).isBetween(1, 4);
  }
}
