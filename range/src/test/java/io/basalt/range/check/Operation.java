package io.basalt.range.check;

/**
 * One operation of a recorded history (VERIFICATION.md, "Histories"): who issued it, on which key,
 * what it asked and what it got, and when it was invoked and completed in real time.
 *
 * <p>An operation whose outcome is unknown (a timeout, a dropped connection, an ambiguous result)
 * is recorded with {@code returnTime = }{@link #UNKNOWN} and a {@code null} output: it may have
 * taken effect at any time after its invocation, or never.
 *
 * <p>A recorder whose clock is coarse (a simulator's millisecond) may also number every invocation
 * and return from one counter, in the order they happened: {@code callSeq} and {@code returnSeq},
 * positive. When every operation of a key carries them, the checker orders events of the same
 * instant by them, so real-time order is exact; without them ({@code 0}) an invocation at the
 * instant of a return is taken as concurrent with it.
 *
 * @param <I> the model's input type
 * @param <O> the model's output type
 */
public record Operation<I, O>(
    long process,
    String key,
    I input,
    O output,
    long callTime,
    long returnTime,
    long callSeq,
    long returnSeq) {
  /** The return time of an operation whose outcome is unknown. */
  public static final long UNKNOWN = Long.MAX_VALUE;

  public Operation {
    if (returnTime < callTime) {
      throw new IllegalArgumentException(
          "operation returns at " + returnTime + " before its call at " + callTime);
    }
    if (callSeq < 0 || returnSeq < 0 || (callSeq == 0) != (returnSeq == 0)) {
      throw new IllegalArgumentException(
          "sequence numbers must both be positive or both 0: " + callSeq + ", " + returnSeq);
    }
    if (callSeq > 0 && returnTime != UNKNOWN && returnSeq <= callSeq) {
      throw new IllegalArgumentException(
          "operation returns at seq " + returnSeq + " before its call at seq " + callSeq);
    }
  }

  /** An operation without sequence numbers. */
  public Operation(long process, String key, I input, O output, long callTime, long returnTime) {
    this(process, key, input, output, callTime, returnTime, 0, 0);
  }

  public boolean sequenced() {
    return callSeq > 0;
  }

  public boolean outcomeUnknown() {
    return returnTime == UNKNOWN;
  }

  @Override
  public String toString() {
    return "p"
        + process
        + " "
        + key
        + " "
        + input
        + " -> "
        + (outcomeUnknown() ? "?" : output)
        + " ["
        + callTime
        + ", "
        + (outcomeUnknown() ? "inf" : returnTime)
        + "]";
  }
}
