package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A leader records a transaction's read only once its own clock has reached the read's timestamp,
 * and answers a write applied above its clock only once the clock has passed it ({@link
 * ClockWaits}); with a new leader's timestamp cache starting a max offset above its clock ({@code
 * TimestampCache.forNewLeader}), that keeps a write from landing beneath a read its predecessor
 * recorded, and keeps a write above every clock from being missed by a transaction that begins
 * after its answer.
 */
class ClockWaitsTest {
  private static final StoreOptions OPTIONS =
      new StoreOptions(
          10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600, 5_000, 0, 600, false);
  private final ManualStore node = new ManualStore(OPTIONS);
  private int requests;

  @Test
  void aReadAboveTheLeadersClockWaitsUntilTheClockReachesIt() {
    // A transaction that began on a node whose clock runs 350 ms ahead of this one.
    long readAt = node.wallNanos + 350_000_000L;
    List<KvResponse> read = node.submit(txnGet(readAt));
    node.tick();
    node.tick();
    node.tick();
    assertThat(read).as("held while the clock is below the read's timestamp").isEmpty();
    node.tick();
    assertThat(read).as("served once the clock passed it").hasSize(1);
    assertThat(read.get(0).hasError()).as("%s", read.get(0)).isFalse();

    // The read is recorded: a plain write of the key goes above it.
    KvResponse put = node.call(plainPut());
    assertThat(put.hasError()).isFalse();
    assertThat(newestVersionWall()).isGreaterThan(readAt);
  }

  @Test
  void recordingFutureReadsServesTheReadAtOnce() {
    // The control: the test above fails when reads above the clock are not held.
    PlantedStoreBug.plant(node.store, java.util.Set.of(PlantedStoreBug.RECORD_FUTURE_READS));
    List<KvResponse> read = node.submit(txnGet(node.wallNanos + 350_000_000L));
    assertThat(read).hasSize(1);
  }

  @Test
  void aReadAtOrBelowTheClockIsServedAtOnce() {
    List<KvResponse> read = node.submit(txnGet(node.wallNanos - 1_000_000L));
    assertThat(read).hasSize(1);
    assertThat(read.get(0).hasError()).as("%s", read.get(0)).isFalse();
  }

  @Test
  void aWriteAboveTheClockAfterAnElectionIsAnsweredOnceTheClockHasPassedIt() {
    ManualStore fresh = new ManualStore(OPTIONS, 0);
    KvRequest request = plainPut();
    FirstWrite first = firstWriteAfterElection(fresh, request);
    List<KvResponse> retry = fresh.submit(request); // the same request id, answered from its record
    while (fresh.wallNanos < first.written) {
      assertThat(first.answer).as("not answered before the clock passed the write").isEmpty();
      assertThat(retry).as("nor its retry").isEmpty();
      fresh.tick();
    }
    fresh.tick();
    assertThat(first.answer).hasSize(1);
    assertThat(first.answer.get(0).hasError()).as("%s", first.answer.get(0)).isFalse();
    assertThat(retry).hasSize(1);
    assertThat(retry.get(0).hasError()).as("%s", retry.get(0)).isFalse();
    assertThat(retry.get(0).getPut())
        .as("the retry, answered from its record")
        .isEqualTo(first.answer.get(0).getPut());
  }

  @Test
  void withoutCommitWaitTheWriteIsAnsweredWhileAboveTheClock() {
    // The control: the test above fails when the answer is not held.
    ManualStore fresh = new ManualStore(OPTIONS, 0);
    PlantedStoreBug.plant(fresh.store, java.util.Set.of(PlantedStoreBug.NO_COMMIT_WAIT));
    FirstWrite first = firstWriteAfterElection(fresh, plainPut());
    assertThat(first.answer).hasSize(1);
    assertThat(fresh.wallNanos).isLessThan(first.written);
  }

  private record FirstWrite(List<KvResponse> answer, long written) {}

  /**
   * Ticks {@code fresh} until range 2 has elected itself and applied {@code request}, submitted
   * again while refused; the first write lands at the new leader's low-water mark, its clock when
   * elected plus the 500 ms max offset, above its clock.
   */
  private static FirstWrite firstWriteAfterElection(ManualStore fresh, KvRequest request) {
    List<KvResponse> put = fresh.submit(request);
    long acceptedAt = 0;
    for (int t = 0; t < 100 && acceptedAt == 0; t++) {
      fresh.tick();
      if (!put.isEmpty() && put.get(0).hasError()) {
        put = fresh.submit(request); // not the leader yet
      } else if (versionWall(fresh) > 0) {
        acceptedAt = fresh.wallNanos; // applied (the answer may be held)
      }
    }
    long written = versionWall(fresh);
    assertThat(written).as("written above the clock").isGreaterThan(acceptedAt);
    return new FirstWrite(put, written);
  }

  private static long versionWall(ManualStore s) {
    return io.basalt.range.mvcc.MvccStore.getVersion(
            s.engine, "k".getBytes(), io.basalt.range.mvcc.Timestamp.MAX)
        .map(v -> v.timestamp().wallNanos())
        .orElse(0L);
  }

  private long newestVersionWall() {
    return io.basalt.range.mvcc.MvccStore.getVersion(
            node.engine, "k".getBytes(), io.basalt.range.mvcc.Timestamp.MAX)
        .orElseThrow()
        .timestamp()
        .wallNanos();
  }

  /**
   * A replica absorbed by a merge hands its held answers to the replica that absorbed it, which
   * sends them once its clock passes them (their writes stand: dropping them would leave their
   * clients with an unknown outcome), and answers its held reads at once (their range is gone; the
   * client retries).
   */
  @Test
  void anAbsorbedReplicasHeldAnswersAreSentByTheAbsorbingOne() {
    ClockWaits absorbed = new ClockWaits();
    ClockWaits absorbing = new ClockWaits();
    List<KvResponse> written = new java.util.ArrayList<>();
    List<KvResponse> read = new java.util.ArrayList<>();
    KvResponse ok =
        KvResponse.newBuilder().setPut(io.basalt.api.PutResponse.getDefaultInstance()).build();
    absorbed.answer(new Pending(null, plainPut(), written::add, Long.MAX_VALUE), ok, 200, 100);
    assertThat(absorbed.holdIfAhead(new Pending(null, txnGet(200), read::add, Long.MAX_VALUE), 100))
        .isTrue();
    absorbed.applied(250);
    KvResponse gone = io.basalt.api.Errors.unavailable("range merged: try again");

    absorbed.handOver(absorbing, gone);
    assertThat(read).as("the held read, answered at once").containsExactly(gone);
    assertThat(written).as("the held answer still waits for the clock").isEmpty();
    assertThat(absorbing.appliedUpTo())
        .as("the absorbed range's highest write time")
        .isEqualTo(250);
    absorbing.release(150, p -> {});
    assertThat(written).isEmpty();
    absorbing.release(200, p -> {});
    assertThat(written)
        .as("sent by the absorbing replica once its clock passed it")
        .containsExactly(ok);
    absorbed.release(300, p -> {});
    assertThat(written).as("and only once").hasSize(1);
  }

  private KvRequest txnGet(long readAtWall) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(2)
                .setTxn(ManualStore.txnAt("reader", readAtWall)))
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("k")))
        .build();
  }

  private KvRequest plainPut() {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(2)
                .setRequestId(ByteString.copyFromUtf8("put-" + ++requests)))
        .setPut(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8("k"))
                .setValue(ByteString.copyFromUtf8("v")))
        .build();
  }
}
