package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One replica's Raft consensus core: a pure, deterministic state machine (DESIGN.md decision 1,
 * after etcd-io/raft). Inputs are {@link #step(Message)}, {@link #tick()}, {@link
 * #propose(byte[])}, {@link #proposeConfChange(ConfChange)}, {@link #readIndex(byte[])} and {@link
 * #transferLeader(long)}; the output is a {@link Ready}, acknowledged with {@link #advance(Ready)}
 * (or, when the application persists asynchronously, {@link #accept(Ready)} now and {@link
 * #persisted(Ready)} once its writes are durable). There are no threads, clocks, sockets or disks
 * inside: time is {@code tick()}, randomness is the injected {@link Config#random()}, and
 * persistence is the application's job between {@code ready()} and {@code advance()}. Not
 * thread-safe; drive one instance from one thread.
 *
 * <h2>Invariants, and why they hold</h2>
 *
 * <ul>
 *   <li><b>Terms (§5.1).</b> Every message carries a term. A higher term makes us a follower of
 *       that term before anything else happens; a lower term marks the message stale and it is
 *       dropped (a stale leader is told our term so it steps down). Term and vote are part of the
 *       {@link HardState}, and every message whose meaning depends on them (votes,
 *       acknowledgements, anything produced after a term change) is only in {@link
 *       Ready#messagesAfterPersist()}: a crash can never make us forget a vote we already
 *       announced.
 *   <li><b>Election Safety (§5.2).</b> At most one vote per term (the vote is reset only when the
 *       term changes); a candidate needs a quorum of voters, and in a joint configuration a quorum
 *       of both halves (thesis §4.3). Learners never count. Election timeouts are randomised in
 *       {@code [T, 2T)} to make split votes rare.
 *   <li><b>Log Matching (§5.3).</b> A follower accepts an append only if its entry at the preceding
 *       index has the preceding term; it then deletes the first conflicting entry and everything
 *       after it (never an entry it has seen committed) and appends. Rejections carry a hint (the
 *       last index whose term is at most the leader's) so the leader skips a term per round trip.
 *   <li><b>Leader Completeness (§5.4.1).</b> A vote is granted only to a candidate whose log is at
 *       least as up-to-date as the voter's (last term, then last index).
 *   <li><b>Commitment (§5.4.2, Figure 8).</b> A leader advances its commit index only to an entry
 *       of its own term replicated on a quorum (it appends a no-op on election to get there); the
 *       commit index never decreases. The leader counts its own log only after the application
 *       reports it durable ({@code advance} or {@code persisted}); followers acknowledge only after
 *       persisting.
 *   <li><b>State Machine Safety (§5.4.3).</b> {@link Ready#committedEntries()} contains only
 *       committed entries that this replica has itself persisted, in order, each once; the applied
 *       index never passes the commit index.
 *   <li><b>Membership (paper §6, thesis §4).</b> One change at a time: a leader refuses a conf
 *       change while an earlier one is not applied (and a new leader refuses one until it has
 *       applied its whole log). Changes take effect when applied, in log order, exactly once (a
 *       change already covered by an installed snapshot is skipped). Changes of more than one voter
 *       go through a joint configuration in which elections and commitment need a majority of both
 *       halves. A leader or candidate that is no longer a voter once a change is applied steps
 *       down; a replica outside its configuration never campaigns.
 *   <li><b>Snapshots (paper §7).</b> A follower installs a leader's snapshot only if it covers more
 *       than it has committed; if its log already holds the snapshot's last entry it keeps the log.
 *       The snapshot's configuration replaces the current one. A leader sends a snapshot only when
 *       the entries a member needs were compacted.
 *   <li><b>Reads and the no-op (paper §8).</b> A new leader appends an empty entry of its term; it
 *       serves reads only once that entry is committed (then its commit index is current).
 *   <li><b>Pre-vote, CheckQuorum, stickiness (thesis §9.6, §6.2, §4.2.3).</b> A pre-candidate asks
 *       whether it could win before incrementing its term; voters refuse if they heard from a
 *       leader within the election timeout. With CheckQuorum a leader steps down after an election
 *       timeout without hearing from a quorum, and followers ignore (pre-)votes while they hear
 *       from a leader (unless the campaign is a leadership transfer).
 * </ul>
 *
 * <h2>Reads (thesis §6.4, DESIGN.md decision 4)</h2>
 *
 * <p>ReadIndex: the leader records its commit index (after it has committed an entry of its term,
 * so the commit index is current), confirms it is still leader with a heartbeat round carrying the
 * request context, and once a quorum answers returns a {@link ReadState}; the read is served when
 * the state machine has applied that index. Followers forward the request to the leader.
 *
 * <p><b>Leader lease and why its bound is safe.</b> With {@link Config.ReadOnlyOption#LEASE_BASED}
 * the leader answers at once while its lease is valid. Each heartbeat carries the leader's tick
 * count {@code s} at sending; a follower echoes it back. When a follower receives that heartbeat
 * (at or after {@code s}) it resets its election timer, and with CheckQuorum it then ignores every
 * (pre-)vote request until {@code electionTimeoutTicks} of its own ticks have passed; it will not
 * campaign itself before that either (its timeout is at least {@code electionTimeoutTicks}). A
 * replica that restarts keeps that promise by ignoring votes for one election timeout after start.
 * Any other leader needs votes from a quorum, which intersects every quorum that acknowledged
 * {@code s}. So if a quorum acknowledged heartbeats sent at or after {@code s}, no other leader can
 * exist before {@code s + electionTimeoutTicks} follower ticks, which is at least {@code s +
 * electionTimeoutTicks - leaseClockDriftTicks} of the leader's ticks if tick rates differ by no
 * more than the drift bound over that period. The lease is valid while {@code now < s +
 * electionTimeoutTicks - leaseClockDriftTicks} for the newest {@code s} acknowledged by a quorum.
 * It is never valid without CheckQuorum (followers would not promise anything), before the leader
 * commits an entry of its term, during a leadership transfer or after a TIMEOUT_NOW was sent in
 * this term (voters then grant votes regardless of the lease), or while quiesced.
 *
 * <h2>Quiescence</h2>
 *
 * <p>A leader whose members all hold its whole log, with everything committed and applied and no
 * proposals, reads or transfers for {@link Config#quiesceAfterTicks()} ticks, sends a final
 * heartbeat marked {@code quiesce} and stops heartbeating; followers that get it stop their
 * election timers. Any other message, proposal, read or transfer wakes the group (the leader
 * heartbeats at once). While quiesced the leader suspends CheckQuorum (it would otherwise step down
 * for lack of answers it no longer asks for) and its lease is not valid: lease reads fall back to
 * ReadIndex, which wakes the group. Quiescence never weakens the lease argument: it only stops
 * followers' timers, which makes them more reluctant to vote. A quiesced follower does not notice a
 * dead leader by itself; the host must call {@link #wake()} when it suspects the leader (e.g. its
 * node liveness lapsed).
 */
public final class RaftNode {

  /** A replica's role. */
  public enum Role {
    FOLLOWER,
    PRE_CANDIDATE,
    CANDIDATE,
    LEADER
  }

  /**
   * The outcome of a proposal. When accepted, the entry was appended at {@code index} in {@code
   * term}; it is committed if and when an entry with that index and term is applied.
   */
  public record ProposeResult(Outcome outcome, long index, long term) {
    /** Why a proposal was or was not appended. */
    public enum Outcome {
      ACCEPTED,
      /** Only the leader appends; see {@link Status#leaderId()} for where to go. */
      NOT_LEADER,
      /** A leadership transfer is in progress; retry at the new leader. */
      TRANSFER_IN_PROGRESS,
      /** Too many uncommitted bytes at the leader: back off. */
      UNCOMMITTED_LIMIT_EXCEEDED,
      /** A conf change is appended but not yet applied. */
      CONF_CHANGE_PENDING,
      /** The conf change is not valid in the current configuration. */
      INVALID_CONF_CHANGE
    }

    static ProposeResult refused(Outcome o) {
      return new ProposeResult(o, 0, 0);
    }

    public boolean accepted() {
      return outcome == Outcome.ACCEPTED;
    }
  }

  /**
   * A snapshot of the replica's state for monitoring, tests and simulator oracles. {@code
   * matchIndex} is, at a leader, the highest index known replicated on each member (e.g. to promote
   * a learner once it has caught up); empty elsewhere.
   */
  public record Status(
      long id,
      Role role,
      long term,
      long vote,
      long leaderId,
      long commit,
      long applied,
      long lastIndex,
      ConfState confState,
      long leadTransferee,
      boolean quiesced,
      boolean leaseValid,
      SortedMap<Long, Long> matchIndex) {}

  /** Message kinds a leader may send before its own writes are durable (thesis §10.2.1). */
  private static final Set<Message.Type> SEND_BEFORE_PERSIST =
      EnumSet.of(
          Message.Type.APPEND,
          Message.Type.HEARTBEAT,
          Message.Type.SNAPSHOT,
          Message.Type.TIMEOUT_NOW,
          Message.Type.READ_INDEX_RESPONSE);

  private final Raft raft;
  private final long maxApplyBytes;
  private Ready.SoftState prevSoftState;
  private HardState prevHardState;

  /** The hard state of the last Ready reported persisted (the one on disk). */
  private HardState persistedHardState;

  private Ready outstanding;

  /** The log's rewrite count when {@link #outstanding} was handed out. */
  private long outstandingRewrites;

  /** A Ready accepted but not yet reported persisted, and the log's rewrite count at the time. */
  private record InFlight(Ready ready, long rewrites) {}

  /** Readies accepted whose writes are not yet reported persisted, oldest first. */
  private final java.util.ArrayDeque<InFlight> persisting = new java.util.ArrayDeque<>();

  private RaftNode(Config config, RaftStorage storage, SafetyRules rules) {
    this.raft = new Raft(config, storage, rules);
    this.maxApplyBytes = Long.MAX_VALUE;
    this.prevSoftState = new Ready.SoftState(raft.lead, raft.role);
    this.prevHardState = raft.hardState();
    this.persistedHardState = prevHardState;
  }

  /**
   * Starts (or restarts) a replica from what {@code storage} holds: its hard state, the
   * configuration and the log. A new group's storage holds its initial configuration (see {@link
   * MemoryRaftStorage#bootstrap(ConfState)}); a replica added later starts with empty storage and
   * learns the configuration from the log or from the leader's snapshot. A restarted replica
   * resumes from its storage's snapshot: the application restores its state machine from that
   * snapshot, and every committed entry after it is handed out again (apply must be idempotent by
   * index).
   *
   * @throws IllegalStateException if the storage is inconsistent
   */
  public static RaftNode create(Config config, RaftStorage storage) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(storage, "storage");
    return new RaftNode(config, storage, SafetyRules.CORRECT);
  }

  /** Test seam: a replica whose safety rules are {@code rules} (see {@link SafetyRules}). */
  static RaftNode create(Config config, RaftStorage storage, SafetyRules rules) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(storage, "storage");
    return new RaftNode(config, storage, Objects.requireNonNull(rules, "rules"));
  }

  /**
   * The log a new group starts from (etcd's bootstrap): one committed conf change entry per initial
   * member, at indexes 1..n in term 1. Write them to each initial member's storage together with
   * {@code HardState(0, 0, n)} and an empty configuration at snapshot index 0; the configuration is
   * then built by applying them, on the initial members as on replicas added later, which get them
   * by replication. Term 0 in the hard state records that no leader was ever acknowledged.
   *
   * @throws IllegalArgumentException if {@code initial} has no voters or is joint
   */
  public static List<Entry> bootstrapEntries(ConfState initial) {
    if (initial.voters().isEmpty() || initial.isJoint()) {
      throw new IllegalArgumentException(
          "a new group needs voters and no joint config: " + initial);
    }
    List<Entry> ents = new ArrayList<>();
    for (long id : initial.voters()) {
      ents.add(
          new Entry(1, ents.size() + 1, EntryType.CONF_CHANGE, ConfChange.addVoter(id).encode()));
    }
    for (long id : initial.learners()) {
      ents.add(
          new Entry(1, ents.size() + 1, EntryType.CONF_CHANGE, ConfChange.addLearner(id).encode()));
    }
    return List.copyOf(ents);
  }

  /** Advances logical time by one tick: election timeouts, heartbeats, CheckQuorum, quiescence. */
  public void tick() {
    raft.tick();
  }

  /**
   * Feeds a message from another replica. Messages not addressed to this replica, and stale ones,
   * are ignored.
   *
   * @throws IllegalArgumentException if the message is malformed (checked before any state changes,
   *     so the replica is unaffected and the caller may drop it and carry on)
   */
  public void step(Message m) {
    Objects.requireNonNull(m, "message");
    validate(m);
    raft.step(m);
  }

  private static void validate(Message m) {
    if (m.from() <= 0 || m.to() <= 0 || m.term() < 0 || m.index() < 0 || m.commit() < 0) {
      throw new IllegalArgumentException("malformed message (negative or zero ids): " + m);
    }
    if (m.type() == Message.Type.APPEND) {
      long expected = m.index() + 1;
      for (Entry e : m.entries()) {
        if (e.index() != expected++ || e.term() > m.term() || e.term() < m.logTerm()) {
          throw new IllegalArgumentException("malformed append entries: " + m);
        }
      }
    }
    if (m.type() == Message.Type.SNAPSHOT
        && (m.snapshot() == null
            || m.snapshot().isEmpty()
            || m.snapshot().metadata().term() > m.term())) {
      throw new IllegalArgumentException("malformed snapshot message: " + m);
    }
  }

  /** Starts an election now (skipping the pre-vote), e.g. to bootstrap a group in tests. */
  public void campaign() {
    raft.campaign(Raft.CampaignType.ELECTION);
  }

  /**
   * Declares this replica's group new: created with its state (by a split) rather than restarted,
   * so it cannot have acknowledged any leader, and it votes at once instead of keeping the restart
   * quarantine for an election timeout.
   */
  public void startNewGroup() {
    raft.restartQuarantine = false;
  }

  /**
   * Appends {@code data} to the log if this replica is the leader. Proposals are not forwarded: a
   * follower refuses with {@code NOT_LEADER}.
   */
  public ProposeResult propose(byte[] data) {
    return raft.propose(EntryType.NORMAL, Objects.requireNonNull(data, "data"));
  }

  /**
   * Appends a membership change. Refused while another change is appended and not yet applied, or
   * if the change is invalid (e.g. a second change while joint, removing every voter, changing more
   * than one voter without joint consensus).
   */
  public ProposeResult proposeConfChange(ConfChange change) {
    return raft.proposeConfChange(Objects.requireNonNull(change, "change"));
  }

  /**
   * Requests a linearizable read. The answer arrives as a {@link ReadState} with the same context
   * in a later {@link Ready} (or never, if leadership changes meanwhile: retry after a timeout).
   *
   * @param context a unique, non-empty request id
   * @return false if no leader is known (nothing was sent)
   * @throws IllegalArgumentException if {@code context} is empty
   */
  public boolean readIndex(byte[] context) {
    return raft.readIndex(context);
  }

  /**
   * Asks the leader to hand leadership to voter {@code target}: it stops accepting proposals,
   * brings the target up to date and sends it TIMEOUT_NOW. Aborts after an election timeout.
   *
   * @return false if this replica is not the leader or the target is not a voter
   */
  public boolean transferLeader(long target) {
    return raft.transferLeader(target);
  }

  /** Whether the group is quiesced here: a tick then does nothing but count. */
  public boolean quiesced() {
    return raft.quiesced;
  }

  /**
   * Counts {@code n} ticks at once, exactly as {@code n} calls of {@link #tick()} would while the
   * group stays quiesced (they would only count). A host that stops ticking quiesced groups
   * (hibernation) calls this before anything else touches the group again: the leader's lease is
   * counted in its own ticks, and ticks that were never counted would make old acknowledgements
   * look recent.
   *
   * @throws IllegalStateException if the group is not quiesced, or {@code n} is negative
   */
  public void skipQuiescedTicks(long n) {
    if (!raft.quiesced || n < 0) {
      throw new IllegalStateException(
          "can skip only a non-negative number of ticks of a quiesced group, not " + n);
    }
    raft.ticks += n;
  }

  /** Wakes a quiesced group (call when the leader is suspected dead). */
  public void wake() {
    raft.wake();
  }

  /** Reports that the last message to {@code id} could not be delivered. */
  public void reportUnreachable(long id) {
    raft.reportUnreachable(id);
  }

  /**
   * Reports that the snapshot for {@code id} is still being streamed: the leader keeps waiting for
   * it (its timeout for a snapshot nobody reports on starts again).
   */
  public void snapshotInProgress(long id) {
    raft.snapshotInProgress(id);
  }

  /** Reports whether the snapshot sent to {@code id} was delivered and installed. */
  public void reportSnapshot(long id, boolean success) {
    raft.reportSnapshot(id, success);
  }

  /**
   * The index of the leader's snapshot this replica accepted and has not yet installed (handed out
   * in a Ready and advanced), or 0: what the application must keep the snapshot's data for.
   */
  public long pendingSnapshotIndex() {
    Snapshot s = raft.log.unstableSnapshot();
    return s == null ? 0 : s.metadata().index();
  }

  /** Whether {@link #ready()} has anything to hand out. */
  public boolean hasReady() {
    if (outstanding != null) {
      return false;
    }
    if (raft.log.unstableSnapshot() != null) {
      // A snapshot replaces the log and the state: it is handed out once nothing else is on its
      // way to disk, and advanced in one step.
      return persisting.isEmpty();
    }
    Ready.SoftState ss = new Ready.SoftState(raft.lead, raft.role);
    return !ss.equals(prevSoftState)
        || !raft.hardState().equals(prevHardState)
        || raft.log.hasEntriesToPersist()
        || raft.log.hasNextCommittedEntries()
        || !raft.msgs.isEmpty()
        || !raft.readStates.isEmpty();
  }

  /**
   * Collects the pending work. Call {@link #advance(Ready)}, or {@link #accept(Ready)}, with the
   * returned value before calling this again.
   *
   * <p>The Ready holds only entries not handed out before, and only committed entries this replica
   * has persisted (reported through {@code advance} or {@link #persisted(Ready)}) and not handed
   * out before. Its messages may leave before its writes are durable only if the term and vote they
   * were sent under are already durable: otherwise they are all in {@link
   * Ready#messagesAfterPersist()}.
   *
   * @throws IllegalStateException if the previous Ready was not accepted, or a snapshot is due
   *     while earlier writes are not yet persisted
   */
  public Ready ready() {
    if (outstanding != null) {
      throw new IllegalStateException("advance the previous Ready before asking for another");
    }
    Snapshot snapshot = raft.log.unstableSnapshot();
    if (snapshot != null && !persisting.isEmpty()) {
      throw new IllegalStateException(
          "a snapshot is handed out only once earlier Readies are persisted");
    }
    Ready.SoftState ss = new Ready.SoftState(raft.lead, raft.role);
    HardState hs = raft.hardState();
    boolean termOrVoteChanged =
        hs.term() != prevHardState.term() || hs.vote() != prevHardState.vote();
    boolean termOrVoteNotDurable =
        hs.term() != persistedHardState.term() || hs.vote() != persistedHardState.vote();
    List<Entry> entries = raft.log.entriesToPersist();
    List<Message> now = new ArrayList<>();
    List<Message> afterPersist = new ArrayList<>();
    for (Message m : raft.msgs) {
      if (!termOrVoteNotDurable && SEND_BEFORE_PERSIST.contains(m.type())) {
        now.add(m);
      } else {
        afterPersist.add(m);
      }
    }
    raft.msgs.clear();
    Ready rd =
        new Ready(
            ss.equals(prevSoftState) ? null : ss,
            hs.equals(prevHardState) ? null : hs,
            entries,
            snapshot,
            raft.log.nextCommittedEntries(maxApplyBytes),
            now,
            afterPersist,
            new ArrayList<>(raft.readStates),
            termOrVoteChanged || !entries.isEmpty() || snapshot != null);
    raft.readStates.clear();
    prevSoftState = ss;
    // The entries are handed out now: a conflicting append stepped in before this Ready is
    // persisted replaces them in the log and moves them back to be handed out again.
    if (!entries.isEmpty()) {
      raft.log.acceptInProgress(entries.get(entries.size() - 1).index());
    }
    outstanding = rd;
    outstandingRewrites = raft.log.rewrites();
    return rd;
  }

  /**
   * Acknowledges that {@code rd} was processed and persisted: its snapshot, entries and hard state
   * are durable, its messages sent and its committed entries applied. Conf change entries among
   * them take effect here. The same as {@link #accept(Ready)} followed by {@link
   * #persisted(Ready)}, in the order a synchronous application sees them: durable first, then
   * applied.
   *
   * @throws IllegalArgumentException if {@code rd} is not the Ready last returned
   */
  public void advance(Ready rd) {
    take(rd);
    if (rd.snapshot() != null) {
      long index = rd.snapshot().metadata().index();
      raft.log.stableSnapTo(index);
      raft.log.appliedSnapshot(index);
    }
    // Durable, and with it every Ready accepted before it (writes land in order).
    InFlight done;
    do {
      done = persisting.pollFirst();
      markPersisted(done);
    } while (done.ready() != rd);
    applyCommitted(rd);
  }

  /**
   * Acknowledges that {@code rd} was taken in but its writes are not yet durable (asynchronous
   * storage writes, as in TiKV and etcd's async storage mode): its messages that may go before
   * persistence were sent, its committed entries applied (or staged, in order, ahead of anything
   * later), and its entries and hard state are queued for disk behind every earlier Ready's. Conf
   * changes among the committed entries take effect here. The next {@link #ready()} may follow at
   * once. Call {@link #persisted(Ready)} for every accepted Ready, in order, once its writes and
   * every earlier Ready's are durable; only then may its {@link Ready#messagesAfterPersist()} be
   * sent (even a Ready with nothing to write: its acknowledgements may be for entries an earlier
   * Ready is still writing). Until then its entries do not count towards commitment here.
   *
   * @throws IllegalArgumentException if {@code rd} is not the Ready last returned, or holds a
   *     snapshot (a snapshot Ready is advanced in one step, once persisted)
   */
  public void accept(Ready rd) {
    if (rd != null && rd.snapshot() != null) {
      throw new IllegalArgumentException("a Ready with a snapshot is advanced once persisted");
    }
    take(rd);
    applyCommitted(rd);
  }

  private void take(Ready rd) {
    if (rd == null || rd != outstanding) {
      throw new IllegalArgumentException(
          "accept() or advance() must be given the Ready last returned");
    }
    outstanding = null;
    if (rd.hardState() != null) {
      prevHardState = rd.hardState();
    }
    persisting.add(new InFlight(rd, outstandingRewrites));
  }

  private void applyCommitted(Ready rd) {
    if (rd.committedEntries().isEmpty()) {
      return;
    }
    for (Entry e : rd.committedEntries()) {
      raft.log.appliedTo(e.index());
      if (e.type() == EntryType.CONF_CHANGE) {
        raft.applyConfChange(e.index(), ConfChange.decode(e.data()));
      }
    }
    raft.reduceUncommitted(rd.committedEntries());
    raft.maybeAutoLeave();
  }

  /**
   * Reports that the writes of {@code rd}, accepted earlier, and of every Ready accepted before it
   * are durable: its entries now count towards commitment (a leader's own acknowledgement) and
   * committed ones among them may be handed out to apply.
   *
   * @throws IllegalArgumentException if {@code rd} is not the oldest accepted Ready not yet
   *     reported
   */
  public void persisted(Ready rd) {
    InFlight oldest = persisting.peekFirst();
    if (oldest == null || oldest.ready() != rd) {
      throw new IllegalArgumentException(
          "persisted() must be given the oldest accepted Ready not yet persisted");
    }
    markPersisted(persisting.pollFirst());
  }

  private void markPersisted(InFlight done) {
    Ready rd = done.ready();
    if (rd.hardState() != null) {
      persistedHardState = rd.hardState();
    }
    // The entries it wrote are the log's only if no append replaced part of the unstable log
    // since it was handed out: otherwise a later Ready rewrote them, and its report (which
    // follows) covers them. (The term alone does not tell: an index can go back to an earlier
    // term's entry under a third leader, while the disk holds the second's.)
    if (!rd.entries().isEmpty() && done.rewrites() == raft.log.rewrites()) {
      Entry last = rd.entries().get(rd.entries().size() - 1);
      raft.log.stableTo(last.index(), last.term());
      raft.onPersisted(last.index(), last.term());
    }
  }

  /** The replica's current state. */
  public Status status() {
    return new Status(
        raft.id,
        raft.role,
        raft.term,
        raft.vote,
        raft.lead,
        raft.log.committed(),
        raft.log.applied(),
        raft.log.lastIndex(),
        raft.tracker.config(),
        raft.leadTransferee,
        raft.quiesced,
        raft.leaseValid(),
        matchIndex());
  }

  private SortedMap<Long, Long> matchIndex() {
    if (raft.role != Role.LEADER) {
      return Collections.emptySortedMap();
    }
    TreeMap<Long, Long> m = new TreeMap<>();
    raft.tracker.progress().forEach((id, p) -> m.put(id, p.match));
    return Collections.unmodifiableSortedMap(m);
  }

  /** The core, for white-box tests in this package. */
  Raft raft() {
    return raft;
  }
}
