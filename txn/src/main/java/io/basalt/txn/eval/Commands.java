package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.ConditionalPutResponse;
import io.basalt.api.DeleteResponse;
import io.basalt.api.Errors;
import io.basalt.api.GetResponse;
import io.basalt.api.Intent;
import io.basalt.api.KeySpace;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.Transaction;
import io.basalt.api.WriteBatchResponse;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import io.basalt.txn.tscache.TimestampCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The command table: for each kind of KV request, how it is checked against the range it is sent
 * to, which spans it latches (a write holds latches on its keys from its evaluation until its entry
 * is applied and written), and how it is evaluated. A write is evaluated once, by the leader,
 * against the applied state, into replicated writes and the answer recorded with them (the node
 * puts both in a Raft command); a read is served from the applied state after ReadIndex. Each
 * evaluator is a pure function of (the applied state, the request, a timestamp): it reads and never
 * writes, so it is tested without a cluster. The node's store knows no operation by name: a new one
 * is a new entry here.
 */
public final class Commands {
  private Commands() {}

  /**
   * What evaluation needs from the leader besides the applied state: its clock reading, the maximum
   * clock offset (a transaction's uncertainty interval), how long a transaction may go unheard of
   * before a conflicting one may abort it, and its timestamp cache (every read is recorded there;
   * every write goes above it).
   */
  public record Context(
      Timestamp now,
      long maxOffsetNanos,
      long txnExpiryNanos,
      TimestampCache tscache,
      EvalRules rules) {
    /** A leader's context, with the right rules. */
    public Context(
        Timestamp now, long maxOffsetNanos, long txnExpiryNanos, TimestampCache tscache) {
      this(now, maxOffsetNanos, txnExpiryNanos, tscache, EvalRules.CORRECT);
    }
  }

  /** One kind of request. */
  interface Command {
    /** Its name in metrics. */
    String method();

    /** Whether it writes (goes through the log) rather than reads. */
    boolean isWrite();

    /** Whether this request of its kind writes (a locking read does; a plain read does not). */
    default boolean isWrite(KvRequest request) {
      return isWrite();
    }

    /**
     * Why {@code request} cannot be served by the range {@code range} (a malformed request, a key
     * outside the range, a write to the meta range), as the error to answer; null if it can.
     */
    KvResponse validate(KvRequest request, RangeDescriptor range);

    /** The spans it latches: a write, the keys it writes; a read, what it reads. */
    List<Span> latchSpans(KvRequest request);

    /**
     * Evaluates a write against the applied state {@code state} of {@code range}: adds what it
     * writes to {@code into} and returns its answer. An error answer writes nothing.
     */
    default KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      throw new IllegalStateException("not a write: " + request.getRequestCase());
    }

