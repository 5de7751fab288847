package io.basalt.client;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PushTxnRequest;
import io.basalt.api.PushTxnResponse;
import io.basalt.api.PushType;
import io.basalt.api.QueryIntentRequest;
import io.basalt.api.QueryIntentResponse;
import io.basalt.api.RecoverTxnRequest;
import io.basalt.api.ResolveIntentRequest;
import io.basalt.api.Timestamp;
import io.basalt.api.Transaction;
import io.basalt.api.TxnMeta;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.api.WriteIntentError;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What a request does when it meets another transaction's intent: push that transaction at its
 * anchor's range, then resolve the intent by what the push found (committed: a version; aborted:
 * removed; pushed: moved above the reader). A reader in a transaction pushes the holder's timestamp
 * above its uncertainty limit, which always succeeds on a live holder; a writer, or a plain read
 * (which reads the newest value and cannot be ordered below an intent), asks to abort it, which
 * succeeds only on an abandoned holder (its record unheard of past the expiry) or one of lower
 * priority. A holder staging its commit is neither pushed nor aborted: the request waits for it,
 * or, once it is abandoned, recovers it ({@link #recover}). When the intent is not out of the way
 * the request waits (the router's backoff) and tries again.
 */
final class IntentResolver {
  private final Router router;

  IntentResolver(Router router) {
    this.router = router;
  }

  /**
   * Handles {@code response}'s WriteIntentError for {@code request}: completes with true once the
   * intent is out of the way (retry at once), false if the holder is alive and outranks the request
   * (retry after a backoff).
   */
  CompletableFuture<Boolean> resolve(KvRequest request, KvResponse response) {
    WriteIntentError conflict = response.getError().getWriteIntent();
    TxnMeta pushee = conflict.getTxn();
    Transaction pusher =
        response.getHeader().hasTxn()
            ? response.getHeader().getTxn()
            : request.getHeader().hasTxn() ? request.getHeader().getTxn() : null;
    boolean read =
        switch (request.getRequestCase()) {
          case GET -> !request.getGet().getForUpdate(); // a locking read is a writer
          case SCAN -> true;
          default -> false;
        };
    PushTxnRequest.Builder push = PushTxnRequest.newBuilder().setPushee(pushee);
    if (read && pusher != null && pusher.getReadTimestamp().getWallNanos() != 0) {
      // Above both its read timestamp and its uncertainty limit: out of the reader's way.
      Timestamp limit = pusher.getUncertaintyLimit();
      Timestamp above =
          TxnCoordinator.compare(pusher.getReadTimestamp(), limit) > 0
              ? pusher.getReadTimestamp()
              : limit;
      push.setType(PushType.PUSH_TIMESTAMP).setPushTo(next(above));
    } else {
      push.setType(PushType.PUSH_ABORT);
    }
    if (pusher != null) {
      push.setPusherPriority(pusher.getMeta().getPriority());
    }
    PushTxnRequest built = push.build();
    Transaction pusherTxn = pusher;
    return router
        .send(
            new Router.Op(
                "push_txn",
                pushee.getAnchorKey().toByteArray(),
                true,
                KvResponse.ResponseCase.PUSH_TXN,
                range -> {
                  KvRequest.Builder b = KvRequest.newBuilder().setPushTxn(built);
                  if (pusherTxn != null) {
                    b.getHeaderBuilder().setTxn(pusherTxn);
                  }
                  return b;
                }))
        .thenCompose(reply -> {
          if (reply.response().getPushTxn().getNeedsRecovery()) {
            return recover(reply.response().getPushTxn().getPushee());
          }
          return CompletableFuture.completedFuture(reply.response().getPushTxn());
        })
        .thenCompose(pushReply -> {
          TxnRecord record = pushReply.getPushee();
          boolean pushed = pushReply.getPushed();
          TxnStatus status = record.getStatus();
          boolean finalized = status == TxnStatus.TXN_COMMITTED || status == TxnStatus.TXN_ABORTED;
          if (!finalized && !pushed) {
            return CompletableFuture.completedFuture(false);
          }
          return resolve(conflict.getKey(), pushee, status, record.getMeta().getWriteTimestamp())
              .thenApply(done -> true);
        })
        .exceptionally(failure -> false);
  }

  /**
   * Recovers the STAGING transaction of {@code staging} (an abandoned one, or its own coordinator's
   * when a staging write's outcome is unknown): asks each in-flight write's range whether the write
   * is there, preventing a missing one from ever landing at or below the record's timestamp, then
   * commits the record if all were there at or below it, else aborts it. Completes with the push
   * answer the recovery amounts to: the record as it was left (committed or aborted; or, rarely,
   * still staged, then not pushed).
   */
  CompletableFuture<PushTxnResponse> recover(TxnRecord staging) {
    return recover(staging.getMeta(), staging.getInFlightWritesList(), 3);
  }

  /** {@link #recover}, preventing at {@code meta}'s write timestamp, queried again if too low. */
  private CompletableFuture<PushTxnResponse> recover(
      TxnMeta meta, List<ByteString> inFlight, int rounds) {
    List<CompletableFuture<QueryIntentResponse>> queries = new ArrayList<>();
    for (ByteString key : inFlight) {
      QueryIntentRequest query =
          QueryIntentRequest.newBuilder().setKey(key).setTxn(meta).setPrevent(true).build();
      queries.add(
          router
              .send(
                  new Router.Op(
                      "query_intent",
                      key.toByteArray(),
                      false,
                      KvResponse.ResponseCase.QUERY_INTENT,
                      range -> KvRequest.newBuilder().setQueryIntent(query)))
              .thenApply(reply -> reply.response().getQueryIntent()));
    }
    return CompletableFuture.allOf(queries.toArray(CompletableFuture[]::new))
        .thenCompose(all -> {
          RecoverTxnRequest.Builder recover =
              RecoverTxnRequest.newBuilder().setTxn(meta).setAllFound(true);
          Timestamp upTo = Timestamp.getDefaultInstance();
          for (CompletableFuture<QueryIntentResponse> q : queries) {
            QueryIntentResponse found = q.join();
            if (!found.getFound()) {
              recover.setAllFound(false);
            } else if (TxnCoordinator.compare(found.getWriteTimestamp(), upTo) > 0) {
              upTo = found.getWriteTimestamp();
            }
          }
          RecoverTxnRequest built = recover.setFoundUpTo(upTo).build();
          return router.send(
              new Router.Op(
                  "recover_txn",
                  meta.getAnchorKey().toByteArray(),
                  true,
                  KvResponse.ResponseCase.RECOVER_TXN,
                  range -> KvRequest.newBuilder().setRecoverTxn(built)));
        })
        .thenCompose(reply -> {
          TxnRecord record = reply.response().getRecoverTxn().getRecord();
          boolean ended = record.getStatus() != TxnStatus.TXN_STAGING;
          if (!ended && rounds > 1) {
            // Staged above where the queries prevented: query again at the record's timestamp.
            return recover(record.getMeta(), inFlight, rounds - 1);
          }
          return CompletableFuture.completedFuture(
              PushTxnResponse.newBuilder().setPushee(record).setPushed(ended).build());
        });
  }

  /** Resolves {@code txn}'s intents on {@code key} (in the key's range) as {@code status}. */
  CompletableFuture<Void> resolve(
      ByteString key, TxnMeta txn, TxnStatus status, Timestamp commitTimestamp) {
    return resolve(java.util.List.of(key), txn, status, commitTimestamp);
  }

  /** Resolves {@code txn}'s intents on {@code keys}, which lie in one range. */
  CompletableFuture<Void> resolve(
      java.util.List<ByteString> keys, TxnMeta txn, TxnStatus status, Timestamp commitTimestamp) {
    ResolveIntentRequest resolve =
        ResolveIntentRequest.newBuilder()
            .addAllKeys(keys)
            .setTxn(txn)
            .setStatus(status)
            .setCommitTimestamp(commitTimestamp)
            .build();
    return router
        .send(
            new Router.Op(
                "resolve_intent",
                keys.get(0).toByteArray(),
                true,
                KvResponse.ResponseCase.RESOLVE_INTENT,
                range -> KvRequest.newBuilder().setResolveIntent(resolve)))
        .thenAccept(reply -> {});
  }

  /** Whether {@code response} assigned the read timestamp of {@code request}'s transaction. */
  static boolean readTimestampAssigned(KvRequest request, KvResponse response) {
    boolean read =
        request.getRequestCase() == KvRequest.RequestCase.SCAN
            || (request.getRequestCase() == KvRequest.RequestCase.GET
                && !request.getGet().getForUpdate());
    return read
        && request.getHeader().hasTxn()
        && request.getHeader().getTxn().getReadTimestamp().getWallNanos() == 0
        && response.getHeader().hasTxn()
        && response.getHeader().getTxn().getReadTimestamp().getWallNanos() != 0;
  }

  /** The first and the longest wait for another transaction's intent to go. */
  private static final long MIN_WAIT_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(5);

  private static final long MAX_WAIT_NANOS =
      java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100);

  /**
   * How long a request waits, after its {@code waits}-th failed push, before it tries again: 5 ms,
   * doubling up to 100 ms, with jitter; much shorter than the backoff from a sick node, since the
   * holder is usually done within a few round trips. {@code jitter} is uniform in [0, 1).
   */
  static long waitNanos(int waits, double jitter) {
    long ceiling = Math.min(MAX_WAIT_NANOS, MIN_WAIT_NANOS << Math.min(waits, 10));
    return ceiling / 2 + (long) (jitter * (ceiling / 2));
  }

  static Timestamp next(Timestamp ts) {
    return ts.getLogical() == Integer.MAX_VALUE
        ? Timestamp.newBuilder().setWallNanos(ts.getWallNanos() + 1).build()
        : ts.toBuilder().setLogical(ts.getLogical() + 1).build();
  }
}
