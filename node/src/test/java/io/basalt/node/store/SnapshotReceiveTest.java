package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** What a follower keeps of snapshot streams it is receiving. */
class SnapshotReceiveTest {
  private static final long RANGE = 2;

  @Test
  void aStreamFromANewSenderFreesTheHalfReceivedOneOfTheOld() {
    List<String> dropped = new ArrayList<>();
    Store store =
        new Store(
            1,
            new MemEngine(),
            new HybridClock(System::currentTimeMillis, 500_000_000L),
            TestStores.NO_NETWORK,
            StoreOptions.defaults(),
            new SplittableRandom(1),
            new StoreListener() {
              @Override
              public void droppedMessage(long fromNode, long rangeId, String reason) {
                dropped.add(fromNode + ": " + reason);
              }
            },
            System::nanoTime);
    RangeDescriptor.Builder range =
        RangeDescriptor.newBuilder()
            .setRangeId(RANGE)
            .setGeneration(1)
            .setStartKey(ByteString.copyFrom(KeySpace.USER_START));
    for (long n = 1; n <= 3; n++) {
      range.addReplicas(ReplicaDescriptor.newBuilder().setNodeId(n).setReplicaId(n));
    }
    store.bootstrap(
        "c",
        List.of(range.build()),
        List.of(NodeDescriptor.newBuilder().setNodeId(1).setAddress("a").build()));

    store.receiveSnapshotChunk(2, chunk(2, 100, 0)); // node 2, a leader then, starts a stream
    store.receiveSnapshotChunk(3, chunk(3, 200, 0)); // node 3, the new leader, starts another
    assertThat(dropped).isEmpty();
    store.receiveSnapshotChunk(2, chunk(2, 100, 1)); // the rest of the old one
    assertThat(dropped)
        .as("node 2's half-received stream was let go when node 3's began")
        .containsExactly("2: snapshot chunk of an abandoned stream");
    store.receiveSnapshotChunk(3, chunk(3, 200, 1));
    assertThat(dropped).as("node 3's stream goes on").hasSize(1);
  }

  private static SnapshotChunk chunk(long from, long snapshotId, int sequence) {
    return SnapshotChunk.newBuilder()
        .setRangeId(RANGE)
        .setFrom(from)
        .setTo(1)
        .setTerm(7)
        .setSnapshotId(snapshotId)
        .setSequence(sequence)
        .build();
  }
}
