package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RaftMessage;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.range.storage.Engine;
import io.basalt.txn.hlc.HybridClock;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

/**
 * Stores for tests that drive one store alone: a network that goes nowhere, the default options.
 */
public final class TestStores {
  /** A network that drops everything (a store alone, or one whose peers are not simulated). */
  public static final Store.Network NO_NETWORK =
      new Store.Network() {
        @Override
        public void send(long toNode, RaftMessage message) {}

        @Override
        public void ping(long toNode) {}

        @Override
        public boolean sendSnapshot(long toNode, SnapshotStream stream) {
          return false;
        }
      };

  private TestStores() {}

  /** The meta range and one data range holding every user key, on node 1 alone. */
  public static final List<RangeDescriptor> META_AND_DATA =
      List.of(
          soloRange(1, ByteString.EMPTY, ByteString.copyFrom(KeySpace.USER_START)),
          soloRange(2, ByteString.copyFrom(KeySpace.USER_START), ByteString.EMPTY));

  /** A range whose one replica is on node 1. */
  public static RangeDescriptor soloRange(long id, ByteString start, ByteString end) {
    return RangeDescriptor.newBuilder()
        .setRangeId(id)
        .setGeneration(1)
        .setStartKey(start)
        .setEndKey(end)
        .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(1).setReplicaId(1))
        .build();
  }

  /** Bootstraps a one-node cluster (node 1) with {@code ranges}. */
  public static void bootstrapAlone(Store store, List<RangeDescriptor> ranges) {
    store.bootstrap(
        "c", ranges, List.of(NodeDescriptor.newBuilder().setNodeId(1).setAddress("a").build()));
  }

  public static Store isolated(long nodeId, Engine engine, LongSupplier nanoTime) {
    return new Store(
        nodeId,
        engine,
        new HybridClock(System::currentTimeMillis, 500_000_000L),
        NO_NETWORK,
        StoreOptions.defaults(),
        new SplittableRandom(1),
        StoreListener.NONE,
        nanoTime);
  }
}
