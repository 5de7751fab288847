package io.basalt.range.raft;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.util.List;

/**
 * Log replication (§5.3, §5.4.2, §7) for one {@link Raft}, both sides. The leader's: what each
 * member is sent (entries, or a snapshot once they were compacted; heartbeats), what its answers
 * mean for its {@link Progress}, and when an entry is committed. The follower's: the consistency
 * check on appends, commit indexes learnt from heartbeats, and installing snapshots. It keeps no
 * state of its own: everything lives in the replica's {@link ProgressTracker} and {@link RaftLog}
 * and in {@link Raft}'s fields, and every message goes out through {@link Raft#send}. {@link Raft}
 * routes each message to the handler of its current role.
 */
final class Replication {
  private final Raft raft;
  private final Config cfg;
  private final SafetyRules rules;

  Replication(Raft raft, Config cfg, SafetyRules rules) {
    this.raft = raft;
    this.cfg = cfg;
    this.rules = rules;
  }

  // ---------------------------------------------------------------------------------------------
  // Follower side (§5.3, §7)

  void handleAppend(Message m) {
    if (m.index() < raft.log.committed()) {
      // Everything up to our commit index matches the leader (§5.4.3); tell it so.
      raft.send(
          Message.builder(Type.APPEND_RESPONSE, raft.id, m.from(), raft.term)
              .index(raft.log.committed())
              .build());
      return;
    }
    long lastNew = raft.log.maybeAppend(m.index(), m.logTerm(), m.commit(), m.entries());
    if (lastNew >= 0) {
      raft.send(
          Message.builder(Type.APPEND_RESPONSE, raft.id, m.from(), raft.term)
              .index(lastNew)
              .build());
      return;
    }
    // Consistency check failed (§5.3). Hint where our log could match so that the leader skips a
    // whole term per round trip instead of one entry.
    long[] hint =
        raft.log.findConflictByTerm(Math.min(m.index(), raft.log.lastIndex()), m.logTerm());
    raft.send(
        Message.builder(Type.APPEND_RESPONSE, raft.id, m.from(), raft.term)
            .index(m.index())
            .reject(true)
            .rejectHint(hint[0])
            .rejectHintTerm(hint[1])
            .build());
  }

  void handleHeartbeat(Message m) {
    // The leader sends min(our match, its commit), so every index up to it matches its log.
    raft.log.commitTo(Math.min(m.commit(), raft.log.lastIndex()));
    if (m.quiesce()) {
      raft.quiesced = true; // No answer: an answer would wake the leader.
      return;
    }
    raft.send(
        Message.builder(Type.HEARTBEAT_RESPONSE, raft.id, m.from(), raft.term)
            .index(m.index())
            .context(m.context())
            .build());
  }

  void handleSnapshot(Message m) {
    Snapshot s = m.snapshot();
    if (s != null && restore(s)) {
      raft.send(
          Message.builder(Type.APPEND_RESPONSE, raft.id, m.from(), raft.term)
              .index(raft.log.lastIndex())
              .build());
    } else {
      raft.send(
          Message.builder(Type.APPEND_RESPONSE, raft.id, m.from(), raft.term)
              .index(raft.log.committed())
              .build());
    }
  }

  /** Installs a leader's snapshot (§7); returns false if it brings nothing new. */
  private boolean restore(Snapshot s) {
    SnapshotMetadata md = s.metadata();
    if (md.index() <= raft.log.committed()) {
      return false; // Stale, or we already have everything it covers.
    }
    // The snapshot's configuration may not contain us: it can predate our addition (we learn of it
    // from the entries that follow) or postdate our removal. Either way we install it; a replica
    // outside its configuration never campaigns, so this is safe, and refusing it could leave a new
    // member waiting forever for a newer snapshot.
    if (raft.log.matchTerm(md.index(), md.term())) {
      // Our log already has the snapshot's last entry, so it holds everything before it (Log
      // Matching, §5.3): keep the log and just learn that it is committed.
      raft.log.commitTo(md.index());
      return false;
    }
    raft.log.restore(s);
    // The snapshot carries the configuration as of its index; it replaces ours.
    raft.tracker.restore(md.confState(), raft.log.lastIndex());
    raft.confIndex = md.index();
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Leader side (§5.3, §5.4.2)

  void handleAppendResponse(Message m, Progress pr) {
    RaftLog log = raft.log;
    pr.recentActive = true;
    if (!m.reject() && m.index() > log.lastIndex()) {
      return; // Acknowledges entries we never sent: not from an honest member of this term.
    }
    if (m.reject()) {
      long nextProbe = m.rejectHint();
      if (m.rejectHintTerm() > 0) {
        nextProbe = log.findConflictByTerm(m.rejectHint(), m.rejectHintTerm())[0];
      }
      if (pr.maybeDecrTo(m.index(), nextProbe)) {
        if (pr.state == Progress.State.REPLICATE) {
          pr.becomeProbe();
        }
        maybeSendAppend(m.from(), false);
      }
      return;
    }
    boolean wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index())) {
      return; // Stale or duplicate acknowledgement.
    }
    switch (pr.state) {
      case PROBE -> pr.becomeReplicate();
      case SNAPSHOT -> {
        if (pr.match + 1 >= log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
      }
      case REPLICATE -> pr.inflights.freeLE(m.index());
    }
    if (maybeCommit()) {
      bcastAppend();
    } else if (wasPaused) {
      maybeSendAppend(m.from(), false);
    }
    while (maybeSendAppend(m.from(), false)) {
      // Pipeline (replicate state) until the in-flight window is full or nothing is left.
    }
    if (m.from() == raft.leadTransferee && pr.match == log.lastIndex()) {
      sendTimeoutNow(m.from());
    }
  }

