package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.EndTxnResponse;
import io.basalt.api.Errors;
import io.basalt.api.GetResponse;
import io.basalt.api.HeartbeatTxnResponse;
import io.basalt.api.Intent;
import io.basalt.api.Isolation;
import io.basalt.api.KeySpace;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PushTxnRequest;
import io.basalt.api.PushTxnResponse;
import io.basalt.api.PushType;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RefreshRequest;
import io.basalt.api.RefreshResponse;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.ResolveIntentRequest;
import io.basalt.api.ResolveIntentResponse;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import io.basalt.api.TxnWriteResponse;
import io.basalt.api.WriteIntent;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.eval.Commands.Command;
import io.basalt.txn.eval.Commands.Context;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The transaction protocol's requests (DESIGN.md, "Transactions"): a transaction's writes, sent at
 * commit as intents (or committed at once when they are all in one range), the commit or abort that
 * flips its record, heartbeats, pushes of a conflicting transaction, intent resolution and read
 * refreshes.
 */
final class TxnCommands {
  private TxnCommands() {}

  /** The latch key of a transaction's record: below every user key (which never starts 0x00). */
  static ByteString recordLatch(TxnMeta meta) {
    return ByteString.copyFrom(new byte[] {0x00, 't'}).concat(meta.getId());
  }

  /** Why {@code request} names no transaction (one that writes also needs its anchor), or null. */
  private static KvResponse needTxn(KvRequest request, boolean anchored) {
    Transaction txn = request.getHeader().getTxn();
    if (!request.getHeader().hasTxn() || txn.getMeta().getId().isEmpty()) {
      return Errors.invalid("a transactional request needs its transaction in the header");
    }
    if (anchored && txn.getMeta().getAnchorKey().isEmpty()) {
      return Errors.invalid("a transaction that writes needs an anchor key");
    }
    return null;
  }

  /** Why {@code meta}'s anchor key is not a valid key of {@code range}, or null. */
  static KvResponse anchorHere(TxnMeta meta, RangeDescriptor range) {
    byte[] anchor = meta.getAnchorKey().toByteArray();
    String why = KeySpace.invalidUserKey(anchor);
    if (why != null) {
      return Errors.invalid("the anchor key: " + why);
    }
    return KeySpace.contains(range, anchor) ? null : Errors.keyNotInRange(anchor, range);
  }

