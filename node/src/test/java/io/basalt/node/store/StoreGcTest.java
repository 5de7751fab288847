package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.Error;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.Transaction;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A store collects its ranges' MVCC garbage by itself: once versions are older than the TTL, its
 * leader proposes their removal, every replica applies it, and a transactional read below the
 * raised threshold is refused while a current one reads on.
 */
class StoreGcTest {
  private static final long TTL_MS = 60_000;
  private ManualStore node;

  @Test
  void versionsOlderThanTheTtlAreCollectedAndOldReadsRefused() {
    start(TTL_MS);
    put("k", "v1");
    put("k", "v2");
    put("k", "v3");
    assertThat(shadowed("k")).as("two older versions").hasSize(2);
    long beforeWall = node.wallNanos;
    advance(TTL_MS + 5_000);
    assertThat(shadowed("k")).as("collected").isEmpty();
    assertThat(value(get("k", null))).isEqualTo("v3");
    KvResponse old = get("k", ManualStore.txnAt("reader" + beforeWall, beforeWall));
    assertThat(old.getError().getDetailCase())
        .as("%s", old)
        .isEqualTo(Error.DetailCase.GC_THRESHOLD);
    assertThat(value(get("k", ManualStore.txnAt("reader" + node.wallNanos, node.wallNanos))))
        .isEqualTo("v3");
  }

  @Test
  void withoutATtlNothingIsCollected() {
    // The control: the same history, kept.
    start(0);
    put("k", "v1");
    put("k", "v2");
    put("k", "v3");
    advance(TTL_MS + 5_000);
    assertThat(shadowed("k")).hasSize(2);
  }

  private void start(long ttlMs) {
    // Garbage looked for every second.
    node =
        new ManualStore(
            new StoreOptions(
                10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600, 5_000, ttlMs, 10, false));
  }

  private void advance(long ms) {
    node.advance(ms);
  }

  /** The versions of {@code key} below its newest. */
  private List<MvccStore.VersionKey> shadowed(String key) {
    byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] next = java.util.Arrays.copyOf(k, k.length + 1);
    return MvccStore.garbage(node.engine, k, next, Timestamp.MAX, 100).versions();
  }

  private void put(String key, String value) {
    call(
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(2)
                    .setRequestId(ByteString.copyFromUtf8(key + value)))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8(key))
                    .setValue(ByteString.copyFromUtf8(value)))
            .build());
  }

  private KvResponse get(String key, Transaction txn) {
    RequestHeader.Builder h = RequestHeader.newBuilder().setRangeId(2);
    if (txn != null) {
      h.setTxn(txn);
    }
    return call(
        KvRequest.newBuilder()
            .setHeader(h)
            .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
            .build());
  }

  private KvResponse call(KvRequest request) {
    return node.call(request);
  }

  private static String value(KvResponse r) {
    assertThat(r.hasError()).as("%s", r).isFalse();
    return r.getGet().getFound() ? r.getGet().getKv().getValue().toStringUtf8() : null;
  }
}
