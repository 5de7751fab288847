package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.ConditionalPutResponse;
import io.basalt.api.DeleteResponse;
import io.basalt.api.Errors;
import io.basalt.api.GetResponse;
import io.basalt.api.KeySpace;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.WriteBatchResponse;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
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

  /** What evaluating a write produced: the writes to replicate, and the answer to give. */
  public record Evaluation(List<ReplicatedWrite> writes, KvResponse answer) {}

  /** One kind of request. */
  interface Command {
    /** Its name in metrics. */
    String method();

    /** Whether it writes (goes through the log) rather than reads. */
    boolean isWrite();

    /**
     * Why {@code request} cannot be served by the range {@code range} (a malformed request, a key
     * outside the range, a write to the meta range), as the error to answer; null if it can.
     */
    KvResponse validate(KvRequest request, RangeDescriptor range);

    /** The spans it latches: a write, the keys it writes; a read, what it reads. */
    List<Span> latchSpans(KvRequest request);

    /**
     * Evaluates a write at {@code ts} against the applied state {@code state}: adds its replicated
     * writes to {@code writes} and returns its answer.
     */
    default KvResponse evaluate(
        KvRequest request, Reader state, io.basalt.api.Timestamp ts, List<ReplicatedWrite> writes) {
      throw new IllegalStateException("not a write: " + request.getRequestCase());
    }

    /** Serves a read from the applied state {@code state} of {@code range}. */
    default KvResponse read(KvRequest request, Reader state, RangeDescriptor range) {
      throw new IllegalStateException("not a read: " + request.getRequestCase());
    }
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
    return c != null && c.isWrite();
  }

  /**
   * Why {@code request} cannot be served by {@code range}, or null; a request that names no
   * operation, or one a store does not serve, is invalid.
   */
  public static KvResponse validate(KvRequest request, RangeDescriptor range) {
    Command c = of(request);
    if (c != null) {
      return c.validate(request, range);
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
   * Evaluates a valid write at {@code ts} against the applied state {@code state}.
   *
   * @throws IllegalStateException if {@code request} is not a write
   */
  public static Evaluation evaluate(KvRequest request, Reader state, Timestamp ts) {
    List<ReplicatedWrite> writes = new ArrayList<>();
    KvResponse answer = of(request).evaluate(request, state, ts.toProto(), writes);
    return new Evaluation(Collections.unmodifiableList(writes), answer);
  }

  /**
   * Serves a valid read from the applied state {@code state} of {@code range}.
   *
   * @throws IllegalStateException if {@code request} is not a read
   */
  public static KvResponse read(KvRequest request, Reader state, RangeDescriptor range) {
    return of(request).read(request, state, range);
  }

  /**
   * Checks point keys: the meta range takes reads only (the system writes it through its own path),
   * a user key must be valid, and every key must lie in the range.
   */
  private static KvResponse checkKeys(List<byte[]> keys, RangeDescriptor range, boolean write) {
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

  /** The newest version of {@code key} in the applied state. */
  private static Optional<Version> latest(Reader state, ByteString key) {
    return MvccStore.get(state, key.toByteArray(), Timestamp.MAX);
  }

  private static ReplicatedWrite put(ByteString key, ByteString value, io.basalt.api.Timestamp ts) {
    return ReplicatedWrite.newBuilder().setKey(key).setValue(value).setTimestamp(ts).build();
  }

  private static ReplicatedWrite tombstone(ByteString key, io.basalt.api.Timestamp ts) {
    return ReplicatedWrite.newBuilder().setKey(key).setTombstone(true).setTimestamp(ts).build();
  }

  /** A command on one key. */
  private abstract static class PointCommand implements Command {
    abstract ByteString key(KvRequest request);

    @Override
    public KvResponse validate(KvRequest request, RangeDescriptor range) {
      return checkKeys(List.of(key(request).toByteArray()), range, isWrite());
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      return List.of(Span.point(key(request), isWrite() ? Mode.WRITE : Mode.READ));
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
    ByteString key(KvRequest request) {
      return request.getGet().getKey();
    }

    @Override
    public KvResponse read(KvRequest request, Reader state, RangeDescriptor range) {
      Optional<Version> v = latest(state, request.getGet().getKey());
      GetResponse.Builder g = GetResponse.newBuilder().setFound(v.isPresent());
      v.ifPresent(ver ->
          g.setKv(
              KeyValue.newBuilder()
                  .setKey(request.getGet().getKey())
                  .setValue(ByteString.copyFrom(ver.value()))
                  .setVersion(ver.timestamp().toProto())));
      return KvResponse.newBuilder().setGet(g).build();
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
        KvRequest request, Reader state, io.basalt.api.Timestamp ts, List<ReplicatedWrite> writes) {
      writes.add(put(request.getPut().getKey(), request.getPut().getValue(), ts));
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
        KvRequest request, Reader state, io.basalt.api.Timestamp ts, List<ReplicatedWrite> writes) {
      ByteString key = request.getDelete().getKey();
      boolean existed = latest(state, key).isPresent();
      if (existed) {
        writes.add(tombstone(key, ts));
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
        KvRequest request, Reader state, io.basalt.api.Timestamp ts, List<ReplicatedWrite> writes) {
      ConditionalPutRequest c = request.getConditionalPut();
      Optional<Version> cur = latest(state, c.getKey());
      boolean ok =
          c.getExpectAbsent()
              ? cur.isEmpty()
              : cur.isPresent()
                  && Arrays.equals(cur.get().value(), c.getExpectedValue().toByteArray());
      ConditionalPutResponse.Builder r = ConditionalPutResponse.newBuilder().setSucceeded(ok);
      if (ok) {
        writes.add(put(c.getKey(), c.getValue(), ts));
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
      List<Span> spans = new ArrayList<>(keys.size());
      keys.forEach(k -> spans.add(Span.point(k, Mode.WRITE)));
      return spans;
    }

    @Override
    public KvResponse evaluate(
        KvRequest request, Reader state, io.basalt.api.Timestamp ts, List<ReplicatedWrite> writes) {
      for (Mutation m : request.getWriteBatch().getMutationsList()) {
        writes.add(
            m.hasPut()
                ? put(m.getPut().getKey(), m.getPut().getValue(), ts)
                : tombstone(m.getDelete().getKey(), ts));
      }
      return KvResponse.newBuilder().setWriteBatch(WriteBatchResponse.getDefaultInstance()).build();
    }
  }

  /** A scan of one span, which must lie in the range. */
  private static final class Scan implements Command {
    /** Rows per page when the client names no limit, and the most it may ask for. */
    private static final int DEFAULT_LIMIT = 1000;

    private static final int MAX_LIMIT = 10_000;

    /** Bytes per page when the client names no maximum, and the most it may ask for. */
    private static final long DEFAULT_MAX_BYTES = 4L << 20;

    private static final long MAX_MAX_BYTES = 16L << 20;

    /** An end above every valid user key (which is at most {@link KeySpace#MAX_KEY_BYTES} long). */
    private static final ByteString UNBOUNDED_END = unboundedEnd();

    private static ByteString unboundedEnd() {
      byte[] end = new byte[KeySpace.MAX_KEY_BYTES + 1];
      Arrays.fill(end, (byte) 0xFF);
      return ByteString.copyFrom(end);
    }

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
      byte[] start = s.getStartKey().toByteArray();
      byte[] end = s.getEndKey().toByteArray();
      if (start.length > KeySpace.MAX_KEY_BYTES || end.length > KeySpace.MAX_KEY_BYTES) {
        return Errors.invalid("scan keys are at most " + KeySpace.MAX_KEY_BYTES + " bytes");
      }
      if (end.length > 0 && Arrays.compareUnsigned(start, end) >= 0) {
        return Errors.invalid("scan start key must be below its end key");
      }
      // The whole span must lie in this range: a client routes each page by its cached
      // descriptor, and a range that shrank (a split) must say so rather than serve less.
      byte[] rangeEnd = range.getEndKey().toByteArray();
      boolean endInside =
          rangeEnd.length == 0 || (end.length > 0 && Arrays.compareUnsigned(end, rangeEnd) <= 0);
      if (!KeySpace.contains(range, start) || !endInside) {
        return Errors.keyNotInRange(start, range);
      }
      return null;
    }

    @Override
    public List<Span> latchSpans(KvRequest request) {
      ScanRequest s = request.getScan();
      ByteString end = s.getEndKey().isEmpty() ? UNBOUNDED_END : s.getEndKey();
      return List.of(new Span(s.getStartKey(), end, Mode.READ));
    }

    @Override
    public KvResponse read(KvRequest request, Reader state, RangeDescriptor range) {
      ScanRequest s = request.getScan();
      byte[] start = max(s.getStartKey().toByteArray(), range.getStartKey().toByteArray());
      byte[] end = minEnd(s.getEndKey().toByteArray(), range.getEndKey().toByteArray());
      int limit = s.getLimit() <= 0 ? DEFAULT_LIMIT : Math.min(s.getLimit(), MAX_LIMIT);
      long maxBytes =
          s.getMaxBytes() == 0 ? DEFAULT_MAX_BYTES : Math.min(s.getMaxBytes(), MAX_MAX_BYTES);
      ScanResponse.Builder out = ScanResponse.newBuilder();
      if (end.length == 0 || Arrays.compareUnsigned(start, end) < 0) {
        MvccStore.ScanResult res =
            MvccStore.scan(state, start, end, Timestamp.MAX, limit, maxBytes);
        for (Version v : res.versions()) {
          out.addKvs(
              KeyValue.newBuilder()
                  .setKey(ByteString.copyFrom(v.key()))
                  .setValue(ByteString.copyFrom(v.value()))
                  .setVersion(v.timestamp().toProto()));
        }
        if (res.resumeKey() != null) {
          out.setResumeKey(ByteString.copyFrom(res.resumeKey()));
        }
      }
      return KvResponse.newBuilder().setScan(out).build();
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
}
