package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.KeySpace;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A client of a Basalt cluster: a key-value map from byte-string keys to byte-string values,
 * sharded into ranges (DESIGN.md decision 8).
 *
 * <pre>{@code
 * try (BasaltClient client = BasaltClient.connect("10.0.0.1:7400", "10.0.0.2:7400")) {
 *   client.put(key, value);
 *   byte[] read = client.get(key);
 * }
 * }</pre>
 *
 * <p>The client finds each key's range in the cluster's range directory, caches where ranges are
 * and which node leads each, and sends every request straight to the leader. Redirects, moved
 * ranges, lost connections and unavailable ranges are retried with backoff until the call timeout
 * (default 5 s); a call then fails with a {@link DeadlineExceededException}, or, for a write that
 * may have been applied, an {@link AmbiguousResultException}. Writes carry request ids that make
 * retries safe: each write is applied at most once. A write that fails with anything but an {@code
 * AmbiguousResultException} was certainly not applied.
 *
 * <p>Keys are non-empty, at most {@link KeySpace#MAX_KEY_BYTES} bytes, and do not start with {@code
 * 0x00}; other keys are rejected with an {@link IllegalArgumentException} before anything is sent.
 * Null arguments are rejected with a {@link NullPointerException}, except where a null is
 * documented to mean something.
 *
 * <p>A client is thread-safe and meant to be shared; it connects lazily, on the first request, and
 * holds one connection per node. The blocking methods here wait for the {@linkplain #async()
 * asynchronous} ones; do not call them from the futures' callbacks.
 */
public final class BasaltClient implements AutoCloseable {
  private final Router router;
  private final AsyncBasaltClient async;

  BasaltClient(Router router, int scanPageSize) {
    this.router = router;
    this.async = new AsyncBasaltClient(router, scanPageSize);
  }

  /**
   * A client of the cluster that the nodes at {@code seeds} belong to, with the default settings.
   *
   * @param seeds "host:port" of one or more nodes; the others are learned from them
   * @throws IllegalArgumentException if there are no seeds or one is not host:port
   */
  public static BasaltClient connect(String... seeds) {
    return builder().seeds(seeds).build();
  }

  /** Settings for a new client. */
  public static Builder builder() {
    return new Builder();
  }

  /** The same operations, asynchronous. */
  public AsyncBasaltClient async() {
    return async;
  }

  /**
   * Reads {@code key}'s value.
   *
   * @return the value, or null if the key has none
   * @throws IllegalArgumentException if {@code key} is not a valid user key
   * @throws DeadlineExceededException if no leader answered within the call timeout
   * @throws BasaltException for other failures
   */
  public byte[] get(byte[] key) {
    return await(async.get(key));
  }

  /**
   * Sets {@code key} to {@code value}, applied at most once.
   *
   * @throws IllegalArgumentException if {@code key} is not a valid user key, or key and value
   *     exceed what one request carries (16 MiB less 64 KiB)
   * @throws AmbiguousResultException if an attempt may have been applied and the call did not
   *     succeed (for example no retry confirmed it within the call timeout, or the waiting thread
   *     was interrupted)
   * @throws DeadlineExceededException if the write certainly was not applied within the call
   *     timeout
   * @throws BasaltException for other failures, after which the write certainly was not applied
   */
  public void put(byte[] key, byte[] value) {
    await("put", async.put(key, value));
  }

  /**
   * Removes {@code key}'s value, if any, applied at most once.
   *
   * @return whether the key had a value
   * @throws IllegalArgumentException if {@code key} is not a valid user key
   * @throws AmbiguousResultException as for {@link #put}
   * @throws DeadlineExceededException as for {@link #put}
   */
  public boolean delete(byte[] key) {
    return await("delete", async.delete(key));
  }

