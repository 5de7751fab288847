package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.hlc.HybridClock;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One store alone (node 1, the meta range and range 2 holding every user key), on clocks the test
 * moves: 100 ms ticks, each advancing the wall and the monotonic clock alike.
 */
final class ManualStore {
  long wallNanos = 1_700_000_000_000_000_000L;
  long monotonicNanos = 5_000_000_000L;
  final MemEngine engine = new MemEngine();
  final Store store;

  ManualStore(StoreOptions options) {
    this(options, 3_000); // range 2 elects itself
  }

  /** A store that has run {@code electForMs} after bootstrap (0: not yet elected). */
  ManualStore(StoreOptions options, long electForMs) {
    store =
        new Store(
            1,
            engine,
            new HybridClock(() -> wallNanos, 500_000_000L),
            TestStores.NO_NETWORK,
            options,
            new SplittableRandom(1),
            StoreListener.NONE,
            () -> monotonicNanos);
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    advance(electForMs);
  }

  /**
   * A transaction {@code id} anchored at "k", begun at {@code wallNanos} (its read, write and
   * minimum timestamps, and its uncertainty limit, all there).
   */
  static io.basalt.api.Transaction txnAt(String id, long wallNanos) {
    io.basalt.api.Timestamp at =
        io.basalt.api.Timestamp.newBuilder().setWallNanos(wallNanos).build();
    return io.basalt.api.Transaction.newBuilder()
        .setMeta(
            io.basalt.api.TxnMeta.newBuilder()
                .setId(com.google.protobuf.ByteString.copyFromUtf8(id))
                .setAnchorKey(com.google.protobuf.ByteString.copyFromUtf8("k"))
                .setWriteTimestamp(at)
                .setMinTimestamp(at)
                .setPriority(1))
        .setReadTimestamp(at)
        .setUncertaintyLimit(at)
        .build();
  }

  /** One tick: both clocks move 100 ms, then the store does its work. */
  void tick() {
    monotonicNanos += 100_000_000L;
    wallNanos += 100_000_000L;
    store.tick();
    store.process();
  }

  void advance(long ms) {
    for (long t = 0; t < ms / 100; t++) {
      tick();
    }
  }

  /** Submits {@code request}; its answer lands in the returned list when it comes. */
  List<KvResponse> submit(KvRequest request) {
    List<KvResponse> answers = new ArrayList<>();
    store.submit(request, answers::add);
    store.process();
    return answers;
  }

  /** Submits {@code request} and ticks until it is answered (at most 2 s). */
  KvResponse call(KvRequest request) {
    List<KvResponse> answers = submit(request);
    for (int i = 0; i < 20 && answers.isEmpty(); i++) {
      tick();
    }
    assertThat(answers).as("an answer to %s", request).hasSize(1);
    return answers.get(0);
  }
}
