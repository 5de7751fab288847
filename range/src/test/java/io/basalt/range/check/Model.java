package io.basalt.range.check;

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
}
