package io.basalt.range.raft;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One Raft message between replicas of a group (the RPCs of Raft Figure 2 plus the extensions of
 * the thesis). Which fields are meaningful depends on {@link #type()}:
 *
 * <ul>
 *   <li>{@code APPEND}: {@code index}/{@code logTerm} identify the entry preceding {@code entries};
 *       {@code commit} is the leader's commit index.
 *   <li>{@code APPEND_RESPONSE}: {@code index} is the last index known to match (accept) or the
 *       rejected preceding index (reject, with {@code rejectHint}/{@code rejectHintTerm} for fast
 *       backtracking by term). Snapshot installs are acknowledged with an APPEND_RESPONSE too.
 *   <li>{@code VOTE}/{@code PRE_VOTE}: {@code index}/{@code logTerm} are the candidate's last
 *       entry; {@code leaderTransfer} marks a campaign started by {@code TIMEOUT_NOW}, which voters
 *       grant even while they believe a leader is alive.
 *   <li>{@code HEARTBEAT}: {@code commit} is min(follower's match, leader commit); {@code index}
 *       carries the leader's tick count at send time (the lease clock), echoed back in the {@code
 *       HEARTBEAT_RESPONSE}; {@code context} carries a ReadIndex request id; {@code quiesce} asks
 *       the follower to stop its election timer.
 *   <li>{@code READ_INDEX}/{@code READ_INDEX_RESPONSE}: a follower's forwarded read and the
 *       leader's answer ({@code index} is the read index).
 * </ul>
 *
 * <p>Wire note: {@code quiesce} has no field in {@code basalt.RaftMessage} yet; the transport must
 * add one before quiescence is enabled across processes.
 */
public record Message(
    Type type,
    long from,
    long to,
    long term,
    long logTerm,
    long index,
    List<Entry> entries,
    long commit,
    boolean reject,
    long rejectHint,
    long rejectHintTerm,
    Snapshot snapshot,
    byte[] context,
    boolean leaderTransfer,
    boolean quiesce) {

  /** The kinds of message replicas exchange. */
  public enum Type {
    VOTE,
    VOTE_RESPONSE,
    PRE_VOTE,
    PRE_VOTE_RESPONSE,
    APPEND,
    APPEND_RESPONSE,
    HEARTBEAT,
    HEARTBEAT_RESPONSE,
    SNAPSHOT,
    TIMEOUT_NOW,
    READ_INDEX,
    READ_INDEX_RESPONSE
  }

  public Message {
    Objects.requireNonNull(type, "type");
    entries = entries == null ? List.of() : List.copyOf(entries);
    context = context == null ? new byte[0] : context.clone();
  }

  /** A builder for a message of {@code type} from {@code from} to {@code to} at {@code term}. */
  public static Builder builder(Type type, long from, long to, long term) {
    return new Builder(type, from, to, term);
  }

  /** A builder initialised with this message's fields. */
  public Builder toBuilder() {
    Builder b = new Builder(type, from, to, term);
    b.logTerm = logTerm;
    b.index = index;
    b.entries = entries;
    b.commit = commit;
    b.reject = reject;
    b.rejectHint = rejectHint;
    b.rejectHintTerm = rejectHintTerm;
    b.snapshot = snapshot;
    b.context = context;
    b.leaderTransfer = leaderTransfer;
    b.quiesce = quiesce;
    return b;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Message m
        && m.type == type
        && m.from == from
        && m.to == to
        && m.term == term
        && m.logTerm == logTerm
        && m.index == index
        && m.entries.equals(entries)
        && m.commit == commit
        && m.reject == reject
        && m.rejectHint == rejectHint
        && m.rejectHintTerm == rejectHintTerm
        && Objects.equals(m.snapshot, snapshot)
        && Arrays.equals(m.context, context)
        && m.leaderTransfer == leaderTransfer
        && m.quiesce == quiesce;
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, from, to, term, index, commit);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append(type).append(' ').append(from).append("->").append(to).append(" t").append(term);
    sb.append(" logTerm=").append(logTerm).append(" index=").append(index);
    sb.append(" commit=").append(commit);
    if (!entries.isEmpty()) {
      sb.append(" entries=").append(entries);
    }
    if (reject) {
      sb.append(" REJECT hint=").append(rejectHint).append('@').append(rejectHintTerm);
    }
    if (snapshot != null) {
      sb.append(' ').append(snapshot);
    }
    if (context.length > 0) {
      sb.append(" ctx=").append(Arrays.toString(context));
    }
    if (leaderTransfer) {
      sb.append(" transfer");
    }
    if (quiesce) {
      sb.append(" quiesce");
    }
    return sb.toString();
  }

  /** Builds a {@link Message}; unset fields are zero, empty or false. */
  public static final class Builder {
    private final Type type;
    private final long from;
    private final long to;
    private final long term;
    private long logTerm;
    private long index;
    private List<Entry> entries = List.of();
    private long commit;
    private boolean reject;
    private long rejectHint;
    private long rejectHintTerm;
    private Snapshot snapshot;
    private byte[] context = new byte[0];
    private boolean leaderTransfer;
    private boolean quiesce;

    private Builder(Type type, long from, long to, long term) {
      this.type = type;
      this.from = from;
      this.to = to;
      this.term = term;
    }

    public Builder logTerm(long v) {
      logTerm = v;
      return this;
    }

    public Builder index(long v) {
      index = v;
      return this;
    }

    public Builder entries(List<Entry> v) {
      entries = v;
      return this;
    }

    public Builder commit(long v) {
      commit = v;
      return this;
    }

    public Builder reject(boolean v) {
      reject = v;
      return this;
    }

    public Builder rejectHint(long v) {
      rejectHint = v;
      return this;
    }

    public Builder rejectHintTerm(long v) {
      rejectHintTerm = v;
      return this;
    }

    public Builder snapshot(Snapshot v) {
      snapshot = v;
      return this;
    }

    public Builder context(byte[] v) {
      context = v;
      return this;
    }

    public Builder leaderTransfer(boolean v) {
      leaderTransfer = v;
      return this;
    }

    public Builder quiesce(boolean v) {
      quiesce = v;
      return this;
    }

    public Message build() {
      return new Message(
          type,
          from,
          to,
          term,
          logTerm,
          index,
          entries,
          commit,
          reject,
          rejectHint,
          rejectHintTerm,
          snapshot,
          context,
          leaderTransfer,
          quiesce);
    }
  }
}
