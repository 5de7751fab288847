package io.basalt.txn.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.DeleteRequest;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.Error;
import io.basalt.api.GetRequest;
import io.basalt.api.HeartbeatTxnRequest;
import io.basalt.api.Intent;
import io.basalt.api.Isolation;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PushTxnRequest;
import io.basalt.api.PushTxnResponse;
import io.basalt.api.PushType;
import io.basalt.api.PutRequest;
import io.basalt.api.QueryIntentRequest;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RecoverTxnRequest;
import io.basalt.api.RefreshRequest;
import io.basalt.api.RequestHeader;
import io.basalt.api.ResolveIntentRequest;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import io.basalt.api.WriteBatchRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.eval.TestReplica.Evaluated;
import io.basalt.txn.tscache.TimestampCache;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The transaction protocol's requests on one range (DESIGN.md, "Transactions"), evaluated as its
 * leader does and applied as its replicas do, on an in-memory engine: intents and who meets them,
 * where a transaction's writes land, commit and abort at the anchor, pushes, intent resolution,
 * read refreshes and uncertainty. Transactions here are anchored at "c", in the range [b, m).
 */
class TxnCommandsTest {
  private static final RangeDescriptor RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(2)
          .setGeneration(1)
          .setStartKey(bytes("b"))
          .setEndKey(bytes("m"))
          .build();
  private static final long EXPIRY_NANOS = 5_000;

  private final TestReplica replica = new TestReplica(RANGE);

  TxnCommandsTest() {
    replica.now = ts(1_000);
    replica.txnExpiryNanos = EXPIRY_NANOS;
  }

  // --- Intents and who meets them

