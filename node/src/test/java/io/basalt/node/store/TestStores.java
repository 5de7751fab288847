package io.basalt.node.store;

import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.storage.Engine;
import io.basalt.txn.hlc.HybridClock;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

/**
 * Stores for tests that drive one store alone: a network that goes nowhere, the default options.
 */
public final class TestStores {
  private TestStores() {}

  public static Store isolated(long nodeId, Engine engine, LongSupplier nanoTime) {
    return new Store(
        nodeId,
        engine,
        new HybridClock(System::currentTimeMillis, 500_000_000L),
        new Store.Network() {
          @Override
          public void send(long toNode, RaftMessage message) {}

          @Override
          public void ping(long toNode) {}

          @Override
          public boolean sendSnapshot(long toNode, List<SnapshotChunk> chunks) {
            return false;
          }
        },
        Store.Options.defaults(),
        new SplittableRandom(1),
        StoreListener.NONE,
        nanoTime);
  }
}
