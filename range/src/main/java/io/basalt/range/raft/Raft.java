package io.basalt.range.raft;

import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The Raft state machine of one replica. Pure and single-threaded: every input is a method call,
 * every output is appended to {@link #msgs}, {@link #readStates} or the {@link RaftLog}. The
 * invariants it keeps, and why, are described on {@link RaftNode}.
 *
 * <p>This class holds the replica's state and decides roles, terms, elections, proposals,
 * membership and transfers. Two parts work on that state from classes of their own: log
 * replication, both the leader's and the follower's side ({@link Replication}), and the read path,
 * ReadIndex and the leader lease ({@link Reads}).
 */
final class Raft {
  static final long NONE = 0;
  static final int SNAPSHOT_TIMEOUT_ELECTIONS = 10;

  /**
   * The index of an unsolicited HEARTBEAT_RESPONSE with which a woken follower wakes its quiesced
   * leader. Real responses echo the leader's tick count, which is at least 1 once it has ticked.
   */
  static final long WAKE_PING = 0;

  enum CampaignType {
    PRE_ELECTION,
    ELECTION,
    TRANSFER
  }

  final long id;
  private final Config cfg;
  private final SafetyRules rules;
  final RaftLog log;
  final ProgressTracker tracker;

  long term;
  long vote = NONE;
  long lead = NONE;
  Role role = Role.FOLLOWER;
  long leadTransferee = NONE;

  /** Index of the last conf change appended by this leader (§4.1: one change at a time). */
  long pendingConfIndex;

  /**
   * The log index the current configuration corresponds to: the snapshot it was restored from, or
   * the last conf change entry applied. Conf change entries at or below it are already reflected.
   */
  long confIndex;

  /** Payload bytes appended by this leader and not yet applied. */
  long uncommittedBytes;

  int electionElapsed;
  int heartbeatElapsed;
  int randomizedElectionTimeout;

  /** The local tick count since start: the clock of the leader lease. */
  long ticks;

  /** Ticks since the leader last had something to do (proposal, read, transfer). */
  int idleTicks;

  boolean quiesced;

  /**
   * True from (re)start until the first election timeout, a campaign or a term change: a restarted
   * replica may have acknowledged a leader's heartbeat just before crashing, so with CheckQuorum it
   * keeps ignoring votes as if it still heard from that leader (protects leases across restarts).
   */
  boolean restartQuarantine = true;

  /** A TIMEOUT_NOW was sent this term: voters may now ignore the lease, so it is void. */
  boolean timeoutNowSent;

  final List<Message> msgs = new ArrayList<>();
  final List<ReadState> readStates = new ArrayList<>();

  final Replication replication;
  final Reads reads;

  Raft(Config cfg, RaftStorage storage) {
    this(cfg, storage, SafetyRules.CORRECT);
  }

  Raft(Config cfg, RaftStorage storage, SafetyRules rules) {
    this.id = cfg.id();
    this.cfg = cfg;
    this.rules = rules;
    this.replication = new Replication(this, cfg, rules);
    this.reads = new Reads(this, cfg, rules);
    this.log = new RaftLog(storage);
    this.tracker = new ProgressTracker(cfg.maxInflightMsgs(), cfg.maxInflightBytes());
    RaftStorage.InitialState st = storage.initialState();
    tracker.restore(st.confState(), log.lastIndex());
    HardState hs = st.hardState();
    // Restart point: the snapshot. The state machine is restored from it and every committed
    // entry after it is handed out again (apply is idempotent by index, DESIGN.md decision 3).
    long snapshotIndex = storage.snapshot().metadata().index();
    if (snapshotIndex < storage.firstIndex() - 1) {
      throw new IllegalStateException(
          "entries after snapshot "
              + snapshotIndex
              + " were compacted (first index "
              + storage.firstIndex()
              + ")");
    }
    confIndex = snapshotIndex;
    term = hs.term();
    vote = hs.vote();
    log.restoreCommitAndApplied(Math.max(hs.commit(), snapshotIndex), snapshotIndex);
    becomeFollower(term, NONE);
    // A replica that has never seen a term cannot have acknowledged any leader.
    restartQuarantine = term > 0;
  }

  HardState hardState() {
    return new HardState(term, vote, log.committed());
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private void reset(long newTerm) {
    if (term != newTerm) {
      term = newTerm;
      vote = NONE;
      restartQuarantine = false;
    }
    lead = NONE;
    electionElapsed = 0;
    heartbeatElapsed = 0;
    randomizedElectionTimeout =
        cfg.electionTimeoutTicks() + cfg.random().nextInt(cfg.electionTimeoutTicks());
    leadTransferee = NONE;
    tracker.resetVotes();
    tracker.resetProgress(log.lastIndex());
    pendingConfIndex = 0;
    uncommittedBytes = 0;
    reads.clear();
    quiesced = false;
    idleTicks = 0;
    timeoutNowSent = false;
  }

  void becomeFollower(long newTerm, long leader) {
    reset(newTerm);
    lead = leader;
    role = Role.FOLLOWER;
  }

  private void becomePreCandidate() {
    if (role == Role.LEADER) {
      throw new IllegalStateException("invalid transition leader -> pre-candidate");
    }
    // Pre-vote (thesis §9.6) changes neither term nor vote: a partitioned replica that keeps
    // timing out cannot inflate its term and disrupt the group when it returns.
    tracker.resetVotes();
    role = Role.PRE_CANDIDATE;
    lead = NONE;
    restartQuarantine = false;
    quiesced = false;
  }

  private void becomeCandidate() {
    if (role == Role.LEADER) {
      throw new IllegalStateException("invalid transition leader -> candidate");
    }
    reset(term + 1);
    vote = id;
    role = Role.CANDIDATE;
    restartQuarantine = false;
  }

  private void becomeLeader() {
    if (role == Role.FOLLOWER) {
      throw new IllegalStateException("invalid transition follower -> leader");
    }
    reset(term);
    lead = id;
    role = Role.LEADER;
    Progress self = tracker.get(id);
    self.match = log.stableLastIndex();
    self.becomeReplicate();
    self.recentActive = true;
    // Entries of earlier terms may include an unapplied conf change: allow no new one until
    // everything up to here is applied (§4.1).
    pendingConfIndex = log.lastIndex();
    // A no-op entry of the new term lets the leader commit, and so learn the commit index (§5.4.2,
    // §8): it commits only entries of its own term by counting replicas.
    appendEntries(List.of(new Entry(term, 0, EntryType.NORMAL, null)));
  }

  boolean promotable() {
    return tracker.config().isVoter(id) && log.unstableSnapshot() == null;
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  void tick() {
    ticks++;
    if (role == Role.LEADER) {
      tickHeartbeat();
    } else {
      tickElection();
    }
  }

  private void tickElection() {
    if (quiesced) {
      return; // The leader told us it has nothing to say; wait for any message to wake us.
    }
    electionElapsed++;
    if (electionElapsed >= cfg.electionTimeoutTicks()) {
      restartQuarantine = false;
    }
    if (promotable() && electionElapsed >= electionTimeout()) {
      electionElapsed = 0;
      campaign(cfg.preVote() ? CampaignType.PRE_ELECTION : CampaignType.ELECTION);
    }
  }

  /**
   * The ticks without hearing from a leader after which this replica campaigns: the random draw, or
   * with {@link Config#rankedElectionTimeout()} and a known leader, the timeout plus a stagger per
   * voter other than the leader whose id is lower than ours. Never below the election timeout, on
   * which the lease rests.
   */
  private int electionTimeout() {
    if (!cfg.rankedElectionTimeout() || role != Role.FOLLOWER || lead == NONE) {
      return randomizedElectionTimeout;
    }
    int rank = 0;
    for (long v : tracker.config().voters()) {
      if (v != lead && v < id) {
        rank++;
      }
    }
    return cfg.electionTimeoutTicks() + rank * Config.RANK_STAGGER_TICKS;
  }

  private void tickHeartbeat() {
    if (quiesced) {
      return;
    }
    heartbeatElapsed++;
    electionElapsed++;
    idleTicks++;
    for (Progress p : tracker.progress().values()) {
      // The transport should report a failed snapshot (reportSnapshot); if the report is lost
      // too, give up after SNAPSHOT_TIMEOUT_ELECTIONS election timeouts and probe again.
      if (p.state == Progress.State.SNAPSHOT
          && ++p.snapshotTicks >= SNAPSHOT_TIMEOUT_ELECTIONS * cfg.electionTimeoutTicks()) {
        p.pendingSnapshot = 0;
        p.becomeProbe();
      }
    }
    if (electionElapsed >= cfg.electionTimeoutTicks()) {
      electionElapsed = 0;
      if (cfg.checkQuorum()) {
        // CheckQuorum (thesis §6.2): a leader that has not heard from a quorum within an election
        // timeout may have been replaced; it steps down rather than serve stale state.
        if (!tracker.quorumActive(id)) {
          becomeFollower(term, NONE);
          return;
        }
        tracker.progress().forEach((pid, p) -> p.recentActive = pid == id);
      }
      if (leadTransferee != NONE) {
        leadTransferee = NONE; // The transfer did not complete within an election timeout.
      }
    }
    if (maybeQuiesce()) {
      return;
    }
    if (heartbeatElapsed >= cfg.heartbeatTicks()) {
      heartbeatElapsed = 0;
      replication.bcastHeartbeat();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Quiescence

  private boolean maybeQuiesce() {
    if (cfg.quiesceAfterTicks() == 0 || idleTicks < cfg.quiesceAfterTicks()) {
      return false;
    }
    long last = log.lastIndex();
    if (leadTransferee != NONE
        || reads.waiting()
        || tracker.config().isJoint()
        || pendingConfIndex > log.applied()
        || log.committed() != last
        || log.applied() != last) {
      return false;
    }
    for (Progress p : tracker.progress().values()) {
      if (p.match != last) {
        return false;
      }
    }
    quiesced = true;
    for (long to : tracker.progress().keySet()) {
      if (to != id) {
        send(
            Message.builder(Type.HEARTBEAT, id, to, term)
                .commit(last)
                .index(ticks)
                .quiesce(true)
                .build());
      }
    }
    return true;
  }

  /** Resumes ticking after quiescence; a leader heartbeats at once so followers wake too. */
  void wake() {
    wake(true);
  }

  /**
   * Resumes ticking. A follower woken by anything but its leader pings the leader (a HEARTBEAT with
   * index 0 in reverse, see {@link #wakes}), so that the whole group wakes together: a follower
   * whose timer runs while the leader stays silent would otherwise start an election.
   */
  private void wake(boolean pingLeader) {
    idleTicks = 0;
    if (!quiesced) {
      return;
    }
    quiesced = false;
    electionElapsed = 0;
    if (role == Role.LEADER) {
      // CheckQuorum was suspended: give every member a fresh round to answer.
      tracker.progress().values().forEach(p -> p.recentActive = true);
      heartbeatElapsed = 0;
      replication.bcastHeartbeat();
    } else if (pingLeader && lead != NONE) {
      send(Message.builder(Type.HEARTBEAT_RESPONSE, id, lead, term).index(WAKE_PING).build());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elections (§5.2)

  void campaign(CampaignType type) {
    if (!promotable()) {
      return;
    }
    long voteTerm;
    Type voteType;
    if (type == CampaignType.PRE_ELECTION) {
      becomePreCandidate();
      voteType = Type.PRE_VOTE;
      voteTerm = term + 1;
    } else {
      becomeCandidate();
      voteType = Type.VOTE;
      voteTerm = term;
    }
    tracker.recordVote(id, true);
    if (tracker.tallyVotes() == Quorum.VoteResult.WON) {
      // A single-voter group wins at once.
      if (type == CampaignType.PRE_ELECTION) {
        campaign(CampaignType.ELECTION);
      } else {
        becomeLeader();
        replication.bcastAppend();
      }
      return;
    }
    ConfState c = tracker.config();
    TreeSet<Long> voters = new TreeSet<>(c.voters());
    voters.addAll(c.votersOutgoing());
    for (long to : voters) {
      if (to == id) {
        continue;
      }
      send(
          Message.builder(voteType, id, to, voteTerm)
              .index(log.lastIndex())
              .logTerm(log.lastTerm())
              .leaderTransfer(type == CampaignType.TRANSFER)
              .build());
    }
  }

  /** Whether we heard from a leader within the (non-randomised) election timeout. */
  private boolean heardFromLeaderRecently() {
    return (lead != NONE || restartQuarantine) && electionElapsed < cfg.electionTimeoutTicks();
  }

  // ---------------------------------------------------------------------------------------------
  // Step

  void step(Message m) {
    if (m.from() == id || m.to() != id) {
      return;
    }
    if (quiesced && wakes(m)) {
      wake(m.from() != lead);
    }
    // Term rules (§5.1): a higher term means we are out of date; a lower one means the sender is.
    if (m.term() > term) {
      if (m.type() == Type.VOTE || m.type() == Type.PRE_VOTE) {
        if (cfg.checkQuorum() && !m.leaderTransfer() && heardFromLeaderRecently()) {
          // Leader stickiness (thesis §4.2.3): while we hear from a live leader, a candidate is
          // disruptive; ignore it without even adopting its term. Leader leases depend on this.
          return;
        }
      }
      if (m.type() == Type.PRE_VOTE) {
        // A pre-vote does not change our term.
      } else if (m.type() == Type.PRE_VOTE_RESPONSE && !m.reject()) {
        // Granted pre-votes carry the future term; we adopt it only by campaigning.
      } else if (m.type() == Type.APPEND
          || m.type() == Type.HEARTBEAT
          || m.type() == Type.SNAPSHOT) {
        becomeFollower(m.term(), m.from());
      } else {
        becomeFollower(m.term(), NONE);
      }
    } else if (m.term() < term) {
      if ((cfg.checkQuorum() || cfg.preVote())
          && (m.type() == Type.APPEND || m.type() == Type.HEARTBEAT)) {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down. Without
        // this, pre-vote/check-quorum could leave it stuck forever.
        send(Message.builder(Type.APPEND_RESPONSE, id, m.from(), term).build());
      } else if (m.type() == Type.PRE_VOTE) {
        send(Message.builder(Type.PRE_VOTE_RESPONSE, id, m.from(), term).reject(true).build());
      }
      return; // Everything else from an older term is stale: ignore it.
    }

    switch (m.type()) {
      case VOTE, PRE_VOTE -> handleVoteRequest(m);
      default -> {
        switch (role) {
          case LEADER -> stepLeader(m);
          case CANDIDATE, PRE_CANDIDATE -> stepCandidate(m);
          case FOLLOWER -> stepFollower(m);
        }
      }
    }
  }

  /**
   * Any message wakes a quiesced group except the quiesce heartbeat itself and, at a leader, late
   * acknowledgements (they carry nothing the leader must act on; letting them wake it would make
   * delayed responses keep a quiet group awake forever). A follower's wake-up ping does wake it.
   */
  private boolean wakes(Message m) {
    if (m.type() == Type.HEARTBEAT && m.quiesce()) {
      return false;
    }
    if (role == Role.LEADER && m.term() <= term) {
      return switch (m.type()) {
        case HEARTBEAT_RESPONSE -> m.index() == WAKE_PING && m.context().length == 0;
        case APPEND_RESPONSE -> false;
        default -> true;
      };
    }
    return true;
  }

  private void handleVoteRequest(Message m) {
    Type respType = m.type() == Type.VOTE ? Type.VOTE_RESPONSE : Type.PRE_VOTE_RESPONSE;
    boolean preVote = m.type() == Type.PRE_VOTE;
    // §5.2: at most one vote per term, first come first served. We may re-grant to the same
    // candidate (its request may have been duplicated).
    boolean canVote =
        vote == m.from() || (vote == NONE && lead == NONE) || (preVote && m.term() > term);
    if (preVote && !m.leaderTransfer() && lead != NONE && heardFromLeaderRecently()) {
      // Thesis §9.6: grant a pre-vote only if we have not heard from a leader recently.
      canVote = false;
    }
    boolean upToDate = rules.candidateUpToDate(log, m.index(), m.logTerm()); // §5.4.1
    if (canVote && upToDate) {
      send(Message.builder(respType, id, m.from(), m.term()).build());
      if (!preVote) {
        electionElapsed = 0;
        vote = m.from();
      }
    } else {
      send(Message.builder(respType, id, m.from(), term).reject(true).build());
    }
  }

  private void stepFollower(Message m) {
    switch (m.type()) {
      case APPEND -> {
        electionElapsed = 0;
        lead = m.from();
        replication.handleAppend(m);
      }
      case HEARTBEAT -> {
        electionElapsed = 0;
        lead = m.from();
        replication.handleHeartbeat(m);
      }
      case SNAPSHOT -> {
        electionElapsed = 0;
        lead = m.from();
        replication.handleSnapshot(m);
      }
      case TIMEOUT_NOW -> campaign(CampaignType.TRANSFER);
      case READ_INDEX_RESPONSE -> readStates.add(new ReadState(m.index(), m.context()));
      default -> {
        // Responses for a role we no longer hold, or requests meant for a leader: drop.
      }
    }
  }

  private void stepCandidate(Message m) {
    switch (m.type()) {
      case APPEND -> {
        becomeFollower(m.term(), m.from()); // §5.2: a leader of our term exists.
        replication.handleAppend(m);
      }
      case HEARTBEAT -> {
        becomeFollower(m.term(), m.from());
        replication.handleHeartbeat(m);
      }
      case SNAPSHOT -> {
        becomeFollower(m.term(), m.from());
        replication.handleSnapshot(m);
      }
      case VOTE_RESPONSE, PRE_VOTE_RESPONSE -> {
        boolean expected =
            (role == Role.CANDIDATE && m.type() == Type.VOTE_RESPONSE)
                || (role == Role.PRE_CANDIDATE && m.type() == Type.PRE_VOTE_RESPONSE);
        if (!expected) {
          return;
        }
        tracker.recordVote(m.from(), !m.reject());
        switch (tracker.tallyVotes()) {
          case WON -> {
            if (!promotable()) {
              becomeFollower(term, NONE); // No longer a voter: it may not lead.
            } else if (role == Role.PRE_CANDIDATE) {
              campaign(CampaignType.ELECTION);
            } else {
              becomeLeader();
              replication.bcastAppend();
            }
          }
          case LOST -> becomeFollower(term, NONE);
          case PENDING -> {}
        }
      }
      default -> {}
    }
  }

  private void stepLeader(Message m) {
    Progress pr = tracker.get(m.from());
    if (pr == null) {
      return; // Not a member (e.g. removed): ignore.
    }
    switch (m.type()) {
      case APPEND_RESPONSE -> replication.handleAppendResponse(m, pr);
      case HEARTBEAT_RESPONSE -> replication.handleHeartbeatResponse(m, pr);
      case READ_INDEX -> reads.handleReadIndex(m.from(), m.context());
      default -> {}
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Replication (§5.3, §5.4.2, §7): see Replication

  boolean committedInCurrentTerm() {
    return log.termOrZero(log.committed()) == term;
  }

  /** The application persisted entries up to {@code index}: a leader may now count itself. */
  void onPersisted(long index, long persistedTerm) {
    replication.onPersisted(index, persistedTerm);
  }

  void reportUnreachable(long to) {
    replication.reportUnreachable(to);
  }

  void snapshotInProgress(long to) {
    replication.snapshotInProgress(to);
  }

  void reportSnapshot(long to, boolean success) {
    replication.reportSnapshot(to, success);
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals

  private long appendEntries(List<Entry> ents) {
    long li = log.lastIndex();
    List<Entry> stamped = new ArrayList<>(ents.size());
    for (int i = 0; i < ents.size(); i++) {
      Entry e = ents.get(i);
      stamped.add(new Entry(term, li + 1 + i, e.type(), e.data()));
    }
    return log.append(stamped);
  }

  RaftNode.ProposeResult propose(EntryType type, byte[] data) {
    if (role != Role.LEADER) {
      return RaftNode.ProposeResult.refused(RaftNode.ProposeResult.Outcome.NOT_LEADER);
    }
    if (leadTransferee != NONE) {
      // Thesis §3.10: stop accepting requests so the target can catch up and take over.
      return RaftNode.ProposeResult.refused(RaftNode.ProposeResult.Outcome.TRANSFER_IN_PROGRESS);
    }
    long size = data == null ? 0 : data.length;
    if (cfg.maxUncommittedEntriesBytes() > 0
        && size > 0
        && uncommittedBytes > 0
        && uncommittedBytes + size > cfg.maxUncommittedEntriesBytes()) {
      return RaftNode.ProposeResult.refused(
          RaftNode.ProposeResult.Outcome.UNCOMMITTED_LIMIT_EXCEEDED);
    }
    wake();
    uncommittedBytes += size;
    long index = appendEntries(List.of(new Entry(term, 0, type, data)));
    replication.bcastAppend();
    return new RaftNode.ProposeResult(RaftNode.ProposeResult.Outcome.ACCEPTED, index, term);
  }

  RaftNode.ProposeResult proposeConfChange(ConfChange cc) {
    if (role == Role.LEADER && leadTransferee == NONE) {
      if (pendingConfIndex > log.applied()) {
        return RaftNode.ProposeResult.refused(RaftNode.ProposeResult.Outcome.CONF_CHANGE_PENDING);
      }
      try {
        tracker.plan(cc);
      } catch (IllegalArgumentException e) {
        return RaftNode.ProposeResult.refused(RaftNode.ProposeResult.Outcome.INVALID_CONF_CHANGE);
      }
    }
    RaftNode.ProposeResult r = propose(EntryType.CONF_CHANGE, cc.encode());
    if (r.accepted()) {
      pendingConfIndex = r.index();
    }
    return r;
  }

  /** Reduces the uncommitted-bytes account by the entries just applied. */
  void reduceUncommitted(List<Entry> applied) {
    if (role != Role.LEADER) {
      return;
    }
    for (Entry e : applied) {
      uncommittedBytes = Math.max(0, uncommittedBytes - e.payloadBytes());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (thesis §4.3, applied when committed entries are applied)

  void applyConfChange(long index, ConfChange cc) {
    if (index <= confIndex) {
      // Already reflected: a snapshot covering this entry was installed after the entry was
      // handed out for applying. Applying it again could undo later changes.
      return;
    }
    confIndex = index;
    ConfState next;
    try {
      next = tracker.plan(cc);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("committed conf change cannot be applied: " + cc, e);
    }
    tracker.apply(next, log.lastIndex());
    if (role == Role.FOLLOWER) {
      return;
    }
    if (!next.isVoter(id)) {
      // We were removed (or demoted) and the change is applied: stop leading (or campaigning).
      // The remaining voters elect a leader among themselves after an election timeout.
      becomeFollower(term, NONE);
      return;
    }
    if (role != Role.LEADER) {
      return;
    }
    if (leadTransferee != NONE && !next.contains(leadTransferee)) {
      leadTransferee = NONE;
    }
    if (replication.maybeCommit()) {
      replication.bcastAppend(); // The quorum changed: something may be committed now.
    } else {
      for (long to : tracker.progress().keySet()) {
        if (to != id) {
          replication.maybeSendAppend(to, false); // Start replicating to new members.
        }
      }
    }
  }

  /** After applying: a leader leaves a joint configuration on its own when told to. */
  void maybeAutoLeave() {
    ConfState c = tracker.config();
    if (role == Role.LEADER && c.isJoint() && c.autoLeave() && pendingConfIndex <= log.applied()) {
      long index =
          appendEntries(
              List.of(new Entry(term, 0, EntryType.CONF_CHANGE, ConfChange.leaveJoint().encode())));
      pendingConfIndex = index;
      replication.bcastAppend();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership transfer (thesis §3.10)

  boolean transferLeader(long target) {
    if (role != Role.LEADER) {
      return false;
    }
    Progress pr = tracker.get(target);
    if (target == id || pr == null || pr.isLearner) {
      return false;
    }
    if (leadTransferee == target) {
      return true;
    }
    wake();
    electionElapsed = 0; // The transfer must finish within an election timeout, or it aborts.
    leadTransferee = target;
    if (pr.match == log.lastIndex()) {
      replication.sendTimeoutNow(target);
    } else {
      replication.maybeSendAppend(target, true);
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads (thesis §6.4): see Reads

  boolean readIndex(byte[] context) {
    return reads.readIndex(context);
  }

  /** See the lease paragraph on {@link RaftNode}. */
  boolean leaseValid() {
    return reads.leaseValid();
  }

  // ---------------------------------------------------------------------------------------------

  void send(Message m) {
    msgs.add(m);
  }
}
