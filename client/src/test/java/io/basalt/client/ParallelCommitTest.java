package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.QueryIntentResponse;
import io.basalt.api.RecoverTxnResponse;
import io.basalt.api.ResolveIntentResponse;
import io.basalt.api.ResponseHeader;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's side of a parallel commit whose writes do not all answer: the record was staged
 * but the other range's write went unanswered, so the commit's outcome depends on whether that
 * write landed. The coordinator recovers its own transaction (a preventing QueryIntent, then
 * RecoverTxn) and reports what recovery decided: committed, a definite failure, or, only when the
 * recovery itself goes unanswered, an ambiguous result. The nodes' answers are scripted.
 */
class ParallelCommitTest {
  private FakeCluster cluster;
  private BasaltClient client;

  @BeforeEach
  void setUp() throws Exception {
    // The anchor "a" in range 2 on node 1; "z" in range 3 on node 2.
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "m", 1, 1).range(3, "m", "", 2, 2);
    client =
        clientOf(cluster)
            .callTimeout(Duration.ofMillis(600))
            .attemptTimeout(Duration.ofMillis(150))
            .build();
  }

  @AfterEach
  void tearDown() {
    client.close();
    cluster.close();
  }

  /** Nodes that stage the record, never answer the write to "z", and answer the recovery. */
  private void script(boolean zLanded, boolean recoveryAnswers) {
    cluster.script((node, request) -> {
      switch (request.getRequestCase()) {
        case TXN_WRITE -> {
          if (!request.getTxnWrite().getStage()) {
            return FakeCluster.Action.SILENCE; // the write to "z": its answer never comes
          }
          return answer(
              request,
              KvResponse.newBuilder().setTxnWrite(TxnWriteResponse.newBuilder().setStaged(true)));
        }
        case RECOVER_TXN -> {
          return recoveryAnswers ? recoveryAnswers(request, zLanded) : FakeCluster.Action.SILENCE;
        }
        case END_TXN -> {
          return answer(
              request,
              KvResponse.newBuilder()
                  .setEndTxn(
                      io.basalt.api.EndTxnResponse.newBuilder().setStatus(TxnStatus.TXN_ABORTED)));
        }
        default -> {
          return recoveryAnswers(request, zLanded);
        }
      }
    });
  }

  /** Answers {@code response}, with the request's transaction in its header. */
  private static FakeCluster.Action answer(KvRequest request, KvResponse.Builder response) {
    if (request.getHeader().hasTxn()) {
      response.setHeader(ResponseHeader.newBuilder().setTxn(request.getHeader().getTxn()));
    }
    return new FakeCluster.Action.ApplyThenAnswer(response.build());
  }

  private Txn twoRangeWrite() {
    Txn tx = client.begin();
    tx.put(b("a"), b("1"));
    tx.put(b("z"), b("2"));
    return tx;
  }

  @Test
  void answersArrivingLateAreConfirmedByCommittingTheRecordExplicitly() {
    // Every write lands at the staging timestamp, but the answers come 3 s after the writes were
    // sent (on the client's clock): the record may have been recovered (here: aborted) meanwhile,
    // so the commit is decided by EndTxn, not by the answers.
    FakeTicker ticker = new FakeTicker();
    client.close();
    client = clientOf(cluster).ticker(ticker).callTimeout(Duration.ofSeconds(30)).build();
    scriptAnswers(() -> ticker.advance(Duration.ofSeconds(3)));
    assertThatThrownBy(() -> twoRangeWrite().commit())
        .isInstanceOf(TransactionAbortedException.class);
  }

  @Test
  void answersArrivingInTimeCommitWithoutWaitingForTheRecord() {
    // The control: the same answers at once; the record's EndTxn (answered "aborted" here) is
    // sent after the commit is answered, and changes nothing for the caller.
    FakeTicker ticker = new FakeTicker();
    client.close();
    client = clientOf(cluster).ticker(ticker).callTimeout(Duration.ofSeconds(30)).build();
    scriptAnswers(() -> {});
    assertThat(twoRangeWrite().commit()).isNotNull();
  }

  /**
   * Nodes that answer both writes (the staging one staged), running {@code beforeOtherAnswer}
   * before answering the write to "z", and answer EndTxn that the transaction was aborted.
   */
  private void scriptAnswers(Runnable beforeOtherAnswer) {
    cluster.script((node, request) -> {
      switch (request.getRequestCase()) {
        case TXN_WRITE -> {
          if (!request.getTxnWrite().getStage()) {
            beforeOtherAnswer.run();
          }
          return answer(
              request,
              KvResponse.newBuilder()
                  .setTxnWrite(
                      TxnWriteResponse.newBuilder().setStaged(request.getTxnWrite().getStage())));
        }
        case END_TXN -> {
          return new FakeCluster.Action.Fail(
              io.basalt.api.Error.newBuilder()
                  .setTxnAborted(
                      io.basalt.api.TransactionAbortedError.newBuilder()
                          .setReason("recovered aborted"))
                  .build());
        }
        case RESOLVE_INTENT -> {
          return answer(
              request,
              KvResponse.newBuilder().setResolveIntent(ResolveIntentResponse.getDefaultInstance()));
        }
        default -> {
          return FakeCluster.Action.PASS;
        }
      }
    });
  }

  @Test
  void lateAnswersWhoseEndTxnGoesUnansweredAreRecoveredNeverRolledBack() {
    // Late answers (3 s), then the explicit EndTxn goes unanswered past the deadline: the
    // transaction may be committed (every write is in place), so the coordinator recovers it
    // (found: committed) instead of rolling it back and resolving its intents as aborted.
    FakeTicker ticker = new FakeTicker();
    client.close();
    client = clientOf(cluster).ticker(ticker).callTimeout(Duration.ofSeconds(30)).build();
    cluster.script((node, request) -> {
      switch (request.getRequestCase()) {
        case TXN_WRITE -> {
          if (!request.getTxnWrite().getStage()) {
            ticker.advance(Duration.ofSeconds(3));
          }
          return answer(
              request,
              KvResponse.newBuilder()
                  .setTxnWrite(
                      TxnWriteResponse.newBuilder().setStaged(request.getTxnWrite().getStage())));
        }
        case END_TXN -> {
          ticker.advance(Duration.ofSeconds(31));
          return FakeCluster.Action.SILENCE;
        }
        default -> {
          return recoveryAnswers(request, true);
        }
      }
    });
    assertThat(twoRangeWrite().commit()).isNotNull();
    assertThat(cluster.received(r -> r.request().hasRecoverTxn())).hasSize(1);
    assertThat(
            cluster.received(r ->
                r.request().hasResolveIntent()
                    && r.request().getResolveIntent().getStatus() == TxnStatus.TXN_ABORTED))
        .as("nothing resolved as aborted")
        .isEmpty();
  }

  @Test
  void aBlindCommitStagedAboveItsReadTimestampEndsWithItsReadsMovedThere() throws Exception {
    // The anchor's write was pushed to 150 (its reads were at 100, the cluster clock's estimate):
    // a blind transaction has no reads to refresh, so its EndTxn carries read = write = 150 (a
    // serializable EndTxn with its reads below its commit timestamp is refused).
    cluster.script((node, request) -> {
      if (request.getRequestCase() == KvRequest.RequestCase.TXN_WRITE) {
        assertThat(request.getTxnWrite().getBlind()).isTrue();
        long wall = request.getTxnWrite().getStage() ? 150 : 100;
        io.basalt.api.Timestamp read =
            io.basalt.api.Timestamp.newBuilder().setWallNanos(100).build();
        io.basalt.api.Transaction.Builder seen = request.getHeader().getTxn().toBuilder();
        seen.setReadTimestamp(read)
            .setUncertaintyLimit(read)
            .getMetaBuilder()
            .setWriteTimestamp(io.basalt.api.Timestamp.newBuilder().setWallNanos(wall))
            .setMinTimestamp(read);
        return new FakeCluster.Action.ApplyThenAnswer(
            KvResponse.newBuilder()
                .setHeader(ResponseHeader.newBuilder().setTxn(seen))
                .setTxnWrite(
                    TxnWriteResponse.newBuilder().setStaged(request.getTxnWrite().getStage()))
                .build());
      }
      if (request.getRequestCase() == KvRequest.RequestCase.END_TXN) {
        return answer(
            request,
            KvResponse.newBuilder()
                .setEndTxn(
                    io.basalt.api.EndTxnResponse.newBuilder()
                        .setStatus(TxnStatus.TXN_COMMITTED)
                        .setCommitTimestamp(
                            request.getHeader().getTxn().getMeta().getWriteTimestamp())));
      }
      return recoveryAnswers(request, true);
    });
    twoRangeWrite().commit();
    cluster.awaitReceived(r -> r.request().hasEndTxn(), 1, Duration.ofSeconds(10));
    List<FakeCluster.Received> ends = cluster.received(r -> r.request().hasEndTxn());
    io.basalt.api.Transaction ended = ends.get(0).request().getHeader().getTxn();
    assertThat(ended.getReadTimestamp().getWallNanos()).isEqualTo(150);
    assertThat(ended.getMeta().getWriteTimestamp().getWallNanos()).isEqualTo(150);
  }

  /** Answers a recovery's queries (found or not) and RecoverTxn, and resolutions; else passes. */
  private static FakeCluster.Action recoveryAnswers(KvRequest request, boolean found) {
    switch (request.getRequestCase()) {
      case QUERY_INTENT -> {
        assertThat(request.getQueryIntent().getPrevent()).isTrue();
        return answer(
            request,
            KvResponse.newBuilder()
                .setQueryIntent(QueryIntentResponse.newBuilder().setFound(found)));
      }
      case RECOVER_TXN -> {
        boolean commit = request.getRecoverTxn().getAllFound();
        return answer(
            request,
            KvResponse.newBuilder()
                .setRecoverTxn(
                    RecoverTxnResponse.newBuilder()
                        .setRecord(
                            TxnRecord.newBuilder()
                                .setMeta(request.getRecoverTxn().getTxn())
                                .setStatus(
                                    commit ? TxnStatus.TXN_COMMITTED : TxnStatus.TXN_ABORTED))));
      }
      case RESOLVE_INTENT -> {
        return answer(
            request,
            KvResponse.newBuilder().setResolveIntent(ResolveIntentResponse.getDefaultInstance()));
      }
      default -> {
        return FakeCluster.Action.PASS;
      }
    }
  }

  @Test
  void aCommitsWriteBlockedByALiveHolderGivesUpInsteadOfWaiting() {
    // The write to "z" meets another transaction's intent, whose holder cannot be pushed (alive,
    // older). It does not wait (the holder may be waiting for this staged record): the write
    // gives up after one attempt, the coordinator recovers its commit (aborted) and fails.
    io.basalt.api.TxnMeta holder =
        io.basalt.api.TxnMeta.newBuilder()
            .setId(com.google.protobuf.ByteString.copyFromUtf8("holder"))
            .setAnchorKey(com.google.protobuf.ByteString.copyFromUtf8("q"))
            .setPriority(Integer.MAX_VALUE)
            .build();
    cluster.script((node, request) -> {
      switch (request.getRequestCase()) {
        case TXN_WRITE -> {
          if (!request.getTxnWrite().getStage()) {
            return new FakeCluster.Action.Fail(
                io.basalt.api.Error.newBuilder()
                    .setWriteIntent(
                        io.basalt.api.WriteIntentError.newBuilder()
                            .setKey(com.google.protobuf.ByteString.copyFromUtf8("z"))
                            .setTxn(holder))
                    .build());
          }
          return answer(
              request,
              KvResponse.newBuilder().setTxnWrite(TxnWriteResponse.newBuilder().setStaged(true)));
        }
        case PUSH_TXN -> {
          return answer(
              request,
              KvResponse.newBuilder()
                  .setPushTxn(
                      io.basalt.api.PushTxnResponse.newBuilder()
                          .setPushed(false)
                          .setPushee(
                              TxnRecord.newBuilder()
                                  .setMeta(holder)
                                  .setStatus(TxnStatus.TXN_PENDING))));
        }
        case END_TXN -> {
          return answer(
              request,
              KvResponse.newBuilder()
                  .setEndTxn(
                      io.basalt.api.EndTxnResponse.newBuilder().setStatus(TxnStatus.TXN_ABORTED)));
        }
        default -> {
          return recoveryAnswers(request, false);
        }
      }
    });
    assertThatThrownBy(() -> twoRangeWrite().commit())
        .isInstanceOf(TransactionRetryException.class);
    assertThat(
            cluster.received(
                r -> r.request().hasTxnWrite() && !r.request().getTxnWrite().getStage()))
        .as("the blocked write was sent once")
        .hasSize(1);
  }

  @Test
  void aStagedCommitWhoseLostWriteLandedIsRecoveredCommitted() {
    script(true, true);
    HlcTimestamp at = twoRangeWrite().commit();
    assertThat(at).isNotNull();
    List<FakeCluster.Received> recoveries = cluster.received(r -> r.request().hasRecoverTxn());
    assertThat(recoveries).hasSize(1);
    assertThat(recoveries.get(0).request().getRecoverTxn().getAllFound()).isTrue();
  }

  @Test
  void aStagedCommitWhoseLostWriteDidNotLandIsRecoveredAbortedAndFailsDefinitely() {
    script(false, true);
    assertThatThrownBy(() -> twoRangeWrite().commit())
        .isInstanceOf(TransactionRetryException.class)
        .isNotInstanceOf(AmbiguousResultException.class);
    assertThat(cluster.received(r -> r.request().hasRecoverTxn()))
        .allMatch(r -> !r.request().getRecoverTxn().getAllFound());
  }

  @Test
  void aRecoveryThatGoesUnansweredLeavesTheCommitAmbiguous() {
    script(true, false);
    assertThatThrownBy(() -> twoRangeWrite().commit()).isInstanceOf(AmbiguousResultException.class);
  }
}