  @Test
  void aTxnWriteLeavesIntentsAndNoVersions() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    KvResponse r = ok(replica.write(txnWrite(a, false, false, put("c", "new"), del("d"))));
    assertThat(r.getTxnWrite().getCommitted()).isFalse();
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(100));

    Intent c = intent("c");
    assertThat(c.getTxn().getId()).isEqualTo(a.getMeta().getId());
    assertThat(c.getTxn().getWriteTimestamp()).isEqualTo(at(100));
    assertThat(c.getValue()).isEqualTo(bytes("new"));
    assertThat(intent("d").getTombstone()).isTrue();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(10));
    assertThat(newest("d")).isEmpty();
    assertThat(record(a)).as("no record without anchor").isNull();
  }

  @Test
  void aPlainReadOfAKeyWithAnIntentAnswersWriteIntentErrorNamingItsTransaction() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));

    assertWriteIntent(replica.read(get("c", null)), "c", a);
    assertWriteIntent(replica.read(scan("b", "m", 0, null)), "c", a);
  }

  @Test
  void everyPlainWriteOfAKeyWithAnIntentAnswersWriteIntentErrorAndWritesNothing() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));

    for (KvRequest write :
        List.of(
            plainPut("c", "v"),
            plainDelete("c"),
            cas("c", "old", "v"),
            batch(put("d", "v"), del("c")))) {
      Evaluated e = replica.evaluate(write);
      assertWriteIntent(e.answer(), "c", a);
      assertThat(e.command())
          .as("%s stages nothing", write)
          .isEqualTo(RaftCommand.getDefaultInstance());
    }
  }

  @Test
  void aTransactionReadsItsOwnProvisionalValues() {
    store("c", "old", 10);
    store("d", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"), del("d"))));

    KvResponse c = ok(replica.read(get("c", a)));
    assertThat(c.getGet().getKv().getValue()).isEqualTo(bytes("new"));
    assertThat(c.getGet().getKv().getVersion()).isEqualTo(at(100));
    assertThat(ok(replica.read(get("d", a))).getGet().getFound()).isFalse();
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, a))).getScan()))
        .containsExactly("c=new");
  }

  @Test
  void anotherTransactionReadingBelowAnIntentAndItsUncertaintyIntervalSeesTheOldValue() {
    store("c", "old", 10);
    ok(replica.write(txnWrite(txn("a", 100), false, false, put("c", "new"))));
    Transaction b = withLimit(txn("b", 50), 80);

    KvResponse got = ok(replica.read(get("c", b)));
    assertThat(got.getGet().getKv().getValue()).isEqualTo(bytes("old"));
    assertThat(got.getGet().getKv().getVersion()).isEqualTo(at(10));
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, b))).getScan()))
        .containsExactly("c=old");
  }

  @Test
  void aReadWhoseUncertaintyIntervalHoldsAnIntentMeetsIt() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));
    Transaction b = withLimit(txn("b", 50), 100);

    assertWriteIntent(replica.read(get("c", b)), "c", a);
    assertWriteIntent(replica.read(scan("b", "m", 0, b)), "c", a);
  }

  // --- Where a transaction's writes land

  @Test
  void aTxnWriteGoesAboveAnotherTransactionsReadOfItsKey() {
    ok(replica.read(get("c", txn("b", 100))));
    KvResponse r = ok(replica.write(txnWrite(txn("a", 50), false, false, put("c", "v"))));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp())
        .isEqualTo(ts(100).next().toProto());
    assertThat(intent("c").getTxn().getWriteTimestamp()).isEqualTo(ts(100).next().toProto());
  }

  @Test
  void aPlainReadRecordsNothingSoATxnWriteAfterItKeepsItsTimestamp() {
    // A plain read reads the newest value, linearizably: a write that lands after it lands after
    // it in real time, whatever its timestamp, so the read protects no timestamp.
    ok(replica.read(get("c", null)));
    ok(replica.read(scan("b", "m", 10, null)));
    KvResponse r = ok(replica.write(txnWrite(txn("a", 50), false, false, put("c", "v"))));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(50));
  }

  @Test
  void aTxnWriteIsNotPushedByItsOwnReadAtItsTimestamp() {
    Transaction a = txn("a", 100);
    ok(replica.read(get("c", a)));
    KvResponse r = ok(replica.write(txnWrite(a, false, false, put("c", "v"))));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(100));
  }

  @Test
  void aTxnWriteGoesAboveTheNewestCommittedVersionOfItsKey() {
    store("c", "newer", 200);
    KvResponse r = ok(replica.write(txnWrite(txn("a", 100), false, false, put("c", "v"))));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp())
        .isEqualTo(ts(200).next().toProto());
    assertThat(intent("c").getTxn().getWriteTimestamp()).isEqualTo(ts(200).next().toProto());
  }

  @Test
  void aOnePhaseSerializableWriteWhoseTimestampHadToMoveCommitsNothing() {
    store("d", "newer", 200);
    Transaction a = txn("a", 100);
    Evaluated e = replica.evaluate(txnWrite(a, true, true, put("c", "v"), put("d", "v")));
    assertThat(e.answer().hasError()).isFalse();
    assertThat(e.answer().getTxnWrite().getCommitted()).isFalse();
    assertThat(e.answer().getHeader().getTxn().getMeta().getWriteTimestamp())
        .as("where it may commit after a refresh")
        .isEqualTo(ts(200).next().toProto());
    assertThat(e.command()).isEqualTo(RaftCommand.getDefaultInstance());
  }

  @Test
  void aOnePhaseWriteCommitsVersionsAtOnceWithNoIntentAndNoRecord() {
    store("d", "old", 10);
    Transaction a = txn("a", 100);
    KvResponse r = ok(replica.write(txnWrite(a, true, true, put("c", "v"), del("d"))));
    assertThat(r.getTxnWrite().getCommitted()).isTrue();

    assertThat(intent("c")).isNull();
    assertThat(intent("d")).isNull();
    assertThat(record(a)).isNull();
    assertThat(newest("c"))
        .hasValueSatisfying(v -> {
          assertThat(v.timestamp()).isEqualTo(ts(100));
          assertThat(v.value()).isEqualTo("v".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        });
    assertThat(newest("d"))
        .hasValueSatisfying(v -> {
          assertThat(v.timestamp()).isEqualTo(ts(100));
          assertThat(v.isTombstone()).isTrue();
        });
    assertThat(ok(replica.read(get("c", null))).getGet().getKv().getValue()).isEqualTo(bytes("v"));
    assertThat(ok(replica.read(get("d", null))).getGet().getFound()).isFalse();
  }

  @Test
  void aOnePhaseSnapshotWriteCommitsAtTheTimestampItWasPushedTo() {
    ok(replica.read(get("c", txn("b", 300))));
    KvResponse r = ok(replica.write(txnWrite(snapshot(txn("a", 100)), true, true, put("c", "v"))));
    assertThat(r.getTxnWrite().getCommitted()).isTrue();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(300).next());
  }

  @Test
  void underSnapshotIsolationAWriteOverAVersionNewerThanItsReadAnswersRetry() {
    store("c", "newer", 200);
    store("d", "older", 50);
    Transaction a = snapshot(txn("a", 100));
    assertThat(replica.evaluate(txnWrite(a, false, false, put("d", "v"))).answer().hasError())
        .as("a version at or below its read timestamp is no conflict")
        .isFalse();
    KvResponse r = replica.write(txnWrite(a, false, false, put("d", "v"), put("c", "v")));
    assertThat(r.getError().getDetailCase()).isEqualTo(Error.DetailCase.TXN_RETRY);
    assertThat(intent("d")).isNull();
  }

  // --- Commit and abort at the anchor

  @Test
  void aCommitAtTheAnchorWritesACommittedRecordAndResolvesTheRangesIntents() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"), put("d", "2"))));
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_PENDING);

    KvResponse r = ok(replica.write(endTxn(a, true, "c", "d", "x")));
    assertThat(r.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(r.getEndTxn().getCommitTimestamp()).isEqualTo(at(100));

    TxnRecord record = record(a);
    assertThat(record.getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(record.getLockKeysList()).containsExactly(bytes("c"), bytes("d"), bytes("x"));
    assertThat(intent("c")).isNull();
    assertThat(intent("d")).isNull();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(100));
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, null))).getScan()))
        .containsExactly("c=1", "d=2");
  }

  @Test
  void aSecondCommitAnswersCommittedAgainAndWritesNothing() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    ok(replica.write(endTxn(a, true, "c")));

    Evaluated again = replica.evaluate(endTxn(a, true, "c"));
    assertThat(again.answer().getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(again.answer().getEndTxn().getCommitTimestamp()).isEqualTo(at(100));
    assertThat(again.command()).isEqualTo(RaftCommand.getDefaultInstance());
    assertThat(replica.evaluate(endTxn(a, false, "c")).answer().hasError())
        .as("a committed transaction cannot be rolled back")
        .isTrue();
  }

  @Test
  void aCommitAfterAReaderPushedTheRecordAnswersRetryAtThePushedTimestamp() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    ok(replica.write(push(a.getMeta(), PushType.PUSH_TIMESTAMP, 300, 0)));

    KvResponse r = replica.write(endTxn(a, true, "c"));
    assertThat(r.getError().getTxnRetry().getRetryAt()).isEqualTo(at(300));
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
    assertThat(intent("c")).isNotNull();

    // Refreshed to the pushed timestamp, it commits there.
    Transaction refreshed = withReadAndWrite(a, 300);
    KvResponse done = ok(replica.write(endTxn(refreshed, true, "c")));
    assertThat(done.getEndTxn().getCommitTimestamp()).isEqualTo(at(300));
    assertThat(newest("c").map(Version::timestamp)).contains(ts(300));
  }

  @Test
  void aSerializableCommitAboveItsReadTimestampAnswersRetry() {
    Transaction a = withWrite(txn("a", 100), 150);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    KvResponse r = replica.write(endTxn(a, true, "c"));
    assertThat(r.getError().getTxnRetry().getRetryAt()).isEqualTo(at(150));
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
  }

  @Test
  void aSnapshotCommitAboveItsReadTimestampCommits() {
    Transaction a = snapshot(withWrite(txn("a", 100), 150));
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    KvResponse r = ok(replica.write(endTxn(a, true, "c")));
    assertThat(r.getEndTxn().getCommitTimestamp()).isEqualTo(at(150));
    assertThat(newest("c").map(Version::timestamp)).contains(ts(150));
  }

  @Test
  void aRollbackWritesAnAbortedRecordAndClearsTheIntents() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"), put("d", "2"))));

    KvResponse r = ok(replica.write(endTxn(a, false, "c", "d")));
    assertThat(r.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(intent("c")).isNull();
    assertThat(intent("d")).isNull();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(10));
    assertThat(newest("d")).isEmpty();
  }

  @Test
  void aCommitAfterAnAbortPushAnswersTransactionAborted() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    KvResponse pushed = ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 10)));
    assertThat(pushed.getPushTxn().getPushed()).isTrue();

    assertThat(replica.write(endTxn(a, true, "c")).getError().getDetailCase())
        .isEqualTo(Error.DetailCase.TXN_ABORTED);
    assertThat(replica.write(txnWrite(a, false, true, put("d", "2"))).getError().getDetailCase())
        .as("nor may it write at its anchor")
        .isEqualTo(Error.DetailCase.TXN_ABORTED);
    assertThat(ok(replica.write(heartbeat(a))).getHeartbeatTxn().getStatus())
        .isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void aRollbackAfterAnAbortPushStillClearsTheIntents() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 10)));

    KvResponse r = ok(replica.write(endTxn(a, false, "c")));
    assertThat(r.getEndTxn().getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(intent("c")).as("the rollback cleans up after the abort").isNull();
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  // --- Pushes

  @Test
  void aPushAbortLeavesALivePusheeOfHigherPriorityAlone() {
    Transaction a = withPriority(txn("a", 100), 5);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    replica.now = ts(2_000);

    Evaluated e = replica.evaluate(push(a.getMeta(), PushType.PUSH_ABORT, 0, 1));
    PushTxnResponse p = e.answer().getPushTxn();
    assertThat(p.getPushed()).isFalse();
    assertThat(p.getPushee().getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
    assertThat(e.command()).isEqualTo(RaftCommand.getDefaultInstance());
  }

  @Test
  void aPushAbortAbortsALivePusheeOfLowerPriority() {
    Transaction a = withPriority(txn("a", 100), 1);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));

    PushTxnResponse p =
        ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 5))).getPushTxn();
    assertThat(p.getPushed()).isTrue();
    assertThat(p.getPushee().getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void atEqualPriorityThePusherWithTheLowerIdWins() {
    Transaction b = txn("b", 100);
    ok(replica.write(txnWrite(b, false, true, put("c", "1"))));
    KvRequest byZ = withHeaderTxn(push(b.getMeta(), PushType.PUSH_ABORT, 0, 0), txn("z", 100));
    assertThat(ok(replica.write(byZ)).getPushTxn().getPushed()).isFalse();
    KvRequest byA = withHeaderTxn(push(b.getMeta(), PushType.PUSH_ABORT, 0, 0), txn("a", 100));
    assertThat(ok(replica.write(byA)).getPushTxn().getPushed()).isTrue();
  }

  @Test
  void aPusheeWithNoRecordIsAbortedOnceItsMinTimestampIsOlderThanTheExpiry() {
    TxnMeta a = withPriority(txn("a", 100), 100).getMeta();
    replica.now = ts(100 + EXPIRY_NANOS);
    assertThat(ok(replica.write(push(a, PushType.PUSH_ABORT, 0, 0))).getPushTxn().getPushed())
        .as("not yet expired")
        .isFalse();

    replica.now = ts(100 + EXPIRY_NANOS + 1);
    PushTxnResponse p = ok(replica.write(push(a, PushType.PUSH_ABORT, 0, 0))).getPushTxn();
    assertThat(p.getPushed()).isTrue();
    assertThat(p.getPushee().getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);

    TxnMeta b = withPriority(txn("b", 100), 100).getMeta();
    assertThat(
            ok(replica.write(push(b, PushType.PUSH_TIMESTAMP, 5_000, 0)))
                .getPushTxn()
                .getPushee()
                .getStatus())
        .as("a timestamp push aborts an expired pushee too")
        .isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void aPusheeWhoseLastHeartbeatIsOlderThanTheExpiryIsAbortedWhateverItsPriority() {
    Transaction a = withPriority(txn("a", 100), 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1")))); // heartbeat at 1000
    replica.now = ts(1_000 + EXPIRY_NANOS + 1);

    PushTxnResponse p =
        ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 0))).getPushTxn();
    assertThat(p.getPushed()).isTrue();
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void aHeartbeatKeepsAPusheeAlive() {
    Transaction a = withPriority(txn("a", 100), 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    replica.now = ts(5_000);
    assertThat(ok(replica.write(heartbeat(a))).getHeartbeatTxn().getStatus())
        .isEqualTo(TxnStatus.TXN_PENDING);
    assertThat(record(a).getLastHeartbeat()).isEqualTo(at(5_000));

    replica.now = ts(1_000 + EXPIRY_NANOS + 1);
    PushTxnResponse p =
        ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 0))).getPushTxn();
    assertThat(p.getPushed()).isFalse();
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
  }

  @Test
  void aFinalizedPusheeIsReportedAsItIs() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    ok(replica.write(endTxn(a, true, "c")));
    Transaction b = txn("b", 100);
    ok(replica.write(txnWrite(b, false, true, put("d", "1"))));
    ok(replica.write(endTxn(b, false, "d")));
    replica.now = ts(100 + EXPIRY_NANOS + 1);

    Evaluated committed = replica.evaluate(push(a.getMeta(), PushType.PUSH_ABORT, 0, 10));
    assertThat(committed.answer().getPushTxn().getPushed()).isFalse();
    assertThat(committed.answer().getPushTxn().getPushee().getStatus())
        .isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(committed.answer().getPushTxn().getPushee().getMeta().getWriteTimestamp())
        .isEqualTo(at(100));
    assertThat(committed.command()).isEqualTo(RaftCommand.getDefaultInstance());

    Evaluated aborted = replica.evaluate(push(b.getMeta(), PushType.PUSH_TIMESTAMP, 300, 0));
    assertThat(aborted.answer().getPushTxn().getPushed()).isFalse();
    assertThat(aborted.answer().getPushTxn().getPushee().getStatus())
        .isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(aborted.command()).isEqualTo(RaftCommand.getDefaultInstance());
  }

  @Test
  void aTimestampPushMovesTheRecordsWriteTimestampAndNeverBack() {
    Transaction a = withPriority(txn("a", 100), 5);
    ok(replica.write(txnWrite(a, false, true, put("c", "1"))));

    PushTxnResponse p =
        ok(replica.write(push(a.getMeta(), PushType.PUSH_TIMESTAMP, 300, 0))).getPushTxn();
    assertThat(p.getPushed()).as("a timestamp push needs no priority").isTrue();
    assertThat(p.getPushee().getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
    assertThat(p.getPushee().getMeta().getWriteTimestamp()).isEqualTo(at(300));
    assertThat(record(a).getMeta().getWriteTimestamp()).isEqualTo(at(300));

    Evaluated lower = replica.evaluate(push(a.getMeta(), PushType.PUSH_TIMESTAMP, 200, 0));
    assertThat(lower.answer().getPushTxn().getPushee().getMeta().getWriteTimestamp())
        .isEqualTo(at(300));
    assertThat(lower.command()).isEqualTo(RaftCommand.getDefaultInstance());
  }

  @Test
  void aTxnWriteAtTheAnchorTakesTheTimestampAReaderPushedItsRecordTo() {
    Transaction a = txn("a", 100);
    ok(replica.write(push(a.getMeta(), PushType.PUSH_TIMESTAMP, 300, 0))); // no record yet
    KvResponse r = ok(replica.write(txnWrite(a, false, true, put("c", "1"))));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(300));
    assertThat(intent("c").getTxn().getWriteTimestamp()).isEqualTo(at(300));
    assertThat(record(a).getMeta().getWriteTimestamp()).isEqualTo(at(300));
  }

  // --- Intent resolution

  @Test
  void resolvingCommittedTurnsTheIntentIntoAVersionAtTheCommitTimestamp() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));
    KvResponse r = ok(replica.write(resolve(a.getMeta(), TxnStatus.TXN_COMMITTED, 150, "c", "e")));
    assertThat(r.getResolveIntent().getResolved()).isEqualTo(1);
    assertThat(intent("c")).isNull();
    assertThat(newest("c"))
        .hasValueSatisfying(v -> {
          assertThat(v.timestamp()).isEqualTo(ts(150));
          assertThat(new String(v.value(), java.nio.charset.StandardCharsets.UTF_8))
              .isEqualTo("new");
        });
  }

  @Test
  void resolvingAbortedRemovesTheIntent() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));
    KvResponse r = ok(replica.write(resolve(a.getMeta(), TxnStatus.TXN_ABORTED, 100, "c")));
    assertThat(r.getResolveIntent().getResolved()).isEqualTo(1);
    assertThat(intent("c")).isNull();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(10));
  }

  @Test
  void resolvingPendingMovesTheIntentUpAndNeverDown() {
    store("c", "old", 10);
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));
    ok(replica.write(resolve(a.getMeta(), TxnStatus.TXN_PENDING, 300, "c")));
    assertThat(intent("c").getTxn().getWriteTimestamp()).isEqualTo(at(300));
    assertThat(intent("c").getValue()).isEqualTo(bytes("new"));
    assertThat(newest("c").map(Version::timestamp)).contains(ts(10));
    Transaction b = withLimit(txn("b", 200), 250);
    assertThat(ok(replica.read(get("c", b))).getGet().getKv().getValue())
        .as("a reader below the moved intent reads past it")
        .isEqualTo(bytes("old"));

    Evaluated down = replica.evaluate(resolve(a.getMeta(), TxnStatus.TXN_PENDING, 200, "c"));
    assertThat(down.command()).isEqualTo(RaftCommand.getDefaultInstance());
  }

  @Test
  void resolutionLeavesAnotherTransactionsIntentAlone() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "new"))));
    Evaluated e =
        replica.evaluate(resolve(txn("b", 100).getMeta(), TxnStatus.TXN_COMMITTED, 150, "c"));
    assertThat(e.answer().getResolveIntent().getResolved()).isZero();
    assertThat(e.command()).isEqualTo(RaftCommand.getDefaultInstance());
    assertThat(intent("c").getTxn().getId()).isEqualTo(a.getMeta().getId());
  }

  // --- Refresh

  @Test
  void aRefreshFailsWhenAKeyItReadWasWrittenInTheInterval() {
    store("d", "v", 150);
    Transaction a = txn("a", 100);
    assertRefreshFails(replica.read(refresh(a, "c", "f", 100, 200)));
    assertRefreshFails(replica.read(refresh(a, "d", "", 100, 200)));
    ok(replica.read(refresh(a, "e", "", 100, 200)));
    ok(replica.read(refresh(a, "e", "f", 100, 200)));
  }

  @Test
  void aRefreshIntervalExcludesFromAndIncludesTo() {
    store("d", "v", 100);
    store("e", "v", 200);
    Transaction a = txn("a", 100);
    ok(replica.read(refresh(a, "d", "", 100, 200)));
    assertRefreshFails(replica.read(refresh(a, "e", "", 100, 200)));
    ok(replica.read(refresh(a, "e", "", 200, 300)));
  }

  @Test
  void aRefreshFailsOnAnotherTransactionsIntentAtOrBelowTo() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("c", "mine"))));
    ok(replica.write(txnWrite(txn("b", 150), false, false, put("d", "theirs"))));
    ok(replica.write(txnWrite(txn("z", 250), false, false, put("e", "later"))));

    assertRefreshFails(replica.read(refresh(a, "d", "", 100, 200)));
    assertRefreshFails(replica.read(refresh(a, "c", "f", 100, 200)));
    ok(replica.read(refresh(a, "c", "", 100, 200))); // its own intent
    ok(replica.read(refresh(a, "e", "", 100, 200))); // an intent above `to`
  }

  @Test
  void aSuccessfulRefreshRecordsItsSpanAsReadAtToByTheTransaction() {
    Transaction a = txn("a", 100);
    ok(replica.read(refresh(a, "c", "f", 100, 200)));
    ok(replica.read(refresh(a, "h", "", 100, 200)));
    ByteString id = a.getMeta().getId();
    assertThat(replica.tscache.max(bytes("d"))).isEqualTo(new TimestampCache.Entry(ts(200), id));
    assertThat(replica.tscache.max(bytes("h"))).isEqualTo(new TimestampCache.Entry(ts(200), id));
    assertThat(replica.tscache.max(bytes("f")).ts()).isEqualTo(Timestamp.MIN);
    assertThat(replica.tscache.max(bytes("h\0")).ts()).isEqualTo(Timestamp.MIN);

    KvResponse other = ok(replica.write(txnWrite(txn("b", 150), false, false, put("d", "v"))));
    assertThat(other.getHeader().getTxn().getMeta().getWriteTimestamp())
        .isEqualTo(ts(200).next().toProto());
    KvResponse own =
        ok(replica.write(txnWrite(withReadAndWrite(a, 200), false, false, put("e", "v"))));
    assertThat(own.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(200));
  }

  // --- Uncertainty

  @Test
  void aReadMeetingAVersionInItsUncertaintyIntervalAnswersReadWithinUncertainty() {
    store("c", "old", 50);
    store("c", "new", 150);
    Transaction a = withLimit(txn("a", 100), 200);
    KvResponse got = replica.read(get("c", a));
    assertThat(got.getError().getReadUncertain().getKey()).isEqualTo(bytes("c"));
    assertThat(got.getError().getReadUncertain().getExisting()).isEqualTo(at(150));
    KvResponse scanned = replica.read(scan("b", "m", 0, a));
    assertThat(scanned.getError().getReadUncertain().getExisting()).isEqualTo(at(150));
  }

  @Test
  void aVersionBeyondTheUncertaintyLimitIsNotSeen() {
    store("c", "old", 50);
    store("c", "new", 250);
    Transaction a = withLimit(txn("a", 100), 200);
    KvResponse got = ok(replica.read(get("c", a)));
    assertThat(got.getGet().getKv().getValue()).isEqualTo(bytes("old"));
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, a))).getScan()))
        .containsExactly("c=old");
  }

  @Test
  void aReadTimestampAboveAStaleUncertaintyLimitStillMeetsIntentsBelowIt() {
    store("c", "old", 10);
    Transaction b = txn("b", 200);
    ok(replica.write(txnWrite(b, false, false, put("c", "new"))));
    // A read timestamp moved up (a refresh) past the uncertainty limit the leader first gave.
    Transaction a = withLimit(txn("a", 300), 100);
    assertWriteIntent(replica.read(get("c", a)), "c", b);
    assertWriteIntent(replica.read(scan("b", "m", 0, a)), "c", b);
  }

  @Test
  void aReadTimestampAboveAStaleUncertaintyLimitReadsTheNewestVersionAtOrBelowIt() {
    store("c", "v50", 50);
    store("c", "v150", 150);
    store("c", "v300", 300);
    Transaction a = withLimit(txn("a", 200), 100);
    assertThat(ok(replica.read(get("c", a))).getGet().getKv().getValue()).isEqualTo(bytes("v150"));
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, a))).getScan()))
        .containsExactly("c=v150");
  }

  @Test
  void anUncertainVersionBeneathManyNewerOnesIsFound() {
    store("c", "old", 50);
    store("c", "uncertain", 150);
    for (long wall = 1_000; wall <= 1_500; wall += 100) {
      store("c", "later", wall);
    }
    Transaction a = withLimit(txn("a", 100), 200);
    assertThat(replica.read(get("c", a)).getError().getReadUncertain().getExisting())
        .isEqualTo(at(150));
    assertThat(replica.read(scan("b", "m", 0, a)).getError().getReadUncertain().getExisting())
        .isEqualTo(at(150));
    Transaction above = withLimit(txn("b", 150), 200);
    assertThat(ok(replica.read(get("c", above))).getGet().getKv().getValue())
        .isEqualTo(bytes("uncertain"));
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, above))).getScan()))
        .containsExactly("c=uncertain");
  }

  // --- A transaction's first read

  @Test
  void aTransactionalReadWithNoReadTimestampReadsAtTheLeadersClockAndSaysSo() {
    replica.maxOffsetNanos = 250;
    store("c", "v", 900);
    store("d", "future", 1_300); // beyond now + max offset
    Transaction fresh =
        Transaction.newBuilder()
            .setMeta(TxnMeta.newBuilder().setId(bytes("txn-a")).setAnchorKey(bytes("c")))
            .build();

    for (KvRequest read : List.of(get("c", fresh), scan("c", "e", 0, fresh))) {
      KvResponse r = ok(replica.read(read));
      Transaction begun = r.getHeader().getTxn();
      assertThat(begun.getReadTimestamp()).isEqualTo(at(1_000));
      assertThat(begun.getUncertaintyLimit()).isEqualTo(at(1_250));
      assertThat(begun.getMeta().getWriteTimestamp()).isEqualTo(at(1_000));
      assertThat(begun.getMeta().getMinTimestamp()).isEqualTo(at(1_000));
      assertThat(begun.getMeta().getId()).isEqualTo(bytes("txn-a"));
    }
    assertThat(ok(replica.read(get("c", fresh))).getGet().getKv().getValue()).isEqualTo(bytes("v"));
    assertThat(replica.tscache.max(bytes("c")))
        .isEqualTo(new TimestampCache.Entry(ts(1_000), bytes("txn-a")));
  }

  @Test
  void aTxnWriteWithNoReadTimestampBeginsAtTheLeadersClock() {
    Transaction fresh = txn("a", 100).toBuilder().clearReadTimestamp().build();
    KvResponse r = ok(replica.write(txnWrite(fresh, false, false, put("c", "v"))));
    assertThat(r.getHeader().getTxn().getReadTimestamp()).isEqualTo(at(1_000));
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(1_000));
    assertThat(intent("c").getTxn().getWriteTimestamp()).isEqualTo(at(1_000));
  }

  // --- Scans

  @Test
  void aScanMergesTheTransactionsOwnPutsAndDeletesOverTheCommittedRows() {
    for (String k : List.of("c", "d", "e", "g")) {
      store(k, k + "0", 10);
    }
    Transaction a = txn("a", 100);
    ok(
        replica.write(
            txnWrite(a, false, false, put("c", "c1"), del("d"), put("f", "f1"), del("h"))));

    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, a))).getScan()))
        .containsExactly("c=c1", "e=e0", "f=f1", "g=g0");
    Transaction before = txn("b", 50);
    assertThat(keysAndValues(ok(replica.read(scan("b", "m", 0, before))).getScan()))
        .as("another transaction below the intents reads the committed rows")
        .containsExactly("c=c0", "d=d0", "e=e0", "g=g0");
  }

  @Test
  void aScanWithItsOwnIntentsKeepsItsLimitAndResumesWhereItStopped() {
    for (String k : List.of("c", "e", "g", "i")) {
      store(k, k + "0", 10);
    }
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(a, false, false, put("d", "d1"), put("f", "f1"), del("g"))));

    ScanResponse first = ok(replica.read(scan("b", "m", 2, a))).getScan();
    assertThat(keysAndValues(first)).containsExactly("c=c0", "d=d1");
    assertThat(first.getResumeKey()).isEqualTo(bytes("e"));

    List<String> all = new ArrayList<>();
    ByteString from = bytes("b");
    for (int pages = 0; !from.isEmpty(); pages++) {
      assertThat(pages).as("pages").isLessThan(10);
      ScanResponse page = ok(replica.read(scan(from.toStringUtf8(), "m", 2, a))).getScan();
      assertThat(page.getKvsCount()).isLessThanOrEqualTo(2);
      all.addAll(keysAndValues(page));
      from = page.getResumeKey();
    }
    assertThat(all).containsExactly("c=c0", "d=d1", "e=e0", "f=f1", "i=i0");
  }

  // --- Checks

  @Test
  void transactionalRequestsAreCheckedAgainstTheirTransactionAndTheRange() {
    Transaction a = txn("a", 100);
    KvRequest noTxn =
        KvRequest.newBuilder()
            .setTxnWrite(TxnWriteRequest.newBuilder().addMutations(put("c", "v")))
            .build();
    assertThat(Commands.validate(noTxn, RANGE).getError().hasGeneric()).isTrue();
    Transaction elsewhere =
        a.toBuilder().setMeta(a.getMeta().toBuilder().setAnchorKey(bytes("x"))).build();
    assertThat(Commands.validate(endTxn(elsewhere, true), RANGE).getError().hasKeyNotInRange())
        .isTrue();
    assertThat(
            Commands.validate(txnWrite(elsewhere, true, true, put("c", "v")), RANGE)
                .getError()
                .hasKeyNotInRange())
        .as("a one-phase write holds its anchor")
        .isTrue();
    assertThat(Commands.validate(txnWrite(elsewhere, false, false, put("c", "v")), RANGE))
        .as("an intent write need not")
        .isNull();
    assertThat(
            Commands.validate(push(elsewhere.getMeta(), PushType.PUSH_ABORT, 0, 0), RANGE)
                .getError()
                .hasKeyNotInRange())
        .isTrue();
    KvRequest plainInTxn = withHeaderTxn(plainPut("c", "v"), a);
    assertThat(replica.evaluate(plainInTxn).answer().getError().getGeneric().getMessage())
        .contains("txn_write");
  }

  // --- Helpers

  @Test
  void aReadOnlyTransactionWithNoAnchorRefreshesItsReads() {
    Transaction readOnly =
        txn("ro", 100).toBuilder()
            .setMeta(txn("ro", 100).getMeta().toBuilder().clearAnchorKey())
            .build();
    assertThat(Commands.validate(refresh(readOnly, "c", "", 100, 200), RANGE)).isNull();
    ok(replica.read(refresh(readOnly, "c", "", 100, 200)));
    // A write is another matter: it needs the anchor of its record.
    assertThat(Commands.validate(txnWrite(readOnly, true, true, put("c", "x")), RANGE)).isNotNull();
  }

  // --- Parallel commits: staging, and recovery of an abandoned staged transaction

  @Test
  void aStagingWriteLeavesIntentsAndAStagingRecordNamingItsInFlightWrites() {
    Transaction a = txn("a", 100);
    KvResponse r = ok(replica.write(stage(a, List.of("x", "y"), put("c", "new"))));
    assertThat(r.getTxnWrite().getStaged()).isTrue();
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(100));
    TxnRecord record = record(a);
    assertThat(record.getStatus()).isEqualTo(TxnStatus.TXN_STAGING);
    assertThat(record.getMeta().getWriteTimestamp()).isEqualTo(at(100));
    assertThat(record.getInFlightWritesList()).containsExactly(bytes("x"), bytes("y"));
    assertThat(record.getLockKeysList()).containsExactly(bytes("c"), bytes("x"), bytes("y"));
    assertThat(record.getLastHeartbeat()).isEqualTo(replica.now.toProto());
    assertThat(intent("c").getValue()).isEqualTo(bytes("new"));
  }

  @Test
  void aStagingWriteMayCarryNoMutation() {
    Transaction a = txn("a", 100);
    assertThat(ok(replica.write(stage(a, List.of("x")))).getTxnWrite().getStaged()).isTrue();
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_STAGING);
  }

  @Test
  void aSerializableStagingWritePushedAboveItsReadsLeavesTheRecordPending() {
    replica.tscache.add(bytes("c"), ts(150), ByteString.EMPTY);
    Transaction a = txn("a", 100);
    KvResponse r = ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    assertThat(r.getTxnWrite().getStaged()).as("its reads need a refresh first").isFalse();
    assertThat(r.getHeader().getTxn().getMeta().getWriteTimestamp())
        .isEqualTo(ts(150).next().toProto());
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_PENDING);
    assertThat(record(a).getInFlightWritesList()).isEmpty();

    // Under snapshot isolation the reads need no refresh: staged at the pushed timestamp.
    Transaction b = snapshot(txn("b", 100));
    replica.tscache.add(bytes("d"), ts(150), ByteString.EMPTY);
    KvResponse rb = ok(replica.write(withAnchor(stage(b, List.of("x"), put("d", "new")), "d")));
    assertThat(rb.getTxnWrite().getStaged()).isTrue();
    assertThat(record(withAnchorTxn(b, "d")).getMeta().getWriteTimestamp())
        .isEqualTo(ts(150).next().toProto());
  }

  @Test
  void aBlindTransactionIsStagedAndCommittedInOnePhaseEvenWhenPushed() {
    // It read nothing, so it has nothing to refresh: pushed, it still stages or commits.
    replica.tscache.add(bytes("c"), ts(150), ByteString.EMPTY);
    Transaction a = txn("a", 100);
    KvRequest staging = stage(a, List.of("x"), put("c", "new"));
    staging =
        staging.toBuilder().setTxnWrite(staging.getTxnWrite().toBuilder().setBlind(true)).build();
    KvResponse r = ok(replica.write(staging));
    assertThat(r.getTxnWrite().getStaged()).isTrue();
    assertThat(record(a).getMeta().getWriteTimestamp()).isEqualTo(ts(150).next().toProto());

    replica.tscache.add(bytes("e"), ts(150), ByteString.EMPTY);
    Transaction b = withAnchorTxn(txn("b", 100), "e");
    KvRequest onePhase = txnWrite(b, true, false, put("e", "v"));
    KvResponse notBlind = replica.evaluate(onePhase).answer();
    assertThat(notBlind.getTxnWrite().getCommitted()).as("the control: a refresh first").isFalse();
    onePhase =
        onePhase.toBuilder().setTxnWrite(onePhase.getTxnWrite().toBuilder().setBlind(true)).build();
    assertThat(ok(replica.write(onePhase)).getTxnWrite().getCommitted()).isTrue();
    assertThat(newest("e").map(Version::timestamp)).contains(ts(150).next());
  }

  @Test
  void aBlindSnapshotTransactionHasNoSnapshotToConflictWith() {
    store("d", "newer", 200);
    Transaction a = snapshot(withAnchorTxn(txn("a", 100), "d"));
    KvRequest write = txnWrite(a, true, false, put("d", "v"));
    assertThat(replica.evaluate(write).answer().getError().getDetailCase())
        .as("the control: first committer wins")
        .isEqualTo(Error.DetailCase.TXN_RETRY);
    write = write.toBuilder().setTxnWrite(write.getTxnWrite().toBuilder().setBlind(true)).build();
    assertThat(ok(replica.write(write)).getTxnWrite().getCommitted()).isTrue();
    assertThat(newest("d").map(Version::timestamp)).contains(ts(200).next());
  }

  @Test
  void aStagingRecordIsNeitherPushedNorAbortedWhileAliveAndNeedsRecoveryOnceExpired() {
    Transaction a = withPriority(txn("a", 100), 10);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    TxnRecord staged = record(a);
    for (KvRequest push :
        List.of(
            push(a.getMeta(), PushType.PUSH_TIMESTAMP, 500, Integer.MAX_VALUE),
            push(a.getMeta(), PushType.PUSH_ABORT, 0, 9),
            push(a.getMeta(), PushType.PUSH_ABORT, 0, 11))) {
      PushTxnResponse answer = ok(replica.write(push)).getPushTxn();
      assertThat(answer.getPushed()).as("%s", push).isFalse();
      assertThat(answer.getNeedsRecovery()).as("waits: %s", push).isFalse();
      assertThat(answer.getPushee()).isEqualTo(staged);
      assertThat(record(a)).isEqualTo(staged);
    }
    replica.now = ts(replica.now.wallNanos() + EXPIRY_NANOS + 1);
    PushTxnResponse expired =
        ok(replica.write(push(a.getMeta(), PushType.PUSH_ABORT, 0, 0))).getPushTxn();
    assertThat(expired.getPushed()).isFalse();
    assertThat(expired.getNeedsRecovery()).isTrue();
    assertThat(record(a)).as("recovery, not the push, ends it").isEqualTo(staged);
  }

  @Test
  void aWriteNotStagingIsRefusedOnceTheRecordIsStaged() {
    Transaction a = txn("a", 100);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    KvResponse r = replica.evaluate(txnWrite(a, false, true, put("d", "v"))).answer();
    assertThat(r.getError().getGeneric().getMessage()).contains("staging");
  }

  @Test
  void theCoordinatorsEndTxnCommitsAStagedRecord() {
    Transaction a = txn("a", 100);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    assertThat(ok(replica.write(endTxn(a, true, "c", "x"))).getEndTxn().getStatus())
        .isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(newest("c").map(Version::timestamp)).contains(ts(100));
    assertThat(intent("c")).isNull();
  }

  @Test
  void aQueryFindsTheTransactionsIntentAtAnyTimestampButNotALockOrAnothersIntent() {
    Transaction a = txn("a", 100);
    ok(replica.write(txnWrite(withWrite(a, 120), false, false, put("d", "v"))));
    QueryIntentResponseView found = query("d", a.getMeta(), false);
    assertThat(found.found()).isTrue();
    assertThat(found.at()).isEqualTo(at(120));

    ok(replica.write(txnWrite(txn("b", 100), false, false, put("e", "v"))));
    assertThat(query("e", a.getMeta(), false).found()).as("another's intent").isFalse();
    ok(
        replica.write(
            withHeaderTxn(
                get("f", null).toBuilder()
                    .setGet(GetRequest.newBuilder().setKey(bytes("f")).setForUpdate(true))
                    .build(),
                a)));
    assertThat(intent("f").getLockOnly()).isTrue();
    assertThat(query("f", a.getMeta(), false).found()).as("a lock is no write").isFalse();
  }

  @Test
  void aPreventingQueryOfAMissingWriteSendsItAboveTheStagingTimestamp() {
    Transaction a = txn("a", 100);
    assertThat(query("d", a.getMeta(), true).found()).isFalse();
    KvResponse late = ok(replica.write(txnWrite(a, false, false, put("d", "late"))));
    assertThat(Txns.ts(late.getHeader().getTxn().getMeta().getWriteTimestamp()))
        .as("the late write lands above the staging timestamp")
        .isEqualTo(ts(100).next());

    // The control: a query that does not prevent leaves the write where it was sent.
    Transaction b = txn("b", 100);
    assertThat(query("e", b.getMeta(), false).found()).isFalse();
    KvResponse onTime = ok(replica.write(txnWrite(b, false, false, put("e", "v"))));
    assertThat(onTime.getHeader().getTxn().getMeta().getWriteTimestamp()).isEqualTo(at(100));
  }

  @Test
  void recoveryCommitsAStagedTransactionWhoseWritesWereAllFoundAtOrBelowItsTimestamp() {
    Transaction a = txn("a", 100);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    TxnRecord ended = recover(a.getMeta(), true, at(100));
    assertThat(ended.getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(record(a).getStatus()).isEqualTo(TxnStatus.TXN_COMMITTED);
    assertThat(record(a).getInFlightWritesList()).isEmpty();
    assertThat(intent("c")).as("the anchor range's intents resolved").isNull();
    assertThat(newest("c").map(Version::timestamp)).contains(ts(100));
  }

  @Test
  void recoveryAbortsAStagedTransactionWithAWriteMissingOrAboveItsTimestamp() {
    Transaction a = txn("a", 100);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    assertThat(recover(a.getMeta(), false, null).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    assertThat(intent("c")).isNull();
    assertThat(newest("c")).isEmpty();

    Transaction b = withAnchorTxn(txn("b", 100), "d");
    ok(replica.write(withAnchor(stage(b, List.of("x"), put("d", "new")), "d")));
    assertThat(recover(b.getMeta(), true, at(101)).getStatus())
        .as("found, but above the staging timestamp: it can never commit")
        .isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void recoveryLeavesARecordStagedAboveThePreventionAlone() {
    replica.tscache.add(bytes("c"), ts(150), ByteString.EMPTY);
    Transaction a = snapshot(txn("a", 100));
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    TxnRecord staged = record(a);
    assertThat(staged.getMeta().getWriteTimestamp()).isEqualTo(ts(150).next().toProto());
    // Prevented at 100 only: the missing write may still land in (100, 150.1].
    assertThat(recover(a.getMeta(), false, null)).isEqualTo(staged);
    assertThat(record(a)).isEqualTo(staged);
    // Prevented at the record's own timestamp: aborted.
    assertThat(recover(staged.getMeta(), false, null).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void recoveryOfATransactionNeverStagedAbortsItAndItsStagingThenFails() {
    Transaction a = txn("a", 100);
    assertThat(recover(a.getMeta(), true, at(100)).getStatus()).isEqualTo(TxnStatus.TXN_ABORTED);
    KvResponse late = replica.evaluate(stage(a, List.of("x"), put("c", "new"))).answer();
    assertThat(late.getError().getDetailCase()).isEqualTo(Error.DetailCase.TXN_ABORTED);
  }

  @Test
  void recoveryLeavesAFinishedTransactionAsItIs() {
    Transaction a = txn("a", 100);
    ok(replica.write(stage(a, List.of("x"), put("c", "new"))));
    ok(replica.write(endTxn(a, true, "c", "x")));
    TxnRecord committed = record(a);
    assertThat(recover(a.getMeta(), false, null)).isEqualTo(committed);
  }

  private static Timestamp ts(long wallNanos) {
    return new Timestamp(wallNanos, 0);
  }

  private static io.basalt.api.Timestamp at(long wallNanos) {
    return ts(wallNanos).toProto();
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  /**
   * A serializable transaction of priority 0 anchored at "c" that reads and writes at {@code
   * readWallNanos}, with no uncertainty interval.
   */
  private static Transaction txn(String name, long readWallNanos) {
    return Transaction.newBuilder()
        .setMeta(
            TxnMeta.newBuilder()
                .setId(bytes("txn-" + name))
                .setAnchorKey(bytes("c"))
                .setWriteTimestamp(at(readWallNanos))
                .setMinTimestamp(at(readWallNanos)))
        .setReadTimestamp(at(readWallNanos))
        .setUncertaintyLimit(at(readWallNanos))
        .build();
  }

  private static Transaction withLimit(Transaction t, long limitWallNanos) {
    return t.toBuilder().setUncertaintyLimit(at(limitWallNanos)).build();
  }

  private static Transaction withWrite(Transaction t, long writeWallNanos) {
    return t.toBuilder()
        .setMeta(t.getMeta().toBuilder().setWriteTimestamp(at(writeWallNanos)))
        .build();
  }

  private static Transaction withReadAndWrite(Transaction t, long wallNanos) {
    return withWrite(t, wallNanos).toBuilder()
        .setReadTimestamp(at(wallNanos))
        .setUncertaintyLimit(at(wallNanos))
        .build();
  }

  private static Transaction withPriority(Transaction t, int priority) {
    return t.toBuilder().setMeta(t.getMeta().toBuilder().setPriority(priority)).build();
  }

  private static Transaction snapshot(Transaction t) {
    return t.toBuilder().setIsolation(Isolation.ISOLATION_SNAPSHOT).build();
  }

  private static KvRequest withHeaderTxn(KvRequest request, Transaction t) {
    return request.toBuilder().setHeader(RequestHeader.newBuilder().setTxn(t)).build();
  }

  private static Mutation put(String key, String value) {
    return Mutation.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)))
        .build();
  }

  private static Mutation del(String key) {
    return Mutation.newBuilder().setDelete(DeleteRequest.newBuilder().setKey(bytes(key))).build();
  }

  private static KvRequest txnWrite(
      Transaction t, boolean onePhase, boolean anchor, Mutation... mutations) {
    return withHeaderTxn(
        KvRequest.newBuilder()
            .setTxnWrite(
                TxnWriteRequest.newBuilder()
                    .addAllMutations(List.of(mutations))
                    .setOnePhase(onePhase)
                    .setAnchor(anchor))
            .build(),
        t);
  }

  private static KvRequest endTxn(Transaction t, boolean commit, String... lockKeys) {
    EndTxnRequest.Builder end = EndTxnRequest.newBuilder().setCommit(commit);
    for (String k : lockKeys) {
      end.addLockKeys(bytes(k));
    }
    return withHeaderTxn(KvRequest.newBuilder().setEndTxn(end).build(), t);
  }

  private static KvRequest heartbeat(Transaction t) {
    return withHeaderTxn(
        KvRequest.newBuilder().setHeartbeatTxn(HeartbeatTxnRequest.getDefaultInstance()).build(),
        t);
  }

  /** A push by a plain request of priority {@code pusherPriority}. */
  private static KvRequest push(
      TxnMeta pushee, PushType type, long pushToWallNanos, int pusherPriority) {
    PushTxnRequest.Builder p =
        PushTxnRequest.newBuilder()
            .setPushee(pushee)
            .setType(type)
            .setPusherPriority(pusherPriority);
    if (type == PushType.PUSH_TIMESTAMP) {
      p.setPushTo(at(pushToWallNanos));
    }
    return KvRequest.newBuilder().setPushTxn(p).build();
  }

  private static KvRequest resolve(
      TxnMeta txn, TxnStatus status, long commitWallNanos, String... keys) {
    ResolveIntentRequest.Builder r =
        ResolveIntentRequest.newBuilder()
            .setTxn(txn)
            .setStatus(status)
            .setCommitTimestamp(at(commitWallNanos));
    for (String k : keys) {
      r.addKeys(bytes(k));
    }
    return KvRequest.newBuilder().setResolveIntent(r).build();
  }

  private static KvRequest refresh(
      Transaction t, String start, String end, long fromWallNanos, long toWallNanos) {
    return withHeaderTxn(
        KvRequest.newBuilder()
            .setRefresh(
                RefreshRequest.newBuilder()
                    .setStartKey(bytes(start))
                    .setEndKey(bytes(end))
                    .setFrom(at(fromWallNanos))
                    .setTo(at(toWallNanos)))
            .build(),
        t);
  }

  /** A get, in {@code t} unless it is null. */
  private static KvRequest get(String key, Transaction t) {
    KvRequest get =
        KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(bytes(key))).build();
    return t == null ? get : withHeaderTxn(get, t);
  }

  /** A scan, in {@code t} unless it is null. */
  private static KvRequest scan(String start, String end, int limit, Transaction t) {
    KvRequest scan =
        KvRequest.newBuilder()
            .setScan(
                ScanRequest.newBuilder()
                    .setStartKey(bytes(start))
                    .setEndKey(bytes(end))
                    .setLimit(limit))
            .build();
    return t == null ? scan : withHeaderTxn(scan, t);
  }

  private static KvRequest plainPut(String key, String value) {
    return KvRequest.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)))
        .build();
  }

  private static KvRequest plainDelete(String key) {
    return KvRequest.newBuilder().setDelete(DeleteRequest.newBuilder().setKey(bytes(key))).build();
  }

  private static KvRequest cas(String key, String expected, String value) {
    return KvRequest.newBuilder()
        .setConditionalPut(
            ConditionalPutRequest.newBuilder()
                .setKey(bytes(key))
                .setExpectedValue(bytes(expected))
                .setValue(bytes(value)))
        .build();
  }

  private static KvRequest batch(Mutation... mutations) {
    return KvRequest.newBuilder()
        .setWriteBatch(WriteBatchRequest.newBuilder().addAllMutations(List.of(mutations)))
        .build();
  }

  /** A staging write of {@code t} (anchored at its anchor) with the given in-flight writes. */
  private static KvRequest stage(Transaction t, List<String> inFlight, Mutation... mutations) {
    TxnWriteRequest.Builder w =
        TxnWriteRequest.newBuilder().addAllMutations(List.of(mutations)).setStage(true);
    List<String> lockKeys = new ArrayList<>();
    for (Mutation m : mutations) {
      lockKeys.add((m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey()).toStringUtf8());
    }
    lockKeys.addAll(inFlight);
    inFlight.forEach(k -> w.addInFlightWrites(bytes(k)));
    lockKeys.forEach(k -> w.addLockKeys(bytes(k)));
    return withHeaderTxn(KvRequest.newBuilder().setTxnWrite(w).build(), t);
  }

  private static Transaction withAnchorTxn(Transaction t, String anchor) {
    return t.toBuilder().setMeta(t.getMeta().toBuilder().setAnchorKey(bytes(anchor))).build();
  }

  /** {@code request} with its transaction anchored at {@code anchor}. */
  private static KvRequest withAnchor(KvRequest request, String anchor) {
    return withHeaderTxn(request, withAnchorTxn(request.getHeader().getTxn(), anchor));
  }

  private record QueryIntentResponseView(boolean found, io.basalt.api.Timestamp at) {}

  private QueryIntentResponseView query(String key, TxnMeta txn, boolean prevent) {
    KvResponse r =
        ok(
            replica.read(
                KvRequest.newBuilder()
                    .setQueryIntent(
                        QueryIntentRequest.newBuilder()
                            .setKey(bytes(key))
                            .setTxn(txn)
                            .setPrevent(prevent))
                    .build()));
    return new QueryIntentResponseView(
        r.getQueryIntent().getFound(), r.getQueryIntent().getWriteTimestamp());
  }

  /** Recovers {@code txn} (prevented at its write timestamp) by what the queries found. */
  private TxnRecord recover(TxnMeta txn, boolean allFound, io.basalt.api.Timestamp foundUpTo) {
    RecoverTxnRequest.Builder r = RecoverTxnRequest.newBuilder().setTxn(txn).setAllFound(allFound);
    if (foundUpTo != null) {
      r.setFoundUpTo(foundUpTo);
    }
    return ok(replica.write(KvRequest.newBuilder().setRecoverTxn(r).build()))
        .getRecoverTxn()
        .getRecord();
  }

  /** {@code r}, after checking it is no error. */
  private static KvResponse ok(KvResponse r) {
    assertThat(r.hasError()).as("an error: %s", r.getError()).isFalse();
    return r;
  }

  private static void assertWriteIntent(KvResponse r, String key, Transaction holder) {
    assertThat(r.getError().getDetailCase()).isEqualTo(Error.DetailCase.WRITE_INTENT);
    assertThat(r.getError().getWriteIntent().getKey()).isEqualTo(bytes(key));
    assertThat(r.getError().getWriteIntent().getTxn().getId()).isEqualTo(holder.getMeta().getId());
  }

  private static void assertRefreshFails(KvResponse r) {
    assertThat(r.getError().getDetailCase()).isEqualTo(Error.DetailCase.TXN_RETRY);
  }

  private static List<String> keysAndValues(ScanResponse scan) {
    List<String> out = new ArrayList<>();
    for (KeyValue kv : scan.getKvsList()) {
      out.add(kv.getKey().toStringUtf8() + "=" + kv.getValue().toStringUtf8());
    }
    return out;
  }

  /** Writes a committed version directly, as if an earlier command had. */
  private void store(String key, String value, long wallNanos) {
    WriteBatch b = new WriteBatch();
    MvccStore.put(b, bytes(key).toByteArray(), ts(wallNanos), bytes(value).toByteArray());
    replica.engine.write(b, true);
  }

  /** The intent on {@code key}, or null. */
  private Intent intent(String key) {
    byte[] stored = MvccStore.getIntent(replica.engine, bytes(key).toByteArray());
    return stored == null ? null : Txns.parseIntent(stored);
  }

  /** The newest committed version of {@code key}, tombstones included. */
  private Optional<Version> newest(String key) {
    return MvccStore.getVersion(replica.engine, bytes(key).toByteArray(), Timestamp.MAX);
  }

  private TxnRecord record(Transaction t) {
    return record(t.getMeta());
  }

  private TxnRecord record(TxnMeta meta) {
    return Txns.record(replica.engine, meta);
  }
}
