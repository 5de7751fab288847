package io.basalt.range.raft.sim;

import io.basalt.range.check.LinearizabilityChecker;
import io.basalt.range.check.Operation;
import io.basalt.range.check.RegisterModel;
import io.basalt.range.raft.ConfChange;
import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.Config;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.Entry;
import io.basalt.range.raft.EntryType;
import io.basalt.range.raft.Message;
import io.basalt.range.raft.PlantedBug;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.raft.ReadState;
import io.basalt.range.raft.Ready;
import io.basalt.range.raft.Snapshot;
import io.basalt.range.raft.SnapshotMetadata;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.StorageException;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A deterministic simulation of several Raft groups on a handful of nodes, in one thread, in
 * virtual time, driven by one seeded random source (VERIFICATION.md, "Deterministic simulation").
 *
 * <p>The world: nodes, each with one {@link MemEngine} shared by the replicas it hosts (a crash
 * loses exactly what was not synced); Raft groups of 3 or 5 voters whose replicas persist through
 * {@link EngineRaftStorage} and apply a register map; a network that delays, drops, duplicates and
 * reorders messages and can be partitioned (symmetric and one-way); clients that write, CAS and
 * read (ReadIndex or lease) registers through whichever replica they think leads. Faults during the
 * chaos phase: partitions, crashes and restarts, pauses (a paused node catches up its missed ticks
 * when it resumes, as a node driven by a monotonic clock must), disk I/O errors (the node crashes),
 * membership changes (learners added, promoted, voters removed, the leader included, and joint
 * changes), leadership transfers, and log compaction with snapshots to lagging replicas. Two
 * targeted nemeses, each on its own random stream and in a share of the seeds (never both in one):
 * one cuts a leader off from its followers while clients keep reading from it; the other cuts a
 * follower off while clients write, then lets it back in as the leader dies and makes it campaign
 * before anyone else (a stale candidate) while clients read what was written.
 *
 * <p>Checked on every step: one leader per term (Election Safety), a leader's log only grows in its
 * term (Leader Append-Only), equal entries at every index any replica applied (State Machine
 * Safety), equal state digests at equal applied index, a new leader holding every applied entry
 * (Leader Completeness), at most one valid lease per group at any instant; periodically, Log
 * Matching between every two replicas' persisted logs. At the end, after faults heal: every group
 * elects a leader and commits a probe within a bounded number of election timeouts (liveness),
 * every acknowledged write is applied by every live member, and the client history of every
 * register is linearizable. A failure is a {@link Violation} naming its {@link Check}; the internal
 * (white-box) checks can be switched off to see what clients alone would notice.
 */
final class Simulation {
  /** What a run varies; everything is drawn from the seed. */
  record Options(
      int nodes,
      int groups,
      int chaosMillis,
      int healMillis,
      double dropRate,
      double duplicateRate,
      int maxDelayMillis,
      long maxMessageBytes,
      double writeFraction,
      double leaderKillRate,
      boolean leaderChurn,
      Set<PlantedBug> bugs) {
    static Options random(SplittableRandom rng, Set<PlantedBug> bugs) {
      if (rng.nextInt(4) == 0) {
        // Leader churn: one 3-replica group, a clean network, one entry per message, and almost
        // every new leader killed moments after election (the schedules of Figure 8).
        return new Options(
            5,
            1,
            3000 + rng.nextInt(3000),
            3000,
            0,
            0,
            2 + rng.nextInt(8),
            1,
            0.3,
            0.9,
            true,
            bugs);
      }
      return new Options(
          5 + 2 * rng.nextInt(2),
          1 + rng.nextInt(3),
          3000 + rng.nextInt(3000),
          3000,
          rng.nextInt(4) == 0 ? 0 : rng.nextDouble() * 0.05,
          rng.nextDouble() * 0.03,
          2 + rng.nextInt(20),
          new long[] {1, 64, 256, 2048}[rng.nextInt(4)],
          rng.nextInt(4) == 0 ? 0.02 : 0.05 + rng.nextDouble() * 0.6,
          new double[] {0, 0.1, 0.3, 0.6}[rng.nextInt(4)],
          false,
          bugs);
    }
  }

  /** What a run checks; a {@link Violation} names the check that failed. */
  enum Check {
    /** Internal (white-box, over the replicas' state): one leader per term. */
    ELECTION_SAFETY(true),
    /** Internal: a leader's log only grows in its term. */
    LEADER_APPEND_ONLY(true),
    /** Internal: equal entries wherever the terms at an index agree. */
    LOG_MATCHING(true),
    /** Internal: every replica applies the same entry at an index. */
    STATE_MACHINE_SAFETY(true),
    /** Internal: a new leader holds every applied entry. */
    LEADER_COMPLETENESS(true),
    /** Internal: at most one valid lease per group at any instant. */
    LEASE_EXCLUSIVE(true),
    /** Internal: apply order, equal state digests at equal index, snapshots not below applied. */
    REPLICA_STATE(true),
    /** After faults stop: a leader is elected and commits within a bound. */
    LIVENESS(false),
    /** After faults stop: every member applies everything committed. */
    CONVERGENCE(false),
    /** After faults stop: every write a client saw acknowledged is applied by every member. */
    ACKED_WRITE_LOST(false),
    /** What clients saw: the history of every register is linearizable. */
    LINEARIZABILITY(false);

    final boolean internal;

    Check(boolean internal) {
      this.internal = internal;
    }
  }

  /** Thrown when a check fails. */
  static final class Violation extends AssertionError {
    private static final long serialVersionUID = 1L;

    final Check check;

    Violation(Check check, String message) {
      super("[" + check + "] " + message);
      this.check = check;
    }
  }

