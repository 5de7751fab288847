package io.basalt.client;

import com.google.protobuf.ByteString;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.EndTxnResponse;
import io.basalt.api.Error;
import io.basalt.api.GetRequest;
import io.basalt.api.GetResponse;
import io.basalt.api.Isolation;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RefreshRequest;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.Timestamp;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * The client side of one transaction (DESIGN.md, "Transactions"): it keeps the transaction's
 * timestamps and the spans it read, buffers its writes, and commits them.
 *
 * <p>Reads go to each key's range with the transaction in the header; the first one's leader
 * assigns the read timestamp. A read that meets a committed value inside its uncertainty interval
 * moves the read timestamp up to that value, after refreshing every earlier read (checking that
 * nothing was written to it in between), or fails the attempt. A serializable transaction commits
 * at its read timestamp: if its writes had to move above it (a later read or a newer version of a
 * key), its reads are refreshed to the commit timestamp first.
 *
 * <p>Commit: all writes in one range go in one request that commits them (one Raft round, no
 * intent, no record). Otherwise a parallel commit: each range gets its writes as intents, in
 * parallel, the anchor's range (of the first key written or locked) with the record STAGING; once
 * every write is in place at or below the staging timestamp the transaction is committed and the
 * caller answered (one round), and then the record is flipped to COMMITTED, which resolves the
 * anchor range's intents, and the other ranges' intents are resolved, in the background (anyone who
 * meets one first resolves it from the record, or recovers a STAGING record left abandoned).
 */
final class TxnCoordinator implements Txn {
  /** How many times one commit step refreshes and tries again before the attempt gives up. */
  private static final int MAX_REFRESHES = 5;

  private enum State {
    OPEN,
    COMMITTED,
    ABORTED
  }

  /** A span read: {@code end} empty for one key, unless it runs to the end of the key space. */
  private record Span(ByteString start, ByteString end, boolean toEnd) {
    Span(ByteString start, ByteString end) {
      this(start, end, false);
    }
  }

  private final Router router;

  /** Read by the heartbeat thread too. */
  private volatile Transaction txn;

  /** Keys locked by locking reads (their locks are released when the transaction ends). */
  private final java.util.TreeSet<ByteString> locked =
      new java.util.TreeSet<>(ByteString.unsignedLexicographicalComparator());

  /** Whether heartbeats of the record began (they do once the transaction holds locks). */
  private volatile boolean heartbeating;

  /** Set when the transaction ends (or the client closes): no more heartbeats. */
  private volatile boolean heartbeatStopped;

  private final TreeMap<ByteString, ByteString> writes =
      new TreeMap<>(ByteString.unsignedLexicographicalComparator());
  private final List<Span> reads = new ArrayList<>();
  private ByteString anchor;
  private State state = State.OPEN;

  /** The writes sent as intents, by range, once a multi-range commit has begun (else null). */
  private Map<RangeDescriptor, List<ByteString>> intentsSent;

  private HlcTimestamp commitTimestamp;

  TxnCoordinator(Router router, TxnOptions options, int priority) {
    this.router = router;
    this.createdNanos = router.ticker().read();
    this.lastUsedNanos = createdNanos;
    byte[] id = new byte[16];
    router.runtime().random().nextBytes(id);
    this.txn =
        Transaction.newBuilder()
            .setMeta(TxnMeta.newBuilder().setId(ByteString.copyFrom(id)).setPriority(priority))
            .setIsolation(
                options.isolation() == TxnOptions.Isolation.SNAPSHOT
                    ? Isolation.ISOLATION_SNAPSHOT
                    : Isolation.ISOLATION_SERIALIZABLE)
            .build();
  }

  /**
   * The priority of a transaction first attempted at {@code millis} (wall clock): the older, the
   * higher (wound-wait: an older transaction aborts a younger one that holds what it needs, a
   * younger one waits for an older one), so a transaction retried under its first attempt's
   * priority comes to win its conflicts. Plain requests have priority 0, below every transaction.
   */
  static int priorityAt(long millis) {
    return (int) (Integer.MAX_VALUE - 1 - Math.floorMod(millis, (long) Integer.MAX_VALUE - 2));
  }

