package io.basalt.txn.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.UpdateRangeDirectoryRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import org.junit.jupiter.api.Test;

/** The range directory keeps each range's newest descriptor, whatever order updates come in. */
class DirectoryTest {
  private static final RangeDescriptor META =
      RangeDescriptor.newBuilder()
          .setRangeId(KeySpace.META_RANGE_ID)
          .setGeneration(1)
          .setStartKey(ByteString.EMPTY)
          .setEndKey(ByteString.copyFrom(KeySpace.USER_START))
          .build();

  private final TestReplica meta = new TestReplica(META);

  private static RangeDescriptor range(long generation, long... nodes) {
    RangeDescriptor.Builder b =
        RangeDescriptor.newBuilder()
            .setRangeId(2)
            .setGeneration(generation)
            .setStartKey(ByteString.copyFrom(KeySpace.USER_START))
            .setEndKey(ByteString.copyFromUtf8("m"));
    for (long n : nodes) {
      b.addReplicas(ReplicaDescriptor.newBuilder().setNodeId(n).setReplicaId(n));
    }
    return b.build();
  }

  private static KvRequest update(RangeDescriptor d) {
    return KvRequest.newBuilder()
        .setUpdateRangeDirectory(UpdateRangeDirectoryRequest.newBuilder().setRange(d))
        .build();
  }

  private RangeDescriptor recorded() throws Exception {
    byte[] v =
        MvccStore.get(meta.engine, KeySpace.rangeDescriptorKey("m".getBytes()), Timestamp.MAX)
            .orElseThrow()
            .value();
    return RangeDescriptor.parseFrom(v);
  }

  @Test
  void aNewerDescriptorReplacesTheEntryAndAnOlderOneWritesNothing() throws Exception {
    meta.now = new Timestamp(10, 0);
    KvResponse first = meta.write(update(range(2, 1, 2, 3)));
    assertThat(first.getUpdateRangeDirectory().getUpdated()).isTrue();
    meta.now = new Timestamp(20, 0);
    assertThat(meta.write(update(range(4, 1, 2, 4))).getUpdateRangeDirectory().getUpdated())
        .isTrue();
    assertThat(recorded()).isEqualTo(range(4, 1, 2, 4));

    meta.now = new Timestamp(30, 0);
    TestReplica.Evaluated late = meta.evaluate(update(range(3, 1, 2, 3)));
    assertThat(late.answer().getUpdateRangeDirectory().getUpdated()).isFalse();
    assertThat(late.command().getWritesCount()).as("nothing written").isZero();
    TestReplica.Evaluated same = meta.evaluate(update(range(4, 1, 2, 4)));
    assertThat(same.command().getWritesCount()).isZero();
    assertThat(recorded()).isEqualTo(range(4, 1, 2, 4));
  }

  @Test
  void onlyTheMetaRangeHoldsTheDirectory() {
    assertThat(
            Commands.validate(update(range(2, 1)), range(1, 1))
                .getError()
                .getGeneric()
                .getMessage())
        .contains("meta range");
    assertThat(
            Commands.validate(update(RangeDescriptor.getDefaultInstance()), META)
                .getError()
                .getGeneric()
                .getMessage())
        .contains("not a range descriptor");
  }

  private static RangeDescriptor span(long id, long generation, String start, String end) {
    return RangeDescriptor.newBuilder()
        .setRangeId(id)
        .setGeneration(generation)
        .setStartKey(ByteString.copyFromUtf8(start))
        .setEndKey(ByteString.copyFromUtf8(end))
        .addReplicas(ReplicaDescriptor.newBuilder().setNodeId(1).setReplicaId(1))
        .build();
  }

  private RangeDescriptor at(String end) throws Exception {
    return RangeDescriptor.parseFrom(
        MvccStore.get(meta.engine, KeySpace.rangeDescriptorKey(end.getBytes()), Timestamp.MAX)
            .orElseThrow()
            .value());
  }

  @Test
  void bothHalvesOfASplitAreRecordedTogetherAndTheNewRangeTakesOverTheOldEndKey() throws Exception {
    meta.now = new Timestamp(10, 0);
    meta.write(update(span(2, 3, "a", "z")));
    meta.now = new Timestamp(20, 0);
    KvRequest split =
        KvRequest.newBuilder()
            .setUpdateRangeDirectory(
                UpdateRangeDirectoryRequest.newBuilder()
                    .setRange(span(2, 4, "a", "m"))
                    .addMore(span(7, 4, "m", "z")))
            .build();
    TestReplica.Evaluated e = meta.evaluate(split);
    assertThat(e.command().getWritesCount()).as("one command, both entries").isEqualTo(2);
    meta.write(split);
    assertThat(at("m")).isEqualTo(span(2, 4, "a", "m"));
    assertThat(at("z")).as("range 7 replaced range 2's old entry").isEqualTo(span(7, 4, "m", "z"));

    // The old wide descriptor, recorded late, never comes back over the new range's entry.
    meta.now = new Timestamp(30, 0);
    assertThat(meta.write(update(span(2, 3, "a", "z"))).getUpdateRangeDirectory().getUpdated())
        .isFalse();
    assertThat(at("z")).isEqualTo(span(7, 4, "m", "z"));
  }

