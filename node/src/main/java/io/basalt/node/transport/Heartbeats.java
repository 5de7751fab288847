package io.basalt.node.transport;

import io.basalt.api.CoalescedHeartbeat;
import io.basalt.api.MessageType;
import io.basalt.api.RaftMessage;

/**
 * Coalesced heartbeats (as in CockroachDB): a heartbeat or heartbeat response carries only a range
 * id and the generation of the sender's descriptor of it, the replica ids, the term, the commit
 * index, the leader's tick and a read context, so the transport sends all of them bound for one
 * node as compact entries of one {@link io.basalt.api.RaftBatch} instead of full Raft messages, and
 * expands them on arrival into exactly the messages they stand for. A message with any other field
 * set travels as it is.
 *
 * <p>The generation travels with the entry and comes out of {@link #expand} as it went in: the
 * transport knows no descriptors, so it must not stand in for one. An entry that carries none (0,
 * from a sender that predates the field) expands to a message naming generation 0, which the store
 * refuses as older than its own descriptor rather than taking it as current.
 */
public final class Heartbeats {
  private Heartbeats() {}

  /** Whether {@code m} is a heartbeat (or response) that a coalesced entry represents exactly. */
  public static boolean coalescable(RaftMessage m) {
    boolean heartbeat =
        m.getType() == MessageType.MESSAGE_TYPE_HEARTBEAT
            || m.getType() == MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE;
    return heartbeat
        && m.getLogTerm() == 0
        && m.getEntriesCount() == 0
        && !m.getReject()
        && m.getRejectHint() == 0
        && m.getRejectHintTerm() == 0
        && !m.hasSnapshot()
        && !m.getLeaderTransfer()
        && !m.hasCurrentDescriptor()
        && !m.getMergedAway();
  }

  public static CoalescedHeartbeat coalesce(RaftMessage m) {
    return CoalescedHeartbeat.newBuilder()
        .setRangeId(m.getRangeId())
        .setRangeGeneration(m.getRangeGeneration())
        .setFrom(m.getFrom())
        .setTo(m.getTo())
        .setTerm(m.getTerm())
        .setCommit(m.getCommit())
        .setContext(m.getContext())
        .setIndex(m.getIndex())
        .setQuiesce(m.getQuiesce())
        .build();
  }

  /** Expands a coalesced entry back into the Raft message it stands for. */
  public static RaftMessage expand(CoalescedHeartbeat h, boolean response) {
    return RaftMessage.newBuilder()
        .setRangeId(h.getRangeId())
        .setRangeGeneration(h.getRangeGeneration())
        .setType(
            response
                ? MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE
                : MessageType.MESSAGE_TYPE_HEARTBEAT)
        .setFrom(h.getFrom())
        .setTo(h.getTo())
        .setTerm(h.getTerm())
        .setCommit(h.getCommit())
        .setContext(h.getContext())
        .setIndex(h.getIndex())
        .setQuiesce(h.getQuiesce())
        .build();
  }
}
