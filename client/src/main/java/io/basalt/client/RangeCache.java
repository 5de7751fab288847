package io.basalt.client;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.KeySpace;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client's view of the range directory: which range holds a key, and which node leads it.
 *
 * <p>Descriptors live in a bounded Caffeine cache keyed by range id; a sorted index from start key
 * to range id answers "which range holds k" with one floor lookup. The index may briefly name a
 * range the cache has evicted; such entries read as misses and are dropped. Cached spans never
 * overlap: adding a descriptor first removes every cached range it overlaps, since after a split or
 * merge the newest descriptor seen is the best guess. A descriptor older (by generation) than the
 * cached one of the same range is ignored, so a slow lookup cannot undo a fresher redirect.
 *
 * <p>Reads are lock-free; changes to the index are serialized by this object's monitor.
 */
final class RangeCache {
  /** A cached range: its descriptor and the node believed to lead it (0: unknown). */
  record CachedRange(RangeDescriptor descriptor, AtomicLong leaderNode) {
    long rangeId() {
      return descriptor.getRangeId();
    }
  }

  private final Cache<Long, CachedRange> byId;
  private final ConcurrentSkipListMap<byte[], Long> byStart =
      new ConcurrentSkipListMap<>(Arrays::compareUnsigned);

  RangeCache(long maxRanges) {
    this.byId =
        Caffeine.newBuilder()
            .maximumSize(maxRanges)
            .executor(Runnable::run)
            .<Long, CachedRange>evictionListener((id, range, cause) -> {
              if (id != null && range != null) {
                byStart.remove(range.descriptor().getStartKey().toByteArray(), id);
              }
            })
            .build();
  }

  /** The cached range holding {@code key}, or null. */
  CachedRange find(byte[] key) {
    Map.Entry<byte[], Long> floor = byStart.floorEntry(key);
    if (floor == null) {
      return null;
    }
    CachedRange range = byId.getIfPresent(floor.getValue());
    if (range == null) {
      byStart.remove(floor.getKey(), floor.getValue());
      return null;
    }
    return KeySpace.contains(range.descriptor(), key) ? range : null;
  }

  /** The cached range with this id, or null. */
  CachedRange get(long rangeId) {
    return byId.getIfPresent(rangeId);
  }

  /**
   * Caches {@code descriptor}, replacing every cached range it overlaps. Keeps the known leader
   * when the range is already cached and the leader still holds a replica.
   */
  synchronized void put(RangeDescriptor descriptor) {
    long id = descriptor.getRangeId();
    CachedRange old = byId.getIfPresent(id);
    if (old != null && old.descriptor().getGeneration() > descriptor.getGeneration()) {
      return;
    }
    long leader = 0;
    if (old != null) {
      remove(old);
      long oldLeader = old.leaderNode().get();
      if (holdsReplica(descriptor, oldLeader)) {
        leader = oldLeader;
      }
    }
    byte[] start = descriptor.getStartKey().toByteArray();
    byte[] end = descriptor.getEndKey().toByteArray();
    List<Long> overlapping = new ArrayList<>();
    Map.Entry<byte[], Long> floor = byStart.lowerEntry(start);
    if (floor != null) {
      CachedRange before = byId.getIfPresent(floor.getValue());
      if (before != null && KeySpace.contains(before.descriptor(), start)) {
        overlapping.add(floor.getValue());
      }
    }
    NavigableMap<byte[], Long> inside =
        end.length == 0 ? byStart.tailMap(start, true) : byStart.subMap(start, true, end, false);
    overlapping.addAll(inside.values());
    for (long other : overlapping) {
      invalidate(other);
    }
    byId.put(id, new CachedRange(descriptor, new AtomicLong(leader)));
    byStart.put(start, id);
  }

  /** Forgets range {@code rangeId}, so that the next request for it looks it up again. */
  synchronized void invalidate(long rangeId) {
    CachedRange old = byId.asMap().remove(rangeId);
    if (old != null) {
      remove(old);
    }
  }

  /** Records that {@code nodeId} leads range {@code rangeId} (if the range is cached). */
  void setLeader(long rangeId, long nodeId) {
    CachedRange range = byId.getIfPresent(rangeId);
    // Called with every answer: write only a change, not the same value into a line every I/O
    // thread shares.
    if (range != null && range.leaderNode().get() != nodeId) {
      range.leaderNode().set(nodeId);
    }
  }

  /** Forgets that {@code nodeId} leads range {@code rangeId}, if that is what is cached. */
  void clearLeader(long rangeId, long nodeId) {
    CachedRange range = byId.getIfPresent(rangeId);
    if (range != null) {
      range.leaderNode().compareAndSet(nodeId, 0);
    }
  }

  /** The number of cached ranges (for tests). */
  long size() {
    byId.cleanUp();
    return byId.estimatedSize();
  }

  private void remove(CachedRange range) {
    byId.asMap().remove(range.rangeId(), range);
    byStart.remove(range.descriptor().getStartKey().toByteArray(), range.rangeId());
  }

  static boolean holdsReplica(RangeDescriptor descriptor, long nodeId) {
    if (nodeId == 0) {
      return false;
    }
    for (ReplicaDescriptor replica : descriptor.getReplicasList()) {
      if (replica.getNodeId() == nodeId) {
        return true;
      }
    }
    return false;
  }

  /** The descriptor a range lookup of {@code key} answered (a meta range scan of one entry). */
  static RangeDescriptor parseLookup(byte[] key, KvResponse response)
      throws InvalidProtocolBufferException {
    if (!response.hasScan()) {
      throw new IllegalStateException(
          "the meta range answered a lookup with " + response.getResponseCase());
    }
    if (response.getScan().getKvsCount() == 0) {
      throw new IllegalStateException(
          "the range directory has no range for key " + Keys.shortly(key));
    }
    RangeDescriptor descriptor = RangeDescriptor.parseFrom(response.getScan().getKvs(0).getValue());
    if (!KeySpace.contains(descriptor, key)) {
      throw new IllegalStateException(
          "the range directory's entry for key "
              + Keys.shortly(key)
              + " is range "
              + Failures.describe(descriptor)
              + ", which does not hold it");
    }
    return descriptor;
  }
}
