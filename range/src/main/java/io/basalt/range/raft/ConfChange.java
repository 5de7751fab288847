package io.basalt.range.raft;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A membership change: one or more single changes applied together.
 *
 * <p>A change of at most one voter with {@link Transition#AUTO} is applied directly (a "simple"
 * change: any majority of the old configuration intersects any majority of the new one). Anything
 * else goes through joint consensus (Raft thesis §4.3): the group first enters a joint
 * configuration in which every decision needs a majority of both the old and the new voters, and
 * then leaves it with an empty change. With {@link Transition#AUTO} or {@link
 * Transition#JOINT_IMPLICIT} the leader proposes the leaving change itself once the joint one is
 * applied; with {@link Transition#JOINT_EXPLICIT} the application must propose {@link
 * #leaveJoint()}.
 *
 * <p>The {@code context} is the application's, carried in the entry and ignored by the core (a
 * store puts the range descriptor the change produces there, so every replica applies the new
 * membership and the new descriptor together).
 *
 * @param changes the single changes, applied in order; empty means "leave the joint configuration"
 * @param transition how to move between configurations
 * @param context the application's bytes, carried with the change (empty if none)
 */
public record ConfChange(List<Change> changes, Transition transition, byte[] context) {

  /** The encoding without a context. */
  private static final byte FORMAT_VERSION = 1;

  /** The encoding with a context after the changes: its length, then its bytes. */
  private static final byte FORMAT_VERSION_WITH_CONTEXT = 2;

  /** What a single change does. */
  public enum Kind {
    ADD_VOTER,
    ADD_LEARNER,
    REMOVE_NODE
  }

  /** How a change moves the group between configurations. */
  public enum Transition {
    /** Simple if possible, otherwise joint with automatic leave. */
    AUTO,
    /** Always joint, leaving automatically. */
    JOINT_IMPLICIT,
    /** Always joint; the application proposes {@link #leaveJoint()}. */
    JOINT_EXPLICIT
  }

  /** One member change. */
  public record Change(Kind kind, long nodeId) {
    public Change {
      Objects.requireNonNull(kind, "kind");
      if (nodeId <= 0) {
        throw new IllegalArgumentException("nodeId must be positive: " + nodeId);
      }
    }
  }

  public ConfChange {
    changes = List.copyOf(changes);
    Objects.requireNonNull(transition, "transition");
    context = context == null ? new byte[0] : context.clone();
  }

  public ConfChange(List<Change> changes, Transition transition) {
    this(changes, transition, new byte[0]);
  }

  /** This change carrying {@code context} (see the class comment). */
  public ConfChange withContext(byte[] context) {
    return new ConfChange(changes, transition, context);
  }

  @Override
  public byte[] context() {
    return context.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConfChange c
        && changes.equals(c.changes)
        && transition == c.transition
        && java.util.Arrays.equals(context, c.context);
  }

  @Override
  public int hashCode() {
    return Objects.hash(changes, transition, java.util.Arrays.hashCode(context));
  }

  @Override
  public String toString() {
    return "ConfChange[changes="
        + changes
        + ", transition="
        + transition
        + (context.length == 0 ? "" : ", context=" + context.length + " bytes")
        + "]";
  }

  public static ConfChange addVoter(long id) {
    return new ConfChange(List.of(new Change(Kind.ADD_VOTER, id)), Transition.AUTO);
  }

  public static ConfChange addLearner(long id) {
    return new ConfChange(List.of(new Change(Kind.ADD_LEARNER, id)), Transition.AUTO);
  }

  public static ConfChange removeNode(long id) {
    return new ConfChange(List.of(new Change(Kind.REMOVE_NODE, id)), Transition.AUTO);
  }

  /** Several changes at once (joint consensus unless it is a single-voter change and AUTO). */
  public static ConfChange of(Transition transition, Change... changes) {
    return new ConfChange(List.of(changes), transition);
  }

  /** The change that leaves a joint configuration. */
  public static ConfChange leaveJoint() {
    return new ConfChange(List.of(), Transition.AUTO);
  }

  /** Whether this is the change that leaves a joint configuration. */
  public boolean isLeaveJoint() {
    return changes.isEmpty();
  }

  /** Whether applying this change enters a joint configuration (rather than a simple change). */
  boolean entersJoint() {
    return changes.size() > 1 || (!changes.isEmpty() && transition != Transition.AUTO);
  }

  /** Whether a joint configuration entered by this change is left automatically. */
  boolean autoLeave() {
    return transition != Transition.JOINT_EXPLICIT;
  }

  /** The stable binary form stored in a {@link EntryType#CONF_CHANGE} entry. */
  public byte[] encode() {
    boolean withContext = context.length > 0;
    ByteBuffer b =
        ByteBuffer.allocate(
            1 + 1 + 4 + changes.size() * 9 + (withContext ? 4 + context.length : 0));
    b.put(withContext ? FORMAT_VERSION_WITH_CONTEXT : FORMAT_VERSION);
    b.put((byte) transition.ordinal());
    b.putInt(changes.size());
    for (Change c : changes) {
      b.put((byte) c.kind().ordinal());
      b.putLong(c.nodeId());
    }
    if (withContext) {
      b.putInt(context.length);
      b.put(context);
    }
    return b.array();
  }

  /**
   * Decodes {@link #encode()}'s output.
   *
   * @throws IllegalArgumentException if {@code data} is not a valid encoding
   */
  public static ConfChange decode(byte[] data) {
    try {
      ByteBuffer b = ByteBuffer.wrap(data);
      byte version = b.get();
      if (version != FORMAT_VERSION && version != FORMAT_VERSION_WITH_CONTEXT) {
        throw new IllegalArgumentException("unknown conf change format version " + version);
      }
      Transition transition = Transition.values()[b.get()];
      int n = b.getInt();
      if (n < 0 || n > (data.length - 6) / 9) {
        throw new IllegalArgumentException("bad conf change count " + n);
      }
      List<Change> changes = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        changes.add(new Change(Kind.values()[b.get()], b.getLong()));
      }
      byte[] context = new byte[0];
      if (version == FORMAT_VERSION_WITH_CONTEXT) {
        int length = b.getInt();
        if (length <= 0 || length != b.remaining()) {
          throw new IllegalArgumentException("bad conf change context length " + length);
        }
        context = new byte[length];
        b.get(context);
      }
      if (b.hasRemaining()) {
        throw new IllegalArgumentException("trailing bytes in conf change");
      }
      return new ConfChange(changes, transition, context);
    } catch (BufferUnderflowException | ArrayIndexOutOfBoundsException e) {
      throw new IllegalArgumentException("malformed conf change of " + data.length + " bytes", e);
    }
  }
}
