package io.basalt.txn.eval;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.DeleteRequest;
import io.basalt.api.Errors;
import io.basalt.api.GetRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.Mutation;
import io.basalt.api.PutRequest;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.ScanRequest;
import io.basalt.api.WriteBatchRequest;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.eval.TestReplica.Evaluated;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each evaluator of the command table, on an in-memory engine, without a cluster. */
class CommandsTest {
  private static final RangeDescriptor RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(2)
          .setGeneration(1)
          .setStartKey(bytes("b"))
          .setEndKey(bytes("m"))
          .build();
  private static final RangeDescriptor META =
      RangeDescriptor.newBuilder()
          .setRangeId(KeySpace.META_RANGE_ID)
          .setGeneration(1)
          .setStartKey(ByteString.EMPTY)
          .setEndKey(ByteString.copyFrom(KeySpace.USER_START))
          .build();
  private static final Timestamp T1 = new Timestamp(1_000, 0);
  private static final Timestamp T2 = new Timestamp(2_000, 3);

  private static final java.util.HexFormat HEX = java.util.HexFormat.of();

  private final TestReplica replica = new TestReplica(RANGE);
  private final MemEngine engine = replica.engine;

  @Test
  void aPutWritesItsValueAtTheLeadersClock() {
    Evaluated e = evaluate(put("c", "v"), T2);
    assertThat(e.command().getWritesList())
        .containsExactly(
            ReplicatedWrite.newBuilder()
                .setKey(bytes("c"))
                .setValue(bytes("v"))
                .setTimestamp(T2.toProto())
                .build());
    assertThat(e.answer().hasPut()).isTrue();
  }

  @Test
  void aPlainWriteGoesAboveTheLatestRecordedReadOfItsKey() {
    replica.now = T2;
    // (A transaction's read records its key; a plain one records nothing.)
    replica.tscache.add(
        com.google.protobuf.ByteString.copyFromUtf8("c"),
        T2,
        com.google.protobuf.ByteString.copyFromUtf8("some-txn"));
    Evaluated e = evaluate(put("c", "v"), T2);
    assertThat(e.command().getWrites(0).getTimestamp()).isEqualTo(T2.next().toProto());
    Evaluated other = evaluate(put("d", "v"), T2);
    assertThat(other.command().getWrites(0).getTimestamp())
        .as("another key's read does not push it")
        .isEqualTo(T2.toProto());
  }

  @Test
  void aPlainWriteGoesAboveANewerVersionThanTheLeadersClock() {
    // A transaction pushed by a reader may commit ahead of every clock; a plain write after it
    // must still land above it, or a read of the newest value would keep returning the older.
    store("c", "ahead", T2);
    Evaluated e = evaluate(put("c", "v"), T1);
    assertThat(e.command().getWrites(0).getTimestamp()).isEqualTo(T2.next().toProto());
    Evaluated other = evaluate(put("d", "v"), T1);
    assertThat(other.command().getWrites(0).getTimestamp()).isEqualTo(T1.toProto());
  }

  @Test
  void aDeleteWritesATombstoneOnlyWhenTheKeyExists() {
    Evaluated absent = evaluate(delete("c"), T2);
    assertThat(absent.command().getWritesList()).isEmpty();
    assertThat(absent.answer().getDelete().getExisted()).isFalse();

    store("c", "v", T1);
    Evaluated present = evaluate(delete("c"), T2);
    assertThat(present.command().getWritesList()).hasSize(1);
    assertThat(present.command().getWrites(0).getTombstone()).isTrue();
    assertThat(present.command().getWrites(0).getTimestamp()).isEqualTo(T2.toProto());
    assertThat(present.answer().getDelete().getExisted()).isTrue();
  }

  @Test
  void aConditionalPutWritesOnlyWhenItsConditionHolds() {
    KvRequest ifAbsent = conditional("c", null, "new");
    assertThat(evaluate(ifAbsent, T2).command().getWritesList()).hasSize(1);

    store("c", "old", T1);
    Evaluated refused = evaluate(ifAbsent, T2);
    assertThat(refused.command().getWritesList()).isEmpty();
    assertThat(refused.answer().getConditionalPut().getSucceeded()).isFalse();
    assertThat(refused.answer().getConditionalPut().getFound()).isTrue();
    assertThat(refused.answer().getConditionalPut().getActualValue()).isEqualTo(bytes("old"));

    Evaluated mismatch = evaluate(conditional("c", "other", "new"), T2);
    assertThat(mismatch.command().getWritesList()).isEmpty();
    assertThat(mismatch.answer().getConditionalPut().getSucceeded()).isFalse();

    Evaluated match = evaluate(conditional("c", "old", "new"), T2);
    assertThat(match.command().getWritesList())
        .extracting(ReplicatedWrite::getValue)
        .containsExactly(bytes("new"));
    assertThat(match.answer().getConditionalPut().getSucceeded()).isTrue();
  }