  @Override
  public byte[] get(byte[] key) {
    checkOpen();
    Keys.checkKey(key, "key");
    ByteString k = ByteString.copyFrom(key);
    if (writes.containsKey(k)) {
      ByteString v = writes.get(k);
      return v == null ? null : v.toByteArray();
    }
    GetRequest get = GetRequest.newBuilder().setKey(k).build();
    KvResponse response =
        readWithRestarts(
            "get", key, KvResponse.ResponseCase.GET, range -> KvRequest.newBuilder().setGet(get));
    reads.add(new Span(k, ByteString.EMPTY));
    GetResponse g = response.getGet();
    return g.getFound() ? g.getKv().getValue().toByteArray() : null;
  }

  @Override
  public byte[] getForUpdate(byte[] key) {
    checkOpen();
    Keys.checkKey(key, "key");
    ByteString k = ByteString.copyFrom(key);
    if (writes.containsKey(k) && locked.contains(k)) {
      ByteString v = writes.get(k);
      return v == null ? null : v.toByteArray();
    }
    if (anchor == null) {
      anchor = k;
    }
    txn = txn.toBuilder().setMeta(txn.getMeta().toBuilder().setAnchorKey(anchor)).build();
    GetRequest get = GetRequest.newBuilder().setKey(k).setForUpdate(true).build();
    KvResponse response;
    // Counted as held from here: an attempt that failed may still have locked it, and rollback
    // releases whatever is counted.
    locked.add(k);
    startHeartbeat();
    for (int refreshes = 0; ; refreshes++) {
      try {
        response =
            send(
                "get_for_update",
                key,
                KvResponse.ResponseCase.GET,
                range -> KvRequest.newBuilder().setGet(get));
        break;
      } catch (TxnErrorException e) {
        if (e.error.getDetailCase() == Error.DetailCase.WRITE_INTENT) {
          continue; // resolved, with the read timestamp its leader assigned taken
        }
        // The key was written above the read timestamp: move up to it, then lock and read.
        if (e.error.getDetailCase() != Error.DetailCase.TXN_RETRY
            || !e.error.getTxnRetry().hasRetryAt()
            || refreshes >= MAX_REFRESHES) {
          throw asTxnFailure(e);
        }
        refreshTo(e.error.getTxnRetry().getRetryAt());
      }
    }
    reads.add(new Span(k, ByteString.EMPTY));
    if (writes.containsKey(k)) {
      ByteString v = writes.get(k);
      return v == null ? null : v.toByteArray();
    }
    GetResponse g = response.getGet();
    return g.getFound() ? g.getKv().getValue().toByteArray() : null;
  }

  /** When this attempt began (its first request, the transaction's start, came later). */
  private final long createdNanos;

  /**
   * Keeps the record alive while locks are held, so nobody takes them as abandoned. Until its first
   * heartbeat a transaction counts as alive from its start, so that one is due a second after the
   * start: a short transaction commits before it and never heartbeats.
   */
  private void startHeartbeat() {
    long sinceStart = (router.ticker().read() - createdNanos) / 1_000_000;
    startHeartbeat(Math.max(0, 1_000 - sinceStart));
  }

  /** Heartbeats every second from {@code delayMillis} on (unless already heartbeating). */
  private void startHeartbeat(long delayMillis) {
    if (heartbeating) {
      return;
    }
    heartbeating = true;
    heartbeatAfter(delayMillis);
  }

  private void heartbeatAfter(long delayMillis) {
    try {
      router
          .runtime()
          .schedule(
              () -> {
                if (!heartbeatStopped) {
                  heartbeatOnce();
                }
                if (!heartbeatStopped) {
                  heartbeatAfter(1_000);
                }
              },
              java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(delayMillis));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      heartbeatStopped = true; // the client is closed
    }
  }

