package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.range.storage.MemEngine;
import java.util.List;
import org.junit.jupiter.api.Test;

class StoreIdentityTest {
  private static final List<RangeDescriptor> RANGES =
      List.of(
          range(1, ByteString.EMPTY, ByteString.copyFrom(KeySpace.USER_START)),
          range(2, ByteString.copyFrom(KeySpace.USER_START), ByteString.EMPTY));
  private static final List<NodeDescriptor> NODES =
      List.of(NodeDescriptor.newBuilder().setNodeId(1).setAddress("a").build());

  private static RangeDescriptor range(long id, ByteString start, ByteString end) {
    return RangeDescriptor.newBuilder()
        .setRangeId(id)
        .setStartKey(start)
        .setEndKey(end)
        .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(1).setReplicaId(1))
        .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(2).setReplicaId(2))
        .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(3).setReplicaId(3))
        .build();
  }

  private static Store store(long id, MemEngine engine) {
    return TestStores.isolated(id, engine, System::nanoTime);
  }

  @Test
  void aNodeThatLearnedTheClusterIdFromAPeerStillCreatesItsReplicasOnBootstrap() {
    Store s = store(1, new MemEngine());
    s.adopt("c1");
    s.bootstrap("c1", RANGES, NODES);
    assertThat(s.replicaCount()).isEqualTo(2);
    s.bootstrap("c1", RANGES, NODES); // a repeated request changes nothing
    assertThat(s.replicaCount()).isEqualTo(2);
  }

  @Test
  void aRestartedStoreResumesItsReplicasAndRefusesAnotherIdOrCluster() {
    MemEngine engine = new MemEngine();
    store(1, engine).bootstrap("c1", RANGES, NODES);
    MemEngine afterCrash = engine.crash();
    Store again = store(1, afterCrash);
    again.load();
    assertThat(again.replicaCount()).isEqualTo(2);
    assertThat(again.identity()).contains(new Store.Identity("c1", 1));
    assertThatThrownBy(() -> again.bootstrap("c2", RANGES, NODES))
        .hasMessageContaining("belongs to cluster c1");
    Store wrongId = store(2, afterCrash);
    assertThatThrownBy(wrongId::load).hasMessageContaining("belongs to node 1");
  }
}