  /**
   * Sets {@code key} to {@code newValue} if its value equals {@code expected}, or, when {@code
   * expected} is null, if it has none. Applied at most once.
   *
   * @return whether the value was set
   * @throws IllegalArgumentException if {@code key} is not a valid user key or the request would be
   *     too large
   * @throws AmbiguousResultException as for {@link #put}
   * @throws DeadlineExceededException as for {@link #put}
   */
  public boolean compareAndSet(byte[] key, byte[] expected, byte[] newValue) {
    return await("compare_and_set", async.compareAndSet(key, expected, newValue));
  }

  /**
   * Applies {@code mutations} atomically, at most once. An empty list does nothing.
   *
   * @throws IllegalArgumentException if a key is invalid, the batch would not fit in one request,
   *     or its keys lie in more than one range (the message names the ranges)
   * @throws AmbiguousResultException as for {@link #put}
   * @throws DeadlineExceededException as for {@link #put}
   */
  public void writeBatch(List<Mutation> mutations) {
    await("write_batch", async.writeBatch(mutations));
  }

  /**
   * The pairs with keys in {@code [start, end)}, in key order. Each iterator reads lazily, one page
   * at a time across ranges (the page size is {@link Builder#scanPageSize}), each page under its
   * own call timeout; its {@code hasNext} throws the page's {@link BasaltException} if one fails.
   * Pages are read at different times, so a long scan is not a snapshot.
   *
   * @param start the first key (inclusive); empty for the first user key
   * @param end the end (exclusive); empty for no end
   * @throws IllegalArgumentException if a bound is not a valid key or {@code start} is after {@code
   *     end}
   */
  public Iterable<KeyValue> scan(byte[] start, byte[] end) {
    byte[] from = AsyncBasaltClient.checkScan(start, end);
    byte[] to = end.clone();
    return () -> new ScanIterator(from, to);
  }

  /**
   * Reads up to {@code limit} pairs with keys in {@code [start, end)}, in key order (see {@link
   * #scan(byte[], byte[])}).
   *
   * @throws IllegalArgumentException if a bound is not a valid key, {@code start} is after {@code
   *     end}, or {@code limit} is not positive
   */
  public List<KeyValue> scan(byte[] start, byte[] end, int limit) {
    return await(async.scan(start, end, limit));
  }

  /**
   * Runs {@code fn} as a serializable transaction and commits it when {@code fn} returns; rolls it
   * back when {@code fn} throws. A retryable conflict runs {@code fn} again (up to 10 attempts,
   * with backoff), so {@code fn} must be safe to run more than once and must not keep what a failed
   * attempt read.
   *
   * @return what {@code fn} returned, from the attempt that committed
   * @throws TransactionRetryException if every attempt failed to commit (none applied)
   * @throws AmbiguousResultException if the commit's outcome is unknown (it may have applied)
   * @throws BasaltException for other failures (none applied), or what {@code fn} threw
   */
  public <T> T txn(TxnFunction<T> fn) {
    return txn(TxnOptions.defaults(), fn);
  }

  /** As {@link #txn(TxnFunction)}, with these options (isolation, attempts). */
  public <T> T txn(TxnOptions options, TxnFunction<T> fn) {
    return TxnRunner.run(router, options, fn);
  }

  /**
   * Begins a serializable transaction for a caller that drives it step by step: end it with {@link
   * Txn#commit} or {@link Txn#rollback}. Nothing retries it: on a {@link TransactionRetryException}
   * or {@link TransactionAbortedException}, begin another.
   */
  public Txn begin() {
    return begin(TxnOptions.defaults());
  }

  /** As {@link #begin()}, with these options. */
  public Txn begin(TxnOptions options) {
    return TxnRunner.begin(router, options);
  }

  /**
   * Closes the connections and stops the client's threads. Calls in flight fail (writes among them
   * with an {@link AmbiguousResultException} if they may have been applied); later calls fail.
   */
  @Override
  public void close() {
    router.close();
  }

  private final class ScanIterator implements Iterator<KeyValue> {
    private final byte[] end;
    private final ArrayDeque<KeyValue> buffered = new ArrayDeque<>();
    private byte[] next;