    /** Serves a read from the applied state {@code state} of {@code range}. */
    default KvResponse read(KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
      throw new IllegalStateException("not a read: " + request.getRequestCase());
    }
  }

  /** An end above every valid user key (which is at most {@link KeySpace#MAX_KEY_BYTES} long). */
  static final ByteString UNBOUNDED_END = unboundedEnd();

  /** {@code end}, or if it is empty (the end of the keyspace) a key above every valid user key. */
  public static ByteString endOrUnbounded(ByteString end) {
    return end.isEmpty() ? UNBOUNDED_END : end;
  }

  private static ByteString unboundedEnd() {
    byte[] end = new byte[KeySpace.MAX_KEY_BYTES + 1];
    Arrays.fill(end, (byte) 0xFF);
    return ByteString.copyFrom(end);
  }

  private static final Map<KvRequest.RequestCase, Command> TABLE =
      new EnumMap<>(KvRequest.RequestCase.class);

  static {
    TABLE.put(KvRequest.RequestCase.GET, new Get());
    TABLE.put(KvRequest.RequestCase.SCAN, new Scan());
    TABLE.put(KvRequest.RequestCase.PUT, new Put());
    TABLE.put(KvRequest.RequestCase.DELETE, new Delete());
    TABLE.put(KvRequest.RequestCase.CONDITIONAL_PUT, new ConditionalPut());
    TABLE.put(KvRequest.RequestCase.WRITE_BATCH, new Batch());
    TABLE.put(KvRequest.RequestCase.TXN_WRITE, new TxnCommands.TxnWrite());
    TABLE.put(KvRequest.RequestCase.END_TXN, new TxnCommands.EndTxn());
    TABLE.put(KvRequest.RequestCase.HEARTBEAT_TXN, new TxnCommands.Heartbeat());
    TABLE.put(KvRequest.RequestCase.PUSH_TXN, new TxnCommands.Push());
    TABLE.put(KvRequest.RequestCase.RESOLVE_INTENT, new TxnCommands.Resolve());
    TABLE.put(KvRequest.RequestCase.REFRESH, new TxnCommands.Refresh());
    TABLE.put(KvRequest.RequestCase.QUERY_INTENT, new Recovery.QueryIntent());
    TABLE.put(KvRequest.RequestCase.RECOVER_TXN, new Recovery.RecoverTxn());
    TABLE.put(KvRequest.RequestCase.UPDATE_RANGE_DIRECTORY, new Directory());
    TABLE.put(KvRequest.RequestCase.ALLOCATE_RANGE_ID, new RangeIds());
    TABLE.put(KvRequest.RequestCase.DECOMMISSION_NODE, new Decommission());
  }

  private static Command of(KvRequest request) {
    return TABLE.get(request.getRequestCase());
  }

  /** The metrics name of {@code request}'s operation ("other" for none). */
  public static String method(KvRequest request) {
    Command c = of(request);
    return c == null ? "other" : c.method();
  }

  /** Whether {@code request} is a write. */
  public static boolean isWrite(KvRequest request) {
    Command c = of(request);
    return c != null && c.isWrite(request);
  }

  /**
   * Whether a read of {@code request}'s kind takes read latches (and is served once the writes
   * evaluated before it are applied): a transaction's reads and intent queries record timestamps
   * that no write evaluated earlier may land beneath; a plain read records none.
   */
  public static boolean latchesRead(KvRequest request) {
    return request.getHeader().hasTxn()
        || request.getRequestCase() == KvRequest.RequestCase.QUERY_INTENT;
  }

  /**
   * The highest wall time {@code command} writes at (its versions, intents and records), or 0. A
   * leader answers a write only once its physical clock has passed it (commit wait): a write
   * evaluated above every clock (after an election, above the new leader's low-water mark) is then
   * seen by every transaction that begins after the answer, below its read timestamp or within its
   * uncertainty interval.
   */
  public static long writtenUpTo(RaftCommand command) {
    long max = 0;
    for (var w : command.getWritesList()) {
      max = Math.max(max, w.getTimestamp().getWallNanos());
    }
    for (var i : command.getIntentsList()) {
      max = Math.max(max, i.getIntent().getTxn().getWriteTimestamp().getWallNanos());
    }
    for (var r : command.getTxnRecordsList()) {
      max = Math.max(max, r.getRecord().getMeta().getWriteTimestamp().getWallNanos());
    }
    return max;
  }

  /**
   * {@code request} with its transaction begun at {@code now} if it had not begun (its first
   * request: it reads at the leader's clock, with an uncertainty interval of {@code
   * maxOffsetNanos}); otherwise {@code request} itself. A leader begins a transaction when the
   * request arrives, so that the timestamp it will read at is known before it waits for its clock
   * ({@link #readsRecordedUpTo}).
   */
  public static KvRequest begin(KvRequest request, Timestamp now, long maxOffsetNanos) {
    if (!request.getHeader().hasTxn()
        || request.getHeader().getTxn().getReadTimestamp().getWallNanos() != 0) {
      return request;
    }
    KvRequest.Builder b = request.toBuilder();
    b.getHeaderBuilder().setTxn(Txns.begun(request.getHeader().getTxn(), now, maxOffsetNanos));
    return b.build();
  }

  /**
   * The wall time up to which serving {@code request} records reads in the leader's timestamp
   * cache, or 0 when it records none: a transaction's reads (at its read timestamp; a locking read
   * too), a refresh (at the timestamp it refreshes to), an intent query that prevents (at the
   * queried transaction's timestamp). A leader serves such a request only once its physical clock
   * has reached that time, so that a new leader knows a bound on every read its predecessors
   * recorded (DESIGN.md, the timestamp cache after a leader change).
   */
  public static long readsRecordedUpTo(KvRequest request) {
    if (request.getHeader().hasTxn()
        && request.getHeader().getTxn().getReadTimestamp().getWallNanos() == 0) {
      throw new IllegalArgumentException("the transaction has not begun: see begin");
    }
    return switch (request.getRequestCase()) {
      case GET, SCAN ->
          request.getHeader().hasTxn()
              ? request.getHeader().getTxn().getReadTimestamp().getWallNanos()
              : 0;
      case REFRESH -> request.getRefresh().getTo().getWallNanos();
      case QUERY_INTENT ->
          request.getQueryIntent().getPrevent()
              ? request.getQueryIntent().getTxn().getWriteTimestamp().getWallNanos()
              : 0;
      default -> 0;
    };
  }

  /**
   * Why {@code request} cannot be served by {@code range}, or null; a request that names no
   * operation, or one a store does not serve, is invalid.
   */
  public static KvResponse validate(KvRequest request, RangeDescriptor range) {
    Command c = of(request);
    if (c != null) {
      String bad = Txns.badTimestamp(request);
      return bad != null ? Errors.invalid(bad) : c.validate(request, range);
    }
    return request.getRequestCase() == KvRequest.RequestCase.REQUEST_NOT_SET
        ? Errors.invalid("the request names no operation")
        : Errors.invalid("not a KV operation: " + request.getRequestCase());
  }

  /**
   * The spans a valid request latches: a write, each key it writes (in write mode); a read, the key
   * or span it reads (in read mode).
   */
  public static List<Span> latchSpans(KvRequest request) {
    return of(request).latchSpans(request);
  }

  /**
   * Evaluates a valid write against the applied state {@code state} of {@code range}: stages what
   * it writes (versions, intents, intents cleared, transaction records) in {@code into}, and
   * returns its answer. An error answer stages nothing.
   *
   * @throws IllegalStateException if {@code request} is not a write
   */
  public static KvResponse evaluate(
      KvRequest request,
      Reader state,
      RangeDescriptor range,
      Context ctx,
      RaftCommand.Builder into) {
    Command c = of(request);
    if (!c.isWrite(request)) {
      // A plain get has an evaluator (for its locking form) but is no write.
      throw new IllegalStateException("not a write: " + request.getRequestCase());
    }
    KvResponse tooOld = Gc.belowThreshold(request, state, range);
    return tooOld != null ? tooOld : c.evaluate(request, state, range, ctx, into);
  }

  /**
   * Serves a valid read from the applied state {@code state} of {@code range}, recording what it
   * read in the context's timestamp cache.
   *
   * @throws IllegalStateException if {@code request} is not a read
   */
  public static KvResponse read(
      KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
    KvResponse tooOld = Gc.belowThreshold(request, state, range);
    return tooOld != null ? tooOld : of(request).read(request, state, range, ctx);
  }

  /** The most versions one garbage collection removes (the next one goes on). */
  static final int GC_MAX_VERSIONS = 10_000;

  /**
   * Stages a garbage collection of {@code range} at {@code threshold} (its leader's clock minus the
   * TTL) into {@code into}: old versions no read at or above the threshold can see, finished
   * transaction records nothing needs any more, and the raised threshold, below which transactional
   * requests are refused from then on. Returns false, staging nothing, when there is nothing to
   * collect.
   */
  public static boolean collectGarbage(
      Reader state, RangeDescriptor range, Timestamp threshold, RaftCommand.Builder into) {
    return Gc.collect(state, range, threshold, GC_MAX_VERSIONS, into);
  }

  /**
   * Requests that abort this range's abandoned transaction records: PENDING and not heartbeated
   * since {@code heartbeatBefore} (at most {@code max}); a leader submits them as it would a
   * client's. See {@code Gc.abandonedRecordAborts}.
   */
  public static List<KvRequest> abandonedRecordAborts(
      Reader state, RangeDescriptor range, Timestamp heartbeatBefore, int max) {
    return Gc.abandonedRecordAborts(state, range, heartbeatBefore, max);
  }

  /** Refuses a request of the meta range's own ({@code what}) sent to another range. */
  static KvResponse onlyInMeta(RangeDescriptor range, String what) {
    return range.getRangeId() == KeySpace.META_RANGE_ID
        ? null
        : Errors.invalid(what + " is the meta range's, not range " + range.getRangeId() + "'s");
  }

  /**
   * Checks point keys: the meta range takes reads only (the system writes it through its own path),
   * a user key must be valid, and every key must lie in the range.
   */
  static KvResponse checkKeys(List<byte[]> keys, RangeDescriptor range, boolean write) {
    boolean meta = range.getRangeId() == KeySpace.META_RANGE_ID;
    if (meta && write) {
      return Errors.invalid("the meta range is written by the system only");
    }
    for (byte[] key : keys) {
      String why = meta ? null : KeySpace.invalidUserKey(key);
      if (why != null) {
        return Errors.invalid(why);
      }
      if (!KeySpace.contains(range, key)) {
        return Errors.keyNotInRange(key, range);
      }
    }
    return null;
  }

  /**
   * Checks a span {@code [start, end)} (with {@code pointIfEmpty}, an empty end names the point
   * {@code start}; otherwise it is the end of the keyspace): keys within the key limit, start below
   * end, and the whole span in the range (a client routes by its cached descriptor, and a range
   * that shrank must say so rather than serve less).
   */
  static KvResponse checkSpan(
      ByteString startKey, ByteString endKey, RangeDescriptor range, boolean pointIfEmpty) {
    byte[] start = startKey.toByteArray();
    byte[] end = endKey.toByteArray();
    if (start.length > KeySpace.MAX_KEY_BYTES || end.length > KeySpace.MAX_KEY_BYTES) {
      return Errors.invalid("span keys are at most " + KeySpace.MAX_KEY_BYTES + " bytes");
    }
    if (end.length > 0 && Arrays.compareUnsigned(start, end) >= 0) {
      return Errors.invalid("a span's start key must be below its end key");
    }
    if (pointIfEmpty && end.length == 0) {
      return KeySpace.contains(range, start) ? null : Errors.keyNotInRange(start, range);
    }
    byte[] rangeEnd = range.getEndKey().toByteArray();
    boolean endInside =
        rangeEnd.length == 0 || (end.length > 0 && Arrays.compareUnsigned(end, rangeEnd) <= 0);
    if (!KeySpace.contains(range, start) || !endInside) {
      return Errors.keyNotInRange(start, range);
    }
    return null;
  }

  /**
   * Write latches on each of {@code keys} once (in their order), and on {@code extra} too when it
   * is not null.
   */
  static List<Span> writeLatches(Iterable<ByteString> keys, ByteString extra) {
    Set<ByteString> distinct = new LinkedHashSet<>();
    keys.forEach(distinct::add);
    if (extra != null) {
      distinct.add(extra);
    }
    List<Span> spans = new ArrayList<>(distinct.size());
    distinct.forEach(k -> spans.add(Span.point(k, Mode.WRITE)));
    return spans;
  }

  /**
   * A plain write's look at its keys: the error that stops it ({@code conflict}), or the timestamp
   * it writes at ({@code ts}) and the live value of its first key ({@code current}, read in the
   * same seek, for the writes that look at it).
   */
  record PlainWrite(KvResponse conflict, io.basalt.api.Timestamp ts, Optional<Version> current) {}

  /**
   * Checks a plain (non-transactional) write of {@code keys}: one that names a transaction is
   * refused (a transaction writes through its own requests), and a key with an intent stops it (the
   * client resolves the intent first). Otherwise its timestamp is now, or above the newest version
   * of one of its keys, or above the latest recorded read of one, whichever is highest: versions of
   * a key are then ordered as their writes were applied, whatever the clock of the leader that
   * wrote each (a transaction may commit at a timestamp ahead of every clock, after a reader pushed
   * it), and no clock is moved by what is written.
   */
  static PlainWrite plainWrite(
      KvRequest request, Reader state, Context ctx, List<ByteString> keys) {
    if (request.getHeader().hasTxn()) {
      return new PlainWrite(
          Errors.invalid("a transaction writes through txn_write, not " + request.getRequestCase()),
          null,
          null);
    }
    Timestamp ts = ctx.now();
    Optional<Version> current = null;
    for (ByteString key : keys) {
      MvccStore.KeyRead kr =
          MvccStore.readKey(state, key.toByteArray(), Timestamp.MAX, Timestamp.MAX);
      if (kr.intent() != null) {
        return new PlainWrite(
            Errors.writeIntent(key, Txns.parseIntent(kr.intent()).getTxn()), null, null);
      }
      if (current == null) {
        current = kr.version().filter(v -> !v.isTombstone());
      }
      if (kr.newest() != null && kr.newest().compareTo(ts) >= 0) {
        ts = kr.newest().next();
      }
      if (ctx.rules().writesGoAboveReads()) {
        ts = Txns.aboveReads(ctx.tscache(), key, ts, ByteString.EMPTY);
      }
    }
    return new PlainWrite(null, ts.toProto(), current);
  }

  static ReplicatedWrite put(ByteString key, ByteString value, io.basalt.api.Timestamp ts) {
    return ReplicatedWrite.newBuilder().setKey(key).setValue(value).setTimestamp(ts).build();
  }

  static ReplicatedWrite tombstone(ByteString key, io.basalt.api.Timestamp ts) {
    return ReplicatedWrite.newBuilder().setKey(key).setTombstone(true).setTimestamp(ts).build();
  }

  /** A command on one key. */
  private abstract static class PointCommand implements Command {
    abstract ByteString key(KvRequest request);

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      return checkKeys(List.of(key(request).toByteArray()), range, isWrite(request));
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return List.of(Span.point(key(request), isWrite(request) ? Mode.WRITE : Mode.READ));
    }
  }

  private static final class Get extends PointCommand {
    @Override
    public String method() {
      return "get";
    }

    @Override
    public boolean isWrite() {
      return false;
    }

    @Override
    public boolean isWrite(KvRequest request) {
      return request.getGet().getForUpdate();
    }

    @Override
    ByteString key(KvRequest request) {
      return request.getGet().getKey();
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      if (request.getGet().getForUpdate()
          && (!request.getHeader().hasTxn()
              || request.getHeader().getTxn().getMeta().getId().isEmpty()
              || KeySpace.invalidUserKey(
                      request.getHeader().getTxn().getMeta().getAnchorKey().toByteArray())
                  != null)) {
        return Errors.invalid("only a transaction with an anchor key locks what it reads");
      }
      return super.validate(request, range);
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      return TxnCommands.lockingGet(request, state, ctx, into);
    }

    @Override
    public KvResponse read(KvRequest request, Reader state, RangeDescriptor range, Context ctx) {
      ByteString key = request.getGet().getKey();
      Transaction txn =
          request.getHeader().hasTxn() ? Txns.begun(request.getHeader().getTxn(), ctx) : null;
      Timestamp readTs = txn == null ? Timestamp.MAX : Txns.ts(txn.getReadTimestamp());
      Timestamp limit = txn == null ? Timestamp.MAX : Txns.uncertaintyLimit(txn);
      MvccStore.KeyRead kr = MvccStore.readKey(state, key.toByteArray(), readTs, limit);
      Optional<Version> v = kr.version();
      Intent intent =
          kr.intent() == null || !ctx.rules().readsMeetIntents()
              ? null
              : Txns.parseIntent(kr.intent());
      if (intent != null && !intent.getLockOnly()) {
        if (txn != null && Txns.sameTxn(intent.getTxn(), txn.getMeta())) {
          v =
              intent.getTombstone()
                  ? Optional.empty()
                  : Optional.of(
                      new Version(
                          key.toByteArray(),
                          Txns.ts(intent.getTxn().getWriteTimestamp()),
                          intent.getValue().toByteArray()));
        } else if (txn == null || Txns.ts(intent.getTxn().getWriteTimestamp()).atOrBefore(limit)) {
          return Txns.withTxn(Errors.writeIntent(key, intent.getTxn()), txn);
        }
      }
      if (kr.uncertain() != null && ctx.rules().readsCheckUncertainty()) {
        return Txns.withTxn(Errors.readUncertain(key, kr.uncertain().toProto()), txn);
      }
      v = v.filter(ver -> !ver.isTombstone());
      if (txn != null) {
        // (A plain read reads the newest value, linearizably, and records nothing: a write that
        // lands after it lands after it in real time too.)
        ctx.tscache().add(key, readTs, txn.getMeta().getId());
      }
      GetResponse.Builder g = GetResponse.newBuilder().setFound(v.isPresent());
      v.ifPresent(ver ->
          g.setKv(
              KeyValue.newBuilder()
                  .setKey(key)
                  .setValue(ByteString.copyFrom(ver.value()))
                  .setVersion(ver.timestamp().toProto())));
      KvResponse.Builder answer = KvResponse.newBuilder().setGet(g);
      return txn == null ? answer.build() : Txns.withTxn(answer, txn);
    }
  }

  private static final class Put extends PointCommand {
    @Override
    public String method() {
      return "put";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    ByteString key(KvRequest request) {
      return request.getPut().getKey();
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      PlainWrite w = plainWrite(request, state, ctx, List.of(request.getPut().getKey()));
      if (w.conflict() != null) {
        return w.conflict();
      }
      into.addWrites(put(request.getPut().getKey(), request.getPut().getValue(), w.ts()));
      return KvResponse.newBuilder().setPut(PutResponse.getDefaultInstance()).build();
    }
  }

  private static final class Delete extends PointCommand {
    @Override
    public String method() {
      return "delete";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    ByteString key(KvRequest request) {
      return request.getDelete().getKey();
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      ByteString key = request.getDelete().getKey();
      PlainWrite w = plainWrite(request, state, ctx, List.of(key));
      if (w.conflict() != null) {
        return w.conflict();
      }
      boolean existed = w.current().isPresent();
      if (existed) {
        into.addWrites(tombstone(key, w.ts()));
      }
      return KvResponse.newBuilder()
          .setDelete(DeleteResponse.newBuilder().setExisted(existed))
          .build();
    }
  }

  private static final class ConditionalPut extends PointCommand {
    @Override
    public String method() {
      return "conditional_put";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    ByteString key(KvRequest request) {
      return request.getConditionalPut().getKey();
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      ConditionalPutRequest c = request.getConditionalPut();
      PlainWrite w = plainWrite(request, state, ctx, List.of(c.getKey()));
      if (w.conflict() != null) {
        return w.conflict();
      }
      Optional<Version> cur = w.current();
      boolean ok =
          c.getExpectAbsent()
              ? cur.isEmpty()
              : cur.isPresent()
                  && Arrays.equals(cur.get().value(), c.getExpectedValue().toByteArray());
      ConditionalPutResponse.Builder r = ConditionalPutResponse.newBuilder().setSucceeded(ok);
      if (ok) {
        into.addWrites(put(c.getKey(), c.getValue(), w.ts()));
      } else if (cur.isPresent()) {
        r.setFound(true).setActualValue(ByteString.copyFrom(cur.get().value()));
      }
      return KvResponse.newBuilder().setConditionalPut(r).build();
    }
  }

  /** An atomic batch of puts and deletes (blind: a delete writes a tombstone whatever is there). */
  private static final class Batch implements Command {
    @Override
    public String method() {
      return "write_batch";
    }

    @Override
    public boolean isWrite() {
      return true;
    }

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      if (request.getWriteBatch().getMutationsCount() == 0) {
        return Errors.invalid("a write batch needs at least one mutation");
      }
      List<byte[]> keys = new ArrayList<>();
      for (Mutation m : request.getWriteBatch().getMutationsList()) {
        switch (m.getOpCase()) {
          case PUT -> keys.add(m.getPut().getKey().toByteArray());
          case DELETE -> keys.add(m.getDelete().getKey().toByteArray());
          default -> {
            return Errors.invalid("a mutation must be a put or a delete");
          }
        }
      }
      return checkKeys(keys, range, true);
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      Set<ByteString> keys = new LinkedHashSet<>();
      for (Mutation m : request.getWriteBatch().getMutationsList()) {
        keys.add(m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey());
      }
      return writeLatches(keys, null);
    }

    @Override
    public KvResponse evaluate(
        KvRequest request,
        Reader state,
        RangeDescriptor range,
        Context ctx,
        RaftCommand.Builder into) {
      List<ByteString> keys = new ArrayList<>();
      for (Mutation m : request.getWriteBatch().getMutationsList()) {
        keys.add(m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey());
      }
      PlainWrite w = plainWrite(request, state, ctx, keys);
      if (w.conflict() != null) {
        return w.conflict();
      }
      io.basalt.api.Timestamp ts = w.ts();
      for (Mutation m : request.getWriteBatch().getMutationsList()) {
        into.addWrites(
            m.hasPut()
                ? put(m.getPut().getKey(), m.getPut().getValue(), ts)
                : tombstone(m.getDelete().getKey(), ts));
      }
      return KvResponse.newBuilder().setWriteBatch(WriteBatchResponse.getDefaultInstance()).build();
    }
  }
}
