package io.basalt.range.check;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

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

  /**
   * Drops writes and CASes of unknown outcome whose value no read returned and no CAS expected: if
   * the rest is linearizable, so is the whole (they take effect never). Values are assumed unique
   * per operation, as the workloads make them.
   */
  @Override
  public <T extends Operation<Op, Object>> List<T> prune(List<T> ops) {
    Set<Object> observed = new HashSet<>();
    for (T op : ops) {
      if (op.input() instanceof Read && !op.outcomeUnknown()) {
        observed.add(op.output());
      } else if (op.input() instanceof Cas cas && cas.expected() != null) {
        observed.add(cas.expected());
      }
    }
    List<T> kept = new ArrayList<>(ops.size());
    for (T op : ops) {
      String written =
          switch (op.input()) {
            case Write w -> w.value();
            case Cas c -> c.value();
            case Read r -> null;
          };
      if (op.outcomeUnknown() && written != null && !observed.contains(written)) {
        continue;
      }
      kept.add(op);
    }
    return kept;
  }

  @Override
  public boolean isReadOnly(Op input) {
    return input instanceof Read;
  }
}