    ScanIterator(byte[] from, byte[] end) {
      this.next = from;
      this.end = end;
    }

    @Override
    public boolean hasNext() {
      while (buffered.isEmpty() && next != null) {
        AsyncBasaltClient.ScanPage page = await(async.scanPage(next, end, pageSize()));
        buffered.addAll(page.kvs());
        next = page.next();
      }
      return !buffered.isEmpty();
    }

    @Override
    public KeyValue next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return buffered.poll();
    }
  }

  private int pageSize() {
    return async.scanPageSize();
  }

  /** Waits for {@code future}; rethrows its failure as it is (unchecked). */
  private static <T> T await(CompletableFuture<T> future) {
    return await(null, future);
  }

  /**
   * Waits for {@code future} of the write named {@code write} (null for a read), as {@link
   * #await(CompletableFuture)} does; but a thread interrupted while a write is under way cannot
   * know its outcome, so the interruption is then an {@link AmbiguousResultException} (the thread's
   * interrupt flag stays set).
   */
  private static <T> T await(String write, CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (ExecutionException e) {
      Throwable cause = Failures.unwrap(e);
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new BasaltException(Failures.describe(cause), cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      if (write != null) {
        throw new AmbiguousResultException(
            write + " may or may not have been applied: interrupted while waiting for its outcome",
            e);
      }
      throw new BasaltException("interrupted while waiting for the cluster", e);
    }
  }

  /**
   * Settings for a {@link BasaltClient}. Every setting but the seeds has a default.
   *
   * <p>{@code meterRegistry} is the only method that needs Micrometer on the class path.
   */
  public static final class Builder {
    private List<String> seeds = List.of();
    private Duration callTimeout = Duration.ofSeconds(5);
    private Duration connectTimeout = Duration.ofSeconds(2);
    private Duration attemptTimeout = Duration.ofSeconds(2);
    private Duration maxRetryBackoff = Duration.ofSeconds(1);
    private Duration initialRetryBackoff = Duration.ofMillis(10);
    private int scanPageSize = 1000;
    private int ioThreads = 1;
    private MeterRegistry meterRegistry;
    private Ticker ticker = Ticker.systemTicker();
    private ClientTls tls;

    private Builder() {}

    /**
     * Connects with TLS, trusting only the cluster's CA and presenting this client's certificate
     * (nodes started with {@code --certs-dir} require both); without it, in plaintext, which only
     * nodes started with {@code --insecure} accept. The files are read by {@link #build}.
     */
    public Builder tls(ClientTls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * The nodes to ask first, as "host:port" (IPv6 literals as "[addr]:port"). One reachable seed
     * suffices; the client learns the others.
     *
     * @throws IllegalArgumentException if a seed is not host:port
     */
    public Builder seeds(String... seeds) {
      for (String seed : seeds) {
        HostAndPort.parse(Objects.requireNonNull(seed, "seed"));
      }
      this.seeds = List.of(seeds);
      return this;
    }

    /**
     * How long a call may take in all, retries included (default 5 s), at most {@link
     * #MAX_CALL_TIMEOUT}: a node remembers a write's request id for 10 minutes, so that a retry is
     * applied at most once, and a call must end well within that. A scan's deadline applies to each
     * page.
     *
     * @throws IllegalArgumentException if not positive or above {@link #MAX_CALL_TIMEOUT}
     */
    public Builder callTimeout(Duration callTimeout) {
      positive(callTimeout, "callTimeout");
      if (callTimeout.compareTo(MAX_CALL_TIMEOUT) > 0) {
        throw new IllegalArgumentException(
            "callTimeout must be at most "
                + MAX_CALL_TIMEOUT
                + " (nodes remember request ids for 10 minutes), got "
                + callTimeout);
      }
      this.callTimeout = callTimeout;
      return this;
    }

    /** The longest call timeout: half the time a node remembers a write's request id. */
    public static final Duration MAX_CALL_TIMEOUT = Duration.ofMinutes(5);

    /**
     * How long opening a connection may take, handshake included (default 2 s); also bounds each
     * question for the node list.
     */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = positive(connectTimeout, "connectTimeout");
      return this;
    }

    /**
     * How long one attempt waits for its answer (default 2 s) before the call tries again,
     * forgetting the node it asked as leader: a stalled or cut-off leader costs this much, not the
     * whole call. A write retried this way keeps its request id, so it is applied at most once;
     * should the call still fail, it fails with {@link AmbiguousResultException}.
     */
    public Builder attemptTimeout(Duration attemptTimeout) {
      this.attemptTimeout = positive(attemptTimeout, "attemptTimeout");
      return this;
    }

    /**
     * The longest wait between retries (default 1 s); waits start at 10 ms and double. While a
     * range's leader is gone or unknown (being elected again), waits stop growing at 200 ms, so
     * that a call notices the new leader soon after it is elected.
     */
    public Builder maxRetryBackoff(Duration maxRetryBackoff) {
      this.maxRetryBackoff = positive(maxRetryBackoff, "maxRetryBackoff");
      return this;
    }

    /** The first wait between retries (default 10 ms); for tests that need exact timing. */
    Builder initialRetryBackoff(Duration initialRetryBackoff) {
      this.initialRetryBackoff = positive(initialRetryBackoff, "initialRetryBackoff");
      return this;
    }

    /**
     * The clock that deadlines are read on (default {@link Ticker#systemTicker()}); for tests that
     * move time themselves. Waits (backoff, an attempt's answer) still pass in real time, each as
     * long as this clock said was left when it began.
     */
    Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * How many network threads the client runs (default 1). Every connection is served by one of
     * them; one thread wakes less often and batches more per wake, more keep up with more traffic
     * on a machine with cores to spare.
     */
    public Builder ioThreads(int ioThreads) {
      if (ioThreads <= 0) {
        throw new IllegalArgumentException("ioThreads must be positive, got " + ioThreads);
      }
      this.ioThreads = ioThreads;
      return this;
    }

    /** The most pairs a scan reads per request (default 1000). */
    public Builder scanPageSize(int scanPageSize) {
      if (scanPageSize <= 0) {
        throw new IllegalArgumentException("scanPageSize must be positive, got " + scanPageSize);
      }
      this.scanPageSize = scanPageSize;
      return this;
    }

    /**
     * Where to register the client's meters: {@code basalt_client_request_seconds} (tags {@code
     * method}, {@code outcome}), {@code basalt_client_retries_total} (tag {@code reason}), {@code
     * basalt_client_range_cache_hits_total} and {@code basalt_client_range_cache_misses_total}. No
     * meters without one.
     */
    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * A new client with these settings. It does not connect yet.
     *
     * @throws IllegalArgumentException if no seed was given
     */
    public BasaltClient build() {
      if (seeds.isEmpty()) {
        throw new IllegalArgumentException("at least one seed (host:port) is required");
      }
      ClientMetrics metrics =
          meterRegistry == null ? ClientMetrics.NONE : new MicrometerClientMetrics(meterRegistry);
      NodeDirectory nodes = new NodeDirectory(seeds);
      long maxBackoffNanos = maxRetryBackoff.toNanos();
      Backoff backoff =
          new Backoff(Math.min(initialRetryBackoff.toNanos(), maxBackoffNanos), maxBackoffNanos);
      ConnectionPool pool =
          new ConnectionPool(
              nodes, connectTimeout, ioThreads, ticker, tls == null ? null : tls.newContext());
      Router router =
          new Router(
              nodes,
              new RangeCache(100_000),
              pool,
              metrics,
              backoff,
              callTimeout.toNanos(),
              attemptTimeout.toNanos(),
              connectTimeout.toNanos(),
              new SecureRandom().nextLong());
      return new BasaltClient(router, scanPageSize);
    }

    private static Duration positive(Duration duration, String name) {
      Objects.requireNonNull(duration, name);
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, got " + duration);
      }
      return duration;
    }
  }
}
