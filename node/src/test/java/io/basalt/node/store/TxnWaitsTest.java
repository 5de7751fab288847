package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PushTxnRequest;
import io.basalt.api.PushType;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A push that can neither abort nor push its pushee waits at the pushee's anchor (TxnWaits) instead
 * of being answered "not pushed" at once: it is answered as soon as the pushee's record changes,
 * or, if nothing happens, after its longest wait.
 */
class TxnWaitsTest {
  private final ManualStore node =
      new ManualStore(
          new StoreOptions(
              10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 600, 5_000, 0, 600, false));
  private int requests;

  @Test
  void aWaitingPushIsAnsweredWhenItsPusheeCommits() {
    Transaction holder = begin("holder");
    List<KvResponse> push = node.submit(push(holder));
    node.tick();
    assertThat(push).as("the push waits while the holder lives").isEmpty();

    KvResponse ended = node.call(endTxn(holder));
    assertThat(ended.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(push).as("answered with the commit").hasSize(1);
    assertThat(push.get(0).getPushTxn().getPushee().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
  }

  @Test
  void aPushWaitsAtMostItsLongestWaitThenIsAnsweredNotPushed() {
    Transaction holder = begin("holder");
    List<KvResponse> push = node.submit(push(holder));
    for (int t = 0; t < TxnWaits.MAX_WAIT_TICKS - 1; t++) {
      node.tick();
    }
    assertThat(push).isEmpty();
    for (int t = 0; t < TxnWaits.RECHECK_TICKS + 1 && push.isEmpty(); t++) {
      node.tick();
    }
    assertThat(push).as("answered after its longest wait").hasSize(1);
    assertThat(push.get(0).getPushTxn().getPushed()).isFalse();
    assertThat(push.get(0).getPushTxn().getPushee().getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
  }

  @Test
  void aWaitingPushAbortsItsPusheeOnceThePusheeExpires() {
    // The holder never heartbeats again: 4.6 s after its record was written the push arrives and
    // waits; within one recheck after the 5 s expiry it is evaluated again and aborts the holder,
    // before its longest wait would have answered it "not pushed".
    Transaction holder = begin("holder");
    node.advance(4_600);
    List<KvResponse> push = node.submit(push(holder));
    node.tick();
    assertThat(push).as("the holder is still alive").isEmpty();
    for (int t = 0; t < TxnWaits.RECHECK_TICKS + 5 && push.isEmpty(); t++) {
      node.tick();
    }
    assertThat(push).hasSize(1);
    assertThat(push.get(0).getPushTxn().getPushed()).isTrue();
    assertThat(push.get(0).getPushTxn().getPushee().getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  /** A transaction of high priority that writes "k" as an intent, its record PENDING. */
  private Transaction begin(String name) {
    Transaction txn =
        Transaction.newBuilder()
            .setMeta(
                TxnMeta.newBuilder()
                    .setId(ByteString.copyFromUtf8(name))
                    .setAnchorKey(ByteString.copyFromUtf8("k"))
                    .setPriority(1_000))
            .build();
    KvResponse written =
        node.call(
            request(txn)
                .setTxnWrite(
                    TxnWriteRequest.newBuilder()
                        .setAnchor(true)
                        .addMutations(
                            Mutation.newBuilder()
                                .setPut(
                                    PutRequest.newBuilder()
                                        .setKey(ByteString.copyFromUtf8("k"))
                                        .setValue(ByteString.copyFromUtf8("v")))))
                .build());
    assertThat(written.hasError()).as("%s", written).isFalse();
    return written.getHeader().getTxn();
  }

  /** A plain request's push (priority 0) to abort {@code holder}. */
  private KvRequest push(Transaction holder) {
    return request(null)
        .setPushTxn(
            PushTxnRequest.newBuilder()
                .setPushee(holder.getMeta())
                .setType(PushType.PUSH_ABORT)
                .setPusherPriority(0))
        .build();
  }

  private KvRequest endTxn(Transaction holder) {
    return request(holder)
        .setEndTxn(
            EndTxnRequest.newBuilder().setCommit(true).addLockKeys(ByteString.copyFromUtf8("k")))
        .build();
  }

  private KvRequest.Builder request(Transaction txn) {
    RequestHeader.Builder h =
        RequestHeader.newBuilder()
            .setRangeId(2)
            .setRequestId(ByteString.copyFromUtf8("request-" + ++requests));
    if (txn != null) {
      h.setTxn(txn);
    }
    return KvRequest.newBuilder().setHeader(h);
  }
}
