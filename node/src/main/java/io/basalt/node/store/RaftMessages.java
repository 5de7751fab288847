package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.MessageType;
import io.basalt.api.RaftMessage;
import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.Entry;
import io.basalt.range.raft.EntryType;
import io.basalt.range.raft.Message;
import io.basalt.range.raft.Snapshot;
import io.basalt.range.raft.SnapshotMetadata;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts the Raft core's {@link Message} to and from the wire's {@link RaftMessage}. Decoding
 * refuses anything the core could not have sent (unknown type, entries out of order) with an {@link
 * IllegalArgumentException}, so a bad message from the network is dropped before it reaches a
 * replica.
 */
final class RaftMessages {
  /** The message types by ordinal (values() copies the array on every call). */
  private static final Message.Type[] TYPES = Message.Type.values();

  private RaftMessages() {}

  static RaftMessage toProto(long rangeId, long generation, Message m) {
    RaftMessage.Builder b =
        RaftMessage.newBuilder()
            .setRangeId(rangeId)
            .setType(MessageType.forNumber(m.type().ordinal() + 1))
            .setFrom(m.from())
            .setTo(m.to())
            .setTerm(m.term())
            .setLogTerm(m.logTerm())
            .setIndex(m.index())
            .setCommit(m.commit())
            .setReject(m.reject())
            .setRejectHint(m.rejectHint())
            .setRejectHintTerm(m.rejectHintTerm())
            .setRangeGeneration(generation)
            .setLeaderTransfer(m.leaderTransfer())
            .setQuiesce(m.quiesce());
    if (m.context() != null && m.context().length > 0) {
      b.setContext(ByteString.copyFrom(m.context()));
    }
    for (Entry e : m.entries()) {
      b.addEntries(
          io.basalt.api.Entry.newBuilder()
              .setTerm(e.term())
              .setIndex(e.index())
              .setType(
                  e.type() == EntryType.CONF_CHANGE
                      ? io.basalt.api.EntryType.ENTRY_TYPE_CONF_CHANGE
                      : io.basalt.api.EntryType.ENTRY_TYPE_NORMAL)
              .setData(ByteString.copyFrom(e.data())));
    }
    if (m.snapshot() != null && !m.snapshot().isEmpty()) {
      SnapshotMetadata md = m.snapshot().metadata();
      b.setSnapshot(
          io.basalt.api.SnapshotMetadata.newBuilder()
              .setIndex(md.index())
              .setTerm(md.term())
              .setConfState(toProto(md.confState())));
    }
    return b.build();
  }

  /**
   * @throws IllegalArgumentException if the message is malformed
   */
  static Message fromProto(RaftMessage p) {
    int type = p.getTypeValue();
    if (type < 1 || type > TYPES.length) {
      throw new IllegalArgumentException("unknown raft message type " + type);
    }
    Message.Builder b =
        Message.builder(TYPES[type - 1], p.getFrom(), p.getTo(), p.getTerm())
            .logTerm(p.getLogTerm())
            .index(p.getIndex())
            .commit(p.getCommit())
            .reject(p.getReject())
            .rejectHint(p.getRejectHint())
            .rejectHintTerm(p.getRejectHintTerm())
            .leaderTransfer(p.getLeaderTransfer())
            .quiesce(p.getQuiesce());
    if (!p.getContext().isEmpty()) {
      b.context(p.getContext().toByteArray());
    }
    if (p.getEntriesCount() > 0) {
      List<Entry> entries = new ArrayList<>(p.getEntriesCount());
      for (io.basalt.api.Entry e : p.getEntriesList()) {
        EntryType t =
            switch (e.getType()) {
              case ENTRY_TYPE_NORMAL -> EntryType.NORMAL;
              case ENTRY_TYPE_CONF_CHANGE -> EntryType.CONF_CHANGE;
              case UNRECOGNIZED -> throw new IllegalArgumentException("unknown entry type");
            };
        entries.add(new Entry(e.getTerm(), e.getIndex(), t, e.getData().toByteArray()));
      }
      b.entries(entries);
    }
    if (p.hasSnapshot()) {
      io.basalt.api.SnapshotMetadata md = p.getSnapshot();
      b.snapshot(
          new Snapshot(
              new SnapshotMetadata(md.getIndex(), md.getTerm(), fromProto(md.getConfState())),
              new byte[0]));
    }
    return b.build();
  }

  static io.basalt.api.ConfState toProto(ConfState c) {
    return EngineRaftStorage.toProto(c);
  }

  static ConfState fromProto(io.basalt.api.ConfState c) {
    return EngineRaftStorage.fromProto(c);
  }
}
