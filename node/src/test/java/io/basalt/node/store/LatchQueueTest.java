package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.DeleteRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.WriteBatchRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A write that waits for its latches past its deadline leaves their queue: those queued behind it
 * go on at once instead of waiting for latches it never held. Three replicas; the leader keeps its
 * quorum through heartbeats while its appends are lost, so the first write to {@code a} stays in
 * flight and holds {@code a}.
 */
class LatchQueueTest {
  private static final long RANGE = 2;
  private static final Set<MessageType> HEARTBEATS =
      Set.of(MessageType.MESSAGE_TYPE_HEARTBEAT, MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE);

  @Test
  void aWriteThatTimesOutWaitingForLatchesNoLongerHoldsUpThoseBehindIt() {
    ScriptedStores c = new ScriptedStores(3, Set.of());
    Set<Long> all = Set.of(1L, 2L, 3L);
    c.tick(all, 12);
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(all);
    Store leader = c.stores[1];
    assertThat(leader.isLeader(RANGE)).isTrue();

    List<KvResponse> first = new ArrayList<>();
    leader.submit(put("a", "1"), first::add); // proposed; its append is lost: holds a
    leader.process();
    c.dropAll();
    List<KvResponse> batch = new ArrayList<>();
    leader.submit(batch("a", "b"), batch::add); // waits for a
    leader.process();
    heartbeatsOnly(c, 10);
    List<KvResponse> behind = new ArrayList<>();
    leader.submit(put("b", "2"), behind::add); // waits behind the batch (it conflicts on b)
    leader.process();
    assertThat(leader.debugRange(RANGE)).contains("waiting=2");

    heartbeatsOnly(c, 41); // past the batch's deadline, not the later write's
    assertThat(batch).hasSize(1);
    assertThat(batch.get(0).getError().hasTimeout()).as("%s", batch).isTrue();
    assertThat(leader.isLeader(RANGE)).isTrue();
    assertThat(leader.debugRange(RANGE))
        .as("the write behind it is proposed, not left waiting for a")
        .contains("waiting=0")
        .contains("proposal@")
        .containsPattern("proposal@\\d+/t\\d+\\[b\\]");
    assertThat(behind).as("still in flight, not refused").isEmpty();
  }

  private static void heartbeatsOnly(ScriptedStores c, int ticks) {
    for (int t = 0; t < ticks; t++) {
      c.tick(Set.of(1L, 2L, 3L), 1);
      c.exchange(Set.of(1L, 2L, 3L), HEARTBEATS);
      c.dropAll();
    }
  }

  private static KvRequest put(String key, String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(RANGE)
                .setRequestId(ByteString.copyFromUtf8("put-" + key + value)))
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value)))
        .build();
  }

  private static KvRequest batch(String... keys) {
    WriteBatchRequest.Builder b = WriteBatchRequest.newBuilder();
    for (String k : keys) {
      b.addMutations(
          Mutation.newBuilder()
              .setDelete(DeleteRequest.newBuilder().setKey(ByteString.copyFromUtf8(k))));
    }
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(RANGE)
                .setRequestId(ByteString.copyFromUtf8("batch")))
        .setWriteBatch(b)
        .build();
  }
}
