package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.Errors;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A node restarted with its clock stepped back (by more than the maximum offset, so no peer's
 * timestamps pull it forward) must never write a version below one it already holds: it refuses to
 * serve until its clock passes the bound its data was written under.
 */
class ClockStepBackTest {
  private static final byte[] KEY = "k".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private long wallNanos = 1_700_000_000_000_000_000L;
  private long monotonicNanos = 1_000_000_000L;
  private MemEngine engine = new MemEngine();
  private Store store;

  @Test
  void aRestartWithTheClockSteppedBackRefusesToServeUntilTheClockPassesItsData() {
    start();
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    ticks(30);
    assertThat(put("r1", "first").hasError()).isFalse();
    Timestamp first = newestVersion();

    engine = engine.crash(engine.unsyncedWrites()); // a restart: everything written survives
    wallNanos -= 10_000_000_000L; // ... with the clock 10 s behind
    start();
    ticks(30);
    KvResponse refused = put("r2", "second");
    assertThat(refused.getError().getGeneric().getCode()).isEqualTo(Errors.NOT_SERVING);
    assertThat(refused.getError().getGeneric().getMessage()).contains("behind a time its data");
    assertThat(newestVersion()).as("nothing written below the first version").isEqualTo(first);

    ticks(110); // 11 s: the clock passes the bound
    assertThat(put("r3", "third").hasError()).isFalse();
    assertThat(newestVersion()).isGreaterThan(first);
  }

  private void start() {
    store =
        new Store(
            1,
            engine,
            new HybridClock(() -> wallNanos, 500_000_000L),
            TestStores.NO_NETWORK,
            StoreOptions.defaults(),
            new SplittableRandom(1),
            StoreListener.NONE,
            () -> monotonicNanos);
    store.load();
  }

  private void ticks(int n) {
    for (int i = 0; i < n; i++) {
      wallNanos += 100_000_000L;
      monotonicNanos += 100_000_000L;
      store.tick();
      store.process();
    }
  }

  private Timestamp newestVersion() {
    return MvccStore.getVersion(engine, KEY, Timestamp.MAX).orElseThrow().timestamp();
  }

  private KvResponse put(String requestId, String value) {
    List<KvResponse> answers = new ArrayList<>();
    store.submit(
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(2)
                    .setRequestId(ByteString.copyFromUtf8(requestId)))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFrom(KEY))
                    .setValue(ByteString.copyFromUtf8(value)))
            .build(),
        answers::add);
    for (int i = 0; i < 20 && answers.isEmpty(); i++) {
      ticks(1);
    }
    assertThat(answers).hasSize(1);
    return answers.get(0);
  }
}
