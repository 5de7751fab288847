package io.basalt.range.raft;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The read path of one {@link Raft} (thesis §6.4; the argument is on {@link RaftNode}): ReadIndex
 * requests, forwarded by followers to the leader, held by the leader until it has committed an
 * entry of its term (step 1) and a heartbeat quorum confirms it still leads (step 3), and the
 * leader lease that answers them without that round. The answer is a {@link ReadState} (locally) or
 * a READ_INDEX_RESPONSE; the application serves the read once it has applied that index.
 */
final class Reads {
  /** A ReadIndex request waiting for a heartbeat quorum (thesis §6.4 step 3). */
  private static final class ReadRequest {
    final long index;
    final long from;
    final byte[] context;
    final Map<Long, Boolean> acks = new TreeMap<>();

    ReadRequest(long index, long from, byte[] context) {
      this.index = index;
      this.from = from;
      this.context = context;
    }
  }

  private final Raft raft;
  private final Config cfg;
  private final SafetyRules rules;

  /** Requests waiting for a heartbeat quorum, oldest first, by context. */
  private final LinkedHashMap<ByteBuffer, ReadRequest> pending = new LinkedHashMap<>();

  /** ReadIndex requests received before this leader committed an entry of its term. */
  private final List<ReadRequest> awaitingCommit = new ArrayList<>();

  Reads(Raft raft, Config cfg, SafetyRules rules) {
    this.raft = raft;
    this.cfg = cfg;
    this.rules = rules;
  }

  /** Drops every waiting request (a new term or role: they are answered by nobody). */
  void clear() {
    pending.clear();
    awaitingCommit.clear();
  }

  /** Whether some request waits (the leader must not quiesce then). */
  boolean waiting() {
    return !pending.isEmpty() || !awaitingCommit.isEmpty();
  }

  /** The context of the newest request waiting for a quorum, or an empty one. */
  byte[] newestPendingContext() {
    byte[] ctx = new byte[0];
    for (ReadRequest r : pending.values()) {
      ctx = r.context;
    }
    return ctx;
  }

  boolean readIndex(byte[] context) {
    if (context == null || context.length == 0) {
      throw new IllegalArgumentException("a read context must not be empty");
    }
    raft.wake();
    if (raft.role == Role.LEADER) {
      handleReadIndex(raft.id, context);
      return true;
    }
    if (raft.lead != Raft.NONE) {
      raft.send(
          Message.builder(Type.READ_INDEX, raft.id, raft.lead, raft.term).context(context).build());
      return true;
    }
    return false;
  }

  void handleReadIndex(long from, byte[] context) {
    raft.idleTicks = 0;
    if (!raft.committedInCurrentTerm()) {
      // Step 1: until the leader commits an entry of its term it does not know the commit index.
      awaitingCommit.add(new ReadRequest(0, from, context));
      return;
    }
    long index = raft.log.committed();
    ProgressTracker tracker = raft.tracker;
    if ((tracker.isSingleton() && tracker.config().isVoter(raft.id))
        || !rules.readIndexNeedsQuorum()) {
      respond(from, index, context);
      return;
    }
    if (cfg.readOnlyOption() == Config.ReadOnlyOption.LEASE_BASED && leaseValid()) {
      respond(from, index, context);
      return;
    }
    ByteBuffer key = ByteBuffer.wrap(context.clone());
    if (pending.containsKey(key)) {
      return; // Duplicate request id: it will be answered once.
    }
    ReadRequest r = new ReadRequest(index, from, context);
    r.acks.put(raft.id, true);
    pending.put(key, r);
    raft.replication.bcastHeartbeat(context);
  }

  /** The leader committed an entry of its term: the requests that waited for it go on. */
  void onCommittedInCurrentTerm() {
    if (awaitingCommit.isEmpty()) {
      return;
    }
    List<ReadRequest> waiting = new ArrayList<>(awaitingCommit);
    awaitingCommit.clear();
    for (ReadRequest r : waiting) {
      handleReadIndex(r.from, r.context);
    }
  }

  /** {@code from} answered a heartbeat that carried {@code context}. */
  void onHeartbeatAck(long from, byte[] context) {
    ReadRequest acked = pending.get(ByteBuffer.wrap(context));
    if (acked == null) {
      return;
    }
    acked.acks.put(from, true);
    if (Quorum.jointVote(raft.tracker.config(), acked.acks) != Quorum.VoteResult.WON) {
      return;
    }
    // Leadership confirmed at the time the heartbeat was sent, for this request and every
    // request queued before it.
    Iterator<Map.Entry<ByteBuffer, ReadRequest>> it = pending.entrySet().iterator();
    while (it.hasNext()) {
      ReadRequest r = it.next().getValue();
      it.remove();
      respond(r.from, r.index, r.context);
      if (r == acked) {
        break;
      }
    }
  }

  private void respond(long from, long index, byte[] context) {
    if (from == raft.id) {
      raft.readStates.add(new ReadState(index, context));
    } else {
      raft.send(
          Message.builder(Type.READ_INDEX_RESPONSE, raft.id, from, raft.term)
              .index(index)
              .context(context)
              .build());
    }
  }

  /** See the lease paragraph on {@link RaftNode}. */
  boolean leaseValid() {
    if (raft.role != Role.LEADER) {
      return rules.followerLease(raft, cfg); // false: a follower may lag what was acknowledged
    }
    if (raft.quiesced || raft.leadTransferee != Raft.NONE || raft.timeoutNowSent) {
      return false;
    }
    if (!rules.leasePossible(cfg)) {
      return false;
    }
    if (!raft.committedInCurrentTerm()) {
      return false;
    }
    long start = raft.tracker.quorumLeaseAckTick(raft.id, raft.ticks);
    if (start < 0) {
      return false;
    }
    return raft.ticks < rules.leaseEnd(start, cfg);
  }
}
