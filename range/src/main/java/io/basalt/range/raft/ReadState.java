package io.basalt.range.raft;

import java.util.Arrays;
import java.util.Objects;

/**
 * The answer to {@link RaftNode#readIndex(byte[])}: once this replica has applied {@code index}, a
 * read issued with {@code context} may be served from its state machine and is linearizable.
 */
public record ReadState(long index, byte[] context) {

  public ReadState {
    context = context == null ? new byte[0] : context.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ReadState r && r.index == index && Arrays.equals(r.context, context);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, Arrays.hashCode(context));
  }

  @Override
  public String toString() {
    return "ReadState[" + index + " ctx=" + Arrays.toString(context) + "]";
  }
}
