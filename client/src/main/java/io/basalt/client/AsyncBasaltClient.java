package io.basalt.client;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.DeleteRequest;
import io.basalt.api.GetRequest;
import io.basalt.api.GetResponse;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.WriteBatchRequest;
import io.basalt.client.Router.Op;
import io.basalt.client.Router.Reply;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The asynchronous face of a {@link BasaltClient}: the same operations, returning futures. Obtain
 * it with {@link BasaltClient#async()}; it shares the client's connections, caches and lifetime.
 *
 * <p>Each future completes exactly once, within the call timeout (plus scheduling slack): with the
 * result, or with a {@link BasaltException} ({@link DeadlineExceededException}, {@link
 * AmbiguousResultException}, {@link InvalidArgumentException}, …). Invalid arguments are rejected
 * by throwing {@link IllegalArgumentException} (or {@link NullPointerException}) from the method
 * itself, before anything is sent.
 *
 * <p>Futures complete on the client's I/O threads: dependent actions that block (or call the
 * blocking {@link BasaltClient}) must run on an executor of their own ({@code thenApplyAsync(f,
 * executor)}). Cancelling a future does not stop the request.
 */
public final class AsyncBasaltClient {
  /** The most bytes of keys and values a scan page asks for. */
  private static final long SCAN_PAGE_MAX_BYTES = 4 << 20;

  private final Router router;
  private final int scanPageSize;

  AsyncBasaltClient(Router router, int scanPageSize) {
    this.router = router;
    this.scanPageSize = scanPageSize;
  }

