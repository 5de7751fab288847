package io.basalt.range.check;

import java.util.List;
import java.util.Optional;

/**
 * A sequential specification for the linearizability checker. States must be immutable values with
 * {@code equals} and {@code hashCode} (they are memoised).
 *
 * @param <S> state
 * @param <I> operation input
 * @param <O> operation output
 */
public interface Model<S, I, O> {
  S initial();

  /**
   * The state after applying {@code input} in {@code state}, if the operation could have returned
   * {@code output}; empty if not. {@code output} is {@code null} when the outcome is unknown: then
   * any output is acceptable.
   */
  Optional<S> step(S state, I input, O output);

  /**
   * Whether {@code input} never changes the state (such operations with unknown outcome are
   * dropped).
   */
  default boolean isReadOnly(I input) {
    return false;
  }

  /**
   * A smaller history to try first: one whose linearizability implies that of {@code ops} (for
   * example, without unknown-outcome operations whose effect nobody observed, which may simply
   * never have happened). The checker falls back to the whole history when the smaller one is not
   * linearizable, so this only ever saves work.
   */
  default <T extends Operation<I, O>> List<T> prune(List<T> ops) {
    return ops;
  }
}
