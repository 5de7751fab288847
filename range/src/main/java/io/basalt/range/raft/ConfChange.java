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
 * @param changes the single changes, applied in order; empty means "leave the joint configuration"
 * @param transition how to move between configurations
 */
public record ConfChange(List<Change> changes, Transition transition) {

  private static final byte FORMAT_VERSION = 1;

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
    ByteBuffer b = ByteBuffer.allocate(1 + 1 + 4 + changes.size() * 9);
    b.put(FORMAT_VERSION);
    b.put((byte) transition.ordinal());
    b.putInt(changes.size());
    for (Change c : changes) {
      b.put((byte) c.kind().ordinal());
      b.putLong(c.nodeId());
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
      if (version != FORMAT_VERSION) {
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
      if (b.hasRemaining()) {
        throw new IllegalArgumentException("trailing bytes in conf change");
      }
      return new ConfChange(changes, transition);
    } catch (BufferUnderflowException | ArrayIndexOutOfBoundsException e) {
      throw new IllegalArgumentException("malformed conf change of " + data.length + " bytes", e);
    }
  }
}