  /**
   * A run exceeded its event budget. A correct core stays far below the budget a survey sets (the
   * largest of seeds 1..500 takes about 54,000 events); a planted bug can leave a group in a
   * livelock (with VOTE_WITHOUT_LOG_CHECK, a leader and followers whose logs diverged below their
   * commit index exchange rejected appends without end), and the survey moves on.
   */
  static final class EventBudgetExhausted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EventBudgetExhausted(long budget, long now) {
      super("more than " + budget + " events by " + now + "ms");
    }
  }

  /** With -Dbasalt.sim.trace=FILE, every event of the run is written to FILE (for debugging). */
  private static final java.io.PrintStream FULL_TRACE = openTrace();

  private static java.io.PrintStream openTrace() {
    String file = System.getProperty("basalt.sim.trace");
    if (file == null) {
      return null;
    }
    try {
      return new java.io.PrintStream(new java.io.FileOutputStream(file), true, "UTF-8");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static final int TICK_MILLIS = 10;
  static final int ELECTION_TICKS = 10;
  static final int CLIENT_TIMEOUT_MILLIS = 400;
  static final long BOOTSTRAP_INDEX = 5;
  static final long BOOTSTRAP_TERM = 1;

  private final long seed;
  private final boolean internalChecks;
  private final Options options;
  private final SplittableRandom rng;

  /**
   * How much of the unsynced log each crash keeps: a stream of its own, so the rest of a seed's
   * schedule draws the same numbers as without it.
   */
  private final SplittableRandom crashRng;

  /**
   * The targeted nemesis's own stream: seeds without it draw the same numbers from {@link #rng} as
   * before it existed, so their schedules are unchanged.
   */
  private final SplittableRandom nemesisRng;

  /** Whether this seed runs the leader-isolating nemesis (a quarter of the seeds). */
  private final boolean nemesis;

  /**
   * The nemesis's current episode: a group's leader cut off from every other node (not from
   * clients), some clients reading from it and others writing through whichever leader the rest
   * elect; null between episodes.
   */
  private Episode episode;

  private record Episode(Group group, String key, long oldLeader, long oldNode) {}

  /** The stale-candidate nemesis's own stream, for the same reason as {@link #nemesisRng}. */
  private final SplittableRandom staleRng;

  /**
   * Whether this seed runs the stale-candidate nemesis (a third of the seeds without the
   * leader-isolating one, so that those keep their schedules).
   */
  private final boolean staleNemesis;

  /**
   * The stale-candidate nemesis's current episode: a follower cut off from every other node while
   * clients write one register through the leader, then let back in as the leader dies and made to
   * campaign; null between episodes.
   */
  private StaleEpisode staleEpisode;

  private static final class StaleEpisode {
    final Group group;
    final String key;
    final long follower;
    final long followerNode;

    /** Whether the follower is still cut off (clients write); after it, clients read. */
    boolean isolating = true;

    /** The leader crashed as the follower returned (a replica id), or 0. */
    long crashedLeader;

    StaleEpisode(Group group, String key, long follower, long followerNode) {
      this.group = group;
      this.key = key;
      this.follower = follower;
      this.followerNode = followerNode;
    }
  }

  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private long now;
  private long eventSeq;
  private final TreeMap<Long, Node> nodes = new TreeMap<>();
  private final TreeMap<Long, Group> groups = new TreeMap<>();
  private final Map<String, Long> leaderOfTerm = new HashMap<>();
  private final List<Operation<RegisterModel.Op, Object>> history = new ArrayList<>();
  private final List<String> trace = new ArrayList<>();
  private final Set<List<Long>> cutLinks = new java.util.HashSet<>();
  private long nextProcess = 1;
  private long nextOpId = 1;

  /**
   * Numbers every client invocation and return in the order they happen: virtual time has 1 ms
   * resolution, and many events share an instant; with these the checker knows their order.
   */
  private long clientEventSeq;

  private boolean chaos = true;

  /** The most events a run may take (see {@link EventBudgetExhausted}); unbounded unless set. */
  private long eventBudget = Long.MAX_VALUE;

  private boolean readOnlyPhase;
  private long stepsSinceLogMatchCheck;
  final Stats stats = new Stats();

  /** Counters a run reports, for tuning and for the closing note. */
  static final class Stats {
    long events;
    long messages;
    long crashes;
    long crashesKeepingUnsynced;
    long partitions;
    long confChanges;
    long transfers;
    long snapshotsSent;
    long compactions;
    long okWrites;
    long okReads;
    long leaseReads;
    long unknownOps;
    long oldTermCommits;
    long confChangesApplied;
    long internalViolationsUnchecked;

    /** Adds {@code other}'s counts to these. */
    void add(Stats other) {
      events += other.events;
      messages += other.messages;
      crashes += other.crashes;
      crashesKeepingUnsynced += other.crashesKeepingUnsynced;
      partitions += other.partitions;
      confChanges += other.confChanges;
      transfers += other.transfers;
      snapshotsSent += other.snapshotsSent;
      compactions += other.compactions;
      okWrites += other.okWrites;
      okReads += other.okReads;
      leaseReads += other.leaseReads;
      unknownOps += other.unknownOps;
      oldTermCommits += other.oldTermCommits;
      confChangesApplied += other.confChangesApplied;
      internalViolationsUnchecked += other.internalViolationsUnchecked;
    }
  }

  private record Event(long time, long seq, Runnable action) implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int byTime = Long.compare(time, o.time);
      return byTime != 0 ? byTime : Long.compare(seq, o.seq);
    }
  }

  Simulation(long seed, Set<PlantedBug> bugs) {
    this(seed, bugs, true);
  }

  /**
   * @param internalChecks whether the white-box oracles over the replicas' state ({@link
   *     Check#internal}) run; without them only what clients saw, and liveness, is checked. The
   *     schedule of a seed is the same either way.
   */
  Simulation(long seed, Set<PlantedBug> bugs, boolean internalChecks) {
    this.seed = seed;
    this.internalChecks = internalChecks;
    this.rng = new SplittableRandom(seed);
    this.crashRng = new SplittableRandom(seed ^ 0x5DEECE66DL);
    this.nemesisRng = new SplittableRandom(seed ^ 0x1EADE12L);
    this.nemesis = nemesisRng.nextInt(4) == 0;
    this.staleRng = new SplittableRandom(seed ^ 0x57A1EL);
    this.staleNemesis = !nemesis && staleRng.nextInt(3) == 0;
    this.options = Options.random(rng, bugs);
    this.asyncPersist = (seed & 1) == 1;
  }

  /**
   * Odd seeds persist asynchronously (RaftNode.accept now, persisted later): a replica takes its
   * next Ready while earlier writes are still on their way to disk, and applies what is committed
   * and locally durable at once. Even seeds advance each Ready in one step once it is persisted.
   */
  private final boolean asyncPersist;

  Options options() {
    return options;
  }

  /** Bounds the run to {@code events} events. */
  Simulation eventBudget(long events) {
    this.eventBudget = events;
    return this;
  }

  private void at(long time, Runnable action) {
    events.add(new Event(Math.max(time, now), eventSeq++, action));
  }

  private void note(String line) {
    trace.add(now + "ms " + line);
    if (FULL_TRACE != null) {
      FULL_TRACE.println(now + "ms " + line);
    }
    if (trace.size() > 400) {
      trace.subList(0, 100).clear();
    }
  }

  /** Fails the run if internal checks are on; otherwise only counts the violation. */
  private void internalViolation(Check check, String what) {
    if (internalChecks) {
      throw violation(check, what);
    }
    stats.internalViolationsUnchecked++;
  }

  private Violation violation(Check check, String what) {
    StringBuilder replicas = new StringBuilder();
    for (Node node : nodes.values()) {
      for (Replica r : node.replicas.values()) {
        replicas
            .append("\n    node ")
            .append(node.id)
            .append(node.up ? "" : " (down)")
            .append(node.paused ? " (paused)" : "")
            .append(" g")
            .append(r.group.id)
            .append(" applied=")
            .append(r.sm.appliedIndex)
            .append(" first=")
            .append(r.storage.firstIndex())
            .append(" outstanding=")
            .append(r.readyOutstanding)
            .append(" ")
            .append(r.raft.status());
      }
    }
    return new Violation(
        check,
        what
            + "\n  replicas:"
            + replicas
            + "\n  at "
            + now
            + "ms, options "
            + options
            + "\n  recent events:\n    "
            + String.join("\n    ", trace.subList(Math.max(0, trace.size() - 40), trace.size())));
  }

  // ---------------------------------------------------------------------------------------------
  // The world

  final class Node {
    final long id;
    MemEngine engine = new MemEngine();
    final TreeMap<Long, Replica> replicas = new TreeMap<>();

    /** Replicas this node hosts, by group; what a real node finds in its store on restart. */
    final TreeMap<Long, Long> hosted = new TreeMap<>();

    /** Per group, the highest replica id destroyed here; older messages are ignored. */
    final TreeMap<Long, Long> tombstones = new TreeMap<>();

    final long tickMillis;
    boolean up = true;
    boolean paused;
    boolean failIo;
    long incarnation;
    long pausedAt;
    final List<Runnable> deferred = new ArrayList<>();

    Node(long id) {
      this.id = id;
      this.tickMillis = TICK_MILLIS;
    }

    boolean live() {
      return up && !paused;
    }
  }

  final class Group {
    final long id;
    final boolean leaseReads;

    /** Most groups run CheckQuorum; without it the lease must never be valid. */
    final boolean checkQuorum;

    final int quiesceAfterTicks;

    final TreeMap<Long, Long> nodeOfReplica = new TreeMap<>();
    long nextReplicaId = 1;
    final List<String> keys = new ArrayList<>();

    /** index -> term and digest of the entry applied there (by anyone). */
    final TreeMap<Long, long[]> applied = new TreeMap<>();

    /** applied index -> state digest after it. */
    final HashMap<Long, Long> digests = new HashMap<>();

    long maxApplied;
    long probeAppliedAt = -1;
    final TreeSet<Long> ackedWrites = new TreeSet<>();

    Group(long id, boolean leaseReads, boolean checkQuorum) {
      this.id = id;
      this.leaseReads = leaseReads;
      this.checkQuorum = checkQuorum;
      this.quiesceAfterTicks = rng.nextInt(3) == 0 ? 0 : 20;
      for (int k = 0; k < 2; k++) {
        keys.add("g" + id + "k" + k);
      }
    }
  }

  private Config config(Group group, long replicaId) {
    return Config.builder(replicaId, new SplittableRandom(rng.nextLong()))
        .electionTimeoutTicks(ELECTION_TICKS)
        .heartbeatTicks(1)
        .maxSizePerMsgBytes(options.maxMessageBytes())
        .maxInflightMsgs(8)
        .maxUncommittedEntriesBytes(64 * 1024)
        .preVote(true)
        .checkQuorum(group.checkQuorum)
        .readOnlyOption(Config.ReadOnlyOption.SAFE)
        .leaseClockDriftTicks(1)
        .quiesceAfterTicks(group.quiesceAfterTicks)
        .build();
  }

  final class Replica {
    final Node node;
    final Group group;
    final long id;
    final EngineRaftStorage storage;
    final RaftNode raft;
    final StateMachine sm = new StateMachine();
    boolean readyOutstanding;
    boolean destroyed;
    boolean wasMember;
    final long incarnation;

    /** Targeted fault: until then, appends carrying entries of this leader's term are lost. */
    long loseOwnTermEntriesUntil;

    long leaderTerm = -1;
    long lastSeenCommit;
    long leaderLastIndex;
    final TreeMap<Long, ClientRequest> pendingWrites = new TreeMap<>();
    final TreeMap<Long, ClientRequest> pendingReadIndex = new TreeMap<>();
    final List<long[]> readsAwaitingApply = new ArrayList<>(); // [index, opId]
    final TreeMap<Long, ClientRequest> readsById = new TreeMap<>();

    Replica(Node node, Group group, long id) {
      this.node = node;
      this.group = group;
      this.id = id;
      this.incarnation = node.incarnation;
      this.storage = new EngineRaftStorage(node.engine, group.id);
      Snapshot snap = storage.snapshot();
      sm.restore(snap.data());
      sm.appliedIndex = snap.metadata().index();
      this.raft = PlantedBug.create(config(group, id), storage, options.bugs());
      this.wasMember = storage.initialState().confState().contains(id);
    }

    boolean alive() {
      return !destroyed && node.live() && node.incarnation == incarnation;
    }

    void process() {
      if (!alive() || readyOutstanding || !raft.hasReady()) {
        return;
      }
      Ready rd = raft.ready();
      if (asyncPersist && rd.snapshot() == null) {
        processAsync(rd);
        return;
      }
      readyOutstanding = true;
      send(this, rd.messages());
      WriteBatch batch = new WriteBatch();
      storage.stage(batch, rd);
      if (!write(node, batch)) {
        return;
      }
      long inc = node.incarnation;
      Runnable persisted =
          () -> {
            if (node.incarnation != inc || destroyed || !node.up) {
              return;
            }
            if (!sync(node)) {
              return;
            }
            afterPersist(rd);
          };
      if (rd.mustSync()) {
        at(now + 1 + rng.nextInt(3), () -> whenLive(node, persisted));
      } else {
        persisted.run();
      }
    }

    /** Readies accepted whose writes are not yet synced, oldest first. */
    private final java.util.ArrayDeque<Ready> persisting = new java.util.ArrayDeque<>();

    /**
     * Asynchronous persistence: send what may go now, write (unsynced), apply, accept; the sync
     * comes later and reports every Ready up to this one persisted, in order.
     */
    private void processAsync(Ready rd) {
      send(this, rd.messages());
      WriteBatch batch = new WriteBatch();
      storage.stage(batch, rd);
      if (!write(node, batch)) {
        return;
      }
      applyAndTakeReads(rd);
      raft.accept(rd);
      long inc = node.incarnation;
      persisting.add(rd);
      Runnable persisted =
          () -> {
            // (By identity: two Readies can be equal records.)
            if (node.incarnation != inc
                || destroyed
                || !node.up
                || persisting.stream().noneMatch(q -> q == rd)) {
              return;
            }
            if (!sync(node)) {
              return;
            }
            // One sync makes every earlier write durable: report them all, oldest first.
            Ready done;
            do {
              done = persisting.pollFirst();
              raft.persisted(done);
              send(this, done.messagesAfterPersist());
            } while (done != rd);
            checkSafety();
            process();
          };
      if (rd.mustSync()) {
        at(now + 1 + rng.nextInt(3), () -> whenLive(node, persisted));
      } else if (persisting.size() == 1) {
        persisted.run();
      } else {
        // Behind writes that wait for their sync: reported with (after) them.
        at(now + 1 + rng.nextInt(3), () -> whenLive(node, persisted));
      }
      serveReads();
      checkSafety();
      maybeCompact();
      if (!alive()) {
        return;
      }
      maybeRemoved();
      process();
    }

    private void afterPersist(Ready rd) {
      send(this, rd.messagesAfterPersist());
      if (rd.snapshot() != null) {
        SnapshotMetadata m = rd.snapshot().metadata();
        if (m.index() < sm.appliedIndex) {
          internalViolation(
              Check.REPLICA_STATE,
              "replica "
                  + id
                  + " of group "
                  + group.id
                  + " installed snapshot "
                  + m.index()
                  + " below its applied index "
                  + sm.appliedIndex);
        }
        sm.restore(rd.snapshot().data());
        sm.appliedIndex = m.index();
        checkDigest();
      }
      applyAndTakeReads(rd);
      raft.advance(rd);
      readyOutstanding = false;
      serveReads();
      checkSafety();
      maybeCompact();
      if (!alive()) {
        return; // the compaction write hit a disk error and the node crashed
      }
      maybeRemoved();
      process();
    }

    /** Applies a Ready's committed entries and queues the reads it confirmed. */
    private void applyAndTakeReads(Ready rd) {
      for (Entry e : rd.committedEntries()) {
        apply(e);
      }
      for (ReadState rs : rd.readStates()) {
        long opId = ByteBuffer.wrap(rs.context()).getLong();
        ClientRequest request = pendingReadIndex.remove(opId);
        if (request != null) {
          readsAwaitingApply.add(new long[] {rs.index(), opId});
          readsById.put(opId, request);
        }
      }
    }

    private void apply(Entry e) {
      if (e.index() != sm.appliedIndex + 1) {
        internalViolation(
            Check.REPLICA_STATE,
            "replica "
                + id
                + " of group "
                + group.id
                + " applies index "
                + e.index()
                + " after "
                + sm.appliedIndex);
      }
      long dataHash = java.util.Arrays.hashCode(e.data()) * 31L + e.type().ordinal();
      long[] first = group.applied.putIfAbsent(e.index(), new long[] {e.term(), dataHash});
      if (first == null && e.type() == EntryType.CONF_CHANGE) {
        stats.confChangesApplied++;
      }
      if (first != null && (first[0] != e.term() || first[1] != dataHash)) {
        internalViolation(
            Check.STATE_MACHINE_SAFETY,
            "State Machine Safety: group "
                + group.id
                + " index "
                + e.index()
                + " applied as term "
                + first[0]
                + " elsewhere but term "
                + e.term()
                + " at replica "
                + id);
      }
      group.maxApplied = Math.max(group.maxApplied, e.index());
      Object result = null;
      long opId = -1;
      if (e.type() == EntryType.NORMAL && e.data().length > 0) {
        Command command = Command.decode(e.data());
        result = sm.apply(e.index(), command);
        opId = command.opId();
        if (command.kind() == Command.Kind.PROBE && group.probeAppliedAt < 0 && !chaos) {
          group.probeAppliedAt = now;
        }
      } else {
        sm.skip(e.index());
      }
      checkDigest();
      ClientRequest request = opId < 0 ? null : pendingWrites.remove(opId);
      if (request != null && result != null) {
        reply(this, request, result);
      }
    }

    private void checkDigest() {
      Long other = group.digests.putIfAbsent(sm.appliedIndex, sm.digest);
      if (other != null && other != sm.digest) {
        internalViolation(
            Check.REPLICA_STATE,
            "state digests differ at applied index "
                + sm.appliedIndex
                + " in group "
                + group.id
                + " (replica "
                + id
                + ")");
      }
    }

    void serveReads() {
      for (var it = readsAwaitingApply.iterator(); it.hasNext(); ) {
        long[] waiting = it.next();
        if (sm.appliedIndex >= waiting[0]) {
          it.remove();
          ClientRequest request = readsById.remove(waiting[1]);
          if (request != null) {
            reply(this, request, sm.values.getOrDefault(request.key, RegisterModel.ABSENT));
          }
        }
      }
    }

    private void maybeCompact() {
      long snapIndex = storage.firstIndex() - 1;
      if (sm.appliedIndex - snapIndex < 6 + rng.nextInt(10) || readyOutstanding) {
        return;
      }
      long index = sm.appliedIndex;
      ConfState confState = raft.status().confState();
      Snapshot snapshot =
          new Snapshot(new SnapshotMetadata(index, storage.term(index), confState), sm.serialize());
      WriteBatch batch = new WriteBatch();
      storage.saveSnapshot(batch, snapshot, index - rng.nextInt(3));
      if (write(node, batch)) {
        stats.compactions++;
      }
    }

    private void maybeRemoved() {
      ConfState conf = raft.status().confState();
      if (conf.contains(id)) {
        wasMember = true;
        return;
      }
      if (wasMember && !conf.allMembers().isEmpty()) {
        // Removed from the group: destroy the replica a little later (the way a real node
        // garbage-collects it), leaving a tombstone so that it is never recreated.
        long inc = node.incarnation;
        at(
            now + 300,
            () -> {
              if (node.incarnation == inc
                  && !destroyed
                  && !raft.status().confState().contains(id)) {
                destroy(this);
              }
            });
      }
    }

    void checkSafety() {
      if (!alive()) {
        return;
      }
      RaftNode.Status st = raft.status();
      if (st.role() == RaftNode.Role.LEADER) {
        Long other = leaderOfTerm.putIfAbsent(group.id + "/" + st.term(), id);
        if (other != null && other != id) {
          internalViolation(
              Check.ELECTION_SAFETY,
              "Election Safety: group "
                  + group.id
                  + " has leaders "
                  + other
                  + " and "
                  + id
                  + " in term "
                  + st.term());
        }
        if (leaderTerm != st.term()) {
          leaderTerm = st.term();
          leaderLastIndex = st.lastIndex();
          lastSeenCommit = st.commit();
          if (internalChecks) {
            checkLeaderCompleteness(st);
          }
          maybeKillNewLeader(this);
        } else if (st.lastIndex() < leaderLastIndex) {
          internalViolation(
              Check.LEADER_APPEND_ONLY,
              "Leader Append-Only: leader "
                  + id
                  + " of group "
                  + group.id
                  + " shrank its log from "
                  + leaderLastIndex
                  + " to "
                  + st.lastIndex());
        }
        leaderLastIndex = st.lastIndex();
        if (st.commit() > lastSeenCommit
            && st.commit() >= storage.firstIndex()
            && st.commit() <= storage.lastIndex()
            && storage.term(st.commit()) < st.term()) {
          stats.oldTermCommits++;
        }
        lastSeenCommit = st.commit();
      }
      if (internalChecks) {
        checkLeases();
      }
    }

    private void checkLeaderCompleteness(RaftNode.Status st) {
      if (st.lastIndex() < group.maxApplied) {
        internalViolation(
            Check.LEADER_COMPLETENESS,
            "Leader Completeness: leader "
                + id
                + " of group "
                + group.id
                + " in term "
                + st.term()
                + " has last index "
                + st.lastIndex()
                + " but index "
                + group.maxApplied
                + " was applied");
      }
      for (long index = Math.max(storage.firstIndex(), 1);
          index <= Math.min(storage.lastIndex(), group.maxApplied);
          index++) {
        long[] applied = group.applied.get(index);
        if (applied != null && storage.term(index) != applied[0]) {
          internalViolation(
              Check.LEADER_COMPLETENESS,
              "Leader Completeness: leader "
                  + id
                  + " of group "
                  + group.id
                  + " has term "
                  + storage.term(index)
                  + " at applied index "
                  + index
                  + ", applied as term "
                  + applied[0]);
          return;
        }
      }
    }

    private void checkLeases() {
      long holders = 0;
      String who = "";
      for (Map.Entry<Long, Long> e : group.nodeOfReplica.entrySet()) {
        Replica r = nodes.get(e.getValue()).replicas.get(group.id);
        if (r != null && r.alive() && r.id == e.getKey() && r.raft.status().leaseValid()) {
          holders++;
          who += " " + r.id + "(term " + r.raft.status().term() + ")";
        }
      }
      if (holders > 1) {
        internalViolation(
            Check.LEASE_EXCLUSIVE, "two valid leases at once in group " + group.id + ":" + who);
      }
    }
  }

  /** Runs a delayed action only once the node is running (not paused); drops it if it crashed. */
  private void whenLive(Node node, Runnable action) {
    if (!node.up) {
      return;
    }
    if (node.paused) {
      node.deferred.add(action);
      return;
    }
    action.run();
  }

  private boolean write(Node node, WriteBatch batch) {
    try {
      if (node.failIo) {
        node.engine.failIo(true);
      }
      node.engine.write(batch, false);
      return true;
    } catch (StorageException e) {
      note("node " + node.id + " disk error on write: crashes");
      crash(node);
      return false;
    }
  }

  private boolean sync(Node node) {
    try {
      node.engine.sync();
      return true;
    } catch (StorageException e) {
      note("node " + node.id + " disk error on sync: crashes");
      crash(node);
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private void send(Replica from, List<Message> messages) {
    for (Message m : messages) {
      Long toNode = from.group.nodeOfReplica.get(m.to());
      if (toNode == null) {
        continue;
      }
      stats.messages++;
      if (m.type() == Message.Type.SNAPSHOT) {
        stats.snapshotsSent++;
      }
      deliver(from, toNode, m, false);
      if (rng.nextDouble() < options.duplicateRate()) {
        deliver(from, toNode, m, true);
      }
    }
  }

  private boolean linkUp(long from, long to) {
    if (episode != null && (from == episode.oldNode()) != (to == episode.oldNode())) {
      return false;
    }
    StaleEpisode stale = staleEpisode;
    if (stale != null
        && stale.isolating
        && (from == stale.followerNode) != (to == stale.followerNode)) {
      return false;
    }
    return !cutLinks.contains(List.of(from, to));
  }

  private void deliver(Replica from, long toNode, Message m, boolean duplicate) {
    long fromNode = from.node.id;
    boolean ownTermEntryLost =
        m.type() == Message.Type.APPEND
            && now < from.loseOwnTermEntriesUntil
            && m.entries().stream().anyMatch(e -> e.term() == m.term());
    boolean dropped =
        fromNode != toNode
            && (ownTermEntryLost
                || rng.nextDouble() < options.dropRate()
                || !linkUp(fromNode, toNode));
    long delay = fromNode == toNode ? 0 : 1 + rng.nextInt(options.maxDelayMillis());
    Group group = from.group;
    at(
        now + delay,
        () -> {
          boolean arrived = !dropped && linkUp(fromNode, toNode);
          if (m.type() == Message.Type.SNAPSHOT && !duplicate) {
            // The sender learns how its snapshot stream ended (as a real sender does when the
            // stream completes), once it is running again if it is paused.
            boolean success = arrived && nodes.get(toNode).up;
            Node sender = from.node;
            long inc = sender.incarnation;
            whenLive(
                sender,
                () -> {
                  if (sender.incarnation == inc && from.alive()) {
                    from.raft.reportSnapshot(m.to(), success);
                    from.process();
                  }
                });
          }
          if (!arrived) {
            return;
          }
          Node node = nodes.get(toNode);
          whenLive(node, () -> receive(node, group, m));
        });
  }

  private void receive(Node node, Group group, Message m) {
    Replica r = node.replicas.get(group.id);
    if (r == null || r.id != m.to()) {
      if (r != null) {
        return; // for another replica of this group than the one hosted here
      }
      Long hostedId = node.hosted.get(group.id);
      if (hostedId != null && hostedId != m.to()) {
        if (hostedId > m.to()) {
          return;
        }
      }
      if (node.tombstones.getOrDefault(group.id, 0L) >= m.to()) {
        return;
      }
      if (!Objects.equals(group.nodeOfReplica.get(m.to()), node.id)) {
        return;
      }
      // First message for a replica added here: create it empty; its leader sends a snapshot.
      r = new Replica(node, group, m.to());
      node.replicas.put(group.id, r);
      node.hosted.put(group.id, m.to());
      note("node " + node.id + " creates replica " + m.to() + " of group " + group.id);
    }
    note(
        "deliver "
            + m.type()
            + " g"
            + group.id
            + " "
            + m.from()
            + "->"
            + m.to()
            + " t"
            + m.term()
            + (m.reject() ? " reject" : ""));
    r.raft.step(m);
    r.process();
    r.checkSafety();
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes: ticks, crashes, restarts, pauses

  private void scheduleTick(Node node, long incarnation) {
    at(
        now + node.tickMillis,
        () -> {
          if (!node.up || node.incarnation != incarnation) {
            return;
          }
          if (!node.paused) {
            tickNode(node);
          }
          scheduleTick(node, incarnation);
        });
  }

  private void tickNode(Node node) {
    for (Replica r : List.copyOf(node.replicas.values())) {
      if (r.alive()) {
        r.raft.tick();
        r.process();
        r.checkSafety();
      }
    }
  }

  private void crash(Node node) {
    if (!node.up) {
      return;
    }
    stats.crashes++;
    note("crash node " + node.id);
    node.up = false;
    node.paused = false;
    node.deferred.clear();
    node.incarnation++;
    // A crash keeps a random prefix of the writes since the last sync (none to all of them).
    int kept = crashRng.nextInt(node.engine.unsyncedWrites() + 1);
    if (kept > 0) {
      stats.crashesKeepingUnsynced++;
    }
    node.engine = node.engine.crash(kept);
    node.replicas.clear();
  }

  private void restart(Node node) {
    if (node.up) {
      return;
    }
    note("restart node " + node.id);
    node.up = true;
    node.failIo = false;
    node.engine.failIo(false);
    for (Map.Entry<Long, Long> hosted : node.hosted.entrySet()) {
      Group group = groups.get(hosted.getKey());
      Replica r = new Replica(node, group, hosted.getValue());
      node.replicas.put(group.id, r);
    }
    scheduleTick(node, node.incarnation);
    for (Replica r : node.replicas.values()) {
      r.process();
    }
  }

  private void pause(Node node) {
    if (!node.live()) {
      return;
    }
    note("pause node " + node.id);
    node.paused = true;
    node.pausedAt = now;
  }

  private void resume(Node node) {
    if (!node.up || !node.paused) {
      return;
    }
    note("resume node " + node.id);
    node.paused = false;
    // A node's ticks come from a monotonic clock: on resume it first accounts for the time it
    // was stopped, so that its lease has expired before it serves anything.
    // The catch-up is one instant: no check or request sees the replica half caught up.
    long missed = (now - node.pausedAt) / node.tickMillis;
    for (Replica r : List.copyOf(node.replicas.values())) {
      for (long i = 0; i < missed && r.alive(); i++) {
        r.raft.tick();
      }
    }
    for (Replica r : List.copyOf(node.replicas.values())) {
      r.process();
      r.checkSafety();
    }
    List<Runnable> deferred = List.copyOf(node.deferred);
    node.deferred.clear();
    deferred.forEach(Runnable::run);
  }

  private void destroy(Replica r) {
    note("destroy replica " + r.id + " of group " + r.group.id + " on node " + r.node.id);
    r.destroyed = true;
    WriteBatch batch = new WriteBatch();
    r.storage.destroy(batch);
    try {
      r.node.engine.write(batch, true);
    } catch (StorageException e) {
      crash(r.node);
      return;
    }
    r.node.replicas.remove(r.group.id);
    r.node.hosted.remove(r.group.id);
    r.node.tombstones.put(r.group.id, r.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  record ClientRequest(
      long opId,
      long process,
      Group group,
      String key,
      RegisterModel.Op op,
      long callTime,
      long callSeq,
      Client client) {}

  final class Client {
    long process = nextProcess++;

    /** The client's number; during a nemesis episode every third one writes, the rest read. */
    int index;

    final TreeMap<Long, Long> leaderGuess = new TreeMap<>();
    ClientRequest inFlight;
    boolean stopped;
  }

  private void clientNext(Client client) {
    if (client.stopped) {
      return;
    }
    if (episode != null) {
      episodeRequest(client, episode);
      return;
    }
    if (staleEpisode != null) {
      // Every client writes the episode's register through the leader while the follower is cut
      // off, and reads it once the follower is back, asking the follower first (it redirects
      // them if it does not lead): a write it missed must still be seen.
      StaleEpisode ep = staleEpisode;
      Long guess = client.leaderGuess.get(ep.group.id);
      if (ep.isolating) {
        sendRequest(client, ep.group, ep.key, new RegisterModel.Write("v" + nextOpId), guess);
      } else {
        long target = guess == null || guess == ep.crashedLeader ? ep.follower : guess;
        sendRequest(client, ep.group, ep.key, new RegisterModel.Read(), target);
      }
      return;
    }
    Group group = groups.get(1 + (long) rng.nextInt(groups.size()));
    String key = group.keys.get(rng.nextInt(group.keys.size()));
    // Bursty load: in read-only phases the logs stay equal, which is when a candidate that lost
    // touch with a live leader can win, the moment leases exist for.
    double kind = readOnlyPhase ? 1.0 : rng.nextDouble();
    // Once faults stop, every run writes a fair share, so that every seed acknowledges writes
    // (read-mostly runs may see none acknowledged during the chaos).
    double writeFraction = chaos ? options.writeFraction() : Math.max(options.writeFraction(), 0.3);
    RegisterModel.Op op;
    if (kind < writeFraction * 0.7) {
      op = new RegisterModel.Write("v" + nextOpId);
    } else if (kind < writeFraction) {
      String expected = rng.nextBoolean() ? null : "v" + Math.max(1, nextOpId - 1 - rng.nextInt(6));
      op = new RegisterModel.Cas(expected, "v" + nextOpId);
    } else {
      op = new RegisterModel.Read();
    }
    sendRequest(client, group, key, op, client.leaderGuess.get(group.id));
  }

  /**
   * A client's request during a nemesis episode: readers read the episode's register from the
   * isolated old leader (as a client that does not know it was cut off would); writers wait until
   * the rest of the group has elected a leader and write new values through it.
   */
  private void episodeRequest(Client client, Episode ep) {
    RegisterModel.Op op;
    long target;
    if (client.index % 3 == 0) {
      Replica leader = leaderAwayFrom(ep.group(), ep.oldNode());
      if (leader == null) {
        at(now + 5, () -> clientNext(client));
        return;
      }
      op = new RegisterModel.Write("v" + nextOpId);
      target = leader.id;
    } else {
      op = new RegisterModel.Read();
      target = ep.oldLeader();
    }
    sendRequest(client, ep.group(), ep.key(), op, target);
  }

  private void sendRequest(
      Client client, Group group, String key, RegisterModel.Op op, Long replicaGuess) {
    ClientRequest request =
        new ClientRequest(
            nextOpId++, client.process, group, key, op, now, ++clientEventSeq, client);
    client.inFlight = request;
    Long replicaId = replicaGuess;
    if (replicaId == null || !group.nodeOfReplica.containsKey(replicaId)) {
      List<Long> ids = new ArrayList<>(group.nodeOfReplica.keySet());
      replicaId = ids.get(rng.nextInt(ids.size()));
    }
    long target = replicaId;
    long toNode = group.nodeOfReplica.get(target);
    boolean dropped = rng.nextDouble() < options.dropRate();
    at(
        now + 1 + rng.nextInt(options.maxDelayMillis()),
        () -> {
          if (!dropped) {
            Node node = nodes.get(toNode);
            whenLive(node, () -> handleRequest(node, target, request));
          }
        });
    at(
        now + CLIENT_TIMEOUT_MILLIS,
        () -> {
          if (client.inFlight == request) {
            complete(request, null, true);
          }
        });
  }

  private void handleRequest(Node node, long replicaId, ClientRequest request) {
    Replica r = node.replicas.get(request.group.id);
    if (r == null || r.id != replicaId || !r.alive()) {
      return; // no such replica here: the client times out
    }
    RaftNode.Status st = r.raft.status();
    if (request.op instanceof RegisterModel.Read) {
      byte[] context = ByteBuffer.allocate(8).putLong(request.opId).array();
      // The core decides who holds a lease (a correct one: only a leader).
      if (request.group.leaseReads && st.leaseValid()) {
        stats.leaseReads++;
        r.readsAwaitingApply.add(new long[] {st.commit(), request.opId});
        r.readsById.put(request.opId, request);
        r.serveReads();
        return;
      }
      if (!r.raft.readIndex(context)) {
        replyFail(r, request, st.leaderId());
        return;
      }
      r.pendingReadIndex.put(request.opId, request);
      r.process();
      return;
    }
    Command command =
        switch (request.op) {
          case RegisterModel.Write w ->
              new Command(request.opId, request.key, Command.Kind.PUT, null, w.value());
          case RegisterModel.Cas c ->
              new Command(request.opId, request.key, Command.Kind.CAS, c.expected(), c.value());
          default -> throw new IllegalStateException();
        };
    RaftNode.ProposeResult result = r.raft.propose(command.encode());
    if (!result.accepted()) {
      replyFail(r, request, st.leaderId());
      return;
    }
    r.pendingWrites.put(request.opId, request);
    r.process();
  }

  private void reply(Replica from, ClientRequest request, Object result) {
    boolean dropped = rng.nextDouble() < options.dropRate();
    long replicaId = from.id;
    at(
        now + 1 + rng.nextInt(options.maxDelayMillis()),
        () -> {
          if (!dropped && request.client.inFlight == request) {
            request.client.leaderGuess.put(request.group.id, replicaId);
            complete(request, result, false);
          }
        });
  }

  private void replyFail(Replica from, ClientRequest request, long leaderHint) {
    at(
        now + 1 + rng.nextInt(options.maxDelayMillis()),
        () -> {
          if (request.client.inFlight == request) {
            if (leaderHint != 0) {
              request.client.leaderGuess.put(request.group.id, leaderHint);
            } else {
              request.client.leaderGuess.remove(request.group.id);
            }
            request.client.inFlight = null;
            at(now + rng.nextInt(10), () -> clientNext(request.client));
          }
        });
  }

  private void complete(ClientRequest request, Object result, boolean unknown) {
    Client client = request.client;
    client.inFlight = null;
    if (unknown) {
      stats.unknownOps++;
      history.add(
          new Operation<>(
              request.process,
              request.key,
              request.op,
              null,
              request.callTime,
              Operation.UNKNOWN,
              request.callSeq,
              Long.MAX_VALUE));
      client.process = nextProcess++; // an unknown outcome ends the process (VERIFICATION.md)
      client.leaderGuess.remove(request.group.id);
    } else {
      history.add(
          new Operation<>(
              request.process,
              request.key,
              request.op,
              result,
              request.callTime,
              now,
              request.callSeq,
              ++clientEventSeq));
      if (request.op instanceof RegisterModel.Read) {
        stats.okReads++;
      } else {
        stats.okWrites++;
        request.group.ackedWrites.add(request.opId);
      }
    }
    at(now + rng.nextInt(10), () -> clientNext(client));
  }

  // ---------------------------------------------------------------------------------------------
  // Faults and operators

  private Replica leaderOf(Group group) {
    Replica best = null;
    for (Map.Entry<Long, Long> e : group.nodeOfReplica.entrySet()) {
      Replica r = nodes.get(e.getValue()).replicas.get(group.id);
      if (r != null
          && r.alive()
          && r.id == e.getKey()
          && r.raft.status().role() == RaftNode.Role.LEADER) {
        if (best == null || r.raft.status().term() > best.raft.status().term()) {
          best = r;
        }
      }
    }
    return best;
  }

  /** The highest-term live leader of {@code group} on a node other than {@code excludedNode}. */
  private Replica leaderAwayFrom(Group group, long excludedNode) {
    Replica best = null;
    for (Map.Entry<Long, Long> e : group.nodeOfReplica.entrySet()) {
      if (e.getValue() == excludedNode) {
        continue;
      }
      Replica r = nodes.get(e.getValue()).replicas.get(group.id);
      if (r != null
          && r.alive()
          && r.id == e.getKey()
          && r.raft.status().role() == RaftNode.Role.LEADER
          && (best == null || r.raft.status().term() > best.raft.status().term())) {
        best = r;
      }
    }
    return best;
  }

  /**
   * The targeted nemesis (Jepsen-style, driven by observing leadership): cut the current leader of
   * a group off from every other node but not from clients, keep clients reading from it while the
   * rest elect a new leader and clients write through that one. A correct core's isolated leader
   * stops serving lease reads before a new leader can be elected (CheckQuorum; a lease shorter than
   * the followers' promise; no lease at all without CheckQuorum); a broken one serves stale values,
   * which the linearizability check of the client history sees. In groups without CheckQuorum the
   * followers' election timers also fire early (no lease rests on them there), so that the new
   * leader comes at once.
   */
  private void nemesisStep() {
    if (!chaos) {
      return;
    }
    List<Group> candidates = new ArrayList<>();
    for (Group g : groups.values()) {
      if (g.leaseReads) {
        candidates.add(g);
      }
    }
    if (candidates.isEmpty()) {
      candidates.addAll(groups.values());
    }
    Group group = candidates.get(nemesisRng.nextInt(candidates.size()));
    Replica leader = leaderOf(group);
    if (leader == null) {
      at(now + 10 + nemesisRng.nextInt(40), this::nemesisStep);
      return;
    }
    Episode ep =
        new Episode(
            group,
            group.keys.get(nemesisRng.nextInt(group.keys.size())),
            leader.id,
            leader.node.id);
    episode = ep;
    stats.partitions++;
    note(
        "nemesis: cut leader "
            + leader.id
            + " of group "
            + group.id
            + " (node "
            + leader.node.id
            + ") off from the other nodes; clients read "
            + ep.key()
            + " from it");
    if (!group.checkQuorum) {
      List<Long> followers = new ArrayList<>(leader.raft.status().confState().voters());
      followers.remove(leader.id);
      boolean first = true;
      for (long follower : followers) {
        Replica r = nodes.get(group.nodeOfReplica.get(follower)).replicas.get(group.id);
        if (r == null || r.id != follower || !r.alive()) {
          continue;
        }
        note("nemesis: election timer of replica " + follower + " of group " + group.id + " runs");
        int ticks = first ? 2 * ELECTION_TICKS : ELECTION_TICKS;
        first = false;
        for (int i = 0; i < ticks && r.alive(); i++) {
          r.raft.tick();
        }
        r.process();
        r.checkSafety();
      }
    }
    at(
        now + 250 + nemesisRng.nextInt(150),
        () -> {
          if (episode == ep) {
            episode = null;
            note("nemesis: heal leader " + ep.oldLeader() + " of group " + ep.group().id);
            at(now + 100 + nemesisRng.nextInt(400), this::nemesisStep);
          }
        });
  }

  /**
   * The stale-candidate nemesis: cut a follower off from every other node (not from clients) while
   * clients write one register through the leader, so that the follower misses acknowledged writes;
   * then, at one instant, let it back in and crash the leader. Once the others have gone an
   * election timeout without their leader (they would grant a pre-vote now), the follower's
   * election timer fires, usually before theirs: a stale candidate. A correct voter refuses it
   * (§5.4.1); one that skips the log check elects it, its log overwrites the acknowledged writes,
   * and the clients, who now read the register, see them gone. The follower is made to campaign
   * only if it follows no leader, so that it never breaks a promise a lease rests on.
   */
  private void staleCandidateStep() {
    if (!chaos) {
      return;
    }
    List<Group> all = new ArrayList<>(groups.values());
    Group group = all.get(staleRng.nextInt(all.size()));
    Replica leader = leaderOf(group);
    if (leader == null) {
      at(now + 10 + staleRng.nextInt(40), this::staleCandidateStep);
      return;
    }
    List<Long> followers = new ArrayList<>(leader.raft.status().confState().voters());
    followers.remove(leader.id);
    long follower = followers.get(staleRng.nextInt(followers.size()));
    StaleEpisode ep =
        new StaleEpisode(
            group,
            group.keys.get(staleRng.nextInt(group.keys.size())),
            follower,
            group.nodeOfReplica.get(follower));
    staleEpisode = ep;
    stats.partitions++;
    note(
        "nemesis: cut follower "
            + follower
            + " of group "
            + group.id
            + " (node "
            + ep.followerNode
            + ") off; clients write "
            + ep.key);
    at(now + 3 * ELECTION_TICKS * TICK_MILLIS + staleRng.nextInt(200), () -> staleReturns(ep));
  }

  /** The follower comes back as the leader dies; clients read the register from now on. */
  private void staleReturns(StaleEpisode ep) {
    if (staleEpisode != ep) {
      return;
    }
    ep.isolating = false;
    Replica leader = leaderOf(ep.group);
    if (leader != null && leader.node.id != ep.followerNode) {
      Node victim = leader.node;
      ep.crashedLeader = leader.id;
      note("nemesis: follower " + ep.follower + " returns; crash leader " + leader.id);
      crash(victim);
      at(now + 300 + staleRng.nextInt(300), () -> restart(victim));
    } else {
      note("nemesis: follower " + ep.follower + " returns");
    }
    at(
        now + (ELECTION_TICKS + 2) * TICK_MILLIS,
        () -> {
          if (staleEpisode != ep) {
            return;
          }
          Replica r = nodes.get(ep.followerNode).replicas.get(ep.group.id);
          if (r != null && r.id == ep.follower && r.alive()) {
            RaftNode.Status st = r.raft.status();
            if (st.leaderId() == 0 && st.role() != RaftNode.Role.LEADER) {
              note("nemesis: election timer of stale replica " + ep.follower + " fires");
              for (int i = 0; i < 2 * ELECTION_TICKS && r.alive(); i++) {
                r.raft.tick();
              }
              r.process();
              r.checkSafety();
            }
          }
        });
    at(
        now + 400 + staleRng.nextInt(300),
        () -> {
          if (staleEpisode == ep) {
            staleEpisode = null;
            note("nemesis: stale-candidate episode in group " + ep.group.id + " ends");
            at(now + 100 + staleRng.nextInt(400), this::staleCandidateStep);
          }
        });
  }

  private void chaosStep() {
    if (!chaos) {
      return;
    }
    List<Node> all = new ArrayList<>(nodes.values());
    Node node = all.get(rng.nextInt(all.size()));
    int action = options.leaderChurn() ? 100 : rng.nextInt(100);
    if (action < 12) {
      // Symmetric partition into two sides.
      cutLinks.clear();
      List<Long> side = new ArrayList<>();
      for (Node n : all) {
        if (rng.nextBoolean()) {
          side.add(n.id);
        }
      }
      for (Node a : all) {
        for (Node b : all) {
          if (side.contains(a.id) != side.contains(b.id)) {
            cutLinks.add(List.of(a.id, b.id));
          }
        }
      }
      stats.partitions++;
      note("partition " + side + " | rest");
    } else if (action < 18) {
      Node other = all.get(rng.nextInt(all.size()));
      if (other != node) {
        cutLinks.add(List.of(node.id, other.id));
        if (rng.nextBoolean()) {
          cutLinks.add(List.of(other.id, node.id));
          note("cut link " + node.id + " <-> " + other.id);
        } else {
          note("one-way cut " + node.id + " -> " + other.id);
        }
        stats.partitions++;
      }
    } else if (action < 21) {
      // Cut a leader from one of its followers, both ways.
      Group group = groups.get(1 + (long) rng.nextInt(groups.size()));
      Replica leader = leaderOf(group);
      if (leader != null) {
        List<Long> members = new ArrayList<>(leader.raft.status().confState().voters());
        long follower = members.get(rng.nextInt(members.size()));
        long followerNode = group.nodeOfReplica.get(follower);
        if (followerNode != leader.node.id) {
          cutLinks.add(List.of(leader.node.id, followerNode));
          cutLinks.add(List.of(followerNode, leader.node.id));
          stats.partitions++;
          note("cut leader " + leader.id + " from follower " + follower + " of group " + group.id);
        }
      }
    } else if (action < 26) {
      isolate(node);
    } else if (action < 36) {
      cutLinks.clear();
      note("heal network");
    } else if (action < 46) {
      crash(node);
      at(now + 50 + rng.nextInt(800), () -> restart(node));
    } else if (action < 50) {
      if (node.up) {
        note("disk of node " + node.id + " starts failing");
        node.failIo = true;
        at(now + 200 + rng.nextInt(500), () -> restart(node));
      }
    } else if (action < 53) {
      // Crash the node of some group's leader: the moment Figure 8 and lease bugs need.
      Replica leader = leaderOf(groups.get(1 + (long) rng.nextInt(groups.size())));
      if (leader != null) {
        Node victim = leader.node;
        crash(victim);
        at(now + 20 + rng.nextInt(400), () -> restart(victim));
      }
    } else if (action < 58) {
      pause(node);
      at(now + 50 + rng.nextInt(600), () -> resume(node));
    } else if (action < 62) {
      // A follower's election timer fires early (a stalled or misconfigured timer), while its
      // leader is cut off. That breaks the clock-drift bound the lease rests on, so it is done
      // only in groups without CheckQuorum, where a correct core grants no lease at all.
      Group group = groups.get(1 + (long) rng.nextInt(groups.size()));
      Replica leader = leaderOf(group);
      if (leader != null && !group.checkQuorum) {
        List<Long> followers = new ArrayList<>(leader.raft.status().confState().voters());
        followers.remove(leader.id);
        if (!followers.isEmpty()) {
          long follower = followers.get(rng.nextInt(followers.size()));
          Replica early = nodes.get(group.nodeOfReplica.get(follower)).replicas.get(group.id);
          if (early != null && early.id == follower && early.alive()) {
            if (rng.nextBoolean()) {
              isolate(leader.node);
            }
            note(
                "election timer of replica " + follower + " of group " + group.id + " fires early");
            for (int i = 0; i < 2 * ELECTION_TICKS && early.alive(); i++) {
              early.raft.tick();
            }
            early.process();
            early.checkSafety();
          }
        }
      }
    } else if (action < 72) {
      changeMembership(groups.get(1 + (long) rng.nextInt(groups.size())));
    } else if (action < 82) {
      Group group = groups.get(1 + (long) rng.nextInt(groups.size()));
      Replica leader = leaderOf(group);
      if (leader != null) {
        List<Long> voters = new ArrayList<>(leader.raft.status().confState().voters());
        long target = voters.get(rng.nextInt(voters.size()));
        if (target != leader.id && leader.raft.transferLeader(target)) {
          stats.transfers++;
          note("transfer leader of group " + group.id + " " + leader.id + " -> " + target);
          leader.process();
        }
      }
    }
    at(now + 20 + rng.nextInt(200), this::chaosStep);
  }

  /**
   * Targeted fault (FoundationDB's BUGGIFY): now and then crash a leader moments after it is
   * elected, before its first entries are everywhere; the window in which Figure 8's anomaly and
   * commit-rule bugs live.
   */
  private void maybeKillNewLeader(Replica leader) {
    if (!chaos || rng.nextDouble() >= options.leaderKillRate()) {
      return;
    }
    Node victim = leader.node;
    long inc = victim.incarnation;
    long delay = 1 + rng.nextInt(3 * options.maxDelayMillis());
    if (rng.nextDouble() < (options.leaderChurn() ? 0.8 : 0.5)) {
      // Figure 8's schedule: the new leader gets its predecessors' entries onto a majority, but
      // none of its own, and dies. Only the commit rule keeps that from counting as committed.
      leader.loseOwnTermEntriesUntil = now + delay + 1;
    }
    at(
        now + delay,
        () -> {
          if (victim.incarnation == inc) {
            note("kill new leader " + leader.id + " of group " + leader.group.id);
            crash(victim);
            at(now + 20 + rng.nextInt(300), () -> restart(victim));
          }
        });
  }

  private void isolate(Node node) {
    for (Node other : nodes.values()) {
      if (other != node) {
        cutLinks.add(List.of(node.id, other.id));
        cutLinks.add(List.of(other.id, node.id));
      }
    }
    stats.partitions++;
    note("isolate node " + node.id);
  }

  private void changeMembership(Group group) {
    Replica leader = leaderOf(group);
    if (leader == null) {
      return;
    }
    ConfState conf = leader.raft.status().confState();
    if (conf.isJoint()) {
      return;
    }
    List<Long> voters = new ArrayList<>(conf.voters());
    List<Long> learners = new ArrayList<>(conf.learners());
    TreeSet<Long> usedNodes = new TreeSet<>();
    for (long member : conf.allMembers()) {
      Long n = group.nodeOfReplica.get(member);
      if (n != null) {
        usedNodes.add(n);
      }
    }
    List<Long> freeNodes = new ArrayList<>();
    for (Node n : nodes.values()) {
      if (!usedNodes.contains(n.id) && !n.hosted.containsKey(group.id)) {
        freeNodes.add(n.id);
      }
    }
    int choice = rng.nextInt(4);
    ConfChange change;
    String what;
    if (choice == 0 && !freeNodes.isEmpty() && learners.isEmpty()) {
      long node = freeNodes.get(rng.nextInt(freeNodes.size()));
      long replicaId = group.nextReplicaId++;
      group.nodeOfReplica.put(replicaId, node);
      change = ConfChange.addLearner(replicaId);
      what = "add learner " + replicaId + " on node " + node;
    } else if (choice == 1 && !learners.isEmpty() && voters.size() < 5) {
      long learner = learners.get(0);
      change = ConfChange.addVoter(learner);
      what = "promote learner " + learner;
    } else if (choice == 2 && voters.size() > 3) {
      long victim = voters.get(rng.nextInt(voters.size()));
      change = ConfChange.removeNode(victim);
      what = "remove voter " + victim + (victim == leader.id ? " (the leader)" : "");
    } else if (choice == 3 && !learners.isEmpty()) {
      // A joint change: promote the learner and remove a voter at once.
      long learner = learners.get(0);
      long victim = voters.get(rng.nextInt(voters.size()));
      change =
          ConfChange.of(
              rng.nextBoolean() ? ConfChange.Transition.AUTO : ConfChange.Transition.JOINT_IMPLICIT,
              new ConfChange.Change(ConfChange.Kind.ADD_VOTER, learner),
              new ConfChange.Change(ConfChange.Kind.REMOVE_NODE, victim));
      what = "joint: promote " + learner + ", remove " + victim;
    } else {
      return;
    }
    RaftNode.ProposeResult result = leader.raft.proposeConfChange(change);
    note(
        "group "
            + group.id
            + " leader "
            + leader.id
            + " proposes "
            + what
            + ": "
            + result.outcome());
    if (result.accepted()) {
      stats.confChanges++;
      leader.process();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  /** Runs the simulation; throws {@link Violation} on the first broken invariant. */
  void run() {
    for (long id = 1; id <= options.nodes(); id++) {
      nodes.put(id, new Node(id));
    }
    for (long g = 1; g <= options.groups(); g++) {
      Group group = new Group(g, rng.nextBoolean(), rng.nextInt(3) != 0);
      groups.put(g, group);
      int size = options.leaderChurn() || rng.nextBoolean() ? 3 : 5;
      List<Long> candidates = new ArrayList<>(nodes.keySet());
      List<Long> chosen = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        chosen.add(candidates.remove(rng.nextInt(candidates.size())));
      }
      long[] replicaIds = new long[size];
      for (int i = 0; i < size; i++) {
        replicaIds[i] = group.nextReplicaId++;
        group.nodeOfReplica.put(replicaIds[i], chosen.get(i));
      }
      ConfState initial = ConfState.ofVoters(replicaIds);
      StateMachine empty = new StateMachine();
      empty.appliedIndex = BOOTSTRAP_INDEX;
      for (int i = 0; i < size; i++) {
        Node node = nodes.get(chosen.get(i));
        EngineRaftStorage storage = new EngineRaftStorage(node.engine, g);
        WriteBatch batch = new WriteBatch();
        storage.bootstrap(batch, BOOTSTRAP_INDEX, BOOTSTRAP_TERM, initial, empty.serialize());
        node.engine.write(batch, true);
        node.hosted.put(g, replicaIds[i]);
      }
    }
    for (Node node : nodes.values()) {
      restartFresh(node);
    }
    List<Client> clients = new ArrayList<>();
    for (int i = 0; i < 3 + rng.nextInt(5); i++) {
      Client client = new Client();
      client.index = i;
      clients.add(client);
      at(rng.nextInt(50), () -> clientNext(client));
    }
    at(100 + rng.nextInt(200), this::chaosStep);
    if (nemesis) {
      at(300 + nemesisRng.nextInt(300), this::nemesisStep);
    }
    if (staleNemesis) {
      at(300 + staleRng.nextInt(300), this::staleCandidateStep);
    }
    at(100, this::wakeLoop);
    if (rng.nextBoolean()) {
      at(200, this::togglePhase);
    }
    at(500, this::gcLoop);
    long healAt = options.chaosMillis();
    at(healAt, this::heal);
    long end = healAt + options.healMillis();
    at(end - 1500, () -> clients.forEach(c -> c.stopped = true));
    runUntil(end);
    // Eventually every member applies everything committed: give it a bounded time.
    long deadline = end + 3000;
    while (!converged() && now < deadline) {
      runUntil(now + 50);
    }
    finalChecks(healAt);
  }

  private void runUntil(long end) {
    while (!events.isEmpty() && events.peek().time <= end) {
      Event event = events.poll();
      now = event.time;
      stats.events++;
      if (stats.events > eventBudget) {
        throw new EventBudgetExhausted(eventBudget, now);
      }
      event.action.run();
      if (++stepsSinceLogMatchCheck >= 500 && internalChecks) {
        stepsSinceLogMatchCheck = 0;
        checkLogMatching();
      }
    }
    now = Math.max(now, end);
  }

  private boolean converged() {
    for (Group group : groups.values()) {
      Replica leader = leaderOf(group);
      if (leader == null) {
        return false;
      }
      RaftNode.Status ls = leader.raft.status();
      for (long member : ls.confState().allMembers()) {
        Replica r = nodes.get(group.nodeOfReplica.get(member)).replicas.get(group.id);
        if (r == null || r.id != member || r.sm.appliedIndex != ls.commit()) {
          return false;
        }
      }
    }
    return true;
  }

  private void restartFresh(Node node) {
    node.up = false;
    restart(node);
  }

  private void heal() {
    note("heal everything; faults stop");
    chaos = false;
    readOnlyPhase = false;
    episode = null;
    staleEpisode = null;
    cutLinks.clear();
    for (Node node : nodes.values()) {
      node.failIo = false;
      restart(node);
      resume(node);
    }
    // Liveness probes: propose to each group's leader until one is applied.
    for (Group group : groups.values()) {
      probe(group);
    }
  }

  private void togglePhase() {
    readOnlyPhase = !readOnlyPhase && chaos;
    at(now + 100 + rng.nextInt(700), this::togglePhase);
  }

  private void wakeLoop() {
    // Node liveness: a quiesced follower whose leader is unreachable is woken (the host's job).
    for (Node node : nodes.values()) {
      for (Replica r : List.copyOf(node.replicas.values())) {
        if (!r.alive()) {
          continue;
        }
        RaftNode.Status st = r.raft.status();
        if (st.quiesced()) {
          Long leaderNode = r.group.nodeOfReplica.get(st.leaderId());
          if (leaderNode == null || !nodes.get(leaderNode).live() || !linkUp(leaderNode, node.id)) {
            r.raft.wake();
            r.process();
          }
        }
      }
    }
    at(now + 100, this::wakeLoop);
  }

  /**
   * Replica garbage collection, as a real node does it against the range descriptor: a replica that
   * the group's current leader no longer counts as a member (it was removed while it was down or
   * cut off, so it never applied its own removal) is destroyed.
   */
  private void gcLoop() {
    for (Group group : groups.values()) {
      Replica leader = leaderOf(group);
      if (leader == null) {
        continue;
      }
      ConfState conf = leader.raft.status().confState();
      for (Node node : nodes.values()) {
        Replica r = node.replicas.get(group.id);
        // Only against a leader that has applied at least as much as the replica, so that a
        // member the leader has not yet seen added is not collected.
        if (r != null
            && r.alive()
            && r.wasMember
            && !conf.contains(r.id)
            && leader.sm.appliedIndex >= r.sm.appliedIndex) {
          note("gc replica " + r.id + " of group " + group.id + " on node " + node.id);
          destroy(r);
        }
      }
    }
    at(now + 500, this::gcLoop);
  }

  private void probe(Group group) {
    if (group.probeAppliedAt >= 0) {
      return;
    }
    Replica leader = leaderOf(group);
    if (leader != null) {
      Command command =
          new Command(nextOpId++, group.keys.get(0) + "-probe", Command.Kind.PROBE, null, "p");
      if (leader.raft.propose(command.encode()).accepted()) {
        leader.process();
      }
    }
    at(now + 50, () -> probe(group));
  }

  private void checkLogMatching() {
    for (Group group : groups.values()) {
      List<Replica> replicas = new ArrayList<>();
      for (Map.Entry<Long, Long> e : group.nodeOfReplica.entrySet()) {
        Replica r = nodes.get(e.getValue()).replicas.get(group.id);
        if (r != null && r.id == e.getKey() && !r.destroyed && r.node.up) {
          replicas.add(r);
        }
      }
      for (int i = 0; i < replicas.size(); i++) {
        for (int j = i + 1; j < replicas.size(); j++) {
          checkLogMatching(group, replicas.get(i), replicas.get(j));
        }
      }
    }
  }

  private void checkLogMatching(Group group, Replica a, Replica b) {
    long lo = Math.max(a.storage.firstIndex(), b.storage.firstIndex());
    long hi = Math.min(a.storage.lastIndex(), b.storage.lastIndex());
    if (lo > hi) {
      return;
    }
    List<Entry> ea = a.storage.entries(lo, hi + 1, Long.MAX_VALUE);
    List<Entry> eb = b.storage.entries(lo, hi + 1, Long.MAX_VALUE);
    // Find the highest index where the terms agree: everything up to it must be identical.
    for (int k = ea.size() - 1; k >= 0; k--) {
      if (ea.get(k).term() == eb.get(k).term()) {
        for (int m = 0; m <= k; m++) {
          if (!ea.get(m).equals(eb.get(m))) {
            internalViolation(
                Check.LOG_MATCHING,
                "Log Matching: group "
                    + group.id
                    + " replicas "
                    + a.id
                    + " and "
                    + b.id
                    + " agree on the term at index "
                    + ea.get(k).index()
                    + " but differ at "
                    + ea.get(m).index());
            return;
          }
        }
        return;
      }
    }
  }

  private void finalChecks(long healAt) {
    // Safety before liveness: what clients saw first, so that a run that broke both reports the
    // broken promise to clients.
    LinearizabilityChecker.Result<RegisterModel.Op, Object> result =
        new LinearizabilityChecker().check(new RegisterModel(), history);
    if (!result.linearizable()) {
      throw violation(
          Check.LINEARIZABILITY, "client history is not linearizable:\n" + result.describe());
    }
    long bound = 20L * ELECTION_TICKS * TICK_MILLIS;
    for (Group group : groups.values()) {
      if (group.probeAppliedAt < 0) {
        throw violation(
            Check.LIVENESS,
            "Liveness: group "
                + group.id
                + " committed no probe within "
                + options.healMillis()
                + "ms after faults stopped");
      }
      if (group.probeAppliedAt - healAt > bound) {
        throw violation(
            Check.LIVENESS,
            "Liveness: group "
                + group.id
                + " needed "
                + (group.probeAppliedAt - healAt)
                + "ms after faults stopped to commit (bound "
                + bound
                + "ms)");
      }
      Replica leader = leaderOf(group);
      if (leader == null) {
        throw violation(
            Check.LIVENESS, "Liveness: group " + group.id + " has no leader at the end");
      }
      RaftNode.Status ls = leader.raft.status();
      for (long member : ls.confState().allMembers()) {
        Node node = nodes.get(group.nodeOfReplica.get(member));
        Replica r = node.replicas.get(group.id);
        if (r == null || r.id != member) {
          throw violation(
              Check.CONVERGENCE,
              "member " + member + " of group " + group.id + " is not running on node " + node.id);
        }
        if (r.sm.appliedIndex != ls.commit()) {
          throw violation(
              Check.CONVERGENCE,
              "member "
                  + member
                  + " of group "
                  + group.id
                  + " has applied "
                  + r.sm.appliedIndex
                  + " of the leader's commit "
                  + ls.commit()
                  + " long after faults stopped");
        }
        for (long op : group.ackedWrites) {
          if (!r.sm.appliedOps.contains(op)) {
            throw violation(
                Check.ACKED_WRITE_LOST,
                "acknowledged write "
                    + op
                    + " of group "
                    + group.id
                    + " is not applied at member "
                    + member);
          }
        }
      }
    }
  }

  long seed() {
    return seed;
  }

  int historySize() {
    return history.size();
  }
}
