package io.basalt.client;

import com.google.protobuf.ByteString;
import io.basalt.api.DeleteRequest;
import io.basalt.api.EndTxnRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.Timestamp;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.api.TxnWriteRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The writes of one parallel commit (DESIGN.md, "Transactions"): every range's writes sent at once
 * as intents, the anchor's range's with the record STAGING and the list of the writes in flight
 * elsewhere. The transaction is committed the moment each of them is in place at or below the
 * staging timestamp, which the answers show; then {@link #finish} makes the record COMMITTED and
 * resolves the intents in the background. When an answer is missing, {@link #recover} decides the
 * commit as anyone finding the record abandoned would.
 */
final class ParallelCommit {
  /**
   * What the writes' answers say.
   *
   * @param seen the transaction as each answer left it (timestamps to adopt)
   * @param failure the first failure (an ambiguous one before any other), or null
   * @param maybeStaged whether the record may be STAGING: staged, or the staging write's fate
   *     unknown
   * @param stagedAt the staging timestamp, when the anchor's range answered staged (else null)
   * @param implicit whether every write answered, at or below {@code stagedAt}: the transaction
   *     committed, unless the answers came so late that a recovery may have aborted it first
   * @param inTime whether the answers came within {@link #IMPLICIT_COMMIT_WINDOW_NANOS}
   */
  record Outcome(
      List<Transaction> seen,
      RuntimeException failure,
      boolean maybeStaged,
      Timestamp stagedAt,
      boolean implicit,
      boolean inTime) {
    /** Whether the answers alone show the commit. */
    boolean committed() {
      return implicit && inTime;
    }
  }

  /**
   * How long after its writes were sent a parallel commit may still be taken as committed from the
   * answers alone: well inside the transaction expiry (5 s), past which whoever meets one of its
   * intents may recover the record and, a write not having landed by then, abort it (the write may
   * land afterwards, below the staging timestamp, if its range's leader changed meanwhile). Later
   * answers are confirmed by committing the record explicitly, which fails on an aborted one.
   */
  static final long IMPLICIT_COMMIT_WINDOW_NANOS = 2_500_000_000L;

  private final Router router;
  private final Transaction txn;
  private final ByteString anchor;
  private final Map<RangeDescriptor, List<ByteString>> byRange;
  private final Map<ByteString, ByteString> writes;
  private final List<ByteString> lockKeys;
  private final boolean blind;

  /**
   * @param txn the transaction as its writes are sent (its timestamps, its anchor)
   * @param byRange every key written or locked, by range; the anchor is among them
   * @param writes the values written (a null value is a delete)
   * @param lockKeys every key written or locked
   * @param blind whether the transaction read nothing
   */
  ParallelCommit(
      Router router,
      Transaction txn,
      ByteString anchor,
      Map<RangeDescriptor, List<ByteString>> byRange,
      Map<ByteString, ByteString> writes,
      List<ByteString> lockKeys,
      boolean blind) {
    this.router = router;
    this.txn = txn;
    this.anchor = anchor;
    this.byRange = byRange;
    this.writes = writes;
    this.lockKeys = lockKeys;
    this.blind = blind;
  }

  /** Sends every write at once and waits for the answers. */
  Outcome send() {
    long sentAt = router.ticker().read();
    CompletableFuture<Router.Reply> staging = null;
    List<CompletableFuture<Router.Reply>> sent = new ArrayList<>();
    for (Map.Entry<RangeDescriptor, List<ByteString>> e : byRange.entrySet()) {
      List<ByteString> keys = new ArrayList<>(e.getValue());
      keys.removeIf(k -> !writes.containsKey(k)); // only locked here: released at the end
      boolean isAnchor = e.getValue().contains(anchor);
      if (keys.isEmpty() && !isAnchor) {
        continue;
      }
      TxnWriteRequest.Builder request =
          TxnWriteRequest.newBuilder().addAllMutations(mutations(keys, writes)).setBlind(blind);
      if (isAnchor) {
        request.setStage(true).addAllInFlightWrites(inFlightWrites()).addAllLockKeys(lockKeys);
      }
      TxnWriteRequest built = request.build();
      CompletableFuture<Router.Reply> f =
          router.send(
              new Router.Op(
                  "txn_write",
                  (isAnchor ? anchor : keys.get(0)).toByteArray(),
                  true,
                  KvResponse.ResponseCase.TXN_WRITE,
                  range -> {
                    KvRequest.Builder b = KvRequest.newBuilder().setTxnWrite(built);
                    b.getHeaderBuilder().setTxn(txn);
                    return b;
                  }));
      if (isAnchor) {
        staging = f;
      } else {
        sent.add(f);
      }
    }
    List<Transaction> seen = new ArrayList<>();
    RuntimeException failure = null;
    boolean maybeStaged = false;
    Timestamp stagedAt = null;
    try {
      KvResponse staged = staging.join().response();
      seen.add(staged.getHeader().getTxn());
      if (staged.getTxnWrite().getStaged()) {
        maybeStaged = true;
        stagedAt = staged.getHeader().getTxn().getMeta().getWriteTimestamp();
      }
    } catch (RuntimeException e) {
      failure = failureOf(e, null);
      maybeStaged = !(failure instanceof TxnErrorException); // else refused before evaluation
    }
    boolean atOrBelow = stagedAt != null;
    for (CompletableFuture<Router.Reply> f : sent) {
      try {
        Transaction written = f.join().response().getHeader().getTxn();
        seen.add(written);
        if (stagedAt != null
            && TxnCoordinator.compare(written.getMeta().getWriteTimestamp(), stagedAt) > 0) {
          atOrBelow = false;
        }
      } catch (RuntimeException e) {
        failure = failureOf(e, failure);
      }
    }
    boolean inTime = router.ticker().read() - sentAt < IMPLICIT_COMMIT_WINDOW_NANOS;
    return new Outcome(seen, failure, maybeStaged, stagedAt, failure == null && atOrBelow, inTime);
  }

  /** The failure to report from the writes: the first one, unless a later one is ambiguous. */
  private static RuntimeException failureOf(RuntimeException e, RuntimeException earlier) {
    Throwable cause = Failures.unwrap(e);
    if (earlier == null || cause instanceof AmbiguousResultException) {
      return cause instanceof RuntimeException r ? r : Failures.asBasalt(cause);
    }
    return earlier;
  }

  /**
   * The commit's end when the record may be staged but a write did not answer ({@code failure}):
   * recovered as an abandoned transaction is, which decides it for good. Committed, its timestamp;
   * aborted, the failure (as a retry, unless the node refused the transaction); the recovery itself
   * unanswered, ambiguous.
   */
  HlcTimestamp recover(RuntimeException failure) {
    // Prevented at the timestamp the writes were sent at (queried again at the record's if it
    // was staged higher).
    TxnRecord staged =
        TxnRecord.newBuilder()
            .setMeta(txn.getMeta())
            .setStatus(TxnStatus.TXN_STAGING)
            .addAllInFlightWrites(inFlightWrites())
            .build();
    TxnRecord ended;
    try {
      ended = router.intents().recover(staged).join().getPushee();
    } catch (RuntimeException e) {
      throw new AmbiguousResultException(
          "the commit's outcome is unknown: its writes failed ("
              + failure.getMessage()
              + ") and so did the recovery that would decide it",
          Failures.unwrap(e));
    }
    switch (ended.getStatus()) {
      case TXN_COMMITTED -> {
        Timestamp at = ended.getMeta().getWriteTimestamp();
        resolveElsewhere(
            router.intents(), byRange, anchor, txn.getMeta(), TxnStatus.TXN_COMMITTED, at);
        return HlcTimestamp.of(at);
      }
      case TXN_ABORTED -> {
        if (failure instanceof TxnErrorException) {
          throw failure;
        }
        throw new TransactionRetryException(
            "the transaction's writes did not all land; it did not commit: " + failure.getMessage(),
            failure);
      }
      default ->
          throw new AmbiguousResultException(
              "the commit's outcome is unknown: its record is " + ended.getStatus(), failure);
    }
  }

  /** The keys written outside the anchor's range. */
  private List<ByteString> inFlightWrites() {
    List<ByteString> out = new ArrayList<>();
    byRange.forEach((range, keys) -> {
      if (!keys.contains(anchor)) {
        keys.stream().filter(writes::containsKey).forEach(out::add);
      }
    });
    return out;
  }

  /**
   * After the commit: the record made COMMITTED, which resolves the anchor range's intents, and the
   * others resolved, in the background. If that fails the record stays STAGING, and the first to
   * meet one of the intents after the expiry recovers it, committed.
   */
  void finish(Transaction committed, Timestamp commitTs) {
    EndTxnRequest end = EndTxnRequest.newBuilder().setCommit(true).addAllLockKeys(lockKeys).build();
    router
        .send(
            new Router.Op(
                "end_txn",
                anchor.toByteArray(),
                true,
                KvResponse.ResponseCase.END_TXN,
                range -> {
                  KvRequest.Builder b = KvRequest.newBuilder().setEndTxn(end);
                  b.getHeaderBuilder().setTxn(committed);
                  return b;
                }))
        .thenRun(() ->
            resolveElsewhere(
                router.intents(),
                byRange,
                anchor,
                committed.getMeta(),
                TxnStatus.TXN_COMMITTED,
                commitTs));
  }

  /**
   * Resolves, in the background, a transaction's intents outside its anchor's range (the record's
   * end resolved those in it), or, when it aborted, everywhere.
   */
  static void resolveElsewhere(
      IntentResolver intents,
      Map<RangeDescriptor, List<ByteString>> byRange,
      ByteString anchor,
      TxnMeta meta,
      TxnStatus status,
      Timestamp ts) {
    for (Map.Entry<RangeDescriptor, List<ByteString>> e : byRange.entrySet()) {
      if (!e.getValue().contains(anchor) || status == TxnStatus.TXN_ABORTED) {
        intents.resolve(e.getValue(), meta, status, ts);
      }
    }
  }

  /** The mutations writing {@code keys} (a key with no value in {@code writes} is deleted). */
  static List<Mutation> mutations(List<ByteString> keys, Map<ByteString, ByteString> writes) {
    List<Mutation> out = new ArrayList<>();
    for (ByteString k : keys) {
      ByteString v = writes.get(k);
      out.add(
          v == null
              ? Mutation.newBuilder().setDelete(DeleteRequest.newBuilder().setKey(k)).build()
              : Mutation.newBuilder()
                  .setPut(PutRequest.newBuilder().setKey(k).setValue(v))
                  .build());
    }
    return out;
  }
}