  @Test
  void aConditionalPutExpectingAValueOfAnAbsentKeyFails() {
    Evaluated e = evaluate(conditional("c", "old", "new"), T2);
    assertThat(e.command().getWritesList()).isEmpty();
    assertThat(e.answer().getConditionalPut().getSucceeded()).isFalse();
    assertThat(e.answer().getConditionalPut().getFound()).isFalse();
  }

  @Test
  void aWriteBatchWritesEveryMutationInOrderAtOneTimestamp() {
    KvRequest batch =
        KvRequest.newBuilder()
            .setWriteBatch(
                WriteBatchRequest.newBuilder()
                    .addMutations(
                        Mutation.newBuilder()
                            .setPut(
                                PutRequest.newBuilder().setKey(bytes("d")).setValue(bytes("1"))))
                    .addMutations(
                        Mutation.newBuilder()
                            .setDelete(DeleteRequest.newBuilder().setKey(bytes("c"))))
                    .addMutations(
                        Mutation.newBuilder()
                            .setPut(
                                PutRequest.newBuilder().setKey(bytes("e")).setValue(bytes("2")))))
            .build();
    Evaluated e = evaluate(batch, T2);
    assertThat(e.command().getWritesList())
        .extracting(w -> w.getKey().toStringUtf8())
        .containsExactly("d", "c", "e");
    assertThat(e.command().getWritesList())
        .extracting(ReplicatedWrite::getTombstone)
        .containsExactly(false, true, false);
    assertThat(e.command().getWritesList())
        .allSatisfy(w -> assertThat(w.getTimestamp()).isEqualTo(T2.toProto()));
    assertThat(Commands.latchSpans(batch))
        .containsExactly(
            Span.point(bytes("d"), Mode.WRITE),
            Span.point(bytes("c"), Mode.WRITE),
            Span.point(bytes("e"), Mode.WRITE));
  }

  @Test
  void evaluationReadsAndNeverWrites() {
    store("c", "old", T1);
    List<String> before = dump();
    evaluate(conditional("c", "old", "new"), T2);
    evaluate(delete("c"), T2);
    evaluate(put("d", "v"), T2);
    assertThat(dump()).isEqualTo(before);
  }

  @Test
  void aGetReturnsTheNewestVersionWithItsTimestamp() {
    assertThat(replica.read(get("c")).getGet().getFound()).isFalse();
    store("c", "v1", T1);
    store("c", "v2", T2);
    KvResponse r = replica.read(get("c"));
    assertThat(r.getGet().getKv().getValue()).isEqualTo(bytes("v2"));
    assertThat(r.getGet().getKv().getVersion()).isEqualTo(T2.toProto());
  }

  @Test
  void aScanIsClippedToTheRangeAndPagesWithAResumeKey() {
    // Data on both sides of the range [b, m): only what lies inside is ever returned.
    for (String k : List.of("a", "c", "d", "e", "n")) {
      store(k, "v" + k, T1);
    }
    KvRequest all = scan("", "", 0);
    // (An unbounded scan is refused by validation on this range; read clips what it is given.)
    KvResponse r = Commands.read(all, engine, RANGE, replica.context());
    assertThat(r.getScan().getKvsList())
        .extracting(kv -> kv.getKey().toStringUtf8())
        .containsExactly("c", "d", "e");
    KvResponse page = replica.read(scan("c", "m", 2));
    assertThat(page.getScan().getKvsList())
        .extracting(kv -> kv.getKey().toStringUtf8())
        .containsExactly("c", "d");
    assertThat(page.getScan().getResumeKey().toStringUtf8()).isEqualTo("e");
  }

  @Test
  void malformedRequestsAndKeysOutsideTheRangeAreRefusedWithTheReason() {
    assertThat(Commands.validate(KvRequest.getDefaultInstance(), RANGE).getError().getGeneric())
        .satisfies(g -> {
          assertThat(g.getCode()).isEqualTo(Errors.INVALID_ARGUMENT);
          assertThat(g.getMessage()).contains("names no operation");
        });
    assertThat(Commands.validate(put("z", "v"), RANGE).getError().getKeyNotInRange().getCurrent())
        .as("the current descriptor comes back")
        .isEqualTo(RANGE);
    assertThat(Commands.validate(put("", "v"), RANGE).getError().getGeneric().getMessage())
        .contains("empty");
    assertThat(
            Commands.validate(
                    KvRequest.newBuilder()
                        .setWriteBatch(WriteBatchRequest.getDefaultInstance())
                        .build(),
                    RANGE)
                .getError()
                .getGeneric()
                .getMessage())
        .contains("at least one mutation");
    assertThat(Commands.validate(scan("d", "c", 0), RANGE).getError().getGeneric().getMessage())
        .contains("below its end key");
    assertThat(Commands.validate(scan("c", "", 0), RANGE).getError().hasKeyNotInRange())
        .as("a scan past the range's end")
        .isTrue();
    assertThat(
            Commands.validate(
                    KvRequest.newBuilder()
                        .setScan(
                            ScanRequest.newBuilder().setStartKey(ByteString.copyFrom(tooLong())))
                        .build(),
                    RANGE)
                .getError()
                .getGeneric()
                .getMessage())
        .contains("at most");
    assertThat(Commands.validate(scan("c", "m", 0), RANGE)).isNull();
    assertThat(Commands.validate(put("c", "v"), RANGE)).isNull();
  }

