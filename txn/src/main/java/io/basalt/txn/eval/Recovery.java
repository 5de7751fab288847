package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.Errors;
import io.basalt.api.Intent;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.QueryIntentRequest;
import io.basalt.api.QueryIntentResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RecoverTxnRequest;
import io.basalt.api.RecoverTxnResponse;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.eval.Commands.Command;
import io.basalt.txn.eval.Commands.Context;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.List;

/**
 * Recovery of a STAGING transaction whose coordinator went silent (DESIGN.md, "Transactions",
 * parallel commits): a staged transaction committed the moment its last in-flight write landed at
 * or below the staging timestamp, whether or not anyone heard. Whoever finds it abandoned asks each
 * in-flight write's range whether it is there, preventing a missing one from ever landing there
 * ({@link QueryIntent}), and then ends the record by what it found ({@link RecoverTxn}).
 */
final class Recovery {
  private Recovery() {}

  /** Whether an in-flight write is in place; see {@link QueryIntentRequest}. */
  static final class QueryIntent implements Command {
    @Override
    public String method() {
      return "query_intent";
    }

    @Override
    public boolean isWrite() {
      return false;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      QueryIntentRequest q = request.getQueryIntent();
      if (q.getTxn().getId().isEmpty()) {
        return Errors.invalid("a query names the transaction whose intent it looks for");
      }
      return Commands.checkKeys(List.of(q.getKey().toByteArray()), range, false);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      // Latched like a transaction's read: a write of the key already evaluated (below the
      // timestamp recorded here) is applied before the query looks.
      return List.of(Span.point(request.getQueryIntent().getKey(), Mode.READ));
    }

    @Override
    public KvResponse read(KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
      QueryIntentRequest q = request.getQueryIntent();
      Timestamp preventAt = Txns.ts(q.getTxn().getWriteTimestamp());
      byte[] stored = MvccStore.getIntent(state, q.getKey().toByteArray());
      QueryIntentResponse.Builder answer = QueryIntentResponse.newBuilder();
      if (stored != null) {
        Intent intent = Txns.parseIntent(stored);
        if (Txns.sameTxn(intent.getTxn(), q.getTxn()) && !intent.getLockOnly()) {
          answer.setFound(true).setWriteTimestamp(intent.getTxn().getWriteTimestamp());
        }
      }
      if (!answer.getFound() && q.getPrevent() && ctx.rules().queriesPreventMissingWrites()) {
        // As a read by nobody in particular: the transaction's own write, if it comes, lands
        // above preventAt, so a record staged at or below it can no longer commit implicitly.
        ctx.tscache().add(q.getKey(), preventAt, ByteString.EMPTY);
      }
      return KvResponse.newBuilder().setQueryIntent(answer).build();
    }
  }

  /** Ends an abandoned STAGING transaction at its anchor; see {@link RecoverTxnRequest}. */
  static final class RecoverTxn implements Command {
    @Override
    public String method() {
      return "recover_txn";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      TxnMeta txn = request.getRecoverTxn().getTxn();
      if (txn.getId().isEmpty() || txn.getAnchorKey().isEmpty()) {
        return Errors.invalid("a recovery names the transaction's id and anchor key");
      }
      return TxnCommands.anchorHere(txn, range);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      // The record only: the intents it resolves stop every evaluation that meets them until
      // they are gone, so resolving them needs no latch of its own.
      return List.of(
          Span.point(TxnCommands.recordLatch(request.getRecoverTxn().getTxn()), Mode.WRITE));
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      RecoverTxnRequest r = request.getRecoverTxn();
      TxnMeta queried = r.getTxn();
      TxnRecord record = Txns.record(state, queried);
      if (record != null
          && (record.getStatus() == TxnStatus.TXN_COMMITTED
              || record.getStatus() == TxnStatus.TXN_ABORTED)) {
        return recovered(record);
      }
      boolean commit = false;
      if (record != null && record.getStatus() == TxnStatus.TXN_STAGING) {
        Timestamp stagedAt = Txns.ts(record.getMeta().getWriteTimestamp());
        commit = r.getAllFound() && Txns.ts(r.getFoundUpTo()).atOrBefore(stagedAt);
        if (!commit && stagedAt.isAfter(Txns.ts(queried.getWriteTimestamp()))) {
          // A missing write may still land between the prevention and the staging timestamp.
          return recovered(record);
        }
      }
      // Else no record, or PENDING: never staged, so never committed implicitly (only its
      // coordinator commits it, and the recovery, run by it or after finding STAGING, aborts it).
      TxnStatus status = commit ? TxnStatus.TXN_COMMITTED : TxnStatus.TXN_ABORTED;
      TxnRecord base =
          record != null
              ? record
              : TxnRecord.newBuilder()
                  .setMeta(queried)
                  .setLastHeartbeat(ctx.now().toProto())
                  .build();
      TxnRecord ended = base.toBuilder().setStatus(status).clearInFlightWrites().build();
      Txns.writeRecord(into, ended);
      TxnCommands.Resolve.resolveInRange(
          state, into, range, ended.getLockKeysList(), ended.getMeta(), status);
      return recovered(ended);
    }

    private static KvResponse recovered(TxnRecord record) {
      return KvResponse.newBuilder()
          .setRecoverTxn(RecoverTxnResponse.newBuilder().setRecord(record))
          .build();
    }
  }
}
