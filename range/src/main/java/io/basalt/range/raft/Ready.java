package io.basalt.range.raft;

import java.util.List;

/**
 * A batch of work the core hands to the application, acknowledged with {@link
 * RaftNode#advance(Ready)}. The application processes it in this order:
 *
 * <ol>
 *   <li>Send {@link #messages()} at any time (even before persisting): they are the leader's
 *       replication traffic, which is safe to send before the leader's own log is durable (thesis
 *       §10.2.1; the leader counts itself in a quorum only after {@code advance}).
 *   <li>Install {@link #snapshot()} if present, append {@link #entries()} and save {@link
 *       #hardState()} if present; if {@link #mustSync()}, make them durable (fsync).
 *   <li>Only then send {@link #messagesAfterPersist()}: votes, vote and append acknowledgements and
 *       anything sent after a term or vote change promise state that must survive a crash (§5.1:
 *       "respond to RPCs" only after updating stable storage).
 *   <li>Apply {@link #committedEntries()} in order (they are already durable locally), and serve
 *       reads of {@link #readStates()} once their index is applied.
 *   <li>Call {@link RaftNode#advance(Ready)}.
 * </ol>
 *
 * @param softState the role and leader, if changed since the last Ready, else null
 * @param hardState the hard state to save, if changed since the last Ready, else null
 * @param entries entries to append to stable storage
 * @param snapshot a snapshot to install, else null
 * @param committedEntries committed entries to apply
 * @param messages messages that may be sent immediately
 * @param messagesAfterPersist messages to send only once this Ready is durable
 * @param readStates confirmed reads
 * @param mustSync whether the writes must be synced before messagesAfterPersist are sent
 */
public record Ready(
    SoftState softState,
    HardState hardState,
    List<Entry> entries,
    Snapshot snapshot,
    List<Entry> committedEntries,
    List<Message> messages,
    List<Message> messagesAfterPersist,
    List<ReadState> readStates,
    boolean mustSync) {

  /** Volatile state worth reporting: who leads, and this replica's role. */
  public record SoftState(long leaderId, RaftNode.Role role) {}

  public Ready {
    entries = List.copyOf(entries);
    committedEntries = List.copyOf(committedEntries);
    messages = List.copyOf(messages);
    messagesAfterPersist = List.copyOf(messagesAfterPersist);
    readStates = List.copyOf(readStates);
  }
}