  void handleHeartbeatResponse(Message m, Progress pr) {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state == Progress.State.REPLICATE && pr.inflights.full()) {
      // Every append in the window may have been lost: free a slot so that the next append (an
      // empty one at worst) can expose the gap and move the member back to probing.
      pr.inflights.freeFirstOne();
    }
    if (m.index() != Raft.WAKE_PING && m.index() <= raft.ticks && m.index() > pr.leaseAckTick) {
      pr.leaseAckTick = m.index();
    }
    if (pr.match < raft.log.lastIndex()) {
      // Even with nothing new to send: an empty append at `next` exposes appends that were lost
      // (the member rejects it and we fall back to probing, or to a snapshot).
      maybeSendAppend(m.from(), true);
    }
    if (m.context().length > 0) {
      raft.reads.onHeartbeatAck(m.from(), m.context());
    }
  }

  /** Advances the commit index to what a quorum holds, if that entry is of the current term. */
  boolean maybeCommit() {
    RaftLog log = raft.log;
    long mci = rules.quorumMatch(raft.tracker);
    if (mci <= log.committed() || mci == Long.MAX_VALUE) {
      return false;
    }
    // §5.4.2 / Figure 8: an entry of an earlier term may be on a majority and still be
    // overwritten; only counting replicas of a current-term entry makes it (and, by Log
    // Matching, everything before it) committed.
    if (!rules.commitByCounting(log.termOrZero(mci), raft.term)) {
      return false;
    }
    log.commitTo(mci);
    if (raft.committedInCurrentTerm()) {
      raft.reads.onCommittedInCurrentTerm();
    }
    return true;
  }

  void bcastAppend() {
    for (long to : raft.tracker.progress().keySet()) {
      if (to != raft.id) {
        maybeSendAppend(to, true);
      }
    }
  }

  void bcastHeartbeat() {
    // The newest pending read's context: acks for it confirm every older one too.
    bcastHeartbeat(raft.reads.newestPendingContext());
  }

  void bcastHeartbeat(byte[] ctx) {
    raft.tracker
        .progress()
        .forEach((to, pr) -> {
          if (to != raft.id) {
            raft.send(
                Message.builder(Type.HEARTBEAT, raft.id, to, raft.term)
                    .commit(Math.min(pr.match, raft.log.committed()))
                    .index(raft.ticks)
                    .context(ctx)
                    .build());
          }
        });
  }

  /**
   * Sends {@code to} the entries it is missing (or a snapshot if they were compacted).
   *
   * @return whether a message was sent
   */
  boolean maybeSendAppend(long to, boolean sendIfEmpty) {
    RaftLog log = raft.log;
    Progress pr = raft.tracker.get(to);
    if (pr == null || pr.isPaused()) {
      return false;
    }
    long prevIndex = pr.next - 1;
    if (log.isCompacted(prevIndex) || pr.next < log.firstIndex()) {
      return sendSnapshot(to, pr);
    }
    long prevTerm = log.termOrZero(prevIndex);
    List<Entry> ents = log.entries(pr.next, log.lastIndex() + 1, cfg.maxSizePerMsgBytes());
    if (ents.isEmpty() && !sendIfEmpty) {
      return false;
    }
    long bytes = 0;
    for (Entry e : ents) {
      bytes += e.sizeBytes();
    }
    raft.send(
        Message.builder(Type.APPEND, raft.id, to, raft.term)
            .index(prevIndex)
            .logTerm(prevTerm)
            .entries(ents)
            .commit(log.committed())
            .build());
    pr.sentEntries(ents.size(), bytes);
    return true;
  }

  private boolean sendSnapshot(long to, Progress pr) {
    if (!pr.recentActive) {
      return false; // Do not ship a large snapshot to a member that may be down.
    }
    Snapshot s = raft.log.snapshot();
    if (s.isEmpty()) {
      throw new IllegalStateException(
          "member " + to + " needs compacted entries but storage has no snapshot");
    }
    raft.send(Message.builder(Type.SNAPSHOT, raft.id, to, raft.term).snapshot(s).build());
    pr.becomeSnapshot(s.metadata().index());
    return true;
  }

  void sendTimeoutNow(long to) {
    raft.timeoutNowSent = true;
    raft.send(Message.builder(Type.TIMEOUT_NOW, raft.id, to, raft.term).build());
  }

  /** The application persisted entries up to {@code index}: a leader may now count itself. */
  void onPersisted(long index, long persistedTerm) {
    if (raft.role != Role.LEADER || !raft.log.matchTerm(index, persistedTerm)) {
      return;
    }
    Progress self = raft.tracker.get(raft.id);
    if (self != null && self.maybeUpdate(index) && maybeCommit()) {
      bcastAppend();
    }
  }

  void reportUnreachable(long to) {
    Progress pr = raft.tracker.get(to);
    if (raft.role == Role.LEADER && pr != null && pr.state == Progress.State.REPLICATE) {
      pr.becomeProbe(); // Appends in flight were probably lost.
    }
  }

  void snapshotInProgress(long to) {
    Progress pr = raft.tracker.get(to);
    if (raft.role == Role.LEADER && pr != null && pr.state == Progress.State.SNAPSHOT) {
      pr.snapshotTicks = 0;
    }
  }

  void reportSnapshot(long to, boolean success) {
    Progress pr = raft.tracker.get(to);
    if (raft.role != Role.LEADER || pr == null || pr.state != Progress.State.SNAPSHOT) {
      return;
    }
    if (!success) {
      pr.pendingSnapshot = 0;
    }
    // Wait for the member's answer (success) or the next heartbeat (failure) before probing.
    pr.becomeProbe();
    pr.probeSent = true;
  }
}
