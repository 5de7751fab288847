package io.basalt.node.server;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import java.util.ArrayList;
import java.util.List;

/**
 * The ranges {@code init} creates: the meta range and data ranges pre-split over the first byte.
 */
final class InitialRanges {
  private InitialRanges() {}

  /** The meta range and {@code n} data ranges splitting the first user key byte evenly. */
  static List<RangeDescriptor> of(int n, List<Long> replicas) {
    List<RangeDescriptor> out = new ArrayList<>();
    List<ReplicaDescriptor> rs = new ArrayList<>();
    for (long id : replicas) {
      // Replica ids are the range's own (1, 2, ...), not node ids.
      rs.add(ReplicaDescriptor.newBuilder().setNodeId(id).setReplicaId(rs.size() + 1).build());
    }
    out.add(
        RangeDescriptor.newBuilder()
            .setRangeId(KeySpace.META_RANGE_ID)
            .setStartKey(ByteString.EMPTY)
            .setEndKey(ByteString.copyFrom(KeySpace.USER_START))
            .addAllReplicas(rs)
            .setNextReplicaId(rs.size() + 1)
            .setGeneration(1)
            .build());
    byte[] start = KeySpace.USER_START;
    for (int i = 0; i < n; i++) {
      byte[] end;
      if (i == n - 1) {
        end = new byte[0];
      } else {
        end = splitPoint(i + 1, n);
      }
      out.add(
          RangeDescriptor.newBuilder()
              .setRangeId(KeySpace.META_RANGE_ID + 1 + i)
              .setStartKey(ByteString.copyFrom(start))
              .setEndKey(ByteString.copyFrom(end))
              .addAllReplicas(rs)
              .setNextReplicaId(rs.size() + 1)
              .setGeneration(1)
              .build());
      start = end;
    }
    return out;
  }

  /**
   * The {@code i}-th of {@code n} split points spreading [0x01, 0x100) evenly: one byte while there
   * are at most 255 ranges, two bytes beyond.
   */
  static byte[] splitPoint(int i, int n) {
    if (n <= 255) {
      return new byte[] {(byte) (1 + 255L * i / n)};
    }
    long at = 256 + 255L * 256 * i / n;
    return new byte[] {(byte) (at >> 8), (byte) at};
  }
}
