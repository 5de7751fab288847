package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.range.storage.MemEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A leader marks a write first in the log (replicas then skip their dedupe lookup) only when no
 * proposal of its request id is in flight: a second proposal of an id made while the first is still
 * in the log is looked up when applied, and applied as a no-op.
 */
class FirstInLogTest {
  private static final ByteString K1 = ByteString.copyFromUtf8("k1");
  private static final ByteString K2 = ByteString.copyFromUtf8("k2");

  @Test
  void anIdProposedAgainWhileInFlightIsAppliedOnce() {
    Store store = singleNodeStore(Set.of());
    List<KvResponse> answers = twoPutsWithOneId(store);
    assertThat(answers).hasSize(2);
    assertThat(answers).allSatisfy(a -> assertThat(a.hasError()).as("%s", a).isFalse());
    assertThat(store.readLocal(2, K1.toByteArray())).isPresent();
    assertThat(store.readLocal(2, K2.toByteArray()))
        .as("the second proposal of the id is a duplicate: applied as a no-op")
        .isEmpty();
  }

  @Test
  void withoutTheInFlightCheckTheDuplicateIsAppliedTwice() {
    // The same probe with the check removed: the test above would fail.
    Store store = singleNodeStore(Set.of(PlantedStoreBug.FIRST_IN_LOG_DESPITE_PROPOSAL_IN_FLIGHT));
    twoPutsWithOneId(store);
    assertThat(store.readLocal(2, K2.toByteArray())).isPresent();
  }

  @Test
  void aRetryAfterTheWriteAppliedIsAnsweredFromItsRecord() {
    Store store = singleNodeStore(Set.of());
    List<KvResponse> answers = new ArrayList<>();
    store.submit(put("r", K1, "v1"), answers::add);
    awaitAnswers(store, answers, 1);
    store.submit(put("s", K1, "v2"), answers::add);
    awaitAnswers(store, answers, 2);
    store.submit(put("r", K1, "v1"), answers::add); // a late retry of the first put
    awaitAnswers(store, answers, 3);
    assertThat(answers.get(2).hasError()).as("%s", answers.get(2)).isFalse();
    assertThat(store.readLocal(2, K1.toByteArray()).map(ByteString::copyFrom))
        .as("the retry is not applied again over the later write")
        .contains(ByteString.copyFromUtf8("v2"));
  }

  /** Two puts to different keys with one request id, both proposed before either applies. */
  private static List<KvResponse> twoPutsWithOneId(Store store) {
    List<KvResponse> answers = new ArrayList<>();
    store.submit(put("x", K1, "v1"), answers::add);
    store.submit(put("x", K2, "v2"), answers::add);
    awaitAnswers(store, answers, 2);
    return answers;
  }

  private static void awaitAnswers(Store store, List<KvResponse> answers, int n) {
    for (int i = 0; i < 20 && answers.size() < n; i++) {
      store.process();
      store.tick();
    }
    assertThat(answers).hasSize(n);
  }

  private static KvRequest put(String requestId, ByteString key, String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(2)
                .setRequestId(ByteString.copyFromUtf8(requestId)))
        .setPut(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)))
        .build();
  }

  private static Store singleNodeStore(Set<PlantedStoreBug> bugs) {
    Store store = TestStores.isolated(1, new MemEngine(), System::nanoTime);
    PlantedStoreBug.plantScripted(store, bugs);
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    for (int i = 0; i < 40; i++) {
      store.tick();
      store.process();
    }
    return store;
  }
}
