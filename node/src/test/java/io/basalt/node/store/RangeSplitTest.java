package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.SplitRangeRequest;
import io.basalt.range.raft.RaftNode;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Range splits through Raft (SplitRange) on scripted stores: every replica narrows the range and
 * creates the new one at the same log index; the new range serves its keys with the old range's
 * dedupe records; a write evaluated on the old span and applied after the split is refused by every
 * replica; and a restarted node loads both halves.
 */
class RangeSplitTest {
  private static final long LEFT = 2;
  private static final long RIGHT = 3;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L);

  private ScriptedStores c = new ScriptedStores(3, Set.of());

  private Store leader() {
    c.snapshotsSent = true;
    c.tick(ALL, 12);
    c.dropAll();
    c.campaign(1, LEFT);
    c.exchange(ALL);
    assertThat(c.stores[1].isLeader(LEFT)).isTrue();
    return c.stores[1];
  }

  @Test
  void everyReplicaSplitsAtTheSameIndexAndTheNewRangeServesItsKeys() {
    Store leader = leader();
    assertThat(c.call(leader, put(LEFT, "put-a", "a", "1"), ALL).hasError()).isFalse();
    assertThat(c.call(leader, put(LEFT, "put-x", "x", "1"), ALL).hasError()).isFalse();

    KvResponse split = c.call(leader, split("m", 1), ALL);
    assertThat(split.hasError()).as("%s", split).isFalse();
    RangeDescriptor left = split.getSplitRange().getLeft();
    RangeDescriptor right = split.getSplitRange().getRight();
    assertThat(left.getEndKey().toStringUtf8()).isEqualTo("m");
    assertThat(left.getGeneration()).isEqualTo(2);
    assertThat(right.getRangeId()).isEqualTo(RIGHT);
    assertThat(right.getStartKey().toStringUtf8()).isEqualTo("m");
    assertThat(right.getEndKey()).isEqualTo(ByteString.EMPTY);
    assertThat(right.getReplicasList()).isEqualTo(left.getReplicasList());
    c.exchange(ALL);
    for (long n : ALL) {
      assertThat(c.descriptorOn(n, LEFT)).as("node %d's left", n).contains(left);
      assertThat(c.descriptorOn(n, RIGHT)).as("node %d's right", n).contains(right);
    }
    assertThat(leader.isLeader(RIGHT)).as("the left-hand leader's node campaigned").isTrue();

    // The old range refuses the new range's keys, naming the new range.
    KvResponse moved = c.call(leader, put(LEFT, "put-x2", "x", "2"), ALL);
    assertThat(moved.getError().hasKeyNotInRange()).as("%s", moved).isTrue();
    assertThat(moved.getError().getKeyNotInRange().getCovering()).isEqualTo(right);

    assertThat(c.call(leader, put(RIGHT, "put-x2", "x", "2"), ALL).hasError()).isFalse();
    // A retry of a write applied before the split, sent to the new range, is answered from the
    // record the split copied: it does not write "1" over "2".
    assertThat(c.call(leader, put(RIGHT, "put-x", "x", "1"), ALL).hasError()).isFalse();
    c.exchange(ALL);
    for (long n : ALL) {
      assertThat(c.read(n, RIGHT, "x")).as("node %d", n).contains("2");
      assertThat(c.read(n, LEFT, "a")).as("node %d", n).contains("1");
    }

    c.restart(2);
    c.tick(ALL, 3); // its leaders' heartbeats say what is committed; it applies the rest
    c.exchange(ALL);
    assertThat(c.descriptorOn(2, LEFT)).contains(left);
    assertThat(c.descriptorOn(2, RIGHT)).contains(right);
    assertThat(c.read(2, RIGHT, "x")).contains("2");
    // A split decided from an old generation is refused.
    KvResponse stale = c.call(leader, split("c", 1), ALL);
    assertThat(stale.hasError()).isTrue();
    assertThat(c.stores[1].replicaCount()).isEqualTo(3);
  }

  @Test
  void aWriteEvaluatedBeforeTheSplitAndAppliedAfterItIsRefusedByEveryReplica() {
    assertThat(writeProposedBehindSplit())
        .as("the write's answer")
        .matches(r -> r.getError().hasKeyNotInRange(), "KeyNotInRange");
    for (long n : ALL) {
      assertThat(c.read(n, RIGHT, "x")).as("node %d holds no x", n).isEmpty();
    }
  }

  @Test
  void withoutTheSpanCheckAtApplyTheWriteLandsInTheNewRangesKeys() {
    // Control for the test above: the same schedule with the check planted away.
    c = new ScriptedStores(3, EnumSet.of(PlantedStoreBug.NO_SPAN_CHECK_AT_APPLY));
    assertThat(writeProposedBehindSplit()).matches(r -> !r.hasError(), "acknowledged");
    assertThat(c.read(1, RIGHT, "x")).contains("1");
  }

  /**
   * Node 2 votes in the new range's first election before it applies the split (the vote creates a
   * placeholder replica of the new range), restarts (a placeholder is not loaded again), and then
   * applies the split: the new replica keeps the vote it wrote, so it cannot vote twice in that
   * term.
   */
  @Test
  void aVoteGivenBeforeTheSplitAppliedSurvivesARestart() {
    Store leader = leader();
    List<KvResponse> answer = new ArrayList<>();
    leader.submit(split("m", 1), answer::add);
    leader.process();
    c.exchange(Set.of(1L, 3L)); // nodes 1 and 3 commit and apply it; node 1 campaigns for range 3
    assertThat(answer).hasSize(1);
    c.exchange(Set.of(1L, 2L), Set.of(io.basalt.api.MessageType.MESSAGE_TYPE_VOTE));
    Replica placeholder = c.stores[2].replicaMap().get(RIGHT);
    assertThat(placeholder).as("node 2's replica of range 3, created by the vote").isNotNull();
    assertThat(placeholder.initialized).isFalse();
    long term = placeholder.core.status().term();
    assertThat(placeholder.core.status().vote()).as("it voted").isEqualTo(101);

    c.restart(2);
    assertThat(c.stores[2].replicaMap().get(RIGHT)).as("placeholders are not loaded").isNull();
    c.tick(ALL, 3);
    c.exchange(ALL); // node 2 applies the split and then hears from range 3's leader
    RaftNode.Status st = c.stores[2].replicaMap().get(RIGHT).core.status();
    assertThat(st.term()).isEqualTo(term);
    assertThat(st.vote()).as("the vote written before the restart").isEqualTo(101);
    assertThat(c.descriptorOn(2, RIGHT)).isPresent();
  }

  /** A split proposed, then, before it applies, a write to its right-hand keys. */
  private KvResponse writeProposedBehindSplit() {
    Store leader = leader();
    List<KvResponse> splitAnswer = new ArrayList<>();
    List<KvResponse> writeAnswer = new ArrayList<>();
    leader.submit(split("m", 1), splitAnswer::add);
    leader.process();
    leader.submit(put(LEFT, "put-x", "x", "1"), writeAnswer::add);
    leader.process();
    c.exchange(ALL);
    assertThat(splitAnswer).hasSize(1);
    assertThat(splitAnswer.get(0).hasError()).as("%s", splitAnswer).isFalse();
    assertThat(writeAnswer).hasSize(1);
    return writeAnswer.get(0);
  }

  private static KvRequest split(String key, long generation) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(LEFT))
        .setSplitRange(
            SplitRangeRequest.newBuilder()
                .setSplitKey(ByteString.copyFromUtf8(key))
                .setExpectedGeneration(generation)
                .setNewRangeId(RIGHT))
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