  /**
   * Reads {@code key}'s value: the newest committed value, read at the range's leader.
   *
   * @return the value, or null if the key has none
   * @throws IllegalArgumentException if {@code key} is not a valid user key (empty, starting with
   *     0x00, or longer than {@link KeySpace#MAX_KEY_BYTES})
   */
  public CompletableFuture<byte[]> get(byte[] key) {
    Keys.checkKey(key, "key");
    ByteString k = ByteString.copyFrom(key);
    return router
        .send(
            new Op(
                "get",
                key,
                false,
                KvResponse.ResponseCase.GET,
                range -> KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(k))))
        .thenApply(reply -> {
          GetResponse get = reply.response().getGet();
          return get.getFound() ? get.getKv().getValue().toByteArray() : null;
        });
  }

  /**
   * Sets {@code key} to {@code value}. Retries reuse one request id, so the write is applied at
   * most once. If the call fails after an attempt that may have been applied, the future fails with
   * an {@link AmbiguousResultException}; any other failure means the write was not applied.
   *
   * @throws IllegalArgumentException if {@code key} is not a valid user key, or key and value
   *     exceed what one request carries (16 MiB less 64 KiB)
   */
  public CompletableFuture<Void> put(byte[] key, byte[] value) {
    Keys.checkKey(key, "key");
    Keys.checkValue(key, value, "value");
    PutRequest put =
        PutRequest.newBuilder()
            .setKey(ByteString.copyFrom(key))
            .setValue(ByteString.copyFrom(value))
            .build();
    return router
        .send(
            new Op(
                "put",
                key,
                true,
                KvResponse.ResponseCase.PUT,
                range -> KvRequest.newBuilder().setPut(put)))
        .thenAccept(reply -> {});
  }

  /**
   * Removes {@code key}'s value, if any. Applied at most once, like {@link #put}.
   *
   * @return whether the key had a value
   * @throws IllegalArgumentException if {@code key} is not a valid user key
   */
  public CompletableFuture<Boolean> delete(byte[] key) {
    Keys.checkKey(key, "key");
    DeleteRequest delete = DeleteRequest.newBuilder().setKey(ByteString.copyFrom(key)).build();
    return router
        .send(
            new Op(
                "delete",
                key,
                true,
                KvResponse.ResponseCase.DELETE,
                range -> KvRequest.newBuilder().setDelete(delete)))
        .thenApply(reply -> reply.response().getDelete().getExisted());
  }

  /**
   * Sets {@code key} to {@code newValue} if its current value equals {@code expected}, or, when
   * {@code expected} is null, if it has no value. Applied at most once, like {@link #put}; a retry
   * after an unknown outcome reports the first application's result.
   *
   * @return whether the value was set
   * @throws IllegalArgumentException if {@code key} is not a valid user key or the request would be
   *     too large
   */
  public CompletableFuture<Boolean> compareAndSet(byte[] key, byte[] expected, byte[] newValue) {
    Keys.checkKey(key, "key");
    Keys.checkValue(key, newValue, "newValue");
    if (expected != null) {
      Keys.checkPayload(
          (long) key.length + expected.length + newValue.length, "key, expected and new value");
    }
    ConditionalPutRequest.Builder cas =
        ConditionalPutRequest.newBuilder()
            .setKey(ByteString.copyFrom(key))
            .setValue(ByteString.copyFrom(newValue));
    if (expected == null) {
      cas.setExpectAbsent(true);
    } else {
      cas.setExpectedValue(ByteString.copyFrom(expected));
    }
    ConditionalPutRequest request = cas.build();
    return router
        .send(
            new Op(
                "compare_and_set",
                key,
                true,
                KvResponse.ResponseCase.CONDITIONAL_PUT,
                range -> KvRequest.newBuilder().setConditionalPut(request)))
        .thenApply(reply -> reply.response().getConditionalPut().getSucceeded());
  }

  /**
   * Applies {@code mutations} atomically: all or none. Every key must lie in one range; the future
   * fails with an {@link IllegalArgumentException} that names the ranges when they do not (also
   * when a range split between the check and the write, unless an earlier attempt may have been
   * applied: then with an {@link AmbiguousResultException} whose cause it is). Applied at most
   * once, like {@link #put}. An empty list completes at once.
   *
   * @throws IllegalArgumentException if a key is invalid or the batch would not fit in one request
   */
  public CompletableFuture<Void> writeBatch(List<Mutation> mutations) {
    Objects.requireNonNull(mutations, "mutations");
    WriteBatchRequest.Builder batch = WriteBatchRequest.newBuilder();
    List<byte[]> keys = new ArrayList<>(mutations.size());
    long payloadBytes = 0;
    for (int i = 0; i < mutations.size(); i++) {
      Mutation mutation = Objects.requireNonNull(mutations.get(i), "mutations[" + i + "]");
      Keys.checkKey(mutation.key(), "mutations[" + i + "].key");
      keys.add(mutation.key());
      ByteString key = ByteString.copyFrom(mutation.key());
      payloadBytes += mutation.key().length;
      switch (mutation) {
        case Mutation.Put put -> {
          payloadBytes += put.value().length;
          batch.addMutations(
              io.basalt.api.Mutation.newBuilder()
                  .setPut(
                      PutRequest.newBuilder()
                          .setKey(key)
                          .setValue(ByteString.copyFrom(put.value()))));
        }
        case Mutation.Delete delete ->
            batch.addMutations(
                io.basalt.api.Mutation.newBuilder()
                    .setDelete(DeleteRequest.newBuilder().setKey(key)));
      }
    }
    Keys.checkPayload(payloadBytes, "the batch's keys and values");
    if (keys.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    WriteBatchRequest request = batch.build();
    Op op =
        new Op(
            "write_batch",
            keys.get(0),
            true,
            KvResponse.ResponseCase.WRITE_BATCH,
            range -> {
              for (byte[] key : keys) {
                if (!KeySpace.contains(range, key)) {
                  throw new IllegalArgumentException(
                      "a batch must stay within one range; range "
                          + Failures.describe(range)
                          + " does not hold "
                          + Keys.shortly(key));
                }
              }
              return KvRequest.newBuilder().setWriteBatch(request);
            });
    // One lookup for a batch that fits its first key's range; more only to name the ranges.
    return router
        .locate(keys.get(0))
        .thenCompose(first -> {
          List<CompletableFuture<RangeDescriptor>> located = new ArrayList<>();
          boolean spans = false;
          for (byte[] key : keys) {
            boolean inside = KeySpace.contains(first, key);
            spans |= !inside;
            located.add(inside ? CompletableFuture.completedFuture(first) : router.locate(key));
          }
          if (!spans) {
            return router.send(op);
          }
          return CompletableFuture.allOf(located.toArray(CompletableFuture[]::new))
              .<Reply>thenApply(ok -> {
                List<RangeDescriptor> ranges =
                    located.stream().map(CompletableFuture::join).toList();
                throw new IllegalArgumentException(spansRanges(keys, ranges));
              });
        })
        .thenAccept(reply -> {});
  }

  /**
   * Reads up to {@code limit} pairs with keys in {@code [start, end)}, in key order, across as many
   * ranges as needed. Each range is read in pages of at most the configured page size, each page
   * under its own call timeout; pages are read at different times, so the result is not a snapshot.
   *
   * @param start the first key (inclusive); empty for the first user key
   * @param end the end (exclusive); empty for no end
   * @throws IllegalArgumentException if a bound is not a valid key, {@code start} is after {@code
   *     end}, or {@code limit} is not positive
   */
  public CompletableFuture<List<KeyValue>> scan(byte[] start, byte[] end, int limit) {
    byte[] from = checkScan(start, end);
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be positive, got " + limit);
    }
    List<KeyValue> out = new ArrayList<>();
    if (from == null) {
      return CompletableFuture.completedFuture(out);
    }
    return collect(from, end, limit, out);
  }

  private CompletableFuture<List<KeyValue>> collect(
      byte[] from, byte[] end, int limit, List<KeyValue> out) {
    return scanPage(from, end, Math.min(scanPageSize, limit - out.size()))
        .thenCompose(page -> {
          out.addAll(page.kvs());
          if (page.next() == null || out.size() >= limit) {
            return CompletableFuture.completedFuture(out);
          }
          return collect(page.next(), end, limit, out);
        });
  }

  /**
   * Runs {@code fn} as a transaction on a thread of the client's (an attempt's reads block it), as
   * {@link BasaltClient#txn(TxnOptions, TxnFunction)} does; the future completes with what the
   * committing attempt returned, or fails as that method throws.
   */
  public <T> CompletableFuture<T> txn(TxnOptions options, TxnFunction<T> fn) {
    return CompletableFuture.supplyAsync(
        () -> TxnRunner.run(router, options, fn), TxnRunner.async());
  }

  /** As {@link #txn(TxnOptions, TxnFunction)} with the default options. */
  public <T> CompletableFuture<T> txn(TxnFunction<T> fn) {
    return txn(TxnOptions.defaults(), fn);
  }

  int scanPageSize() {
    return scanPageSize;
  }

  /** One page of a scan: the pairs, and where to go on from (null when the scan is done). */
  record ScanPage(List<KeyValue> kvs, byte[] next) {}

  /**
   * Validates scan bounds.
   *
   * @return where the scan starts, or null if {@code [start, end)} is empty
   */
  static byte[] checkScan(byte[] start, byte[] end) {
    Keys.checkBound(start, "start");
    Keys.checkBound(end, "end");
    byte[] from = start.length == 0 ? KeySpace.USER_START : start;
    if (end.length > 0) {
      int order = Arrays.compareUnsigned(from, end);
      if (order > 0 && start.length > 0) {
        throw new IllegalArgumentException(
            "start " + Keys.shortly(start) + " is after end " + Keys.shortly(end));
      }
      if (order >= 0) {
        return null;
      }
    }
    return from;
  }

  /** Reads one page of {@code [from, end)} from the range holding {@code from}. */
  CompletableFuture<ScanPage> scanPage(byte[] from, byte[] end, int limit) {
    return router
        .send(
            new Op(
                "scan",
                from,
                false,
                KvResponse.ResponseCase.SCAN,
                range -> {
                  byte[] rangeEnd = range.getEndKey().toByteArray();
                  byte[] pageEnd = end;
                  if (rangeEnd.length > 0
                      && (end.length == 0 || Arrays.compareUnsigned(rangeEnd, end) < 0)) {
                    pageEnd = rangeEnd;
                  }
                  return KvRequest.newBuilder()
                      .setScan(
                          ScanRequest.newBuilder()
                              .setStartKey(ByteString.copyFrom(from))
                              .setEndKey(ByteString.copyFrom(pageEnd))
                              .setLimit(limit)
                              .setMaxBytes(SCAN_PAGE_MAX_BYTES));
                }))
        .thenApply(reply -> page(from, end, reply));
  }

  private static ScanPage page(byte[] from, byte[] end, Reply reply) {
    ScanResponse scan = reply.response().getScan();
    List<KeyValue> kvs = new ArrayList<>(scan.getKvsCount());
    for (io.basalt.api.KeyValue kv : scan.getKvsList()) {
      kvs.add(new KeyValue(kv.getKey().toByteArray(), kv.getValue().toByteArray()));
    }
    if (!scan.getResumeKey().isEmpty()) {
      byte[] resume = scan.getResumeKey().toByteArray();
      if (Arrays.compareUnsigned(resume, from) <= 0) {
        throw new BasaltException(
            "a scan page from "
                + Keys.shortly(from)
                + " named resume key "
                + Keys.shortly(resume)
                + ", which does not advance");
      }
      return new ScanPage(kvs, resume);
    }
    byte[] rangeEnd = reply.range().getEndKey().toByteArray();
    boolean done =
        rangeEnd.length == 0 || (end.length > 0 && Arrays.compareUnsigned(rangeEnd, end) >= 0);
    return new ScanPage(kvs, done ? null : rangeEnd);
  }

  private static String spansRanges(List<byte[]> keys, List<RangeDescriptor> ranges) {
    Map<Long, List<String>> keysByRange = new LinkedHashMap<>();
    Map<Long, RangeDescriptor> byId = new LinkedHashMap<>();
    for (int i = 0; i < keys.size(); i++) {
      RangeDescriptor range = ranges.get(i);
      byId.putIfAbsent(range.getRangeId(), range);
      keysByRange
          .computeIfAbsent(range.getRangeId(), id -> new ArrayList<>())
          .add(Keys.shortly(keys.get(i)));
    }
    StringBuilder message = new StringBuilder("a batch must stay within one range; its keys span ");
    message.append(byId.size()).append(" ranges: ");
    boolean first = true;
    for (Map.Entry<Long, List<String>> entry : keysByRange.entrySet()) {
      if (!first) {
        message.append("; ");
      }
      first = false;
      message
          .append("range ")
          .append(Failures.describe(byId.get(entry.getKey())))
          .append(" holds ")
          .append(String.join(", ", entry.getValue()));
    }
    return message.toString();
  }
}