  static List<ByteString> concat(List<ByteString> a, List<ByteString> b) {
    List<ByteString> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static ByteString keyOf(Mutation m) {
    return m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey();
  }

  /** A transaction's writes to this range; see {@link TxnWriteRequest}. */
  static final class TxnWrite implements Command {
    @Override
    public String method() {
      return "txn_write";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      KvResponse bad = needTxn(request, true);
      if (bad != null) {
        return bad;
      }
      TxnWriteRequest w = request.getTxnWrite();
      if (w.getMutationsCount() == 0 && !w.getStage()) {
        return Errors.invalid("a transaction's write needs at least one mutation");
      }
      if (w.getStage() && w.getOnePhase()) {
        return Errors.invalid("a one-phase commit is not staged");
      }
      if (!w.getStage() && (w.getInFlightWritesCount() > 0 || w.getLockKeysCount() > 0)) {
        return Errors.invalid("only a staging write names in-flight writes and lock keys");
      }
      for (ByteString k : concat(w.getInFlightWritesList(), w.getLockKeysList())) {
        String why = KeySpace.invalidUserKey(k.toByteArray());
        if (why != null) {
          return Errors.invalid(why);
        }
      }
      List<byte[]> keys = new ArrayList<>();
      for (Mutation m : w.getMutationsList()) {
        if (m.getOpCase() != Mutation.OpCase.PUT && m.getOpCase() != Mutation.OpCase.DELETE) {
          return Errors.invalid("a mutation must be a put or a delete");
        }
        keys.add(keyOf(m).toByteArray());
      }
      bad = Commands.checkKeys(keys, range, true);
      if (bad == null && (w.getOnePhase() || w.getAnchor() || w.getStage())) {
        bad = anchorHere(request.getHeader().getTxn().getMeta(), range);
      }
      return bad;
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      List<ByteString> keys = new ArrayList<>();
      request.getTxnWrite().getMutationsList().forEach(m -> keys.add(keyOf(m)));
      return Commands.writeLatches(keys, recordLatch(request.getHeader().getTxn().getMeta()));
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      // A transaction that read nothing begins here.
      Transaction txn = Txns.begun(request.getHeader().getTxn(), ctx);
      TxnMeta meta = txn.getMeta();
      TxnWriteRequest w = request.getTxnWrite();
      boolean anchor = w.getAnchor() || w.getOnePhase() || w.getStage();
      TxnRecord record = anchor ? Txns.record(state, meta) : null;
      if (record != null && record.getStatus() == TxnStatus.TXN_ABORTED) {
        return Errors.txnAborted("the transaction was aborted by a conflicting one");
      }
      if (record != null && record.getStatus() == TxnStatus.TXN_COMMITTED) {
        return Errors.invalid("the transaction has already committed");
      }
      if (record != null && record.getStatus() == TxnStatus.TXN_STAGING && !w.getStage()) {
        return Errors.invalid("the transaction is staging its commit");
      }
      Timestamp readTs = Txns.ts(txn.getReadTimestamp());
      Timestamp ts = Txns.ts(meta.getWriteTimestamp());
      List<ByteString> ownIntents = new ArrayList<>();
      if (record != null) {
        ts = Txns.max(ts, Txns.ts(record.getMeta().getWriteTimestamp())); // pushed by a reader
      }
      for (Mutation m : w.getMutationsList()) {
        ByteString key = keyOf(m);
        MvccStore.KeyRead kr =
            MvccStore.readKey(state, key.toByteArray(), Timestamp.MAX, Timestamp.MAX);
        if (kr.intent() != null) {
          Intent held = Txns.parseIntent(kr.intent());
          if (!Txns.sameTxn(held.getTxn(), meta)) {
            return Errors.writeIntent(key, held.getTxn());
          }
          ownIntents.add(key); // its lock, or an earlier attempt's intent: replaced
        }
        if (kr.newest() != null) {
          if (txn.getIsolation() == Isolation.ISOLATION_SNAPSHOT
              && !w.getBlind()
              && kr.newest().isAfter(readTs)) {
            // Snapshot isolation: the first committer wins a write-write conflict.
            return Errors.txnRetry(
                "write-write conflict: another transaction wrote a key after this one read", null);
          }
          if (kr.newest().compareTo(ts) >= 0) {
            ts = kr.newest().next(); // write too old: above the newest version
          }
        }
        if (ctx.rules().writesGoAboveReads()) {
          ts = Txns.aboveReads(ctx.tscache(), key, ts, meta.getId());
        }
      }
      io.basalt.api.Timestamp at = ts.toProto();
      Transaction out = txn.toBuilder().setMeta(meta.toBuilder().setWriteTimestamp(at)).build();
      TxnWriteResponse.Builder answer = TxnWriteResponse.newBuilder();
      // Whether its reads hold at ts as they are: at the read timestamp, or for a transaction
      // that need not refresh them (snapshot isolation, or no reads).
      boolean readsHold =
          w.getBlind()
              || txn.getIsolation() != Isolation.ISOLATION_SERIALIZABLE
              || !ts.isAfter(readTs)
              || !ctx.rules().serializableCommitsAtReadTimestamp();
      if (w.getOnePhase()) {
        if (!readsHold) {
          // Its reads must be refreshed to ts first; nothing is written.
          return Txns.withTxn(KvResponse.newBuilder().setTxnWrite(answer), out);
        }
        into.addAllClearedIntents(ownIntents);
        if (record != null || !ownIntents.isEmpty()) {
          // It held locks, so it may have heartbeated a record, or have one on its way: it ends
          // committed (a late heartbeat then finds it so), not pending.
          TxnRecord.Builder committed =
              record != null ? record.toBuilder() : TxnRecord.newBuilder();
          Txns.writeRecord(
              into,
              committed
                  .setMeta(out.getMeta())
                  .setStatus(TxnStatus.TXN_COMMITTED)
                  .setLastHeartbeat(ctx.now().toProto())
                  .build());
        }
        for (Mutation m : w.getMutationsList()) {
          ReplicatedWrite.Builder v =
              ReplicatedWrite.newBuilder().setKey(keyOf(m)).setTimestamp(at);
          if (m.hasPut()) {
            v.setValue(m.getPut().getValue());
          } else {
            v.setTombstone(true);
          }
          into.addWrites(v);
        }
        answer.setCommitted(true);
        return Txns.withTxn(KvResponse.newBuilder().setTxnWrite(answer), out);
      }
      TxnMeta intentMeta = out.getMeta();
      for (Mutation m : w.getMutationsList()) {
        Intent.Builder intent = Intent.newBuilder().setTxn(intentMeta);
        if (m.hasPut()) {
          intent.setValue(m.getPut().getValue());
        } else {
          intent.setTombstone(true);
        }
        into.addIntents(WriteIntent.newBuilder().setKey(keyOf(m)).setIntent(intent));
      }
      if (w.getStage()) {
        // Staged (the commit is then decided by the in-flight writes) unless a serializable
        // transaction moved above its reads, which must be refreshed to ts first.
        boolean staged = readsHold;
        TxnRecord.Builder b =
            TxnRecord.newBuilder()
                .setMeta(intentMeta)
                .setStatus(staged ? TxnStatus.TXN_STAGING : TxnStatus.TXN_PENDING)
                .setLastHeartbeat(ctx.now().toProto())
                .addAllLockKeys(w.getLockKeysList());
        if (staged) {
          b.addAllInFlightWrites(w.getInFlightWritesList());
        }
        Txns.writeRecord(into, b.build());
        answer.setStaged(staged);
      } else if (w.getAnchor()) {
        Txns.writeRecord(
            into,
            TxnRecord.newBuilder()
                .setMeta(intentMeta)
                .setStatus(TxnStatus.TXN_PENDING)
                .setLastHeartbeat(ctx.now().toProto())
                .build());
      }
      return Txns.withTxn(KvResponse.newBuilder().setTxnWrite(answer), out);
    }
  }

  /**
   * A transaction's locking read: the key's newest value, and a lock (an intent without a value)
   * that keeps other transactions' writes off it until this one ends. A newer version than the read
   * timestamp is not read around: the answer asks the transaction to move up to it first.
   */
  static KvResponse lockingGet(
      KvRequest request, Reader state, Context ctx, RaftCommand.Builder into) {
    Transaction txn = Txns.begun(request.getHeader().getTxn(), ctx);
    TxnMeta meta = txn.getMeta();
    ByteString key = request.getGet().getKey();
    MvccStore.KeyRead kr =
        MvccStore.readKey(state, key.toByteArray(), Timestamp.MAX, Timestamp.MAX);
    Intent own = null;
    if (kr.intent() != null) {
      Intent held = Txns.parseIntent(kr.intent());
      if (!Txns.sameTxn(held.getTxn(), meta)) {
        return Txns.withTxn(Errors.writeIntent(key, held.getTxn()), txn);
      }
      own = held;
    }
    Timestamp readTs = Txns.ts(txn.getReadTimestamp());
    if (kr.newest() != null && kr.newest().isAfter(readTs)) {
      return Txns.withTxn(
          Errors.txnRetry("the key was written after the read timestamp", kr.newest().toProto()),
          txn);
    }
    ctx.tscache().add(key, readTs, meta.getId());
    GetResponse.Builder g = GetResponse.newBuilder();
    if (own != null && !own.getLockOnly()) {
      if (!own.getTombstone()) {
        g.setFound(true)
            .setKv(
                KeyValue.newBuilder()
                    .setKey(key)
                    .setValue(own.getValue())
                    .setVersion(own.getTxn().getWriteTimestamp()));
      }
    } else {
      kr.version()
          .filter(v -> !v.isTombstone())
          .ifPresent(v ->
              g.setFound(true)
                  .setKv(
                      KeyValue.newBuilder()
                          .setKey(key)
                          .setValue(ByteString.copyFrom(v.value()))
                          .setVersion(v.timestamp().toProto())));
      if (own == null) {
        into.addIntents(
            WriteIntent.newBuilder()
                .setKey(key)
                .setIntent(Intent.newBuilder().setTxn(meta).setLockOnly(true)));
      }
    }
    return Txns.withTxn(KvResponse.newBuilder().setGet(g), txn);
  }

  /** Commits or aborts a transaction at its anchor; see {@link EndTxnRequest}. */
  static final class EndTxn implements Command {
    @Override
    public String method() {
      return "end_txn";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      KvResponse bad = needTxn(request, true);
      if (bad != null) {
        return bad;
      }
      for (ByteString k : request.getEndTxn().getLockKeysList()) {
        String why = KeySpace.invalidUserKey(k.toByteArray());
        if (why != null) {
          return Errors.invalid(why);
        }
      }
      return anchorHere(request.getHeader().getTxn().getMeta(), range);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return Commands.writeLatches(
          request.getEndTxn().getLockKeysList(),
          recordLatch(request.getHeader().getTxn().getMeta()));
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      Transaction txn = request.getHeader().getTxn();
      TxnMeta meta = txn.getMeta();
      EndTxnRequest end = request.getEndTxn();
      TxnRecord record = Txns.record(state, meta);
      TxnStatus status = record == null ? TxnStatus.TXN_PENDING : record.getStatus();
      // A rollback of a transaction a pusher aborted goes on: the push left its intents.
      if (status == TxnStatus.TXN_ABORTED && end.getCommit()) {
        return Errors.txnAborted("the transaction was aborted by a conflicting one");
      }
      if (status == TxnStatus.TXN_COMMITTED) {
        return end.getCommit()
            ? ended(TxnStatus.TXN_COMMITTED, record.getMeta().getWriteTimestamp(), txn)
            : Errors.invalid("the transaction has already committed");
      }
      Timestamp commitTs = Txns.ts(meta.getWriteTimestamp());
      if (end.getCommit()) {
        if (record != null && Txns.ts(record.getMeta().getWriteTimestamp()).isAfter(commitTs)) {
          return Errors.txnRetry(
              "a reader pushed the transaction's timestamp", record.getMeta().getWriteTimestamp());
        }
        if (txn.getIsolation() == Isolation.ISOLATION_SERIALIZABLE
            && commitTs.isAfter(Txns.ts(txn.getReadTimestamp()))
            && ctx.rules().serializableCommitsAtReadTimestamp()) {
          return Errors.txnRetry(
              "a serializable transaction commits only at its read timestamp (refresh first)",
              meta.getWriteTimestamp());
        }
      }
      TxnStatus finalStatus = end.getCommit() ? TxnStatus.TXN_COMMITTED : TxnStatus.TXN_ABORTED;
      Txns.writeRecord(
          into,
          TxnRecord.newBuilder()
              .setMeta(meta)
              .setStatus(finalStatus)
              .setLastHeartbeat(ctx.now().toProto())
              .addAllLockKeys(end.getLockKeysList())
              .build());
      Resolve.resolveInRange(state, into, range, end.getLockKeysList(), meta, finalStatus);
      return ended(finalStatus, meta.getWriteTimestamp(), txn);
    }

    private static KvResponse ended(
        TxnStatus status, io.basalt.api.Timestamp commitTs, Transaction txn) {
      return Txns.withTxn(
          KvResponse.newBuilder()
              .setEndTxn(
                  EndTxnResponse.newBuilder().setStatus(status).setCommitTimestamp(commitTs)),
          txn);
    }
  }

  /** Keeps a record alive; see {@code HeartbeatTxnRequest}. */
  static final class Heartbeat implements Command {
    @Override
    public String method() {
      return "heartbeat_txn";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      KvResponse bad = needTxn(request, true);
      return bad != null ? bad : anchorHere(request.getHeader().getTxn().getMeta(), range);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return List.of(Span.point(recordLatch(request.getHeader().getTxn().getMeta()), Mode.WRITE));
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      TxnMeta meta = request.getHeader().getTxn().getMeta();
      TxnRecord record = Txns.record(state, meta);
      TxnStatus status = record == null ? TxnStatus.TXN_PENDING : record.getStatus();
      if (status == TxnStatus.TXN_PENDING || status == TxnStatus.TXN_STAGING) {
        TxnRecord.Builder b =
            record == null
                ? TxnRecord.newBuilder().setMeta(meta).setStatus(TxnStatus.TXN_PENDING)
                : record.toBuilder();
        Txns.writeRecord(into, b.setLastHeartbeat(ctx.now().toProto()).build());
      }
      return KvResponse.newBuilder()
          .setHeartbeatTxn(HeartbeatTxnResponse.newBuilder().setStatus(status))
          .build();
    }
  }

  /** Pushes a conflicting transaction; see {@link PushTxnRequest}. */
  static final class Push implements Command {
    @Override
    public String method() {
      return "push_txn";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      TxnMeta pushee = request.getPushTxn().getPushee();
      if (pushee.getId().isEmpty() || pushee.getAnchorKey().isEmpty()) {
        return Errors.invalid("a push names its pushee's id and anchor key");
      }
      return anchorHere(pushee, range);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return List.of(Span.point(recordLatch(request.getPushTxn().getPushee()), Mode.WRITE));
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      PushTxnRequest push = request.getPushTxn();
      TxnMeta pushee = push.getPushee();
      TxnRecord record = Txns.record(state, pushee);
      if (record != null
          && (record.getStatus() == TxnStatus.TXN_COMMITTED
              || record.getStatus() == TxnStatus.TXN_ABORTED)) {
        return pushed(false, record);
      }
      if (record != null && record.getStatus() == TxnStatus.TXN_STAGING) {
        // It may have committed already (every in-flight write in place): it is neither pushed
        // nor aborted here. An abandoned one is recovered; a live one is waited for, whatever the
        // pusher's priority (recovering a live one could abort it while a late write, after a
        // leader change, still lands at its staging timestamp and its coordinator reports it).
        return KvResponse.newBuilder()
            .setPushTxn(
                PushTxnResponse.newBuilder()
                    .setPushee(record)
                    .setNeedsRecovery(Txns.expired(Txns.ts(record.getLastHeartbeat()), ctx)))
            .build();
      }
      TxnRecord current =
          record != null
              ? record
              : TxnRecord.newBuilder()
                  .setMeta(pushee)
                  .setStatus(TxnStatus.TXN_PENDING)
                  .setLastHeartbeat(pushee.getMinTimestamp())
                  .build();
      boolean abort =
          Txns.expired(Txns.ts(current.getLastHeartbeat()), ctx)
              || (push.getType() == PushType.PUSH_ABORT && outranks(request, push, pushee));
      if (abort) {
        TxnRecord aborted = current.toBuilder().setStatus(TxnStatus.TXN_ABORTED).build();
        Txns.writeRecord(into, aborted);
        return pushed(true, aborted);
      }
      if (push.getType() == PushType.PUSH_TIMESTAMP) {
        Timestamp to = Txns.ts(push.getPushTo());
        if (to.isAfter(Txns.ts(current.getMeta().getWriteTimestamp()))) {
          current =
              current.toBuilder()
                  .setMeta(current.getMeta().toBuilder().setWriteTimestamp(push.getPushTo()))
                  .build();
          Txns.writeRecord(into, current);
        }
        return pushed(true, current);
      }
      return pushed(false, current);
    }

    /** Whether the pusher wins: a higher priority, or an equal one and a lower id. */
    private static boolean outranks(KvRequest request, PushTxnRequest push, TxnMeta pushee) {
      if (push.getPusherPriority() != pushee.getPriority()) {
        return push.getPusherPriority() > pushee.getPriority();
      }
      ByteString pusherId = request.getHeader().getTxn().getMeta().getId();
      return !pusherId.isEmpty()
          && ByteString.unsignedLexicographicalComparator().compare(pusherId, pushee.getId()) < 0;
    }

    private static KvResponse pushed(boolean pushed, TxnRecord record) {
      return KvResponse.newBuilder()
          .setPushTxn(PushTxnResponse.newBuilder().setPushed(pushed).setPushee(record))
          .build();
    }
  }

  /** Resolves a transaction's intents on keys of this range; see {@link ResolveIntentRequest}. */
  static final class Resolve implements Command {
    @Override
    public String method() {
      return "resolve_intent";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      ResolveIntentRequest r = request.getResolveIntent();
      if (r.getKeysCount() == 0 || r.getTxn().getId().isEmpty()) {
        return Errors.invalid("a resolution names its transaction and at least one key");
      }
      List<byte[]> keys = new ArrayList<>();
      r.getKeysList().forEach(k -> keys.add(k.toByteArray()));
      return Commands.checkKeys(keys, range, true);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return Commands.writeLatches(request.getResolveIntent().getKeysList(), null);
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      ResolveIntentRequest r = request.getResolveIntent();
      int resolved = 0;
      for (ByteString key : new LinkedHashSet<>(r.getKeysList())) {
        if (resolveKey(state, into, key, r.getTxn(), r.getStatus(), r.getCommitTimestamp())) {
          resolved++;
        }
      }
      return KvResponse.newBuilder()
          .setResolveIntent(ResolveIntentResponse.newBuilder().setResolved(resolved))
          .build();
    }

    /**
     * Stages the resolution, as {@code status} at {@code txn}'s write timestamp, of its intents on
     * those of {@code keys} that lie in {@code range} (an ended record's keys at its anchor).
     */
    static void resolveInRange(
        Reader state,
        RaftCommand.Builder into,
        RangeDescriptor range,
        List<ByteString> keys,
        TxnMeta txn,
        TxnStatus status) {
      for (ByteString key : new LinkedHashSet<>(keys)) {
        if (KeySpace.contains(range, key.toByteArray())) {
          resolveKey(state, into, key, txn, status, txn.getWriteTimestamp());
        }
      }
    }

    /**
     * Stages the resolution of {@code txn}'s intent on {@code key}, if it has one there: committed,
     * a version at {@code ts}; aborted, removed; pending, moved up to {@code ts}. Returns whether
     * there was one.
     */
    static boolean resolveKey(
        Reader state,
        RaftCommand.Builder into,
        ByteString key,
        TxnMeta txn,
        TxnStatus status,
        io.basalt.api.Timestamp ts) {
      byte[] stored = MvccStore.getIntent(state, key.toByteArray());
      if (stored == null) {
        return false;
      }
      Intent intent = Txns.parseIntent(stored);
      if (!Txns.sameTxn(intent.getTxn(), txn)) {
        return false;
      }
      switch (status) {
        // Never beneath the intent: it was written above every read of its key.
        case TXN_COMMITTED ->
            Txns.commitIntent(
                into,
                key,
                intent,
                Txns.max(Txns.ts(ts), Txns.ts(intent.getTxn().getWriteTimestamp())).toProto());
        case TXN_ABORTED -> into.addClearedIntents(key);
        default -> {
          if (Txns.ts(ts).isAfter(Txns.ts(intent.getTxn().getWriteTimestamp()))) {
            Intent moved =
                intent.toBuilder()
                    .setTxn(intent.getTxn().toBuilder().setWriteTimestamp(ts))
                    .build();
            into.addIntents(WriteIntent.newBuilder().setKey(key).setIntent(moved));
          }
        }
      }
      return true;
    }
  }

  /** Refreshes a transaction's read of a span to a later timestamp; see {@link RefreshRequest}. */
  static final class Refresh implements Command {
    @Override
    public String method() {
      return "refresh";
    }

    @Override
    public boolean isWrite() {
      return false;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      KvResponse bad = needTxn(request, false);
      if (bad != null) {
        return bad;
      }
      RefreshRequest r = request.getRefresh();
      if (Txns.ts(r.getFrom()).isAfter(Txns.ts(r.getTo()))) {
        return Errors.invalid("a refresh's from must not be above its to");
      }
      if (r.getToEnd()) {
        if (!r.getEndKey().isEmpty()) {
          return Errors.invalid("a refresh to the end of the key space names no end key");
        }
        return Commands.checkSpan(r.getStartKey(), ByteString.EMPTY, range, false);
      }
      return Commands.checkSpan(r.getStartKey(), r.getEndKey(), range, true);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      RefreshRequest r = request.getRefresh();
      if (r.getToEnd()) {
        return List.of(new Span(r.getStartKey(), Commands.UNBOUNDED_END, Mode.READ));
      }
      return r.getEndKey().isEmpty()
          ? List.of(Span.point(r.getStartKey(), Mode.READ))
          : List.of(new Span(r.getStartKey(), r.getEndKey(), Mode.READ));
    }

    @Override
    public KvResponse read(KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
      RefreshRequest r = request.getRefresh();
      TxnMeta self = request.getHeader().getTxn().getMeta();
      Timestamp from = Txns.ts(r.getFrom());
      Timestamp to = Txns.ts(r.getTo());
      byte[] start = r.getStartKey().toByteArray();
      byte[] end =
          r.getToEnd()
              ? new byte[0] // the end of the key space
              : r.getEndKey().isEmpty()
                  ? Arrays.copyOf(start, start.length + 1) // the key's successor
                  : r.getEndKey().toByteArray();
      List<MvccStore.KeyIntent> intents = new ArrayList<>();
      byte[] written = MvccStore.firstWriteIn(state, start, end, from, to, intents);
      if (written != null) {
        return Errors.txnRetry("refresh failed: a key read was written since", null);
      }
      for (MvccStore.KeyIntent i : intents) {
        Intent intent = Txns.parseIntent(i.intent());
        if (!intent.getLockOnly()
            && !Txns.sameTxn(intent.getTxn(), self)
            && Txns.ts(intent.getTxn().getWriteTimestamp()).atOrBefore(to)) {
          return Errors.txnRetry("refresh failed: a key read holds another's intent", null);
        }
      }
      if (r.getToEnd()) {
        ctx.tscache().add(r.getStartKey(), Commands.UNBOUNDED_END, to, self.getId());
      } else if (r.getEndKey().isEmpty()) {
        ctx.tscache().add(r.getStartKey(), to, self.getId());
      } else {
        ctx.tscache().add(r.getStartKey(), r.getEndKey(), to, self.getId());
      }
      return KvResponse.newBuilder().setRefresh(RefreshResponse.getDefaultInstance()).build();
    }
  }
}