  @Test
  void theMetaRangeTakesReadsOnly() {
    byte[] metaKey = KeySpace.nodeKey(1);
    KvRequest write =
        KvRequest.newBuilder()
            .setPut(PutRequest.newBuilder().setKey(ByteString.copyFrom(metaKey)))
            .build();
    assertThat(Commands.validate(write, META).getError().getGeneric().getMessage())
        .contains("written by the system only");
    KvRequest read =
        KvRequest.newBuilder()
            .setGet(GetRequest.newBuilder().setKey(ByteString.copyFrom(metaKey)))
            .build();
    assertThat(Commands.validate(read, META)).isNull();
  }

  @Test
  void everyKindDeclaresItsLatchesAndHasAMethodName() {
    assertThat(Commands.isWrite(get("c"))).isFalse();
    assertThat(Commands.isWrite(scan("c", "d", 0))).isFalse();
    assertThat(Commands.isWrite(put("c", "v"))).isTrue();
    assertThat(Commands.latchSpans(get("c"))).containsExactly(Span.point(bytes("c"), Mode.READ));
    assertThat(Commands.latchSpans(put("c", "v")))
        .containsExactly(Span.point(bytes("c"), Mode.WRITE));
    assertThat(Commands.latchSpans(scan("c", "f", 0)))
        .containsExactly(new Span(bytes("c"), bytes("f"), Mode.READ));
    Span unbounded = Commands.latchSpans(scan("c", "", 0)).get(0);
    assertThat(unbounded.mode()).isEqualTo(Mode.READ);
    assertThat(unbounded.overlaps(Span.point(ByteString.copyFrom(longestKey()), Mode.READ)))
        .as("an unbounded scan covers the longest key")
        .isTrue();
    assertThat(Commands.method(conditional("c", null, "v"))).isEqualTo("conditional_put");
    assertThat(Commands.method(KvRequest.getDefaultInstance())).isEqualTo("other");
    assertThatThrownBy(() ->
            Commands.evaluate(get("c"), engine, RANGE, replica.context(), RaftCommand.newBuilder()))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Commands.read(put("c", "v"), engine, RANGE, replica.context()))
        .isInstanceOf(IllegalStateException.class);
  }

  private static byte[] tooLong() {
    byte[] key = new byte[KeySpace.MAX_KEY_BYTES + 1];
    java.util.Arrays.fill(key, (byte) 'c');
    return key;
  }

  private static byte[] longestKey() {
    byte[] key = new byte[KeySpace.MAX_KEY_BYTES];
    java.util.Arrays.fill(key, (byte) 0xFF);
    return key;
  }

  /** Evaluates {@code request} at the leader's clock reading {@code now}, applying nothing. */
  private Evaluated evaluate(KvRequest request, Timestamp now) {
    replica.now = now;
    return replica.evaluate(request);
  }

  private void store(String key, String value, Timestamp ts) {
    WriteBatch b = new WriteBatch();
    MvccStore.put(b, key.getBytes(UTF_8), ts, value.getBytes(UTF_8));
    engine.write(b, true);
  }

  private List<String> dump() {
    List<String> out = new ArrayList<>();
    for (ColumnFamily cf : ColumnFamily.values()) {
      try (EngineIterator it = engine.newIterator(cf, new byte[0], new byte[] {(byte) 0xFF})) {
        for (it.seekToFirst(); it.valid(); it.next()) {
          out.add(cf + ":" + HEX.formatHex(it.key()) + "=" + HEX.formatHex(it.value()));
        }
      }
    }
    return out;
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static KvRequest put(String key, String value) {
    return KvRequest.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value)))
        .build();
  }

  private static KvRequest delete(String key) {
    return KvRequest.newBuilder().setDelete(DeleteRequest.newBuilder().setKey(bytes(key))).build();
  }

  private static KvRequest get(String key) {
    return KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(bytes(key))).build();
  }

  private static KvRequest conditional(String key, String expected, String value) {
    ConditionalPutRequest.Builder c =
        ConditionalPutRequest.newBuilder().setKey(bytes(key)).setValue(bytes(value));
    if (expected == null) {
      c.setExpectAbsent(true);
    } else {
      c.setExpectedValue(bytes(expected));
    }
    return KvRequest.newBuilder().setConditionalPut(c).build();
  }

  private static KvRequest scan(String start, String end, int limit) {
    return KvRequest.newBuilder()
        .setScan(
            ScanRequest.newBuilder()
                .setStartKey(bytes(start))
                .setEndKey(bytes(end))
                .setLimit(limit))
        .build();
  }
}
