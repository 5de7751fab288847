package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.range.storage.MemEngine;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A round answers its writes before it writes their applied state: a client callback that, on the
 * store thread, submits a compare-and-set right after its put was acknowledged must still see the
 * put (found by an independent review with exactly this probe).
 */
class ReentrantAnswerTest {
  @Test
  void aRequestSubmittedFromAnAnswerSeesTheAnsweredWrite() {
    MemEngine engine = new MemEngine();
    Store store = TestStores.isolated(1, engine, System::nanoTime);
    PlantedStoreBug.plantScripted(store, java.util.Set.of());
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    for (int i = 0; i < 40; i++) {
      store.tick();
      store.process();
    }
    ByteString k = ByteString.copyFromUtf8("k");
    KvRequest put =
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder().setRangeId(2).setRequestId(ByteString.copyFromUtf8("p")))
            .setPut(PutRequest.newBuilder().setKey(k).setValue(ByteString.copyFromUtf8("v1")))
            .build();
    KvRequest cas =
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder().setRangeId(2).setRequestId(ByteString.copyFromUtf8("c")))
            .setConditionalPut(
                ConditionalPutRequest.newBuilder()
                    .setKey(k)
                    .setExpectedValue(ByteString.copyFromUtf8("v1"))
                    .setValue(ByteString.copyFromUtf8("v2")))
            .build();
    List<KvResponse> answers = new ArrayList<>();
    store.submit(
        put,
        putAnswer -> {
          answers.add(putAnswer);
          store.submit(cas, answers::add); // the client asks again at once
        });
    for (int i = 0; i < 10 && answers.size() < 2; i++) {
      store.process();
      store.tick();
    }
    assertThat(answers).hasSize(2);
    assertThat(answers.get(0).hasError()).as("the put: %s", answers.get(0)).isFalse();
    assertThat(answers.get(1).getConditionalPut().getSucceeded())
        .as("the compare-and-set after the acknowledged put: %s", answers.get(1))
        .isTrue();
    assertThat(store.readLocal(2, k.toByteArray()).map(ByteString::copyFrom))
        .contains(ByteString.copyFromUtf8("v2"));
  }
}
