package io.basalt.node.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.ChangeReplicasResponse;
import io.basalt.api.Errors;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.Config;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.Entry;
import io.basalt.range.raft.EntryType;
import io.basalt.range.raft.Message;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.raft.ReadState;
import io.basalt.range.raft.Ready;
import io.basalt.range.replica.ReplicaStateMachine;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.WriteBatch;
import io.basalt.txn.eval.Commands;
import io.basalt.txn.hlc.HybridClock;
import io.basalt.txn.latch.SpanLatches;
import io.basalt.txn.tscache.TimestampCache;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * One range replica: its Raft core, storage and state machine, and the requests it is working on.
 * The {@link Store} drives it: it feeds it inputs and runs its part of each round. A replica
 * evaluates writes (through the {@link Commands} table) under latches on their keys, held from
 * evaluation until the entry is applied and written, or known to be lost; it serves reads once
 * their read index is applied; and it answers each proposal once its outcome is known (see {@link
 * #releaseLostProposals}). Single-threaded, on the store's thread.
 */
final class Replica {
  final Store store;
  private final long nodeId;

  /**
   * This replica's id in its Raft group: allocated from the range descriptor, distinct from the
   * node id, never reused for the range (DESIGN.md, "Replicas"). Raft messages name replicas; the
   * descriptor says which node holds each.
   */
  final long replicaId;

  final Engine engine;
  private final StoreOptions options;
  private final Store.Network network;
  private final StoreListener listener;
  private final HybridClock clock;
  final LongSupplier nanoTime;

  /**
   * A proposed command: answered and unlatched when its index is applied. The command is kept so
   * that applying this leader's own entry does not parse it again.
   */
  record Proposal(long term, Pending pending, RaftCommand command) {
    /** Whether it holds latches: a read or write does; a change of the range itself does not. */
    boolean holdsLatches() {
      return command != null
          && !command.hasSplit()
          && !command.hasFreeze()
          && !command.hasMerge()
          && command.getUnfreezeMergeId() == 0;
    }
  }

  /** A read waiting for its read index to be applied. */
  record WaitingRead(long index, Pending pending) {}

  /** The requests this replica takes, for load-based splits (its own random source). */
  final LoadSampler load;

  /** Snapshot streams to and from this replica. */
  final ReplicaSnapshots snapshots;

  RangeDescriptor descriptor;
  final long rangeId;

  /**
   * The Raft group. Everything but a look at its status goes through {@link #raft()}, which wakes a
   * hibernating replica first (see {@link Hibernation}).
   */
  final RaftNode core;

  /** The store tick at which this replica stopped being ticked; -1 while it is awake. */
  long sleptAt = -1;

  /** The applied index at which its approximate size was last measured, and that size. */
  final long[] sizedAt = {-1, 0};

  final EngineRaftStorage storage;
  final ReplicaStateMachine sm;
  long leader;
  boolean isLeader;

  /** The index of this leader's first entry; it serves once it has applied up to there. */
  long leaderReadyIndex = Long.MAX_VALUE;

  final TreeMap<Long, Proposal> proposals = new TreeMap<>();

  /**
   * The request ids of {@link #proposals}, with how many proposals carry each. A write whose id is
   * here may have a copy in the log beyond the applied index, so it is not first in the log.
   */
  final Map<ByteString, Integer> requestIdsInFlight = new HashMap<>();

  final Map<ByteString, Pending> readIndexWaiting = new HashMap<>();
  final PriorityQueue<WaitingRead> readsAwaitingApply =
      new PriorityQueue<>((a, b) -> Long.compare(a.index, b.index));
  final ArrayDeque<Pending> awaitingLeaderReady = new ArrayDeque<>();

  /**
   * The latches of this replica's writes, held from evaluation until the entry is applied and
   * written, or known to be lost; writes that wait for them queue there in arrival order.
   */
  final SpanLatches<Pending> latches = new SpanLatches<>();

  /** Pushes waiting for their pushee's record to change; those woken to evaluate again. */
  private final TxnWaits txnWaits = new TxnWaits();

  private final ArrayDeque<Pending> woken = new ArrayDeque<>();

  final ClockWaits clockWaits = new ClockWaits();

  /** Requests granted their latches after waiting, to serve after the round's write. */
  final ArrayDeque<Pending> granted = new ArrayDeque<>();

  /**
   * The reads this replica served as leader, by key and timestamp: every write goes above them. A
   * new leader does not know its predecessor's reads, so everything starts at its clock's reading
   * when it took over, which is above every one of them: a leader's clock is at or above the
   * timestamp of every read it serves (a transaction's read timestamp is taken into it), Raft
   * messages carry the leader's clock to its followers, and a follower is elected only after the
   * old leader's lease, under which it served reads, has run out.
   */
  TimestampCache tscache;

  /**
   * The applied index whose writes are in the engine. Reads and the evaluation of writes read the
   * engine, so they wait for it (the state machine's own applied index counts staged writes).
   */
  long writtenApplied;

  /** Latches of proposals applied into the batch being built: released once it is written. */
  List<Pending> stagedLatches = new ArrayList<>();

  /** The last applied conf change: the log is compacted only past it (see LogCompaction). */
  long lastConfChangeIndex;

  Replica(Store store, RangeDescriptor descriptor) {
    this.store = store;
    this.nodeId = store.nodeId();
    this.engine = store.engine;
    this.options = store.options;
    this.network = store.network;
    this.listener = store.listener;
    this.clock = store.clock;
    this.nanoTime = store.nanoTime;
    this.descriptor = descriptor;
    this.rangeId = descriptor.getRangeId();
    this.replicaId = replicaIdOf(descriptor, nodeId);
    this.storage = new EngineRaftStorage(engine, rangeId);
    this.sm = new ReplicaStateMachine(engine, rangeId);
    Config config =
        Config.builder(replicaId, store.random)
            .electionTimeoutTicks(options.electionTicks())
            .heartbeatTicks(options.heartbeatTicks())
            .quiesceAfterTicks(options.quiesceAfterTicks())
            .rankedElectionTimeout(options.rankedElectionTimeout())
            .leaseClockDriftTicks(options.leaseDriftTicks())
            .readOnlyOption(Config.ReadOnlyOption.LEASE_BASED)
            .preVote(true)
            .checkQuorum(true)
            .maxUncommittedEntriesBytes(64L << 20)
            .build();
    this.core = RaftNode.create(config, storage);
    this.tscache = newTimestampCache();
    this.snapshots = new ReplicaSnapshots(this, store);
    this.load = new LoadSampler(new java.util.SplittableRandom(rangeId));
    this.writtenApplied = sm.appliedIndex();
    this.frozen = ReplicaMerges.readFrozen(engine, rangeId);
    this.prepared = ReplicaMerges.readPrepared(engine, rangeId);
    // Any conf change still in the log is at or below its last index.
    this.lastConfChangeIndex = core.status().lastIndex();
    store.hibernation.awake(this);
  }

  /** The Raft group, awake: one that hibernates is first given the ticks it slept through. */
  RaftNode raft() {
    wake();
    return core;
  }

  /** Ticks this replica again if it hibernates (see {@link Hibernation}). */
  void wake() {
    if (sleptAt >= 0) {
      store.hibernation.wake(this);
    }
  }

  /** Whether something of this replica's own waits for ticks (pushes, reads held by the clock). */
  boolean waitsOnTicks() {
    return !txnWaits.isEmpty() || !woken.isEmpty() || !clockWaits.isEmpty();
  }

  /** This node's replica id in {@code d}. */
  private static long replicaIdOf(RangeDescriptor d, long nodeId) {
    for (var r : d.getReplicasList()) {
      if (r.getNodeId() == nodeId) {
        return r.getReplicaId();
      }
    }
    throw new IllegalStateException(
        "range " + d.getRangeId() + " has no replica on node " + nodeId + ": " + d);
  }

  /**
   * The node holding replica {@code id} of this range, or 0 if neither the descriptor nor a message
   * from it under a later generation said.
   */
  long nodeOf(long id) {
    for (var r : descriptor.getReplicasList()) {
      if (r.getReplicaId() == id) {
        return r.getNodeId();
      }
    }
    return learnedNodes.getOrDefault(id, 0L);
  }

  /**
   * Replicas not in this replica's descriptor that wrote to it under a later generation, by the
   * node they wrote from (replica ids are never reused, so an entry never turns wrong).
   */
  private final Map<Long, Long> learnedNodes = new HashMap<>(2);

  void learnNode(long replica, long node) {
    learnedNodes.put(replica, node);
  }

  void send(List<Message> messages) {
    for (Message m : messages) {
      long toNode = nodeOf(m.to());
      if (toNode == 0) {
        listener.droppedMessage(nodeId, rangeId, "to replica " + m.to() + ", not in the range");
      } else if (m.type() == Message.Type.SNAPSHOT) {
        snapshots.send(m, toNode);
      } else {
        network.send(toNode, RaftMessages.toProto(rangeId, descriptor.getGeneration(), m));
      }
    }
  }

  /** The index of this leader's last collection of dedupe records (see {@link Collector}). */
  long dedupeCollectedAt = -1;

  /** How many keys and spans a leader's timestamp cache holds before it forgets the oldest. */
  private static final int TSCACHE_ENTRIES = 64 * 1024;

  private TimestampCache newTimestampCache() {
    return TimestampCache.forNewLeader(
        clock.now(),
        clock.physicalNanos(),
        store.rules().newLeaderLowWaterAboveClockNanos(clock.maxOffsetNanos()),
        TSCACHE_ENTRIES);
  }

  private Commands.Context context(Timestamp now) {
    return store
        .rules()
        .evaluation(
            new Commands.Context(
                now, clock.maxOffsetNanos(), options.txnExpiryMillis() * 1_000_000L, tscache));
  }

  void handle(Pending p) {
    if (ReplicaChanges.handledAsAdmin(this, p)) {
      return; // (a split, merge or replica change; or refused: the range is frozen)
    }
    if (!p.isWrite && !store.rules().readsNeedReadIndex()) {
      p.reply(read(p));
      return;
    }
    if (!isLeader) {
      p.reply(
          leader == 0
              ? Errors.unavailable(
                  "range "
                      + rangeId
                      + " has no leader here: an election is under way or a quorum is"
                      + " unreachable")
              : Errors.notLeader(rangeId, leader, store.address(leader)));
      return;
    }
    if (store.rules().holdFutureReads() && clockWaits.holdIfAhead(p, clock.physicalNanos())) {
      return; // (see TimestampCache.forNewLeader)
    }
    if (!p.isWrite) {
      byte[] ctx = ByteBuffer.allocate(8).putLong(store.nextReadSeq()).array();
      if (!raft().readIndex(ctx)) {
        p.reply(Errors.notLeader(rangeId, leader, store.address(leader)));
        return;
      }
      p.readContext = ByteString.copyFrom(ctx);
      readIndexWaiting.put(p.readContext, p);
      return;
    }
    if (writtenApplied < leaderReadyIndex && store.rules().awaitLeaderReady()) {
      awaitingLeaderReady.add(p);
      return;
    }
    evaluateWrite(p);
  }

  /**
   * Set when this replica applied its own removal from the range: the store destroys it once that
   * is written (and keeps a tombstone).
   */
  boolean removed;

  /**
   * Set on a replica waiting for its first snapshot that a split applied on this node replaced by
   * the new range's replica (see {@link ReplicaSplits#apply}): nothing of it is written any more.
   */
  boolean replaced;

  /** The log index of this leader's last split or replica change proposed. */
  long adminIndex;

  /** The freeze of this range for a merge, as applied here (null: not frozen). */
  io.basalt.api.FreezeTrigger frozen;

  /** The merge this range has prepared, as applied here (null: none). */
  io.basalt.api.MergeTrigger prepared;

  /** Whether a split or replica change this replica proposed may still be unapplied. */
  boolean adminPending() {
    return adminIndex > sm.appliedIndex();
  }

  /**
   * False for a replica created by a message (see {@link ReplicaLifecycle}) until its first
   * snapshot gives it the range's descriptor and data: it serves nothing and covers no key.
   */
  boolean initialized = true;

  /** Set when a first snapshot is staged: {@link #initialized} once its batch is written. */
  boolean initializedWhenWritten;

  /** Releases {@code p}'s latches (or its place in their queue); grants them to waiters. */
  void releaseLatches(Pending p) {
    granted.addAll(latches.release(p));
  }

  /**
   * Takes a write that waited for its latches past its deadline out of their queue. Those it
   * granted conflict with no holder (no write to their keys is on its way to disk), so they are
   * evaluated now rather than at the next round's write, which an idle range may not have.
   */
  void abandonWaiting(Pending p) {
    releaseLatches(p);
    serveGranted();
  }

  /** Serves the requests granted their latches: evaluates writes, reads reads. */
  private void serveGranted() {
    while (!granted.isEmpty() && isLeader) {
      Pending p = granted.poll();
      if (p.isWrite) {
        evaluateWrite(p);
      } else if (p.done) {
        releaseLatches(p);
      } else {
        KvResponse answer = read(p);
        releaseLatches(p);
        p.reply(answer);
      }
    }
  }

  /**
   * Serves a read whose read index is applied, under read latches on what it reads: at once, or,
   * when a write to those keys is on its way to the engine, once it is there (reads see every write
   * evaluated before them, so none lands later beneath a timestamp they recorded).
   */
  private void serveLatched(Pending p) {
    if (!Commands.latchesRead(p.request)) {
      // A plain read reads the newest applied value: a write still on its way is not yet
      // acknowledged, so not seeing it is linearizable, and no timestamp is recorded to protect.
      p.reply(read(p));
      return;
    }
    if (!latches.acquire(p, Commands.latchSpans(p.request))) {
      return; // granted when the writes ahead of it are written (serveGranted)
    }
    KvResponse answer = read(p);
    releaseLatches(p);
    p.reply(answer);
  }

  /**
   * Evaluates and proposes a write under the latches of its keys: taken now, or once granted (it
   * waits in their queue; {@link #afterAdvance} evaluates it then).
   */
  void evaluateWrite(Pending p) {
    if (p.done) {
      releaseLatches(p); // answered while it waited (its deadline passed)
      txnWaits.forget(p);
      return;
    }
    if (!latches.holds(p) && !latches.acquire(p, Commands.latchSpans(p.request))) {
      return;
    }
    KvResponse moved = movedSinceChecked(p);
    if (moved != null) {
      // The range split while the write waited: its keys may be another range's now.
      txnWaits.forget(p);
      releaseLatches(p);
      p.reply(moved);
      return;
    }
    ByteString requestId = p.request.getHeader().getRequestId();
    boolean firstInLog = false;
    if (!requestId.isEmpty()) {
      Optional<ByteString> recorded = sm.recordedResult(requestId);
      if (recorded.isPresent()) {
        releaseLatches(p);
        commitWait(p, parseResult(recorded.get()), clockWaits.appliedUpTo());
        return;
      }
      // This leader applied every entry of earlier terms before evaluating (leaderReadyIndex),
      // and the record lookup covers everything applied; the rest of the log is this leader's
      // own proposals. So with no proposal of this id in flight, no entry before the one
      // proposed now carries it, and replicas may skip their own lookup.
      firstInLog = store.rules().firstInLog(requestIdsInFlight.containsKey(requestId));
    }
    Timestamp ts = clock.now();
    RaftCommand.Builder cmd =
        RaftCommand.newBuilder()
            .setRequestId(requestId)
            .setProposedAtNanos(ts.wallNanos())
            .setFirstInLog(firstInLog);
    KvResponse result = Commands.evaluate(p.request, engine, descriptor, context(ts), cmd);
    if (result.hasError()) {
      // Nothing to write (a conflict, a refusal): answered now, never proposed.
      txnWaits.forget(p);
      releaseLatches(p);
      p.reply(result);
      return;
    }
    if (txnWaits.park(p, result, cmd, store.ticks())) {
      releaseLatches(p); // it waits, without latches, for its pushee's record to change
      return;
    }
    RaftCommand command = cmd.setResult(result.toByteString()).build();
    RaftNode.ProposeResult pr = raft().propose(command.toByteArray());
    listener.proposed(1);
    if (!pr.accepted()) {
      releaseLatches(p);
      p.reply(
          switch (pr.outcome()) {
            case NOT_LEADER, TRANSFER_IN_PROGRESS ->
                Errors.notLeader(rangeId, leader, store.address(leader));
            default -> Errors.unavailable("proposal refused: " + pr.outcome());
          });
      return;
    }
    // An older proposal at this index (of an earlier term) is lost for certain: the index now
    // holds this entry. Answer it and release its latches, whatever path left it here.
    // (Once this term's no-op is applied, earlier terms' proposals past it are already answered,
    // so this is only a guard: the displaced entry is not committed, so its outcome is unknown.)
    Proposal displaced = proposals.get(pr.index());
    if (displaced != null && store.rules().releaseLostProposals()) {
      releaseLatches(displaced.pending);
      displaced.pending.reply(
          Errors.timeout("the write's log position was taken over; its outcome is unknown"));
    }
    Proposal proposal = new Proposal(pr.term(), p, command);
    forget(proposals.put(pr.index(), proposal));
    if (!requestId.isEmpty()) {
      requestIdsInFlight.merge(requestId, 1, Integer::sum);
    }
    if (!store.rules().acknowledgeWhenApplied()) {
      p.reply(result);
    }
  }

  private KvResponse parseResult(ByteString bytes) {
    try {
      return KvResponse.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      // The write took effect; only its answer is lost. Not a failure: its outcome is unknown
      // to the client.
      return Errors.timeout(
          "the write was applied but its recorded result in range "
              + rangeId
              + " is unreadable; its outcome is unknown");
    }
  }

  /** Serves a read from the applied state (the engine holds everything applied up to here). */
  private KvResponse read(Pending p) {
    KvResponse moved = movedSinceChecked(p);
    if (moved != null) {
      return moved; // the range split while the read waited for its index
    }
    return Commands.read(p.request, engine, descriptor, context(clock.now()));
  }

  /**
   * The refusal of {@code p} if this replica's descriptor changed since its keys were checked and
   * they are no longer all in the range; null if they are (checked once per descriptor).
   */
  private KvResponse movedSinceChecked(Pending p) {
    if (frozen != null) {
      return ReplicaMerges.frozenRefusal(this); // (it froze while the request waited)
    }
    if (p.checkedAgainst == descriptor) {
      return null;
    }
    KvResponse moved = Commands.validate(p.request, descriptor);
    p.checkedAgainst = descriptor;
    return moved;
  }

  /** Takes in a Ready's role change and applies its committed entries into {@code applyBatch}. */
  void onReady(Ready rd, WriteBatch applyBatch, List<Runnable> answers) {
    if (rd.softState() != null) {
      long newLeader = nodeOf(rd.softState().leaderId());
      boolean nowLeader = rd.softState().role() == RaftNode.Role.LEADER;
      if (nowLeader && !isLeader) {
        // The last index now is this term's no-op: once it is applied, this replica's state holds
        // every earlier term's committed entry.
        leaderReadyIndex = core.status().lastIndex();
        tscache = newTimestampCache();
        store.rules().onBecameLeader(new NewLeaderView(this), leaderReadyIndex, answers);
      }
      boolean lost = !nowLeader && isLeader;
      if (newLeader != leader || nowLeader != isLeader) {
        listener.leaderChanged(rangeId, newLeader, nowLeader);
      }
      leader = newLeader;
      isLeader = nowLeader;
      if (lost) {
        leaderReadyIndex = Long.MAX_VALUE;
        lostLeadership();
      }
    }
    apply(rd.committedEntries(), applyBatch, answers);
  }

  /** Serves the reads this Ready confirmed, and any others whose index is now applied. */
  void serveReads(Ready rd) {
    for (ReadState rs : rd.readStates()) {
      Pending p = readIndexWaiting.remove(ByteString.copyFrom(rs.context()));
      if (p != null && !p.done) {
        readsAwaitingApply.add(new WaitingRead(rs.index(), p));
      }
    }
    serveReads();
  }

  /**
   * Answers the proposals that can no longer commit, now that an entry of term {@code appliedTerm}
   * at {@code appliedIndex} is committed: those of earlier terms at later indexes. Every later
   * leader's log holds that entry, and a log's terms never decrease along its indexes, so no entry
   * of an earlier term can ever commit after it: NotLeader (not applied, safe to retry) is certain.
   * (Proposals at or below it were answered when their index was applied.) Until such an entry
   * commits, a proposal missing from this replica's log may still be in another replica's and
   * commit there, so it is not answered when leadership changes: only once its index is applied, or
   * this, or its deadline (Timeout, outcome unknown).
   */
  private void releaseLostProposals(long appliedIndex, long appliedTerm, List<Runnable> answers) {
    if (proposals.isEmpty() || !store.rules().releaseLostProposals()) {
      return;
    }
    List<Long> lost = new ArrayList<>();
    proposals
        .tailMap(appliedIndex, false)
        .forEach((index, prop) -> {
          if (prop.term() < appliedTerm) {
            lost.add(index);
          }
        });
    for (long index : lost) {
      // (Removing through the map, not an entry iterator: a TreeMap may reuse a removed entry
      // for its successor.)
      Proposal prop = forget(proposals.remove(index));
      releaseLatches(prop.pending());
      Pending p = prop.pending();
      long hint = leader == nodeId ? 0 : leader;
      answers.add(() -> p.reply(Errors.notLeader(rangeId, hint, store.address(hint))));
    }
  }

  /**
   * Answers a write that wrote at or below {@code writtenUpTo} once this node's physical clock has
   * passed it (at once, unless this leader's writes landed above its clock after an election).
   */
  private void commitWait(Pending p, KvResponse answer, long writtenUpTo) {
    if (!store.rules().commitWait()) {
      p.reply(answer);
      return;
    }
    clockWaits.answer(p, answer, writtenUpTo, clock.physicalNanos());
  }

  /** This replica's data was replaced by a snapshot's, written at unknown times up to about now. */
  void snapshotInstalled() {
    clockWaits.applied(clock.physicalNanos() + clock.maxOffsetNanos());
  }

  /**
   * The answer to a proposal whose index was covered by a snapshot rather than applied here: the
   * result recorded for its request id if it took effect; NotLeader if it has a request id and no
   * record (it did not take effect: records travel with the snapshot); Timeout if it has no request
   * id (its outcome cannot be known).
   */
  private KvResponse answerAfterSnapshot(Pending p) {
    ByteString requestId = p.request.getHeader().getRequestId();
    if (requestId.isEmpty()) {
      return Errors.timeout("the write's index was covered by a snapshot; its outcome is unknown");
    }
    return sm.recordedResult(requestId)
        .map(this::parseResult)
        .orElseGet(() -> Errors.notLeader(rangeId, leader, store.address(leader)));
  }

  private void apply(List<Entry> entries, WriteBatch applyBatch, List<Runnable> answers) {
    if (entries.isEmpty()) {
      return;
    }
    long t0 = nanoTime.getAsLong();
    for (Entry e : entries) {
      byte[] data = e.type() == EntryType.NORMAL ? e.data() : new byte[0];
      if (e.type() == EntryType.CONF_CHANGE) {
        lastConfChangeIndex = e.index();
      }
      Proposal prop = forget(proposals.remove(e.index()));
      RaftCommand command = null;
      if (prop != null && prop.term == e.term()) {
        command = prop.command; // our own entry: the command it was built from
      } else if (data.length > 0) {
        // (Also an entry at or below the applied index, one a snapshot's data covered: the
        // state machine skips it, but its timestamps still reach the clock.)
        command = ReplicaStateMachine.parse(rangeId, e.index(), data);
        if (!isLeader) {
          ClockWaits.observe(clock, command);
        }
      }
      clockWaits.applied(command == null ? 0 : Commands.writtenUpTo(command));
      KvResponse refused =
          command != null && e.index() > sm.appliedIndex()
              ? ReplicaMerges.refusedAtApply(this, command)
              : null;
      if (refused != null
          && !command.getRequestId().isEmpty()
          && sm.recordedResult(command.getRequestId()).isPresent()) {
        refused = null; // a retry of a write applied before the split: answered from its record
      }
      Optional<ReplicaStateMachine.Applied> applied =
          sm.stage(applyBatch, e.index(), refused == null ? command : null);
      KvResponse computed = null;
      if (refused == null && applied.isPresent() && command != null) {
        if (command.hasSplit()) {
          ReplicaSplits.apply(this, command.getSplit(), applyBatch);
        } else if (command.hasFreeze() || command.getUnfreezeMergeId() != 0) {
          computed = ReplicaMerges.applyFreeze(this, command, e.index(), applyBatch);
        } else if (command.hasMerge()) {
          computed = ReplicaMerges.applyMerge(this, command.getMerge(), e.index(), applyBatch);
        }
      }
      RangeDescriptor changed =
          e.type() == EntryType.CONF_CHANGE && applied.isPresent()
              ? ReplicaChanges.apply(this, e, applyBatch)
              : null;
      txnWaits.wake(command, woken); // (evaluated again in afterAdvance)
      if (prop != null) {
        // Held until the batch holding this entry's writes is in the engine: a write to the
        // same keys evaluated before would read the state before it.
        if (!store.rules().holdLatchesUntilWritten()) {
          releaseLatches(prop.pending);
        } else if (prop.holdsLatches()) {
          stagedLatches.add(prop.pending);
        }
        Pending p = prop.pending;
        KvResponse answer;
        long until = 0;
        if (prop.term != e.term()) {
          answer = Errors.notLeader(rangeId, leader == nodeId ? 0 : leader, store.address(leader));
        } else if (refused != null) {
          answer = refused; // applied as nothing, by every replica alike
        } else if (computed != null) {
          answer = computed;
        } else if (changed != null) {
          answer =
              KvResponse.newBuilder()
                  .setChangeReplicas(ChangeReplicasResponse.newBuilder().setRange(changed))
                  .build();
        } else if (applied.isPresent()) {
          answer = parseResult(applied.get().result());
          until = Commands.writtenUpTo(command);
        } else if (prop.command == null) {
          // A replica change whose entry a snapshot covered: its descriptor says if it applied.
          answer = Errors.timeout("the replica change's entry was covered by a snapshot");
        } else {
          answer = answerAfterSnapshot(p); // our entry, already in a snapshot's data
          until = clockWaits.appliedUpTo();
        }
        long answerAfter = until;
        answers.add(() -> commitWait(p, answer, answerAfter));
      }
    }
    Entry last = entries.get(entries.size() - 1);
    releaseLostProposals(last.index(), last.term(), answers);
    // Proposals at or below the applied index that were not met above: a snapshot covered
    // their index.
    while (!proposals.isEmpty() && proposals.firstKey() <= sm.appliedIndex()) {
      Proposal prop = forget(proposals.pollFirstEntry().getValue());
      releaseLatches(prop.pending);
      Pending p = prop.pending;
      KvResponse answer = answerAfterSnapshot(p);
      long answerAfter = clockWaits.appliedUpTo();
      answers.add(() -> commitWait(p, answer, answerAfter));
    }
    listener.applied(entries.size(), nanoTime.getAsLong() - t0);
  }

  /** {@code prop} (if any) left {@link #proposals}: its request id is no longer in flight. */
  Proposal forget(Proposal prop) {
    if (prop != null) {
      requestIdsInFlight.computeIfPresent(
          prop.pending.request.getHeader().getRequestId(), (id, n) -> n == 1 ? null : n - 1);
    }
    return prop;
  }

  private void serveReads() {
    WaitingRead w;
    while ((w = readsAwaitingApply.peek()) != null && w.index <= writtenApplied) {
      readsAwaitingApply.poll();
      if (!w.pending.done) {
        serveLatched(w.pending);
      }
    }
  }

  void afterAdvance() {
    if (isLeader && writtenApplied >= leaderReadyIndex && !awaitingLeaderReady.isEmpty()) {
      ArrayDeque<Pending> waiting = new ArrayDeque<>(awaitingLeaderReady);
      awaitingLeaderReady.clear();
      for (Pending p : waiting) {
        evaluateWrite(p);
      }
    }
    evaluateWoken();
    // Requests granted their latches. A write that does not propose (answered from its record,
    // refused, or past its deadline) releases them at once, and whom that grants is served here
    // too; so does a read once served.
    serveGranted();
  }

  /** On a tick: the pushes due to look at their pushee again (see {@link TxnWaits}). */
  void tickWaits() {
    txnWaits.recheck(store.ticks(), woken);
    evaluateWoken();
    clockWaits.release(clock.physicalNanos(), this::handle);
  }

  private void evaluateWoken() {
    while (!woken.isEmpty() && isLeader) {
      evaluateWrite(woken.poll());
    }
  }

  private void lostLeadership() {
    long hint = leader;
    failAll(readIndexWaiting.values(), hint);
    readIndexWaiting.clear();
    List<Pending> reads = new ArrayList<>();
    readsAwaitingApply.forEach(w -> reads.add(w.pending));
    readsAwaitingApply.clear();
    failAll(reads, hint);
    failAll(awaitingLeaderReady, hint);
    awaitingLeaderReady.clear();
    // Writes waiting for latches, or granted them and not yet evaluated, were never proposed.
    List<Pending> unproposed = new ArrayList<>(latches.waiters());
    unproposed.addAll(granted);
    granted.clear();
    for (Pending p : unproposed) {
      latches.release(p); // (whom that grants is in the list too)
    }
    txnWaits.drain(woken); // (pushes waiting hold no latches)
    unproposed.addAll(woken);
    woken.clear();
    failAll(unproposed, hint);
    snapshots.cancelOutgoing();
    // Proposals stay: they may still commit; each is answered when its index is applied or its
    // deadline passes.
  }

  /**
   * This replica was absorbed by a merge into {@code into}, this node's replica of the range that
   * absorbed it: whatever waits on it is answered (its client retries), except the answers held for
   * the clock, which {@code into} sends once its clock passes them.
   */
  void closeForMerge(Replica into) {
    lostLeadership();
    isLeader = false;
    KvResponse gone = Errors.unavailable("range " + rangeId + " was merged: try again");
    proposals.values().forEach(prop -> prop.pending().reply(gone));
    proposals.clear();
    clockWaits.handOver(into.clockWaits, gone);
  }

  private void failAll(Collection<Pending> pendings, long hint) {
    pendings.forEach(p -> p.reply(Errors.notLeader(rangeId, hint, store.address(hint))));
  }
}
