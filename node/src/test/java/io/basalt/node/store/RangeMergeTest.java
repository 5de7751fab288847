package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.Errors;
import io.basalt.api.FreezeRangeRequest;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.SplitRangeRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Range merges (FreezeRange, MergeRanges, run by {@link RangeMerge}) on scripted stores: range 2 is
 * split at "m" into 2 and 3, then 3 is merged back into 2. Every replica absorbs its replica of the
 * frozen range at the same index; the data, and the dedupe records that answer retries, stay; a
 * frozen range serves nothing; a merge decided from an old left-hand range is refused before
 * anything freezes; the merge waits for every replica of the frozen range (without the wait, a
 * lagging node absorbs a replica that did not apply the freeze: the store stops), and one whose
 * replica never applies the freeze is abandoned, then unfrozen; and a node that missed the merge
 * catches up by a snapshot that replaces its frozen replica.
 */
class RangeMergeTest {
  private static final long LEFT = 2;
  private static final long RIGHT = 3;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L);

  private final ScriptedStores c = new ScriptedStores(3, EnumSet.noneOf(PlantedStoreBug.class));

  /** Which nodes exchange messages while the merge runs. */
  private Set<Long> linked = ALL;

  private final ArrayDeque<Runnable> steps = new ArrayDeque<>();

  /** Sends straight to a store and exchanges messages until it answers; steps run in order. */
  private final RangeMerge.Io mergeIo =
      new RangeMerge.Io() {
        @Override
        public void send(
            long nodeId, KvRequest request, java.util.function.Consumer<KvResponse> r) {
          List<KvResponse> answers = new ArrayList<>();
          c.stores[(int) nodeId].submit(request, answers::add);
          c.stores[(int) nodeId].process();
          for (int i = 0; i < 5 && answers.isEmpty(); i++) {
            c.exchange(linked);
            c.tick(linked, 1);
          }
          KvResponse answer = answers.isEmpty() ? Errors.timeout("no answer") : answers.get(0);
          steps.add(() -> r.accept(answer));
        }

        @Override
        public void after(long millis, Runnable step) {
          c.tick(linked, 1);
          c.exchange(linked);
          steps.add(step);
        }
      };

  /** Runs the merge's steps, at most {@code max}; its outcome, or null if it has none yet. */
  private RangeMerge.Outcome run(RangeMerge.Outcome[] outcome, int max) {
    for (int i = 0; i < max && outcome[0] == null && !steps.isEmpty(); i++) {
      steps.poll().run();
    }
    return outcome[0];
  }

  private RangeDescriptor[] split() {
    c.snapshotsSent = true;
    c.tick(ALL, 12);
    c.dropAll();
    c.campaign(1, LEFT);
    c.exchange(ALL);
    assertThat(submit(1, put(LEFT, "put-a", "a", "1")).hasError()).isFalse();
    assertThat(submit(1, put(LEFT, "put-x", "x", "1")).hasError()).isFalse();
    KvResponse split = submit(1, split("m"));
    assertThat(split.hasError()).as("%s", split).isFalse();
    c.exchange(ALL);
    return new RangeDescriptor[] {
      split.getSplitRange().getLeft(), split.getSplitRange().getRight()
    };
  }

  private RangeMerge.Outcome merge(RangeDescriptor left, RangeDescriptor right, int maxSteps) {
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge.start(mergeIo, left, right, 77, o -> outcome[0] = o);
    return run(outcome, maxSteps);
  }

  @Test
  void theLeftRangeAbsorbsTheRightOnEveryNodeKeepingDataAndRetryRecords() {
    RangeDescriptor[] halves = split();
    assertThat(submit(1, put(RIGHT, "put-x2", "x", "2")).hasError()).isFalse();
    assertThat(submit(1, put(RIGHT, "put-x3", "x", "3")).hasError()).isFalse();

    RangeMerge.Outcome outcome = merge(halves[0], halves[1], 200);
    assertThat(outcome).isNotNull();
    RangeDescriptor merged = outcome.merged();
    assertThat(merged).as(outcome.reason()).isNotNull();
    assertThat(merged.getStartKey()).isEqualTo(halves[0].getStartKey());
    assertThat(merged.getEndKey()).isEqualTo(ByteString.EMPTY);
    assertThat(merged.getGeneration()).isEqualTo(3);
    c.exchange(ALL);
    for (long n : ALL) {
      assertThat(descriptorOn(n, LEFT)).as("node %d", n).contains(merged);
      assertThat(descriptorOn(n, RIGHT)).as("node %d", n).isEmpty();
      assertThat(c.stores[(int) n].replicaMap()).doesNotContainKey(RIGHT);
      assertThat(read(n, LEFT, "x")).as("node %d", n).contains("3");
      assertThat(read(n, LEFT, "a")).as("node %d", n).contains("1");
    }
    // A request still naming the absorbed range is sent to the range that holds its key.
    KvResponse moved = submit(1, put(RIGHT, "put-x4", "x", "4"));
    assertThat(moved.getError().getKeyNotInRange().getCovering()).as("%s", moved).isEqualTo(merged);
    // A retry of a write applied at the absorbed range is answered from its moved record: it
    // does not write "2" over "3".
    assertThat(submit(1, put(LEFT, "put-x2", "x", "2")).hasError()).isFalse();
    assertThat(submit(1, put(LEFT, "put-y", "y", "1")).hasError()).isFalse();
    c.exchange(ALL);
    for (long n : ALL) {
      assertThat(read(n, LEFT, "x")).as("node %d", n).contains("3");
      assertThat(read(n, LEFT, "y")).as("node %d", n).contains("1");
    }
    // The absorbed range's state is gone for good: a restarted node loads the merged range only,
    // and no message for the absorbed range creates a replica again.
    c.restart(2);
    c.tick(ALL, 3);
    c.exchange(ALL);
    assertThat(descriptorOn(2, LEFT)).contains(merged);
    assertThat(c.stores[2].replicaMap()).doesNotContainKey(RIGHT);
    assertThat(StoreRecords.readTombstone(c.engines[2], RIGHT)).isEqualTo(Long.MAX_VALUE);
    assertThat(read(2, LEFT, "x")).contains("3");
  }

  @Test
  void aFrozenRangeServesNothingUntilUnfrozen() {
    RangeDescriptor[] halves = split();
    KvResponse frozen = submit(1, freeze(halves, false));
    assertThat(frozen.hasFreezeRange()).as("%s", frozen).isTrue();
    assertThat(frozen.getFreezeRange().getFreezeIndex()).isPositive();
    KvResponse refused = submit(1, put(RIGHT, "put-x2", "x", "2"));
    assertThat(refused.getError().hasUnavailable()).as("%s", refused).isTrue();
    assertThat(submit(1, get(RIGHT, "x")).getError().hasUnavailable()).isTrue();
    // Asked again, the freeze answers the same index; the left-hand range still serves.
    assertThat(submit(1, freeze(halves, false)).getFreezeRange().getFreezeIndex())
        .isEqualTo(frozen.getFreezeRange().getFreezeIndex());
    assertThat(submit(1, put(LEFT, "put-a2", "a", "2")).hasError()).isFalse();
    // The freeze is part of the range's state: a restarted replica is still frozen.
    c.restart(2);
    assertThat(c.stores[2].replicaMap().get(RIGHT).frozen).isNotNull();
    c.tick(ALL, 3);
    c.exchange(ALL);

    assertThat(submit(1, freeze(halves, true)).hasFreezeRange()).isTrue();
    assertThat(submit(1, put(RIGHT, "put-x2", "x", "2")).hasError()).isFalse();
    c.exchange(ALL);
    for (long n : ALL) {
      assertThat(read(n, RIGHT, "x")).as("node %d", n).contains("2");
    }
  }

  @Test
  void aMergeWhoseFrozenReplicaDoesNotApplyTheFreezeIsAbandonedThenUnfrozen() {
    RangeDescriptor[] halves = split();
    linked = Set.of(1L, 2L); // node 3 never hears of the freeze
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge.start(mergeIo, halves[0], halves[1], 77, o -> outcome[0] = o);
    RangeMerge.Outcome done = run(outcome, 2_000);
    assertThat(done).isNotNull();
    assertThat(done.merged()).isNull();
    assertThat(done.reason()).contains("did not apply the freeze");
    // The left-hand range abandoned it (its next generation), and the right-hand one serves.
    assertThat(descriptorOn(1, LEFT).orElseThrow().getGeneration())
        .isEqualTo(halves[0].getGeneration() + 1);
    assertThat(c.stores[1].replicaMap().get(RIGHT).frozen).isNull();
    assertThat(submit(1, put(RIGHT, "put-x2", "x", "2"), Set.of(1L, 2L)).hasError()).isFalse();
    // A commit of it now (a late try) is refused by every replica.
    KvResponse late =
        submit(
            1,
            KvRequest.newBuilder()
                .setHeader(RequestHeader.newBuilder().setRangeId(LEFT))
                .setMergeRanges(
                    io.basalt.api.MergeRangesRequest.newBuilder()
                        .setPhase(io.basalt.api.MergePhase.MERGE_PHASE_COMMIT)
                        .setMergeId(77)
                        .setExpectedGeneration(halves[0].getGeneration() + 1)
                        .setRight(halves[1])
                        .setFreezeIndex(1))
                .build(),
            Set.of(1L, 2L));
    assertThat(late.getError().hasGeneric()).as("%s", late).isTrue();
    linked = ALL;
    c.tick(ALL, 3);
    c.exchange(ALL);
    assertThat(read(3, RIGHT, "x")).contains("2");
  }

  @Test
  void aMergeDecidedFromAnOldLeftRangeIsRefusedAndNothingFreezes() {
    RangeDescriptor[] halves = split();
    // The left-hand range splits again after the merge was decided: its generation moves on.
    KvResponse again =
        submit(
            1,
            KvRequest.newBuilder()
                .setHeader(RequestHeader.newBuilder().setRangeId(LEFT))
                .setSplitRange(
                    SplitRangeRequest.newBuilder()
                        .setSplitKey(ByteString.copyFromUtf8("c"))
                        .setExpectedGeneration(2)
                        .setNewRangeId(4))
                .build());
    assertThat(again.hasError()).as("%s", again).isFalse();
    c.exchange(ALL);
    RangeMerge.Outcome outcome = merge(halves[0], halves[1], 200);
    assertThat(outcome).isNotNull();
    assertThat(outcome.merged()).as(outcome.reason()).isNull();
    for (long n : ALL) {
      assertThat(c.stores[(int) n].replicaMap().get(RIGHT).frozen).as("node %d", n).isNull();
    }
    assertThat(submit(1, put(RIGHT, "put-x2", "x", "2")).hasError()).isFalse();
  }

  @Test
  void theMergeWaitsForEveryReplicaOfTheFrozenRange() {
    RangeDescriptor[] halves = split();
    linked = Set.of(1L, 2L); // node 3 hears nothing while the merge runs
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge.start(mergeIo, halves[0], halves[1], 77, o -> outcome[0] = o);
    assertThat(run(outcome, 40)).as("no merge while node 3 has not applied the freeze").isNull();
    assertThat(descriptorOn(1, LEFT)).contains(halves[0]);
    linked = ALL;
    RangeMerge.Outcome done = run(outcome, 200);
    assertThat(done).isNotNull();
    assertThat(done.merged()).as(done.reason()).isNotNull();
    c.exchange(ALL);
    assertThat(descriptorOn(3, LEFT)).contains(done.merged());
    assertThat(c.stores[3].replicaMap()).doesNotContainKey(RIGHT);
  }

  @Test
  void withoutTheWaitALaggingNodeAbsorbsAReplicaThatDidNotFreeze() {
    // Control for the test above: the merge proposed at once. The frozen range is led from node
    // 2, so that node 3, linked to node 1 only, gets the merge but not the freeze.
    RangeDescriptor[] halves = split();
    KvResponse moved =
        submit(
            1,
            KvRequest.newBuilder()
                .setHeader(RequestHeader.newBuilder().setRangeId(RIGHT))
                .setTransferLeader(io.basalt.api.TransferLeaderRequest.newBuilder().setNodeId(2))
                .build());
    assertThat(moved.hasError()).as("%s", moved).isFalse();
    for (int i = 0; i < 5 && !c.stores[2].isLeader(RIGHT); i++) {
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    assertThat(c.stores[2].isLeader(RIGHT)).isTrue();
    linked = Set.of(1L, 2L);
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge m = RangeMerge.start(mergeIo, halves[0], halves[1], 77, o -> outcome[0] = o);
    m.skipWaitForReplicas = true;
    assertThat(run(outcome, 40)).isNotNull(); // merged on nodes 1 and 2
    assertThatThrownBy(() -> c.exchange(Set.of(1L, 3L))) // node 3 gets the merge, no freeze
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not frozen for this merge");
  }

  @Test
  void aNodeThatMissedTheMergeTakesASnapshotThatReplacesItsFrozenReplica() {
    RangeDescriptor[] halves = split();
    RangeMerge.Outcome[] outcome = {null};
    RangeMerge.start(mergeIo, halves[0], halves[1], 77, o -> outcome[0] = o);
    // Every replica applies the freeze; then node 3 is cut off before the merge is proposed.
    for (int i = 0; i < 200 && outcome[0] == null && !steps.isEmpty(); i++) {
      Runnable step = steps.poll();
      if (c.stores[3].replicaMap().get(RIGHT).frozen != null
          && c.stores[3].replicaMap().get(RIGHT).writtenApplied > 0) {
        linked = Set.of(1L, 2L);
      }
      step.run();
    }
    assertThat(outcome[0]).isNotNull();
    assertThat(outcome[0].merged()).as(outcome[0].reason()).isNotNull();
    assertThat(c.stores[3].replicaMap().get(RIGHT).frozen).isNotNull();
    // The left-hand range moves on and forgets its log: node 3 can only catch up by a snapshot.
    for (int i = 0; i < 5; i++) {
      assertThat(submit(1, put(LEFT, "put-z" + i, "z" + i, "1"), Set.of(1L, 2L)).hasError())
          .isFalse();
    }
    c.tick(Set.of(1L, 2L), 1);
    c.exchange(Set.of(1L, 2L));
    LogCompaction.maybeCompact(c.stores[1].replicaMap().get(LEFT), 2);
    linked = ALL;
    for (int i = 0; i < 10; i++) {
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    assertThat(descriptorOn(3, LEFT)).contains(descriptorOn(1, LEFT).orElseThrow());
    assertThat(c.stores[3].replicaMap()).doesNotContainKey(RIGHT);
    assertThat(read(3, LEFT, "x")).contains("1");
    assertThat(read(3, LEFT, "z4")).contains("1");
    Set<Long> ranges = new HashSet<>(c.stores[3].replicaMap().keySet());
    assertThat(ranges).containsExactlyInAnyOrder(1L, LEFT);
  }

  private Optional<String> read(long node, long range, String key) {
    return c.stores[(int) node]
        .readLocal(range, key.getBytes(StandardCharsets.UTF_8))
        .map(b -> new String(b, StandardCharsets.UTF_8));
  }

  private KvResponse submit(long node, KvRequest request) {
    return submit(node, request, ALL);
  }

  private KvResponse submit(long node, KvRequest request, Set<Long> group) {
    List<KvResponse> answers = new ArrayList<>();
    c.stores[(int) node].submit(request, answers::add);
    c.stores[(int) node].process();
    c.exchange(group);
    assertThat(answers).as("answered").hasSize(1);
    return answers.get(0);
  }

  private Optional<RangeDescriptor> descriptorOn(long node, long range) {
    return c.stores[(int) node].status().stream()
        .map(ReplicaStatus::getRange)
        .filter(d -> d.getRangeId() == range)
        .findFirst();
  }

  private static KvRequest freeze(RangeDescriptor[] halves, boolean unfreeze) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(RIGHT))
        .setFreezeRange(
            FreezeRangeRequest.newBuilder()
                .setMergeId(5)
                .setExpectedGeneration(halves[1].getGeneration())
                .setInto(halves[0])
                .setUnfreeze(unfreeze))
        .build();
  }

  private static KvRequest split(String key) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(LEFT))
        .setSplitRange(
            SplitRangeRequest.newBuilder()
                .setSplitKey(ByteString.copyFromUtf8(key))
                .setExpectedGeneration(1)
                .setNewRangeId(RIGHT))
        .build();
  }

  private static KvRequest get(long range, String key) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(range))
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
        .build();
  }

  private static KvRequest put(long range, String requestId, String key, String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(range)
                .setRequestId(ByteString.copyFromUtf8(requestId)))
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value)))
        .build();
  }
}
