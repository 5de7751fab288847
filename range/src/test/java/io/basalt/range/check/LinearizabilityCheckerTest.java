package io.basalt.range.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.check.LinearizabilityChecker.Verdict;
import io.basalt.range.check.RegisterModel.Cas;
import io.basalt.range.check.RegisterModel.Op;
import io.basalt.range.check.RegisterModel.Read;
import io.basalt.range.check.RegisterModel.Write;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LinearizabilityCheckerTest {
  private final LinearizabilityChecker checker = new LinearizabilityChecker();
  private final RegisterModel model = new RegisterModel();

  static Operation<Op, Object> write(long p, String v, long call, long ret) {
    return new Operation<>(p, "k", new Write(v), Boolean.TRUE, call, ret);
  }

  static Operation<Op, Object> read(long p, String seen, long call, long ret) {
    return new Operation<>(p, "k", new Read(), seen, call, ret);
  }

  static Operation<Op, Object> unknownWrite(long p, String v, long call) {
    return new Operation<>(p, "k", new Write(v), null, call, Operation.UNKNOWN);
  }

  private Verdict verdict(List<Operation<Op, Object>> history) {
    return checker.check(model, history).verdicts().get("k");
  }

  @Test
  void sequentialHistoryIsLinearizable() {
    assertThat(verdict(List.of(write(1, "a", 0, 1), read(2, "a", 2, 3))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void staleReadAfterCompletedWriteIsNotLinearizable() {
    assertThat(verdict(List.of(write(1, "a", 0, 1), write(1, "b", 2, 3), read(2, "a", 4, 5))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
  }

  @Test
  void readConcurrentWithWriteMaySeeEitherValue() {
    assertThat(verdict(List.of(write(1, "a", 0, 1), write(1, "b", 2, 6), read(2, "a", 3, 4))))
        .isEqualTo(Verdict.LINEARIZABLE);
    assertThat(verdict(List.of(write(1, "a", 0, 1), write(1, "b", 2, 6), read(2, "b", 3, 4))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void readsMustNotGoBackInTime() {
    // Both reads overlap the write, but once one read saw the new value a later read cannot see
    // the old one.
    assertThat(
            verdict(
                List.of(
                    write(1, "a", 0, 1),
                    write(1, "b", 2, 10),
                    read(2, "b", 3, 4),
                    read(3, "a", 5, 6))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
  }

  @Test
  void readOfNeverWrittenValueIsNotLinearizable() {
    assertThat(verdict(List.of(write(1, "a", 0, 1), read(2, "z", 2, 3))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
  }

  @Test
  void absentKeyReadsAbsent() {
    assertThat(verdict(List.of(read(1, RegisterModel.ABSENT, 0, 1))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void unknownWriteMayTakeEffectLate() {
    assertThat(
            verdict(
                List.of(
                    unknownWrite(1, "x", 0),
                    read(2, RegisterModel.ABSENT, 1, 2),
                    read(2, "x", 10, 11))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void unknownWriteMayNeverTakeEffect() {
    assertThat(verdict(List.of(unknownWrite(1, "x", 0), read(2, RegisterModel.ABSENT, 10, 11))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void unknownWriteCannotTakeEffectBeforeItsCall() {
    assertThat(verdict(List.of(read(2, "x", 0, 1), unknownWrite(1, "x", 5))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
  }

  @Test
  void casOutcomesAreChecked() {
    List<Operation<Op, Object>> ok =
        List.of(
            write(1, "a", 0, 1),
            new Operation<>(2, "k", new Cas("a", "b"), true, 2, 3),
            new Operation<>(3, "k", new Cas("a", "c"), false, 4, 5),
            read(1, "b", 6, 7));
    assertThat(verdict(ok)).isEqualTo(Verdict.LINEARIZABLE);
    List<Operation<Op, Object>> bad =
        List.of(
            write(1, "a", 0, 1),
            new Operation<>(2, "k", new Cas("a", "b"), true, 2, 3),
            new Operation<>(3, "k", new Cas("a", "c"), true, 4, 5));
    assertThat(verdict(bad)).isEqualTo(Verdict.NOT_LINEARIZABLE);
  }

  @Test
  void keysAreCheckedIndependentlyAndTheFailingKeyIsReported() {
    List<Operation<Op, Object>> history = new ArrayList<>();
    history.add(new Operation<>(1, "good", new Write("a"), true, 0, 1));
    history.add(new Operation<>(2, "good", new Read(), "a", 2, 3));
    history.add(new Operation<>(1, "bad", new Write("a"), true, 0, 1));
    history.add(new Operation<>(2, "bad", new Read(), "q", 2, 3));
    LinearizabilityChecker.Result<Op, Object> result = checker.check(model, history);
    assertThat(result.linearizable()).isFalse();
    assertThat(result.verdicts()).containsEntry("good", Verdict.LINEARIZABLE);
    assertThat(result.failingKey()).isEqualTo("bad");
    assertThat(result.describe()).contains("key bad: NOT_LINEARIZABLE").contains("-> q");
  }

  @Test
  void searchBudgetExhaustionIsUnknownNotLinearizable() {
    List<Operation<Op, Object>> history = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      history.add(write(i, "v" + i, 0, 100));
    }
    history.add(read(99, "nope", 200, 201));
    assertThat(new LinearizabilityChecker(1000).check(model, history).verdicts().get("k"))
        .isEqualTo(Verdict.UNKNOWN);
  }

  /**
   * Histories produced by a correct atomic register under random concurrency are always
   * linearizable; flipping one read to a value that was overwritten before the read began makes
   * them not.
   */
  @Test
  void randomHistoriesOfAnAtomicRegister() {
    long seed = Long.getLong("basalt.seed", System.nanoTime());
    Random random = new Random(seed);
    int flipped = 0;
    for (int round = 0; round < 200; round++) {
      List<Operation<Op, Object>> history = new ArrayList<>();
      String value = null;
      long time = 0;
      // Each operation takes effect at a point inside [call, return]; record real atomic effects.
      for (int i = 0; i < 40; i++) {
        long call = time + random.nextInt(3);
        long effect = call + random.nextInt(3);
        long ret = effect + random.nextInt(5);
        time = effect + 1;
        if (random.nextBoolean()) {
          value = "v" + i;
          history.add(write(i, value, call, ret));
        } else {
          history.add(read(i, value == null ? RegisterModel.ABSENT : value, call, ret));
        }
      }
      assertThat(verdict(history))
          .as("seed %d round %d", seed, round)
          .isEqualTo(Verdict.LINEARIZABLE);
      List<Operation<Op, Object>> stale = withOneStaleRead(history, random);
      if (stale != null) {
        flipped++;
        assertThat(verdict(stale))
            .as("seed %d round %d with a stale read", seed, round)
            .isEqualTo(Verdict.NOT_LINEARIZABLE);
      }
    }
    assertThat(flipped).as("seed %d: rounds with a stale read to try", seed).isGreaterThan(100);
  }

  /**
   * {@code history} with one read (chosen at random among those that can be made stale) changed to
   * return a value that was overwritten before the read began: a write of it returned before
   * another write was called, which returned before the read was called. Values are unique per
   * write, so nothing wrote the value again. Null if no read can be made stale.
   */
  private static List<Operation<Op, Object>> withOneStaleRead(
      List<Operation<Op, Object>> history, Random random) {
    List<int[]> candidates = new ArrayList<>(); // {read index, index of the overwritten write}
    for (int r = 0; r < history.size(); r++) {
      Operation<Op, Object> read = history.get(r);
      if (!(read.input() instanceof Read)) {
        continue;
      }
      for (Operation<Op, Object> later : history) {
        if (!(later.input() instanceof Write) || later.returnTime() >= read.callTime()) {
          continue;
        }
        for (int w = 0; w < history.size(); w++) {
          Operation<Op, Object> earlier = history.get(w);
          if (earlier.input() instanceof Write written
              && earlier.returnTime() < later.callTime()
              && !written.value().equals(read.output())) {
            candidates.add(new int[] {r, w});
          }
        }
      }
    }
    if (candidates.isEmpty()) {
      return null;
    }
    int[] pick = candidates.get(random.nextInt(candidates.size()));
    Operation<Op, Object> read = history.get(pick[0]);
    String overwritten = ((Write) history.get(pick[1]).input()).value();
    List<Operation<Op, Object>> out = new ArrayList<>(history);
    out.set(
        pick[0],
        new Operation<>(
            read.process(),
            read.key(),
            read.input(),
            overwritten,
            read.callTime(),
            read.returnTime()));
    return out;
  }

  @Test
  void anUnknownWriteCannotBringBackAnOverwrittenValue() {
    // "a" was overwritten by "b" before the read; the write of "c" may or may not have happened,
    // and neither makes "a" readable again.
    assertThat(
            verdict(
                List.of(
                    write(1, "a", 0, 1),
                    write(1, "b", 2, 3),
                    unknownWrite(3, "c", 4),
                    read(2, "a", 5, 6))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
    // The same history where the unknown write is of "a" again is fine: it took effect.
    assertThat(
            verdict(
                List.of(
                    write(1, "a", 0, 1),
                    write(1, "b", 2, 3),
                    unknownWrite(3, "a", 4),
                    read(2, "a", 5, 6))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void anUnknownWriteThatWasSeenCannotBeUnseen() {
    // Once a read returned "x", the unknown write took effect before that read returned; a later
    // read cannot find the register as it was before it.
    assertThat(
            verdict(
                List.of(
                    unknownWrite(1, "x", 0),
                    read(2, "x", 1, 2),
                    read(3, RegisterModel.ABSENT, 3, 4))))
        .isEqualTo(Verdict.NOT_LINEARIZABLE);
    // Reads concurrent with each other may see it in either order.
    assertThat(
            verdict(
                List.of(
                    unknownWrite(1, "x", 0),
                    read(2, "x", 1, 4),
                    read(3, RegisterModel.ABSENT, 2, 5))))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void manyUnobservedUnknownWritesDoNotExhaustTheSearch() {
    List<Operation<Op, Object>> history = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      history.add(unknownWrite(i, "lost" + i, i));
    }
    history.add(write(100, "a", 100, 101));
    history.add(read(101, "a", 102, 103));
    assertThat(new LinearizabilityChecker(100_000).check(model, history).verdicts().get("k"))
        .isEqualTo(Verdict.LINEARIZABLE);
  }

  @Test
  void pruningNeverHidesAViolation() {
    // The unknown write "x" is unobserved, but the failed CAS needs it to have happened (or the
    // register still held "a"): the checker must fall back to the full history and accept.
    List<Operation<Op, Object>> history =
        List.of(
            write(1, "a", 0, 1),
            unknownWrite(2, "x", 2),
            new Operation<>(3, "k", new Cas("a", "b"), false, 5, 6));
    assertThat(verdict(history)).isEqualTo(Verdict.LINEARIZABLE);
    // And a real violation among pruned operations is still reported.
    List<Operation<Op, Object>> bad =
        List.of(write(1, "a", 0, 1), unknownWrite(2, "x", 2), read(3, "zz", 5, 6));
    assertThat(verdict(bad)).isEqualTo(Verdict.NOT_LINEARIZABLE);
  }
}
