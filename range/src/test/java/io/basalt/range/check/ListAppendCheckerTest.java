package io.basalt.range.check;

import static io.basalt.range.check.ListAppendChecker.Consistency.SERIALIZABLE;
import static io.basalt.range.check.ListAppendChecker.Consistency.STRICT_SERIALIZABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.check.ListAppendChecker.Anomaly;
import io.basalt.range.check.ListAppendChecker.Anomaly.Type;
import io.basalt.range.check.ListAppendChecker.Consistency;
import io.basalt.range.check.ListAppendChecker.Op;
import io.basalt.range.check.ListAppendChecker.Outcome;
import io.basalt.range.check.ListAppendChecker.Result;
import io.basalt.range.check.ListAppendChecker.Txn;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ListAppendCheckerTest {
  private static Op append(String key, long value) {
    return Op.append(key, value);
  }

  private static Op read(String key, Long... values) {
    return Op.read(key, List.of(values));
  }

  private static Txn ok(long id, long invoke, long complete, Op... ops) {
    return new Txn(id, (int) id, invoke, complete, Outcome.OK, List.of(ops));
  }

  private static Txn failed(long id, long invoke, long complete, Op... ops) {
    return new Txn(id, (int) id, invoke, complete, Outcome.FAIL, List.of(ops));
  }

  private static Txn unknown(long id, long invoke, Op... ops) {
    return new Txn(id, (int) id, invoke, Long.MAX_VALUE, Outcome.INFO, List.of(ops));
  }

  private static Result check(Consistency model, Txn... history) {
    return ListAppendChecker.check(List.of(history), model);
  }

  private static void assertTypes(Result result, Type... expected) {
    assertThat(result.types()).as(result.describe()).containsExactlyInAnyOrder(expected);
  }

  @Test
  void serialHistoryIsValid() {
    Txn[] history = {
      ok(1, 0, 1, append("x", 1), read("x", 1L)),
      ok(2, 2, 3, read("x", 1L), append("y", 1), append("x", 2)),
      ok(3, 4, 5, read("x", 1L, 2L), read("y", 1L)),
      ok(4, 6, 7, append("y", 2), read("y", 1L, 2L))
    };
    assertTypes(check(STRICT_SERIALIZABLE, history));
    assertTypes(check(SERIALIZABLE, history));
  }

  @Test
  void concurrentHistoryIsValid() {
    // T1 and T2 overlap; the reads place T2 before T1, which real time allows.
    Txn[] history = {
      ok(1, 0, 10, append("x", 1), read("y")),
      ok(2, 1, 11, append("x", 2), read("y")),
      ok(3, 5, 12, read("x", 2L)),
      ok(4, 12, 20, append("y", 1), read("x", 2L, 1L)),
      ok(5, 21, 22, read("x", 2L, 1L), read("y", 1L)),
      failed(6, 15, 16, append("x", 3)),
      unknown(7, 17, append("y", 2))
    };
    assertTypes(check(STRICT_SERIALIZABLE, history));
  }

  @Test
  void writeCycleIsG0() {
    // x says T1 appended before T2, y says the opposite.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, append("x", 1), append("y", 2)),
            ok(2, 0, 10, append("x", 3), append("y", 4)),
            ok(3, 11, 12, read("x", 1L, 3L), read("y", 4L, 2L))),
        Type.G0);
  }

  @Test
  void readOfFailedAppendIsG1a() {
    Result result =
        check(STRICT_SERIALIZABLE, failed(1, 0, 1, append("x", 1)), ok(2, 2, 3, read("x", 1L)));
    assertTypes(result, Type.G1A);
    assertThat(result.anomalies().get(0).txnIds()).containsExactly(1L, 2L);
  }

  @Test
  void readEndingAtAnotherTxnsIntermediateAppendIsG1b() {
    // T2 saw T1's first append to x but not its second. That also orders T2 both after T1 (it read
    // 1) and before it (it missed 2): the G-single cycle is the same anomaly seen as a cycle.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 1, append("x", 1), append("x", 2)),
            ok(2, 2, 3, read("x", 1L)),
            ok(3, 4, 5, read("x", 1L, 2L))),
        Type.G1B,
        Type.G_SINGLE);
  }

  @Test
  void circularInformationFlowIsG1c() {
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, append("x", 1), read("y", 2L)),
            ok(2, 0, 10, append("y", 2), read("x", 1L))),
        Type.G1C);
  }

  @Test
  void readSkewIsGSingle() {
    // T2 saw T1's append to y but not its append to x.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, append("x", 1), append("y", 1)),
            ok(2, 0, 10, read("x"), read("y", 1L)),
            ok(3, 11, 12, read("x", 1L), read("y", 1L))),
        Type.G_SINGLE);
  }

  @Test
  void lostUpdateIsGSingle() {
    // Both read x empty and appended; one of them should have seen the other's append.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, read("x"), append("x", 1)),
            ok(2, 0, 10, read("x"), append("x", 2)),
            ok(3, 11, 12, read("x", 1L, 2L))),
        Type.G_SINGLE);
  }

  @Test
  void writeSkewIsG2Item() {
    // Each read the key the other appended to and saw it empty: allowed by snapshot isolation,
    // not by serializability.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, read("x"), append("y", 1)),
            ok(2, 0, 10, read("y"), append("x", 2)),
            ok(3, 11, 12, read("x", 2L), read("y", 1L))),
        Type.G2_ITEM);
  }

  @Test
  void readThatMissesTheTxnsOwnAppendIsInternal() {
    assertTypes(check(SERIALIZABLE, ok(1, 0, 1, append("x", 1), read("x"))), Type.INTERNAL);
  }

  @Test
  void secondReadThatDoesNotExtendTheFirstIsInternal() {
    Result result =
        check(
            SERIALIZABLE,
            ok(1, 0, 1, append("x", 1)),
            ok(2, 2, 3, append("x", 2)),
            ok(3, 4, 5, read("x", 1L), append("x", 3), read("x", 1L, 2L, 3L)));
    assertThat(result.types()).as(result.describe()).contains(Type.INTERNAL);
  }

  @Test
  void readOfAValueTheTxnAppendsOnlyLaterIsInternal() {
    assertTypes(check(SERIALIZABLE, ok(1, 0, 1, read("x", 1L), append("x", 1))), Type.INTERNAL);
  }

  @Test
  void valueTwiceInOneReadIsDuplicateAppend() {
    assertTypes(
        check(SERIALIZABLE, ok(1, 0, 1, append("x", 1)), ok(2, 2, 3, read("x", 1L, 1L))),
        Type.DUPLICATE_APPEND);
  }

  @Test
  void readsThatForkAreIncompatibleOrder() {
    Result result =
        check(
            SERIALIZABLE,
            ok(1, 0, 1, append("x", 1)),
            ok(2, 0, 1, append("x", 2)),
            ok(3, 2, 3, read("x", 1L, 2L)),
            ok(4, 2, 3, read("x", 2L, 1L)));
    assertTypes(result, Type.INCOMPATIBLE_ORDER);
    assertThat(result.anomalies().get(0).explanation()).contains("differ at position 0");
  }

  @Test
  void readOfAValueNobodyAppendedIsGarbage() {
    assertTypes(check(SERIALIZABLE, ok(1, 0, 1, read("x", 7L))), Type.GARBAGE_READ);
  }

  @Test
  void appendMissingFromAReadInvokedAfterItCompletedIsLostUnderStrictSerializability() {
    Txn[] history = {ok(1, 0, 1, append("x", 1)), ok(2, 2, 3, read("x"))};
    Result strict = check(STRICT_SERIALIZABLE, history);
    assertTypes(strict, Type.LOST_APPEND);
    assertThat(strict.anomalies().get(0).explanation()).contains("T1 completed (at 1)");
    // Without real time, T2 may come first.
    assertTypes(check(SERIALIZABLE, history));
  }

  @Test
  void appendMissingFromAReadThatDependsOnItsTxnIsLostUnderSerializability() {
    // T2 saw T1's append to y, so it follows T1, yet no read ever saw T1's append to x.
    assertTypes(
        check(
            SERIALIZABLE,
            ok(1, 0, 10, append("x", 1), append("y", 1)),
            ok(2, 0, 10, read("y", 1L), read("x"))),
        Type.LOST_APPEND);
  }

  @Test
  void staleReadIsARealTimeAnomalyOnlyUnderStrictSerializability() {
    // T2 began after T1 completed but missed its append, which T3 saw.
    Txn[] history = {
      ok(1, 0, 1, append("x", 1)), ok(2, 2, 3, read("x")), ok(3, 4, 5, read("x", 1L))
    };
    Result strict = check(STRICT_SERIALIZABLE, history);
    assertTypes(strict, Type.G_SINGLE_REALTIME);
    assertThat(strict.anomalies().get(0).txnIds()).containsExactlyInAnyOrder(1L, 2L);
    assertTypes(check(SERIALIZABLE, history));
  }

  @Test
  void writesOutOfRealTimeOrderAreG0RealtimeUnderStrictSerializability() {
    Txn[] history = {
      ok(1, 0, 1, append("x", 1)), ok(2, 2, 3, append("x", 2)), ok(3, 4, 5, read("x", 2L, 1L))
    };
    assertTypes(check(STRICT_SERIALIZABLE, history), Type.G0_REALTIME);
    assertTypes(check(SERIALIZABLE, history));
  }

  @Test
  void unknownTxnWhoseAppendWasReadCommittedAllItsAppends() {
    // T1's outcome is unknown, but T2 read its append to y, so its append to x happened too.
    assertTypes(
        check(
            SERIALIZABLE,
            unknown(1, 0, append("x", 1), append("y", 1)),
            ok(2, 5, 10, read("y", 1L), read("x")),
            ok(3, 11, 12, read("x", 1L))),
        Type.G_SINGLE);
  }

  @Test
  void unknownTxnNobodyObservedMayNotHaveCommitted() {
    assertTypes(check(STRICT_SERIALIZABLE, unknown(1, 0, append("x", 1)), ok(2, 5, 10, read("x"))));
  }

  @Test
  void readsOfFailedAndUnknownTxnsAreIgnored() {
    assertTypes(
        check(
            STRICT_SERIALIZABLE,
            ok(1, 0, 1, append("x", 1)),
            failed(2, 2, 3, read("x", 9L, 9L)),
            new Txn(3, 3, 4, Long.MAX_VALUE, Outcome.INFO, List.of(Op.read("x", null))),
            ok(4, 5, 6, read("x", 1L))));
  }

  @Test
  void rejectsAValueAppendedTwiceToOneKey() {
    assertThatThrownBy(
            () -> check(SERIALIZABLE, ok(1, 0, 1, append("x", 1)), ok(2, 2, 3, append("x", 1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("value 1 is appended to x twice");
  }

  @Test
  void rejectsACommittedReadWithoutAResult() {
    assertThatThrownBy(() -> ok(1, 0, 1, Op.read("x", null)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no result");
  }

  // ---- Generated histories ----

  private static long seed() {
    return Long.getLong("basalt.seed", System.nanoTime());
  }

  private static String replay(long seed) {
    return "seed "
        + seed
        + "; replay: bin/test -pl range -am -Dtest='ListAppendCheckerTest' -Dbasalt.seed="
        + seed;
  }

  /**
   * A serial execution against an in-memory map: transaction i takes effect at time 100 i (or 100
   * (count - i) when {@code timeRunsBackwards}), between its invoke and completion, which straddle
   * it by up to 150 so that neighbours overlap. About 5% fail (no effect) and 5% are unknown (take
   * effect or not, a coin toss; their reads unknown). Values are unique per key.
   */
  static List<Txn> serialHistory(long seed, int count, int keys, boolean timeRunsBackwards) {
    SplittableRandom random = new SplittableRandom(seed);
    Map<String, List<Long>> state = new HashMap<>();
    int[] workers = new int[10];
    for (int w = 0; w < workers.length; w++) {
      workers[w] = w;
    }
    int nextProcess = workers.length;
    long nextValue = 1;
    List<Txn> history = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      double roll = random.nextDouble();
      Outcome outcome = roll < 0.05 ? Outcome.FAIL : roll < 0.10 ? Outcome.INFO : Outcome.OK;
      Map<String, List<Long>> view = new HashMap<>();
      List<Op> ops = new ArrayList<>();
      int size = 1 + random.nextInt(4);
      for (int j = 0; j < size; j++) {
        String key = "k" + random.nextInt(keys);
        List<Long> list =
            view.computeIfAbsent(key, k -> new ArrayList<>(state.getOrDefault(k, List.of())));
        if (random.nextBoolean()) {
          list.add(nextValue);
          ops.add(Op.append(key, nextValue++));
        } else {
          ops.add(Op.read(key, outcome == Outcome.INFO ? null : list));
        }
      }
      if (outcome == Outcome.OK || (outcome == Outcome.INFO && random.nextBoolean())) {
        state.putAll(view);
      }
      long at = 100L * (timeRunsBackwards ? count - i : i);
      long invoke = at - random.nextInt(150);
      long complete = outcome == Outcome.INFO ? Long.MAX_VALUE : at + random.nextInt(150);
      int worker = i % workers.length;
      history.add(new Txn(i, workers[worker], invoke, complete, outcome, ops));
      if (outcome == Outcome.INFO) {
        workers[worker] = nextProcess++; // a process with an unknown outcome never runs again
      }
    }
    return history;
  }

  private static Txn withRead(Txn txn, int op, List<Long> read) {
    List<Op> ops = new ArrayList<>(txn.ops());
    ops.set(op, Op.read(ops.get(op).key(), read));
    return new Txn(
        txn.id(), txn.process(), txn.invokeNanos(), txn.completeNanos(), txn.outcome(), ops);
  }

  /** (txn, op) positions of the OK reads, in history order. */
  private static List<int[]> okReads(List<Txn> history) {
    List<int[]> reads = new ArrayList<>();
    for (int t = 0; t < history.size(); t++) {
      Txn txn = history.get(t);
      for (int o = 0; o < txn.ops().size(); o++) {
        if (txn.outcome() == Outcome.OK && txn.ops().get(o).kind() == Op.Kind.READ) {
          reads.add(new int[] {t, o});
        }
      }
    }
    return reads;
  }

  @Test
  void generatedSerialHistoryIsValid() {
    long seed = seed();
    List<Txn> history = serialHistory(seed, 5_000, 100, false);
    for (Consistency model : Consistency.values()) {
      Result result = ListAppendChecker.check(history, model);
      assertThat(result.valid()).as(replay(seed) + "\n" + result.describe()).isTrue();
    }
  }

  @Test
  void droppingAValueFromTheMiddleOfAGeneratedReadIsIncompatible() {
    long seed = seed();
    SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
    List<Txn> history = new ArrayList<>(serialHistory(seed, 5_000, 100, false));
    List<int[]> reads = okReads(history);
    while (true) {
      int[] pick = reads.get(random.nextInt(reads.size()));
      Op op = history.get(pick[0]).ops().get(pick[1]);
      if (op.read().size() < 2) {
        continue;
      }
      int drop = random.nextInt(op.read().size() - 1); // never the last value
      // Another transaction's read holding the dropped value is then incompatible with this one.
      boolean witnessed =
          reads.stream()
              .filter(r -> r[0] != pick[0])
              .map(r -> history.get(r[0]).ops().get(r[1]))
              .anyMatch(o -> o.key().equals(op.key()) && o.read().size() > drop);
      if (!witnessed) {
        continue;
      }
      List<Long> mutated = new ArrayList<>(op.read());
      mutated.remove(drop);
      history.set(pick[0], withRead(history.get(pick[0]), pick[1], mutated));
      break;
    }
    Result result = ListAppendChecker.check(history, SERIALIZABLE);
    assertThat(result.types())
        .as(replay(seed) + "\n" + result.describe())
        .contains(Type.INCOMPATIBLE_ORDER);
  }

  @Test
  void failingAGeneratedWriterWhoseAppendWasReadIsAnAbortedRead() {
    long seed = seed();
    SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
    List<Txn> history = new ArrayList<>(serialHistory(seed, 5_000, 100, false));
    List<int[]> reads = okReads(history);
    while (true) {
      int[] pick = reads.get(random.nextInt(reads.size()));
      List<Long> values = history.get(pick[0]).ops().get(pick[1]).read();
      if (values.isEmpty()) {
        continue;
      }
      long value = values.get(random.nextInt(values.size()));
      String key = history.get(pick[0]).ops().get(pick[1]).key();
      int writer = -1;
      for (int t = 0; t < history.size() && writer < 0; t++) {
        for (Op op : history.get(t).ops()) {
          if (op.kind() == Op.Kind.APPEND && op.key().equals(key) && op.value() == value) {
            writer = t;
          }
        }
      }
      Txn txn = history.get(writer);
      if (writer == pick[0] || txn.outcome() != Outcome.OK) {
        continue;
      }
      history.set(
          writer,
          new Txn(
              txn.id(),
              txn.process(),
              txn.invokeNanos(),
              txn.completeNanos(),
              Outcome.FAIL,
              txn.ops()));
      break;
    }
    Result result = ListAppendChecker.check(history, SERIALIZABLE);
    assertThat(result.types()).as(replay(seed) + "\n" + result.describe()).contains(Type.G1A);
  }

  @Test
  void truncatingAGeneratedReadAfterItsLastWriterCompletedViolatesStrictSerializability() {
    long seed = seed();
    SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
    List<Txn> history = new ArrayList<>(serialHistory(seed, 5_000, 100, false));
    Map<String, Integer> writerOf = new HashMap<>();
    for (int t = 0; t < history.size(); t++) {
      for (Op op : history.get(t).ops()) {
        if (op.kind() == Op.Kind.APPEND) {
          writerOf.put(op.key() + "/" + op.value(), t);
        }
      }
    }
    List<int[]> reads = okReads(history);
    while (true) {
      int[] pick = reads.get(random.nextInt(reads.size()));
      Txn reader = history.get(pick[0]);
      Op op = reader.ops().get(pick[1]);
      if (op.read().isEmpty()) {
        continue;
      }
      Txn writer = history.get(writerOf.get(op.key() + "/" + op.read().get(op.read().size() - 1)));
      if (writer.outcome() != Outcome.OK || writer.completeNanos() >= reader.invokeNanos()) {
        continue;
      }
      history.set(pick[0], withRead(reader, pick[1], op.read().subList(0, op.read().size() - 1)));
      break;
    }
    Result result = ListAppendChecker.check(history, STRICT_SERIALIZABLE);
    assertThat(result.valid()).as(replay(seed) + "\n" + result.describe()).isFalse();
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void twentyThousandTxnHistoriesAreCheckedInLinearTime() {
    long seed = seed();
    List<Txn> valid = serialHistory(seed, 20_000, 300, false);
    long started = System.nanoTime();
    Result result = ListAppendChecker.check(valid, STRICT_SERIALIZABLE);
    long validMillis = (System.nanoTime() - started) / 1_000_000;
    assertThat(result.valid()).as(replay(seed) + "\n" + result.describe()).isTrue();

    // Real time running against the serial order puts nearly every transaction in one strongly
    // connected component: the worst case for the cycle search.
    List<Txn> backwards = serialHistory(seed, 20_000, 300, true);
    started = System.nanoTime();
    result = ListAppendChecker.check(backwards, STRICT_SERIALIZABLE);
    long backwardsMillis = (System.nanoTime() - started) / 1_000_000;
    assertThat(result.valid()).as(replay(seed)).isFalse();
    assertThat(result.types())
        .as(replay(seed) + "\n" + result.describe())
        .isSubsetOf(
            EnumSet.of(
                Type.G0_REALTIME,
                Type.G1C_REALTIME,
                Type.G_SINGLE_REALTIME,
                Type.G2_ITEM_REALTIME,
                Type.LOST_APPEND));
    assertThat(ListAppendChecker.check(backwards, SERIALIZABLE).valid()).as(replay(seed)).isTrue();
    System.out.printf(
        "ListAppendChecker, 20,000 txns: valid in %d ms, backwards in %d ms (%d anomalies)%n",
        validMillis, backwardsMillis, result.anomalies().size());
    List<Anomaly> shown = result.anomalies().subList(0, Math.min(3, result.anomalies().size()));
    shown.forEach(a -> System.out.println("  " + a));
  }
}
