package io.basalt.range.check;

import java.util.Objects;
import java.util.Optional;

/**
 * A read/write/compare-and-set register holding a value or nothing. Outputs: a read returns the
 * value it saw ({@code ""}-free strings; {@link #ABSENT} for nothing); a write returns {@link
 * Boolean#TRUE}; a CAS returns whether it succeeded.
 */
public final class RegisterModel implements Model<RegisterModel.State, RegisterModel.Op, Object> {
  /** The output of a read that found no value. */
  public static final String ABSENT = "<absent>";

  /** The register's content; {@code value} is {@code null} when absent. */
  public record State(String value) {
    Object asOutput() {
      return value == null ? ABSENT : value;
    }
  }

  /** An operation on the register. */
  public sealed interface Op permits Read, Write, Cas {}

  public record Read() implements Op {}

  public record Write(String value) implements Op {}

  /** Sets {@code value} if the register holds {@code expected} ({@code null}: absent). */
  public record Cas(String expected, String value) implements Op {}

  @Override
  public State initial() {
    return new State(null);
  }

  @Override
  public Optional<State> step(State state, Op input, Object output) {
    return switch (input) {
      case Read read ->
          output == null || Objects.equals(output, state.asOutput())
              ? Optional.of(state)
              : Optional.empty();
      case Write write -> Optional.of(new State(write.value()));
      case Cas cas -> {
        boolean matches = Objects.equals(cas.expected(), state.value());
        if (output != null && (Boolean) output != matches) {
          yield Optional.empty();
        }
        yield Optional.of(matches ? new State(cas.value()) : state);
      }
    };
  }

  @Override
  public boolean isReadOnly(Op input) {
    return input instanceof Read;
  }
}
