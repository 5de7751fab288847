package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.Errors;
import io.basalt.api.Intent;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.Transaction;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.eval.Commands.Command;
import io.basalt.txn.eval.Commands.Context;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/** A scan of one span, which must lie in the range. */
final class Scan implements Command {
  /** Rows per page when the client names no limit, and the most it may ask for. */
  private static final int DEFAULT_LIMIT = 1000;

  private static final int MAX_LIMIT = 10_000;

  /** Bytes per page when the client names no maximum, and the most it may ask for. */
  private static final long DEFAULT_MAX_BYTES = 4L << 20;

  private static final long MAX_MAX_BYTES = 16L << 20;

  @Override
  public String method() {
    return "scan";
  }

  @Override
  public boolean isWrite() {
    return false;
  }

  @Override
  public KvResponse validate(KvRequest request, RangeDescriptor range) {
    ScanRequest s = request.getScan();
    return Commands.checkSpan(s.getStartKey(), s.getEndKey(), range, false);
  }

  @Override
  public List<Span> latchSpans(KvRequest request) {
    ScanRequest s = request.getScan();
    ByteString end = s.getEndKey().isEmpty() ? Commands.UNBOUNDED_END : s.getEndKey();
    return List.of(new Span(s.getStartKey(), end, Mode.READ));
  }

  @Override
  public KvResponse read(KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
    ScanRequest s = request.getScan();
    Transaction txn =
        request.getHeader().hasTxn() ? Txns.begun(request.getHeader().getTxn(), ctx) : null;
    Timestamp readTs = txn == null ? Timestamp.MAX : Txns.ts(txn.getReadTimestamp());
    Timestamp limit = txn == null ? Timestamp.MAX : Txns.uncertaintyLimit(txn);
    byte[] start = max(s.getStartKey().toByteArray(), range.getStartKey().toByteArray());
    byte[] end = minEnd(s.getEndKey().toByteArray(), range.getEndKey().toByteArray());
    int limitRows = s.getLimit() <= 0 ? DEFAULT_LIMIT : Math.min(s.getLimit(), MAX_LIMIT);
    long maxBytes =
        s.getMaxBytes() == 0 ? DEFAULT_MAX_BYTES : Math.min(s.getMaxBytes(), MAX_MAX_BYTES);
    ScanResponse.Builder out = ScanResponse.newBuilder();
    if (end.length == 0 || Arrays.compareUnsigned(start, end) < 0) {
      MvccStore.ScanResult res =
          MvccStore.scan(state, start, end, readTs, limit, limitRows, maxBytes);
      // The transaction's own intents stand in for the versions beneath them.
      TreeMap<byte[], Intent> own = new TreeMap<>(Arrays::compareUnsigned);
      for (MvccStore.KeyIntent i : res.intents()) {
        Intent intent = Txns.parseIntent(i.intent());
        if (intent.getLockOnly() || !ctx.rules().readsMeetIntents()) {
          continue; // a lock: read beneath it
        }
        if (txn != null && Txns.sameTxn(intent.getTxn(), txn.getMeta())) {
          own.put(i.key(), intent);
        } else if (txn == null || Txns.ts(intent.getTxn().getWriteTimestamp()).atOrBefore(limit)) {
          return Txns.withTxn(
              Errors.writeIntent(ByteString.copyFrom(i.key()), intent.getTxn()), txn);
        }
      }
      if (res.uncertain() != null && ctx.rules().readsCheckUncertainty()) {
        return Txns.withTxn(Errors.readUncertain(s.getStartKey(), res.uncertain().toProto()), txn);
      }
      List<Version> rows = res.versions();
      if (!own.isEmpty()) {
        TreeMap<byte[], Version> merged = new TreeMap<>(Arrays::compareUnsigned);
        rows.forEach(v -> merged.put(v.key(), v));
        own.forEach((k, intent) -> {
          if (intent.getTombstone()) {
            merged.remove(k);
          } else {
            merged.put(
                k,
                new Version(
                    k,
                    Txns.ts(intent.getTxn().getWriteTimestamp()),
                    intent.getValue().toByteArray()));
          }
        });
        rows = new ArrayList<>(merged.values());
      }
      byte[] resume = res.resumeKey();
      if (rows.size() > limitRows) {
        resume = rows.get(limitRows).key();
        rows = rows.subList(0, limitRows);
      }
      for (Version v : rows) {
        out.addKvs(
            KeyValue.newBuilder()
                .setKey(ByteString.copyFrom(v.key()))
                .setValue(ByteString.copyFrom(v.value()))
                .setVersion(v.timestamp().toProto()));
      }
      if (resume != null) {
        out.setResumeKey(ByteString.copyFrom(resume));
      }
      // The span read: up to where the page stopped.
      ByteString readEnd =
          resume != null
              ? ByteString.copyFrom(resume)
              : end.length == 0 ? Commands.UNBOUNDED_END : ByteString.copyFrom(end);
      ByteString readStart = ByteString.copyFrom(start);
      if (txn != null
          && ByteString.unsignedLexicographicalComparator().compare(readStart, readEnd) < 0) {
        ctx.tscache().add(readStart, readEnd, readTs, txn.getMeta().getId());
      }
    }
    KvResponse.Builder answer = KvResponse.newBuilder().setScan(out);
    return txn == null ? answer.build() : Txns.withTxn(answer, txn);
  }

  private static byte[] max(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(a, b) >= 0 ? a : b;
  }

  /** The lower of two end keys, where an empty end key means the end of the keyspace. */
  private static byte[] minEnd(byte[] a, byte[] b) {
    if (a.length == 0) {
      return b;
    }
    if (b.length == 0) {
      return a;
    }
    return Arrays.compareUnsigned(a, b) <= 0 ? a : b;
  }
}
