package io.basalt.client;

import static io.basalt.client.Failures.asBasalt;
import static io.basalt.client.Failures.describe;
import static io.basalt.client.Failures.provesNotApplied;
import static io.basalt.client.Failures.unwrap;

import com.github.benmanes.caffeine.cache.Ticker;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Error;
import io.basalt.api.KeyNotInRangeError;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NotLeaderError;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ScanRequest;
import io.basalt.client.RangeCache.CachedRange;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Sends each request to the leader of the range that holds its key, and retries it until it
 * succeeds, fails for good, or its deadline passes (DESIGN.md decision 8).
 *
 * <h2>Routing</h2>
 *
 * The {@link RangeCache} says which range holds a key and which node leads it. On a miss the range
 * is looked up in the meta range: a one-row scan of the range directory from {@link
 * KeySpace#rangeLookupStart}. The meta range is itself routed like a range whose replicas are all
 * the known nodes: any node holding a replica answers, the others say RangeNotFound, followers say
 * NotLeader. Node addresses come from the {@link NodeDirectory}, refreshed when a node id is
 * unknown. Without a known leader, a call tries the range's voters in turn, starting after the node
 * it tried last.
 *
 * <h2>Retries</h2>
 *
 * Every call has one deadline, fixed when it starts; lookups made on its behalf share it. Errors
 * that carry the fix (NotLeader with a hint, RangeNotFound, KeyNotInRange) update the cache and
 * retry at once, a few times per call; everything else retryable (no leader known, a node
 * unreachable, unavailable, not serving, timed out) waits an exponential backoff with jitter
 * ({@link Backoff}), capped so that no wait runs past the deadline; no attempt starts in the last
 * {@link #MIN_ATTEMPT_NANOS}. INVALID_ARGUMENT and unknown error codes end the call.
 *
 * <h2>Writes and ambiguity</h2>
 *
 * A write carries a request id (8 random bytes naming this client, then an 8-byte sequence) that
 * every retry of it reuses, and nodes apply a request id at most once; so retrying a write whose
 * outcome is unknown is safe. A write's failure is reported as definite only if every attempt ended
 * in a way that proves it was not applied ({@link Failures#provesNotApplied}): the request never
 * left the client, or a node refused it before evaluating it (NotLeader, RangeNotFound,
 * KeyNotInRange, Unavailable, INVALID_ARGUMENT, NOT_INITIALIZED, NOT_SERVING). Any other ending of
 * any attempt (the connection broke after sending, no answer within the attempt's time, a Timeout
 * answer, an error code or answer this client does not understand) makes the outcome unknown for
 * good: a call that does not then succeed ends in an {@link AmbiguousResultException}, whatever
 * later attempts were told, never in a failure that claims the write was not applied.
 *
 * <h2>Threads</h2>
 *
 * Nothing here blocks. A call moves one step at a time, each step started by the completion of the
 * last (an answer, a lookup, a timer on the I/O threads), so a call's fields need no locks.
 */
final class Router implements AutoCloseable {
  /**
   * A request as the router sees it.
   *
   * @param method the name used in metrics and messages ("get", "put", …)
   * @param key the key that picks the range
   * @param write whether the request changes data (it then carries a request id)
   * @param answer the kind of answer that means success; any other ends the call (a write's
   *     ambiguously: the node evaluated it, but the client cannot tell to what effect)
   * @param body builds the request for the range it is routed to (the header is added after); may
   *     throw {@link IllegalArgumentException} to end the call
   */
  record Op(
      String method,
      byte[] key,
      boolean write,
      KvResponse.ResponseCase answer,
      Function<RangeDescriptor, KvRequest.Builder> body) {}

  /** A successful answer and the descriptor of the range the request was routed by. */
  record Reply(KvResponse response, RangeDescriptor range) {}

  /** Retries that skip the backoff (redirects that carry their fix), per call. */
  private static final int MAX_IMMEDIATE_RETRIES = 3;

  /** The longest wait between attempts while a range's leader is gone or unknown. */
  static final long ELECTION_POLL_NANOS = 200_000_000L;

  /**
   * An attempt is not started with less time left: its answer would hardly come back in time, and
   * for a write the attempt could only turn a certain failure into an ambiguous one.
   */
  private static final long MIN_ATTEMPT_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

  private static final RangeDescriptor META_RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(KeySpace.META_RANGE_ID)
          .setEndKey(ByteString.copyFrom(KeySpace.USER_START))
          .build();

  private final NodeDirectory nodes;
  private final RangeCache ranges;
  private final ClientRuntime runtime;
  private final ClientMetrics metrics;
  private final Backoff backoff;

  /** The clock of deadlines and measured durations ({@link Ticker#systemTicker()} but in tests). */
  private final Ticker ticker;

  private final ClusterClock clock;

  /** How long one attempt waits for its answer before the call tries again (elsewhere). */
  private final long attemptTimeoutNanos;

  private final long callTimeoutNanos;
  private final long nodeInfoTimeoutNanos;
  private final long clientId;
  private final AtomicLong writeSequence = new AtomicLong();
  private final Set<Call> inFlight = ConcurrentHashMap.newKeySet();

  /** Pushes the transactions whose intents a call meets, and resolves what it may. */
  private final IntentResolver intents = new IntentResolver(this);

  private volatile long metaLeader;
  private volatile boolean closed;

  Router(
      NodeDirectory nodes,
      RangeCache ranges,
      ClientRuntime runtime,
      ClientMetrics metrics,
      Backoff backoff,
      long callTimeoutNanos,
      long attemptTimeoutNanos,
      long nodeInfoTimeoutNanos,
      long clientId) {
    this.nodes = nodes;
    this.ranges = ranges;
    this.runtime = runtime;
    this.metrics = metrics;
    this.backoff = backoff;
    this.ticker = runtime.ticker();
    this.clock = new ClusterClock(ticker);
    this.callTimeoutNanos = callTimeoutNanos;
    this.attemptTimeoutNanos = attemptTimeoutNanos;
    this.nodeInfoTimeoutNanos = nodeInfoTimeoutNanos;
    this.clientId = clientId;
  }

  /** Routes {@code op} to its range's leader, retrying under the call timeout. */
  CompletableFuture<Reply> send(Op op) {
    long start = ticker.read();
    ByteString requestId = op.write() ? nextRequestId() : ByteString.EMPTY;
    Call call = new Call(op, start + callTimeoutNanos, requestId, false, null);
    call.start();
    // The caller's future completes after the measurement, so a caller that saw it sees the meter.
    return call.result.whenComplete(
        (reply, failure) -> metrics.request(op.method(), ticker.read() - start, failure == null));
  }

  /**
   * The descriptor of the range holding {@code key}: cached, or looked up under a fresh deadline.
   */
  CompletableFuture<RangeDescriptor> locate(byte[] key) {
    CachedRange cached = ranges.find(key);
    if (cached != null) {
      metrics.rangeCacheHit();
      return CompletableFuture.completedFuture(cached.descriptor());
    }
    metrics.rangeCacheMiss();
    return lookup(key, ticker.read() + callTimeoutNanos)
        .thenApply(descriptor -> {
          ranges.put(descriptor);
          return descriptor;
        });
  }

  boolean isClosed() {
    return closed;
  }

  /** The clock of deadlines and measured durations. */
  Ticker ticker() {
    return ticker;
  }

  /** What this router runs on: its timers, clocks and random numbers serve transactions too. */
  ClientRuntime runtime() {
    return runtime;
  }

  /** The cluster's clock as this client's answers showed it. */
  ClusterClock clock() {
    return clock;
  }

  /** The resolver of intents that calls meet (a transaction's coordinator resolves its own). */
  IntentResolver intents() {
    return intents;
  }

  /** Stops routing: calls in flight and new ones fail. */
  @Override
  public void close() {
    closed = true;
    runtime.close();
    // The I/O threads are gone: a call waiting for a timer or an answer would wait forever.
    for (Call call : inFlight) {
      call.finish(new BasaltException("the client is closed"));
    }
  }

  private ByteString nextRequestId() {
    return ByteString.copyFrom(
        ByteBuffer.allocate(16).putLong(clientId).putLong(writeSequence.incrementAndGet()).flip());
  }

  /** Reads the range directory for the descriptor of the range holding {@code key}. */
  private CompletableFuture<RangeDescriptor> lookup(byte[] key, long deadlineNanos) {
    Op op =
        new Op(
            "range_lookup",
            key,
            false,
            KvResponse.ResponseCase.SCAN,
            meta ->
                KvRequest.newBuilder()
                    .setScan(
                        ScanRequest.newBuilder()
                            .setStartKey(ByteString.copyFrom(KeySpace.rangeLookupStart(key)))
                            .setEndKey(ByteString.copyFrom(KeySpace.rangeDirectoryEnd()))
                            .setLimit(1)));
    Function<KvResponse, String> complaint =
        response -> {
          try {
            RangeCache.parseLookup(key, response);
            return null;
          } catch (InvalidProtocolBufferException | IllegalStateException e) {
            return e.getMessage();
          }
        };
    Call call = new Call(op, deadlineNanos, ByteString.EMPTY, true, complaint);
    call.start();
    return call.result.thenApply(reply -> {
      try {
        return RangeCache.parseLookup(key, reply.response());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException(e); // checked by the complaint already
      }
    });
  }

  /** One call in progress: its retry state. See the class comment. */
  private final class Call {
    final Op op;
    final long deadlineNanos;
    final ByteString requestId;
    final boolean meta;
    final Function<KvResponse, String> complaint;
    final CompletableFuture<Reply> result = new CompletableFuture<>();
    int attempts;
    int backoffs;
    int immediateRetries;
    int intentWaits;
    long lastNode;
    volatile boolean maybeApplied; // read by close() too
    volatile boolean awaitingAnswer; // an attempt was handed to a connection; read by close()
    BasaltException lastFailure;

    /**
     * @param meta whether the call goes to the meta range (else to the range holding the op's key)
     * @param complaint when set, finds fault with an answer that is no error: such answers are
     *     retried like an unavailable range
     */
    Call(
        Op op,
        long deadlineNanos,
        ByteString requestId,
        boolean meta,
        Function<KvResponse, String> complaint) {
      this.op = op;
      this.deadlineNanos = deadlineNanos;
      this.requestId = requestId;
      this.meta = meta;
      this.complaint = complaint;
    }

    void start() {
      inFlight.add(this);
      result.whenComplete((reply, failure) -> inFlight.remove(this));
      attempt();
    }

    void attempt() {
      if (result.isDone()) {
        return;
      }
      if (closed) {
        finish(new BasaltException("the client is closed"));
        return;
      }
      if (deadlineNanos - ticker.read() < MIN_ATTEMPT_NANOS) {
        giveUp();
        return;
      }
      if (meta) {
        attemptMeta();
        return;
      }
      CachedRange cached = ranges.find(op.key());
      if (cached != null) {
        metrics.rangeCacheHit();
        route(cached.descriptor(), cached.leaderNode().get());
        return;
      }
      metrics.rangeCacheMiss();
      lookup(op.key(), deadlineNanos)
          .whenComplete((descriptor, failure) -> {
            if (failure != null) {
              lookupFailed(asBasalt(failure));
              return;
            }
            ranges.put(descriptor);
            // The cache may hold a newer descriptor than the one just read.
            CachedRange fresh = ranges.find(op.key());
            if (fresh != null) {
              route(fresh.descriptor(), fresh.leaderNode().get());
            } else {
              route(descriptor, 0);
            }
          });
    }

    private void attemptMeta() {
      List<Long> candidates = nodes.nodeIds();
      if (candidates.isEmpty()) {
        refreshNodes()
            .whenComplete((ok, failure) -> {
              if (failure != null) {
                lastFailure = asBasalt(failure);
                retryAfterBackoff("node_discovery");
              } else {
                attempt();
              }
            });
        return;
      }
      long leader = metaLeader;
      sendTo(META_RANGE, leader != 0 && candidates.contains(leader) ? leader : after(candidates));
    }

    /** Sends to {@code leader} if known, else to the next voter of the range. */
    private void route(RangeDescriptor range, long leader) {
      if (leader != 0) {
        sendTo(range, leader);
        return;
      }
      List<Long> candidates = new ArrayList<>();
      for (ReplicaDescriptor replica : range.getReplicasList()) {
        if (replica.getRole() != ReplicaRole.REPLICA_ROLE_LEARNER) {
          candidates.add(replica.getNodeId());
        }
      }
      if (candidates.isEmpty()) {
        lastFailure = new UnavailableException("range " + describe(range) + " lists no voters");
        ranges.invalidate(range.getRangeId());
        retryAfterBackoff("no_replica");
        return;
      }
      sendTo(range, after(candidates));
    }

    /** The candidate after the node this call tried last (the first, if it tried none of them). */
    private long after(List<Long> candidates) {
      return candidates.get((candidates.indexOf(lastNode) + 1) % candidates.size());
    }

    private void sendTo(RangeDescriptor range, long node) {
      String address = nodes.address(node);
      if (address != null) {
        send(range, node, address);
        return;
      }
      refreshNodes()
          .whenComplete((ok, failure) -> {
            String found = nodes.address(node);
            if (found != null) {
              send(range, node, found);
              return;
            }
            lastFailure =
                failure != null
                    ? asBasalt(failure)
                    : new UnavailableException("no node knows the address of node " + node);
            forgetLeader(range, node);
            retryAfterBackoff("unknown_node");
          });
    }

    private void send(RangeDescriptor range, long node, String address) {
      if (deadlineNanos - ticker.read() < MIN_ATTEMPT_NANOS) {
        giveUp(); // a lookup or node discovery used up the time
        return;
      }
      KvRequest request;
      try {
        KvRequest.Builder b = op.body().apply(range);
        // The body may have set part of the header (a transaction's); the routing is added here.
        b.getHeaderBuilder()
            .setRangeId(range.getRangeId())
            .setRangeGeneration(range.getGeneration())
            .setRequestId(requestId);
        request = b.build();
      } catch (IllegalArgumentException e) {
        finish(e);
        return;
      }
      CompletableFuture<KvResponse> answer;
      try {
        answer =
            runtime.call(
                address, request, Math.min(deadlineNanos, ticker.read() + attemptTimeoutNanos));
      } catch (IllegalStateException e) {
        finish(new BasaltException("the client is closed"));
        return;
      }
      attempts++;
      lastNode = node;
      awaitingAnswer = true;
      answer.whenComplete((response, failure) -> {
        Throwable cause = failure == null ? null : unwrap(failure);
        if (op.write() && !provesNotApplied(response, cause)) {
          maybeApplied = true;
        }
        awaitingAnswer = false; // after maybeApplied: see finish
        if (cause != null) {
          onTransportFailure(range, node, cause);
        } else if (response.hasError()) {
          onError(range, node, response.getError(), request, response);
        } else {
          onAnswer(range, node, response);
        }
      });
    }

    private void onAnswer(RangeDescriptor range, long node, KvResponse response) {
      clock.observe(response.getHeader());
      String fault = complaint == null ? null : complaint.apply(response);
      if (fault != null) {
        lastFailure = new UnavailableException("node " + node + ": " + fault);
        retryAfterBackoff("incomplete_answer");
        return;
      }
      if (response.getResponseCase() != op.answer()) {
        finish(
            new BasaltException(
                "node "
                    + node
                    + " answered "
                    + op.answer()
                    + " for range "
                    + range.getRangeId()
                    + " with "
                    + response.getResponseCase()));
        return;
      }
      if (meta) {
        metaLeader = node;
      } else {
        ranges.setLeader(range.getRangeId(), node);
      }
      result.complete(new Reply(response, range));
    }

    private void onTransportFailure(RangeDescriptor range, long node, Throwable failure) {
      if (!(failure instanceof Connection.Failure lost)) {
        finish(asBasalt(failure));
        return;
      }
      if (lost.kind == Connection.Failure.Kind.NOT_SENT && ticker.read() - deadlineNanos >= 0) {
        giveUp(); // the deadline passed on the way out: keep the failure that made us retry
        return;
      }
      BasaltException unavailable =
          new UnavailableException("node " + node + ": " + lost.getMessage());
      switch (lost.kind) {
        case NOT_SENT -> {
          lastFailure = unavailable;
          forgetLeader(range, node);
          retryWhileElecting("unreachable");
        }
        case LOST -> {
          lastFailure = unavailable;
          forgetLeader(range, node);
          retryWhileElecting("connection_lost");
        }
        case NO_REPLY -> {
          if (deadlineNanos - ticker.read() >= MIN_ATTEMPT_NANOS) {
            // Only this attempt's time ran out (a stalled or cut-off leader): try again, perhaps
            // elsewhere. A write retried under its request id is applied at most once.
            lastFailure = unavailable;
            forgetLeader(range, node);
            retryAfterBackoff("attempt_timeout");
            return;
          }
          // The deadline ends the call; an earlier failure explains better why it was still going.
          if (lastFailure == null) {
            lastFailure = unavailable;
          }
          giveUp();
        }
      }
    }

    private void onError(
        RangeDescriptor range, long node, Error error, KvRequest request, KvResponse response) {
      long rangeId = range.getRangeId();
      switch (error.getDetailCase()) {
        case WRITE_INTENT -> {
          lastFailure =
              new BasaltException(
                  "node "
                      + node
                      + ": key "
                      + Keys.shortly(error.getWriteIntent().getKey().toByteArray())
                      + " holds an intent of another transaction",
                  "WRITE_INTENT",
                  null);
          intents
              .resolve(request, response)
              .whenComplete((cleared, failure) -> {
                if (failure == null
                    && cleared
                    && IntentResolver.readTimestampAssigned(request, response)) {
                  // A transaction's first read: its leader chose its read timestamp, which the
                  // retry must carry (a new one would meet the moved intent again).
                  finish(new TxnErrorException(error, response.getHeader().getTxn()));
                } else if (failure == null && cleared) {
                  metrics.retry("write_intent");
                  attempt();
                } else if (request.hasTxnWrite() && !request.getTxnWrite().getOnePhase()) {
                  // A commit's write does not wait for a holder it cannot move: the holder may be
                  // waiting for this commit's staged record. It gives up (its coordinator
                  // recovers the commit, aborted, and the transaction is retried).
                  finish(
                      new TxnErrorException(
                          io.basalt.api.Errors.txnRetry(
                                  "a commit's write met another transaction's intent", null)
                              .getError(),
                          response.getHeader().hasTxn() ? response.getHeader().getTxn() : null));
                } else {
                  waitForIntent();
                }
              });
        }
        case TXN_RETRY, TXN_ABORTED, READ_UNCERTAIN, GC_THRESHOLD ->
            finish(
                new TxnErrorException(
                    error, response.getHeader().hasTxn() ? response.getHeader().getTxn() : null));
        case NOT_LEADER -> {
          NotLeaderError notLeader = error.getNotLeader();
          long hint = notLeader.getLeaderHint().getNodeId();
          nodes.learn(hint, notLeader.getLeaderAddress());
          lastFailure =
              new NotLeaderException(
                  "node "
                      + node
                      + " is not the leader of range "
                      + rangeId
                      + (hint != 0 ? " (it names node " + hint + ")" : " (it knows no leader)"),
                  rangeId,
                  hint);
          if (hint != 0 && hint != node) {
            setLeader(range, hint);
            retryNow("not_leader");
          } else {
            forgetLeader(range, node);
            retryWhileElecting("not_leader");
          }
        }
        case RANGE_NOT_FOUND -> {
          lastFailure = new BasaltException("node " + node + " has no replica of range " + rangeId);
          if (meta) {
            forgetLeader(range, node);
          } else {
            ranges.invalidate(rangeId);
          }
          retryNow("range_not_found");
        }
        case KEY_NOT_IN_RANGE -> {
          KeyNotInRangeError notInRange = error.getKeyNotInRange();
          lastFailure =
              new BasaltException(
                  "range "
                      + describe(range)
                      + " changed: node "
                      + node
                      + " says it does not hold "
                      + Keys.shortly(notInRange.getKey().toByteArray())
                      + (notInRange.hasCurrent()
                          ? "; it is now " + describe(notInRange.getCurrent())
                          : ""));
          if (meta) {
            retryAfterBackoff("key_not_in_range");
            return;
          }
          if (notInRange.hasCurrent()) {
            ranges.put(notInRange.getCurrent());
          }
          if (notInRange.hasCovering()) {
            // The node's replica that holds the key (after a split, the new range): routed there
            // without asking the directory, which may not have recorded the split yet.
            ranges.put(notInRange.getCovering());
          }
          CachedRange now = ranges.get(rangeId);
          if (now != null && now.descriptor().getGeneration() <= range.getGeneration()) {
            // Nothing newer was learned: forget the range and look it up again.
            ranges.invalidate(rangeId);
          }
          retryNow("key_not_in_range");
        }
        case TIMEOUT -> {
          lastFailure =
              new BasaltException(
                  "node " + node + " timed out: " + error.getTimeout().getMessage(),
                  "TIMEOUT",
                  null);
          retryAfterBackoff("timeout");
        }
        case UNAVAILABLE -> {
          lastFailure =
              new UnavailableException(
                  "range "
                      + rangeId
                      + " at node "
                      + node
                      + ": "
                      + error.getUnavailable().getMessage());
          forgetLeader(range, node);
          retryAfterBackoff("unavailable");
        }
        case GENERIC -> {
          String code = error.getGeneric().getCode();
          String message = "node " + node + ": " + code + ": " + error.getGeneric().getMessage();
          switch (code) {
            case "INVALID_ARGUMENT" -> finish(new InvalidArgumentException(message));
            case "NOT_INITIALIZED", "NOT_SERVING" -> {
              lastFailure = new UnavailableException(message, code);
              forgetLeader(range, node);
              retryAfterBackoff(code.toLowerCase(Locale.ROOT));
            }
            default -> finish(new BasaltException(message, code, null));
          }
        }
        case DETAIL_NOT_SET ->
            finish(new BasaltException("node " + node + " answered with an error without detail"));
      }
    }

    private void setLeader(RangeDescriptor range, long node) {
      if (meta) {
        metaLeader = node;
      } else {
        ranges.setLeader(range.getRangeId(), node);
      }
    }

    private void forgetLeader(RangeDescriptor range, long node) {
      if (meta) {
        if (metaLeader == node) {
          metaLeader = 0;
        }
      } else {
        ranges.clearLeader(range.getRangeId(), node);
      }
    }

    private void lookupFailed(BasaltException failure) {
      if (failure instanceof DeadlineExceededException) {
        if (failure.getCause() instanceof BasaltException cause) {
          lastFailure = cause;
        }
        giveUp();
      } else {
        finish(failure);
      }
    }

    private CompletableFuture<Void> refreshNodes() {
      return nodes.refresh(address ->
          NodeDirectory.ask(
              runtime, address, Math.min(deadlineNanos, ticker.read() + nodeInfoTimeoutNanos)));
    }

    private void retryNow(String reason) {
      if (immediateRetries >= MAX_IMMEDIATE_RETRIES) {
        retryAfterBackoff(reason);
        return;
      }
      immediateRetries++;
      metrics.retry(reason);
      try {
        runtime.execute(this::attempt);
      } catch (RejectedExecutionException e) {
        finish(new BasaltException("the client is closed"));
      }
    }

    private void retryAfterBackoff(String reason) {
      retryAfter(reason, backoff.delayNanos(backoffs++, runtime.random().nextDouble()));
    }

    /**
     * As {@link #retryAfterBackoff}, but waiting at most {@link #ELECTION_POLL_NANOS} (between half
     * and all of it) when the backoff would grow beyond that: the range's leader is gone or
     * unknown, a new one is usually elected within about a second, and a backoff of a second would
     * overshoot it by as much again.
     */
    private void retryWhileElecting(String reason) {
      retryAfter(
          reason,
          backoff.delayWhileElectingNanos(
              backoffs++, runtime.random().nextDouble(), ELECTION_POLL_NANOS));
    }

    /** Tries again after a short wait for a live transaction's intent to go (IntentResolver). */
    private void waitForIntent() {
      retryAfter(
          "write_intent_wait",
          IntentResolver.waitNanos(intentWaits++, runtime.random().nextDouble()));
    }

    /** Tries again after {@code delay}, or at the deadline if that comes first. */
    private void retryAfter(String reason, long delay) {
      metrics.retry(reason);
      long remaining = deadlineNanos - ticker.read();
      try {
        runtime.schedule(this::attempt, Math.max(0, Math.min(delay, remaining)));
      } catch (RejectedExecutionException e) {
        finish(new BasaltException("the client is closed"));
      }
    }

    private void giveUp() {
      long timeoutMillis = TimeUnit.NANOSECONDS.toMillis(callTimeoutNanos);
      String last = lastFailure == null ? "" : "; last failure: " + lastFailure.getMessage();
      if (maybeApplied) {
        result.completeExceptionally(
            new AmbiguousResultException(
                op.method()
                    + " may or may not have been applied: no outcome within "
                    + timeoutMillis
                    + " ms ("
                    + attempts
                    + " attempts)"
                    + last,
                lastFailure));
      } else {
        result.completeExceptionally(
            new DeadlineExceededException(
                op.method()
                    + (meta ? " (for key " + Keys.shortly(op.key()) + ")" : "")
                    + " did not complete within "
                    + timeoutMillis
                    + " ms ("
                    + attempts
                    + " attempts)"
                    + last,
                lastFailure));
      }
    }

    /**
     * Ends the call with a failure that is not the deadline's: for a write that may have been
     * applied, wrapped in an {@link AmbiguousResultException} whatever it is, since a refusal of a
     * later attempt (even INVALID_ARGUMENT) says nothing of an earlier one.
     */
    void finish(RuntimeException failure) {
      // awaitingAnswer first: the answer's handler sets maybeApplied before it clears that.
      if ((op.write() && awaitingAnswer) || maybeApplied) {
        result.completeExceptionally(
            new AmbiguousResultException(
                op.method() + " may or may not have been applied: " + failure.getMessage(),
                failure));
      } else {
        result.completeExceptionally(failure);
      }
    }
  }
}