  @Test
  void rangeIdsStartAboveTheDirectoryAndAreNeverGivenTwice() {
    meta.now = new Timestamp(10, 0);
    meta.write(update(span(5, 1, "a", "m")));
    KvRequest allocate =
        KvRequest.newBuilder()
            .setAllocateRangeId(io.basalt.api.AllocateRangeIdRequest.getDefaultInstance())
            .build();
    meta.now = new Timestamp(20, 0);
    assertThat(meta.write(allocate).getAllocateRangeId().getRangeId()).isEqualTo(6);
    meta.now = new Timestamp(30, 0);
    assertThat(meta.write(allocate).getAllocateRangeId().getRangeId()).isEqualTo(7);
    meta.now = new Timestamp(40, 0);
    meta.write(update(span(9, 1, "m", "z"))); // (the counter, not the directory, decides now)
    meta.now = new Timestamp(50, 0);
    assertThat(meta.write(allocate).getAllocateRangeId().getRangeId()).isEqualTo(8);
    assertThat(Commands.validate(allocate, range(1, 1)).hasError()).isTrue();
  }

  @Test
  void aDecommissionIsRecordedAndARecommissionDeletesTheRecord() {
    KvRequest decommission =
        KvRequest.newBuilder()
            .setDecommissionNode(io.basalt.api.DecommissionNodeRequest.newBuilder().setNodeId(3))
            .build();
    meta.now = new Timestamp(10, 0);
    assertThat(meta.write(decommission).hasDecommissionNode()).isTrue();
    assertThat(MvccStore.get(meta.engine, KeySpace.decommissionKey(3), Timestamp.MAX)).isPresent();
    meta.now = new Timestamp(20, 0);
    meta.write(
        decommission.toBuilder()
            .setDecommissionNode(
                io.basalt.api.DecommissionNodeRequest.newBuilder()
                    .setNodeId(3)
                    .setRecommission(true))
            .build());
    assertThat(
            MvccStore.get(meta.engine, KeySpace.decommissionKey(3), Timestamp.MAX)
                .filter(v -> !v.isTombstone()))
        .isEmpty();
    assertThat(KeySpace.decommissionedNode(KeySpace.decommissionKey(3))).isEqualTo(3);
    assertThat(Commands.validate(decommission, range(1, 1)).hasError()).isTrue();
  }

  private static KvRequest decommission(long node, boolean recommission, boolean finished) {
    return KvRequest.newBuilder()
        .setDecommissionNode(
            io.basalt.api.DecommissionNodeRequest.newBuilder()
                .setNodeId(node)
                .setRecommission(recommission)
                .setFinished(finished))
        .build();
  }

  private String record(long node) {
    return MvccStore.get(meta.engine, KeySpace.decommissionKey(node), Timestamp.MAX)
        .filter(v -> !v.isTombstone())
        .map(v -> new String(v.value(), java.nio.charset.StandardCharsets.UTF_8))
        .orElse("");
  }

  @Test
  void aFinishedDecommissionStaysFinishedAndCannotBeUndone() {
    meta.now = new Timestamp(10, 0);
    KvResponse early = meta.write(decommission(3, false, true));
    assertThat(early.hasError()).as("finishing a decommission nobody started").isTrue();
    assertThat(record(3)).isEmpty();

    meta.now = new Timestamp(20, 0);
    assertThat(meta.write(decommission(3, false, false)).getDecommissionNode().getDecommissioned())
        .isFalse();
    assertThat(record(3)).isEqualTo(KeySpace.DECOMMISSIONING);
    meta.now = new Timestamp(30, 0);
    assertThat(meta.write(decommission(3, false, true)).getDecommissionNode().getDecommissioned())
        .isTrue();
    assertThat(record(3)).isEqualTo(KeySpace.DECOMMISSIONED);

    meta.now = new Timestamp(40, 0);
    KvResponse undo = meta.write(decommission(3, true, false));
    assertThat(undo.hasError()).as("a recommission of a decommissioned node").isTrue();
    assertThat(undo.getError().toString()).contains("refuses it for good");
    meta.now = new Timestamp(50, 0);
    assertThat(meta.write(decommission(3, false, false)).getDecommissionNode().getDecommissioned())
        .as("decommissioned again: the answer says it finished, and the record stays")
        .isTrue();
    assertThat(record(3)).isEqualTo(KeySpace.DECOMMISSIONED);
    meta.now = new Timestamp(60, 0);
    assertThat(meta.write(decommission(3, false, true)).getDecommissionNode().getDecommissioned())
        .as("finished again")
        .isTrue();
  }
}
