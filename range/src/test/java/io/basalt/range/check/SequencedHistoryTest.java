package io.basalt.range.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Sequence numbers order the invocations and returns of one instant (see {@link Operation}). */
class SequencedHistoryTest {
  private static final RegisterModel.Op WRITE_X = new RegisterModel.Write("x");
  private static final RegisterModel.Op READ = new RegisterModel.Read();

  private static boolean linearizable(List<Operation<RegisterModel.Op, Object>> history) {
    return new LinearizabilityChecker().check(new RegisterModel(), history).linearizable();
  }

  @Test
  void aReadInvokedAfterAWriteReturnedInTheSameInstantMustSeeIt() {
    // Both at 5 ms: the write returns (seq 2), then the read is invoked (seq 3) and misses it.
    var history =
        List.of(
            new Operation<RegisterModel.Op, Object>(1, "k", WRITE_X, Boolean.TRUE, 1, 5, 1, 2),
            new Operation<RegisterModel.Op, Object>(
                2, "k", READ, RegisterModel.ABSENT, 5, 6, 3, 4));
    assertThat(linearizable(history)).isFalse();
  }

  @Test
  void aReadInvokedBeforeTheWriteReturnedInTheSameInstantIsConcurrentWithIt() {
    var history =
        List.of(
            new Operation<RegisterModel.Op, Object>(1, "k", WRITE_X, Boolean.TRUE, 1, 5, 1, 3),
            new Operation<RegisterModel.Op, Object>(
                2, "k", READ, RegisterModel.ABSENT, 5, 6, 2, 4));
    assertThat(linearizable(history)).isTrue();
  }

  @Test
  void withoutSequenceNumbersTheSameInstantCountsAsConcurrent() {
    var history =
        List.of(
            new Operation<RegisterModel.Op, Object>(1, "k", WRITE_X, Boolean.TRUE, 1, 5),
            new Operation<RegisterModel.Op, Object>(2, "k", READ, RegisterModel.ABSENT, 5, 6));
    assertThat(linearizable(history)).isTrue();
  }

  @Test
  void sequenceNumbersMustBeConsistent() {
    assertThatThrownBy(() -> new Operation<>(1, "k", READ, "x", 1, 2, 3, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Operation<>(1, "k", READ, "x", 1, 2, 3, 3))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
