package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A new leader evaluates writes only once it has applied every entry of earlier terms (its no-op is
 * applied): an entry committed under the old leader may not be known committed, nor applied, by the
 * new one when it is elected. The schedule, on three replicas: n1 commits a put with n2's
 * acknowledgement and answers it; n2 is elected by n3 before it learns that commit; a
 * compare-and-set expecting the put's value reaches n2 at once.
 */
class LeaderReadyTest {
  private static final long RANGE = 2;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L);

  @Test
  void aNewLeaderEvaluatesACompareAndSetOnlyAfterApplyingItsPredecessorsEntries() {
    KvResponse cas = casAfterElection(Set.of());
    assertThat(cas.hasError()).as("%s", cas).isFalse();
    assertThat(cas.getConditionalPut().getSucceeded())
        .as("the acknowledged put is seen by the next leader's compare-and-set")
        .isTrue();
  }

  @Test
  void evaluatingBeforeTheNoOpIsAppliedMissesAnAcknowledgedWrite() {
    // The control: with the wait removed the same schedule fails the compare-and-set.
    KvResponse cas = casAfterElection(Set.of(PlantedStoreBug.EVALUATE_BEFORE_LEADER_READY));
    assertThat(cas.hasError()).as("%s", cas).isFalse();
    assertThat(cas.getConditionalPut().getSucceeded()).isFalse();
  }

  private static KvResponse casAfterElection(Set<PlantedStoreBug> bugs) {
    ScriptedStores c = new ScriptedStores(3, bugs);
    c.tick(ALL, 12);
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(ALL);

    List<KvResponse> put = new ArrayList<>();
    c.stores[1].submit(
        request("p").setPut(PutRequest.newBuilder().setKey(key()).setValue(value("v1"))).build(),
        put::add);
    c.stores[1].process();
    c.deliverOnly(1, 2); // the append reaches n2 only ...
    c.deliverOnly(2, 1); // ... whose acknowledgement commits it: n1 answers
    assertThat(put).hasSize(1);
    assertThat(put.get(0).hasError()).as("%s", put).isFalse();
    c.dropAll();

    c.tick(Set.of(2L, 3L), 12);
    c.dropAll();
    c.campaign(2, RANGE);
    c.exchange(
        Set.of(2L, 3L),
        Set.of(MessageType.MESSAGE_TYPE_VOTE, MessageType.MESSAGE_TYPE_VOTE_RESPONSE));
    assertThat(c.stores[2].isLeader(RANGE)).isTrue();

    List<KvResponse> cas = new ArrayList<>();
    c.stores[2].submit(
        request("c")
            .setConditionalPut(
                ConditionalPutRequest.newBuilder()
                    .setKey(key())
                    .setValue(value("v2"))
                    .setExpectedValue(value("v1")))
            .build(),
        cas::add);
    c.stores[2].process();
    for (int round = 0; round < 5 && cas.isEmpty(); round++) {
      c.exchange(Set.of(2L, 3L));
      c.tick(Set.of(2L, 3L), 1);
    }
    assertThat(cas).hasSize(1);
    return cas.get(0);
  }

  private static KvRequest.Builder request(String id) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder().setRangeId(RANGE).setRequestId(ByteString.copyFromUtf8(id)));
  }

  private static ByteString key() {
    return ByteString.copyFromUtf8("k");
  }

  private static ByteString value(String v) {
    return ByteString.copyFromUtf8(v);
  }
}