  /**
   * How long a transaction left open and unused keeps its record alive: past this it is left to
   * expire, so that one a caller forgot (neither committed nor rolled back) frees its locks.
   */
  private static final long MAX_IDLE_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);

  /** When the caller last used this transaction (read by the heartbeat thread). */
  private volatile long lastUsedNanos;

  private void heartbeatOnce() {
    if (router.isClosed() || router.ticker().read() - lastUsedNanos > MAX_IDLE_NANOS) {
      stopHeartbeat();
      return;
    }
    Transaction current = txn;
    router.send(
        new Router.Op(
            "heartbeat_txn",
            current.getMeta().getAnchorKey().toByteArray(),
            true,
            KvResponse.ResponseCase.HEARTBEAT_TXN,
            range -> {
              KvRequest.Builder b =
                  KvRequest.newBuilder()
                      .setHeartbeatTxn(io.basalt.api.HeartbeatTxnRequest.getDefaultInstance());
              b.getHeaderBuilder().setTxn(current);
              return b;
            }));
  }

  private void stopHeartbeat() {
    heartbeatStopped = true;
  }

  @Override
  public void put(byte[] key, byte[] value) {
    checkOpen();
    Keys.checkKey(key, "key");
    Keys.checkValue(key, value, "value");
    write(ByteString.copyFrom(key), ByteString.copyFrom(value));
  }

  @Override
  public void delete(byte[] key) {
    checkOpen();
    Keys.checkKey(key, "key");
    write(ByteString.copyFrom(key), null);
  }

  private void write(ByteString key, ByteString value) {
    if (anchor == null) {
      anchor = key;
    }
    writes.put(key, value);
  }

  @Override
  public List<KeyValue> scan(byte[] start, byte[] end, int limit) {
    checkOpen();
    byte[] first = AsyncBasaltClient.checkScan(start, end);
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be >= 1, got " + limit);
    }
    ByteString s = ByteString.copyFrom(start);
    ByteString e = ByteString.copyFrom(end);
    // Buffered deletes may hide rows: ask for enough that `limit` remain.
    int deletes = 0;
    for (Map.Entry<ByteString, ByteString> w : within(s, e).entrySet()) {
      if (w.getValue() == null) {
        deletes++;
      }
    }
    int want = limit + deletes;
    if (first == null) {
      return List.of();
    }
    start = first;
    TreeMap<ByteString, ByteString> rows =
        new TreeMap<>(ByteString.unsignedLexicographicalComparator());
    byte[] from = start;
    while (from != null && rows.size() < want) {
      byte[] pageFrom = from;
      int pageLimit = want - rows.size();
      RangeDescriptor[] routed = new RangeDescriptor[1];
      KvResponse response =
          readWithRestarts(
              "scan",
              pageFrom,
              KvResponse.ResponseCase.SCAN,
              range -> {
                routed[0] = range;
                return KvRequest.newBuilder()
                    .setScan(
                        ScanRequest.newBuilder()
                            .setStartKey(ByteString.copyFrom(pageFrom))
                            .setEndKey(ByteString.copyFrom(minEnd(end, range)))
                            .setLimit(pageLimit));
              });
      ScanResponse page = response.getScan();
      page.getKvsList().forEach(kv -> rows.put(kv.getKey(), kv.getValue()));
      byte[] pageEnd = minEnd(end, routed[0]);
      if (!page.getResumeKey().isEmpty()) {
        reads.add(new Span(ByteString.copyFrom(pageFrom), page.getResumeKey()));
        from = page.getResumeKey().toByteArray();
      } else {
        reads.add(
            pageEnd.length == 0
                ? new Span(ByteString.copyFrom(pageFrom), ByteString.EMPTY, true)
                : new Span(ByteString.copyFrom(pageFrom), ByteString.copyFrom(pageEnd)));
        boolean last =
            pageEnd.length == 0 || (end.length > 0 && Arrays.compareUnsigned(pageEnd, end) >= 0);
        from = last ? null : pageEnd;
      }
    }
    within(s, e)
        .forEach((k, v) -> {
          if (v == null) {
            rows.remove(k);
          } else {
            rows.put(k, v);
          }
        });
    List<KeyValue> out = new ArrayList<>();
    for (Map.Entry<ByteString, ByteString> row : rows.entrySet()) {
      if (out.size() == limit) {
        break;
      }
      out.add(new KeyValue(row.getKey().toByteArray(), row.getValue().toByteArray()));
    }
    return out;
  }

  private Map<ByteString, ByteString> within(ByteString start, ByteString end) {
    return end.isEmpty() ? writes.tailMap(start, true) : writes.subMap(start, true, end, false);
  }

  /** The lower of a scan's end and its range's end (empty: the end of the key space). */
  private static byte[] minEnd(byte[] end, RangeDescriptor range) {
    byte[] rangeEnd = range.getEndKey().toByteArray();
    if (end.length == 0) {
      return rangeEnd;
    }
    if (rangeEnd.length == 0) {
      return end;
    }
    return Arrays.compareUnsigned(end, rangeEnd) <= 0 ? end : rangeEnd;
  }

  /**
   * Sends a read of this transaction; a value in its uncertainty interval moves the read timestamp
   * up to it, once every earlier read is refreshed there, and the read is sent again.
   */
  private KvResponse readWithRestarts(
      String method,
      byte[] key,
      KvResponse.ResponseCase answer,
      Function<RangeDescriptor, KvRequest.Builder> body) {
    for (int restarts = 0; ; restarts++) {
      try {
        return send(method, key, answer, body);
      } catch (TxnErrorException e) {
        if (e.error.getDetailCase() == Error.DetailCase.WRITE_INTENT) {
          continue; // resolved; the read timestamp its leader assigned is taken (send)
        }
        if (e.error.getDetailCase() != Error.DetailCase.READ_UNCERTAIN
            || restarts >= MAX_REFRESHES) {
          throw asTxnFailure(e);
        }
        refreshTo(e.error.getReadUncertain().getExisting());
      }
    }
  }

  /** Sends a request of this transaction and takes in what the node did to it. */
  private KvResponse send(
      String method,
      byte[] key,
      KvResponse.ResponseCase answer,
      Function<RangeDescriptor, KvRequest.Builder> body) {
    Transaction current = txn;
    Router.Reply reply;
    try {
      reply =
          router
              .send(
                  new Router.Op(
                      method,
                      key,
                      !method.equals("get") && !method.equals("scan"),
                      answer,
                      range -> {
                        KvRequest.Builder b = body.apply(range);
                        b.getHeaderBuilder().setTxn(current);
                        return b;
                      }))
              .join();
    } catch (RuntimeException e) {
      Throwable cause = Failures.unwrap(e);
      if (cause instanceof TxnErrorException t && t.txn != null) {
        adopt(t.txn);
      }
      throw cause instanceof RuntimeException r ? r : Failures.asBasalt(cause);
    }
    if (reply.response().getHeader().hasTxn()) {
      adopt(reply.response().getHeader().getTxn());
    }
    return reply.response();
  }

  /** Takes the read timestamp a node assigned, and a write timestamp it pushed. */
  private void adopt(Transaction seen) {
    if (!seen.getMeta().getId().equals(txn.getMeta().getId())) {
      return;
    }
    Transaction.Builder b = txn.toBuilder();
    if (txn.getReadTimestamp().getWallNanos() == 0) {
      b.setReadTimestamp(seen.getReadTimestamp())
          .setUncertaintyLimit(seen.getUncertaintyLimit())
          .getMetaBuilder()
          .setMinTimestamp(seen.getMeta().getMinTimestamp());
    }
    if (compare(seen.getMeta().getWriteTimestamp(), b.getMeta().getWriteTimestamp()) > 0) {
      b.getMetaBuilder().setWriteTimestamp(seen.getMeta().getWriteTimestamp());
    }
    txn = b.build();
  }

  /**
   * Moves the read timestamp up to {@code to}: every span read so far is checked to have had no
   * write by anyone else since the current read timestamp, and recorded as read at {@code to}.
   *
   * @throws TransactionRetryException if one was written
   */
  private void refreshTo(Timestamp to) {
    Timestamp from = txn.getReadTimestamp();
    if (compare(to, from) <= 0) {
      return;
    }
    List<CompletableFuture<Router.Reply>> refreshes = new ArrayList<>();
    Transaction current = txn;
    for (Span span : reads) {
      RefreshRequest refresh =
          RefreshRequest.newBuilder()
              .setStartKey(span.start())
              .setEndKey(span.end())
              .setToEnd(span.toEnd())
              .setFrom(from)
              .setTo(to)
              .build();
      refreshes.add(
          router.send(
              new Router.Op(
                  "refresh",
                  span.start().toByteArray(),
                  false,
                  KvResponse.ResponseCase.REFRESH,
                  range -> {
                    KvRequest.Builder b = KvRequest.newBuilder().setRefresh(refresh);
                    b.getHeaderBuilder().setTxn(current);
                    return b;
                  })));
    }
    for (CompletableFuture<Router.Reply> r : refreshes) {
      try {
        r.join();
      } catch (RuntimeException e) {
        Throwable cause = Failures.unwrap(e);
        if (cause instanceof TxnErrorException t
            && t.error.getDetailCase() == Error.DetailCase.TXN_RETRY) {
          throw new TransactionRetryException(
              "refreshing the transaction's reads to a later timestamp failed: "
                  + Failures.describe(cause),
              cause);
        }
        throw cause instanceof RuntimeException failure ? failure : Failures.asBasalt(cause);
      }
    }
    Transaction.Builder b = txn.toBuilder().setReadTimestamp(to);
    if (compare(to, txn.getUncertaintyLimit()) > 0) {
      b.setUncertaintyLimit(to); // nothing above the read timestamp is uncertain any more
    }
    if (compare(to, txn.getMeta().getWriteTimestamp()) > 0) {
      b.getMetaBuilder().setWriteTimestamp(to);
    }
    txn = b.build();
  }

  /** The transaction as its next request would carry it. */
  Transaction proto() {
    return txn;
  }

  @Override
  public HlcTimestamp commit() {
    checkOpen();
    try {
      if (writes.isEmpty() && locked.isEmpty()) {
        // A read-only transaction: its reads are one snapshot, recorded at their timestamp.
        state = State.COMMITTED;
        commitTimestamp = HlcTimestamp.of(txn.getReadTimestamp());
        return commitTimestamp;
      }
      txn = txn.toBuilder().setMeta(txn.getMeta().toBuilder().setAnchorKey(anchor)).build();
      Map<RangeDescriptor, List<ByteString>> byRange = groupByRange();
      boolean onePhase = byRange.size() == 1 && writes.keySet().containsAll(locked);
      // A transaction that read nothing (and so locked nothing) has no reads to keep valid.
      boolean blind = txn.getReadTimestamp().getWallNanos() == 0;
      commitTimestamp = onePhase ? commitOnePhase(blind) : commitParallel(byRange, blind);
      state = State.COMMITTED;
      stopHeartbeat();
      return commitTimestamp;
    } catch (AmbiguousResultException e) {
      state = State.ABORTED; // not retried: its outcome is the caller's to find out
      stopHeartbeat();
      throw e;
    } catch (RuntimeException e) {
      rollback();
      throw asTxnFailure(e);
    }
  }

  private Map<RangeDescriptor, List<ByteString>> groupByRange() {
    Map<Long, RangeDescriptor> ranges = new LinkedHashMap<>();
    Map<Long, List<ByteString>> keys = new LinkedHashMap<>();
    java.util.TreeSet<ByteString> all =
        new java.util.TreeSet<>(ByteString.unsignedLexicographicalComparator());
    all.addAll(writes.keySet());
    all.addAll(locked);
    for (ByteString key : all) {
      RangeDescriptor range = router.locate(key.toByteArray()).join();
      ranges.putIfAbsent(range.getRangeId(), range);
      keys.computeIfAbsent(range.getRangeId(), id -> new ArrayList<>()).add(key);
    }
    Map<RangeDescriptor, List<ByteString>> out = new LinkedHashMap<>();
    ranges.forEach((id, range) -> out.put(range, keys.get(id)));
    return out;
  }

  /** Every write in the anchor's range: written and committed by one request. */
  private HlcTimestamp commitOnePhase(boolean blind) {
    TxnWriteRequest request =
        TxnWriteRequest.newBuilder()
            .setBlind(blind)
            .addAllMutations(ParallelCommit.mutations(new ArrayList<>(writes.keySet()), writes))
            .setOnePhase(true)
            .setAnchor(true)
            .build();
    for (int refreshes = 0; ; refreshes++) {
      KvResponse response =
          send(
              "txn_write",
              anchor.toByteArray(),
              KvResponse.ResponseCase.TXN_WRITE,
              range -> KvRequest.newBuilder().setTxnWrite(request));
      if (response.getTxnWrite().getCommitted()) {
        return HlcTimestamp.of(txn.getMeta().getWriteTimestamp());
      }
      if (refreshes >= MAX_REFRESHES) {
        throw new TransactionRetryException("the commit timestamp kept moving above the reads");
      }
      refreshTo(txn.getMeta().getWriteTimestamp()); // then commit at the new read timestamp
    }
  }

  /**
   * Writes spread over ranges, or locks beside them: a parallel commit. Every range's writes go out
   * at once as intents, the anchor's range's with the record STAGING; the transaction is committed
   * the moment all of them are in place at or below the staging timestamp, which the answers show,
   * and the record is made COMMITTED (and the intents resolved) after the caller has its answer.
   * When a write had to move above the staging timestamp, the reads are refreshed there and the
   * record committed explicitly; when a write's fate is unknown, this coordinator recovers its own
   * transaction as anyone finding it abandoned would.
   */
  private HlcTimestamp commitParallel(
      Map<RangeDescriptor, List<ByteString>> byRange, boolean blind) {
    intentsSent = byRange;
    // Intents are about to exist: keep the record alive until the end. The anchor's intents
    // write it with a fresh heartbeat, so the first one is due a second later.
    startHeartbeat(1_000);
    if (txn.getIsolation() == Isolation.ISOLATION_SERIALIZABLE
        && compare(txn.getMeta().getWriteTimestamp(), txn.getReadTimestamp()) > 0) {
      refreshTo(txn.getMeta().getWriteTimestamp()); // a record is staged at the reads only
    }
    Timestamp start = blind ? router.clock().estimate() : null;
    if (start != null) {
      // Every range's writes start from one timestamp (each leader would otherwise begin the
      // transaction at its own clock, and a write above the staging timestamp costs a round).
      txn =
          txn.toBuilder()
              .setReadTimestamp(start)
              .setUncertaintyLimit(start)
              .setMeta(txn.getMeta().toBuilder().setWriteTimestamp(start).setMinTimestamp(start))
              .build();
    }
    List<ByteString> lockKeys = allKeys();
    ParallelCommit commit =
        new ParallelCommit(router, txn, anchor, byRange, writes, lockKeys, blind);
    ParallelCommit.Outcome sent = commit.send();
    sent.seen().forEach(this::adopt);
    if (blind) {
      // Nothing read, so nothing to refresh: its reads hold wherever its writes landed.
      refreshTo(txn.getMeta().getWriteTimestamp());
    }
    RuntimeException failure = sent.failure();
    if (failure != null && sent.maybeStaged()) {
      return commit.recover(failure);
    }
    if (failure != null) {
      if (failure instanceof AmbiguousResultException
          || failure instanceof DeadlineExceededException) {
        // The record was never staged: whatever intents landed are rolled back (or expire).
        throw new TransactionRetryException(
            "the transaction's writes did not all land; it did not commit: " + failure.getMessage(),
            failure);
      }
      throw failure;
    }
    if (sent.committed()) {
      // Every write is in place at or below the staging timestamp.
      commit.finish(txn, sent.stagedAt());
      return HlcTimestamp.of(sent.stagedAt());
    }
    if (sent.implicit()) {
      // Committed, unless a recovery aborted it before the late answers came: the record says
      // which. Never rolled back from here: it may be committed.
      try {
        return commitRecord(lockKeys);
      } catch (TxnErrorException e) {
        if (e.error.getDetailCase() == Error.DetailCase.TXN_ABORTED) {
          throw e; // a recovery aborted it: definitely not committed
        }
        return commit.recover(e);
      } catch (AmbiguousResultException | DeadlineExceededException e) {
        return commit.recover(e);
      }
    }
    Timestamp commitTs = txn.getMeta().getWriteTimestamp();
    if (txn.getIsolation() == Isolation.ISOLATION_SERIALIZABLE) {
      refreshTo(commitTs);
    }
    for (int refreshes = 0; ; refreshes++) {
      try {
        return commitRecord(lockKeys);
      } catch (TxnErrorException e) {
        if (e.error.getDetailCase() != Error.DetailCase.TXN_RETRY
            || !e.error.getTxnRetry().hasRetryAt()
            || refreshes >= MAX_REFRESHES) {
          throw e;
        }
        // A reader pushed the record: commit above it, once the reads hold there too.
        Timestamp to = e.error.getTxnRetry().getRetryAt();
        if (txn.getIsolation() == Isolation.ISOLATION_SERIALIZABLE) {
          refreshTo(to);
        } else {
          txn = txn.toBuilder().setMeta(txn.getMeta().toBuilder().setWriteTimestamp(to)).build();
        }
      }
    }
  }

  /**
   * Commits the record explicitly (EndTxn at the transaction's write timestamp), then resolves the
   * intents outside the anchor's range in the background; returns the commit timestamp.
   */
  private HlcTimestamp commitRecord(List<ByteString> lockKeys) {
    EndTxnRequest end = EndTxnRequest.newBuilder().setCommit(true).addAllLockKeys(lockKeys).build();
    EndTxnResponse ended =
        send(
                "end_txn",
                anchor.toByteArray(),
                KvResponse.ResponseCase.END_TXN,
                range -> KvRequest.newBuilder().setEndTxn(end))
            .getEndTxn();
    resolveElsewhere(TxnStatus.TXN_COMMITTED, ended.getCommitTimestamp());
    return HlcTimestamp.of(ended.getCommitTimestamp());
  }

  /** Resolves the intents outside the anchor's range in the background. */
  private void resolveElsewhere(TxnStatus status, Timestamp ts) {
    ParallelCommit.resolveElsewhere(
        router.intents(), intentsSent, anchor, txn.getMeta(), status, ts);
  }

  /** Every key written or locked. */
  private List<ByteString> allKeys() {
    java.util.TreeSet<ByteString> all =
        new java.util.TreeSet<>(ByteString.unsignedLexicographicalComparator());
    all.addAll(writes.keySet());
    all.addAll(locked);
    return new ArrayList<>(all);
  }

  @Override
  public void rollback() {
    if (state != State.OPEN) {
      return;
    }
    state = State.ABORTED;
    stopHeartbeat();
    if (intentsSent == null && locked.isEmpty()) {
      return; // nothing left the client
    }
    try {
      if (intentsSent == null) {
        intentsSent = groupByRange(); // (looks ranges up: may fail too)
      }
      EndTxnRequest end =
          EndTxnRequest.newBuilder().setCommit(false).addAllLockKeys(allKeys()).build();
      send(
          "end_txn",
          anchor.toByteArray(),
          KvResponse.ResponseCase.END_TXN,
          range -> KvRequest.newBuilder().setEndTxn(end));
    } catch (RuntimeException e) {
      // Not known to be aborted (it may even have committed: a recovery may have found it
      // staged with every write in place): its intents are left to whoever meets them, who
      // resolves them by its record once it has ended or expired.
      return;
    }
    resolveElsewhere(TxnStatus.TXN_ABORTED, txn.getMeta().getWriteTimestamp());
  }

  private void checkOpen() {
    lastUsedNanos = router.ticker().read();
    if (state != State.OPEN) {
      throw new IllegalStateException("the transaction is " + state.name().toLowerCase());
    }
  }

  /** What a failure of the transaction's request means to the caller. */
  static RuntimeException asTxnFailure(RuntimeException e) {
    if (e instanceof TxnErrorException t) {
      return switch (t.error.getDetailCase()) {
        case TXN_ABORTED -> new TransactionAbortedException(t.getMessage());
        default -> new TransactionRetryException(t.getMessage(), t);
      };
    }
    return e;
  }

  static int compare(Timestamp a, Timestamp b) {
    return Comparator.comparingLong(Timestamp::getWallNanos)
        .thenComparingInt(Timestamp::getLogical)
        .compare(a, b);
  }
}
