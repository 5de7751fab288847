package io.basalt.range.check;

/**
 * One operation of a recorded history (VERIFICATION.md, "Histories"): who issued it, on which key,
 * what it asked and what it got, and when it was invoked and completed in real time.
 *
 * <p>An operation whose outcome is unknown (a timeout, a dropped connection, an ambiguous result)
 * is recorded with {@code returnTime = }{@link #UNKNOWN} and a {@code null} output: it may have
 * taken effect at any time after its invocation, or never.
 *
 * @param <I> the model's input type
 * @param <O> the model's output type
 */
public record Operation<I, O>(
    long process, String key, I input, O output, long callTime, long returnTime) {
  /** The return time of an operation whose outcome is unknown. */
  public static final long UNKNOWN = Long.MAX_VALUE;

  public Operation {
    if (returnTime < callTime) {
      throw new IllegalArgumentException(
          "operation returns at " + returnTime + " before its call at " + callTime);
    }
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
