package io.basalt.txn.latch;

import static io.basalt.range.prop.PropertyRunner.forAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.range.prop.Gen;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SpanLatchesTest {
  private final SpanLatches<String> latches = new SpanLatches<>();

  @Test
  void writersOfOneKeyRunOneAfterAnotherInArrivalOrder() {
    assertThat(latches.acquire("w1", List.of(write("k")))).isTrue();
    assertThat(latches.acquire("w2", List.of(write("k")))).isFalse();
    assertThat(latches.acquire("w3", List.of(write("k")))).isFalse();
    assertThat(latches.release("w1")).containsExactly("w2");
    assertThat(latches.release("w2")).containsExactly("w3");
    assertThat(latches.release("w3")).isEmpty();
    assertThat(latches.holders()).isEmpty();
  }

  @Test
  void readersShareAKeyAndAWriterWaitsForAllOfThem() {
    assertThat(latches.acquire("r1", List.of(read("k")))).isTrue();
    assertThat(latches.acquire("r2", List.of(read("k")))).isTrue();
    assertThat(latches.acquire("w", List.of(write("k")))).isFalse();
    assertThat(latches.release("r1")).isEmpty();
    assertThat(latches.release("r2")).containsExactly("w");
  }

  @Test
  void aReaderArrivingBehindAWaitingWriterWaitsToo() {
    // Otherwise a stream of readers could hold the key forever.
    latches.acquire("r1", List.of(read("k")));
    latches.acquire("w", List.of(write("k")));
    assertThat(latches.acquire("r2", List.of(read("k")))).isFalse();
    assertThat(latches.release("r1")).containsExactly("w");
    assertThat(latches.release("w")).containsExactly("r2");
  }

  @Test
  void disjointKeysDoNotWaitForEachOther() {
    assertThat(latches.acquire("a", List.of(write("a"), write("b")))).isTrue();
    assertThat(latches.acquire("c", List.of(write("c")))).isTrue();
    assertThat(latches.acquire("b", List.of(write("b")))).isFalse();
    // A request behind a waiter it does not conflict with is not held up by it.
    assertThat(latches.acquire("d", List.of(write("d")))).isTrue();
  }

  @Test
  void aRequestTakesAllItsSpansAtOnceOrNone() {
    latches.acquire("x", List.of(write("b")));
    assertThat(latches.acquire("ab", List.of(write("a"), write("b")))).isFalse();
    // "a" is not held by the waiter: a writer of "a" alone would conflict only with that waiter.
    assertThat(latches.holders()).containsExactly("x");
    assertThat(latches.release("x")).containsExactly("ab");
  }

  @Test
  void rangeSpansConflictWithTheKeysTheyCover() {
    assertThat(latches.acquire("scan", List.of(span("b", "m", Mode.READ)))).isTrue();
    assertThat(latches.acquire("wOutside", List.of(write("m")))).isTrue();
    assertThat(latches.acquire("rInside", List.of(read("c")))).isTrue();
    assertThat(latches.acquire("wInside", List.of(write("c")))).isFalse();
    assertThat(latches.acquire("wSpan", List.of(span("a", "d", Mode.WRITE)))).isFalse();
    assertThat(latches.release("scan")).isEmpty(); // rInside still reads c
    assertThat(latches.release("rInside")).containsExactly("wInside");
    assertThat(latches.release("wInside")).containsExactly("wSpan");
  }

  @Test
  void aWaiterThatLeavesUnblocksThoseBehindIt() {
    latches.acquire("w1", List.of(write("a")));
    latches.acquire("w2", List.of(write("a"), write("b")));
    latches.acquire("w3", List.of(write("b")));
    assertThat(latches.isWaiting("w3")).isTrue();
    assertThat(latches.release("w2")).containsExactly("w3");
    assertThat(latches.release("nobody")).isEmpty();
  }

  @Test
  void anOwnerAcquiresOnceAndSpansMustBeOrdered() {
    latches.acquire("a", List.of(write("a")));
    assertThatThrownBy(() -> latches.acquire("a", List.of(write("b"))))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> span("m", "b", Mode.READ))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Random acquires and releases over a few keys and spans, checked after every step: no two
   * holders conflict; every waiter conflicts with a holder or an earlier waiter (none waits for
   * nothing); and once every holder releases, everyone is served.
   */
  @Test
  void randomScheduleKeepsExclusionOrderAndProgress() {
    forAll(
        500,
        Gen.longs(Long.MIN_VALUE, Long.MAX_VALUE),
        seed -> {
          SplittableRandom random = new SplittableRandom(seed);
          SpanLatches<Integer> l = new SpanLatches<>();
          List<Integer> live = new ArrayList<>();
          int next = 0;
          for (int step = 0; step < 200; step++) {
            if (live.isEmpty() || random.nextInt(3) > 0) {
              int owner = next++;
              live.add(owner);
              l.acquire(owner, randomSpans(random));
            } else {
              // A holder finishes, or a waiter gives up (its deadline passed).
              l.release(live.remove(random.nextInt(live.size())));
            }
            check(l);
          }
          // Drain: release holders until nobody is left; every waiter must be granted.
          int guard = 0;
          while (!l.holders().isEmpty() && guard++ < 10_000) {
            l.release(l.holders().get(0));
            check(l);
          }
          assertThat(l.waiters()).as("everyone is served once the holders leave").isEmpty();
        });
  }

  private static void check(SpanLatches<Integer> l) {
    List<Integer> holders = l.holders();
    for (int i = 0; i < holders.size(); i++) {
      for (int j = i + 1; j < holders.size(); j++) {
        assertThat(conflict(l.spansOf(holders.get(i)), l.spansOf(holders.get(j))))
            .as("holders %s and %s conflict", holders.get(i), holders.get(j))
            .isFalse();
      }
    }
    List<Integer> waiters = l.waiters();
    for (int i = 0; i < waiters.size(); i++) {
      List<Span> mine = l.spansOf(waiters.get(i));
      boolean blocked = holders.stream().anyMatch(h -> conflict(mine, l.spansOf(h)));
      for (int j = 0; j < i && !blocked; j++) {
        blocked = conflict(mine, l.spansOf(waiters.get(j)));
      }
      assertThat(blocked).as("waiter %s waits for nothing", waiters.get(i)).isTrue();
    }
    assertThat(l.waiterWaitingForNothing()).as("its own check agrees").isNull();
  }

  private static boolean conflict(List<Span> a, List<Span> b) {
    for (Span x : a) {
      for (Span y : b) {
        if (x.conflictsWith(y)) {
          return true;
        }
      }
    }
    return false;
  }

  private static final String[] KEYS = {"a", "b", "c", "d", "e"};

  private static List<Span> randomSpans(SplittableRandom random) {
    List<Span> out = new ArrayList<>();
    int n = 1 + random.nextInt(2);
    for (int i = 0; i < n; i++) {
      Mode mode = random.nextInt(3) == 0 ? Mode.READ : Mode.WRITE;
      if (random.nextInt(5) == 0) {
        int lo = random.nextInt(KEYS.length - 1);
        int hi = lo + 1 + random.nextInt(KEYS.length - lo - 1);
        out.add(span(KEYS[lo], KEYS[hi], mode));
      } else {
        out.add(Span.point(ByteString.copyFromUtf8(KEYS[random.nextInt(KEYS.length)]), mode));
      }
    }
    return out;
  }

  private static Span write(String key) {
    return Span.point(ByteString.copyFromUtf8(key), Mode.WRITE);
  }

  private static Span read(String key) {
    return Span.point(ByteString.copyFromUtf8(key), Mode.READ);
  }

  private static Span span(String start, String end, Mode mode) {
    return new Span(ByteString.copyFromUtf8(start), ByteString.copyFromUtf8(end), mode);
  }
}
