package io.basalt.node.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Errors;
import io.basalt.api.FreezeRangeRequest;
import io.basalt.api.FreezeRangeResponse;
import io.basalt.api.FreezeTrigger;
import io.basalt.api.KeySpace;
import io.basalt.api.KvResponse;
import io.basalt.api.MergePhase;
import io.basalt.api.MergeRangesRequest;
import io.basalt.api.MergeRangesResponse;
import io.basalt.api.MergeTrigger;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RangeStateRequest;
import io.basalt.api.RangeStateResponse;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Range merges (DESIGN.md, "Merges"). A range absorbs its right-hand neighbour in two log commands,
 * one in each range, and a wait between them:
 *
 * <ol>
 *   <li>The right-hand range <b>freezes</b> ({@link FreezeTrigger}): from that log position on it
 *       serves no read or write and every later command of its log applies nothing, so its state is
 *       final. The freeze names the merge (a random id) and the left-hand range at the generation
 *       the merge must apply to.
 *   <li>Whoever runs the merge waits until <em>every</em> replica of the frozen range has applied
 *       the freeze and synced it to disk ({@link #state}): every node then holds the right-hand
 *       range's final state.
 *   <li>The left-hand range <b>merges</b> ({@link MergeTrigger}): at that log position every
 *       replica widens its span over the frozen one, and its node absorbs its replica of the frozen
 *       range in the same write (the user data, addressed by key, stays where it is; the dedupe
 *       records move over; the frozen range's Raft and range-local state go, under a tombstone no
 *       replica id passes). The two ranges' replicas are on the same nodes, so every node that
 *       applies the merge holds the frozen replica it absorbs.
 * </ol>
 *
 * <p>The left-hand range's log decides whether the merge happened: it applies only at the
 * generation the freeze names, so once that range's generation has moved on without it (a replica
 * change or split came first) it never will, and only then is the right-hand range unfrozen (its
 * state answers {@code merged} for a merge it applied, kept under the merge id). A node whose
 * left-hand replica catches up by a snapshot of the merged range drops its frozen replica when the
 * snapshot is installed.
 */
final class ReplicaMerges {
  private ReplicaMerges() {}

  private static final java.util.Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();

  // ---------------------------------------------------------------------------------------------
  // The frozen range

  /** Proposes, on leader {@code r}, the freeze or unfreeze {@code p} asks for. */
  static void proposeFreeze(Replica r, Pending p) {
    FreezeRangeRequest f = p.request.getFreezeRange();
    if (r.frozen != null && r.frozen.getMergeId() == f.getMergeId() && !f.getUnfreeze()) {
      if (!r.isLeader) {
        p.reply(Errors.notLeader(r.rangeId, r.leader, r.store.address(r.leader)));
        return;
      }
      p.reply(freezeAnswer(r, r.frozen.getFreezeIndex())); // asked again: the same answer
      return;
    }
    if (f.getIfFrozen() && !f.getUnfreeze()) {
      KvResponse notLeader = notLeader(r);
      p.reply(
          notLeader != null
              ? notLeader
              : Errors.invalid(
                  "range " + r.rangeId + " is not frozen for merge " + f.getMergeId()));
      return;
    }
    KvResponse notNow = f.getUnfreeze() ? notLeader(r) : ReplicaChanges.notNow(r);
    if (notNow != null) {
      p.reply(notNow);
      return;
    }
    RaftCommand.Builder c = RaftCommand.newBuilder();
    if (f.getUnfreeze()) {
      c.setUnfreezeMergeId(f.getMergeId());
    } else {
      FreezeTrigger trigger =
          FreezeTrigger.newBuilder()
              .setMergeId(f.getMergeId())
              .setInto(f.getInto())
              .setExpectedGeneration(f.getExpectedGeneration())
              .build();
      KvResponse refused = freezeRefusal(r.descriptor, trigger);
      if (refused != null) {
        p.reply(refused);
        return;
      }
      c.setFreeze(trigger);
    }
    propose(r, p, c.setProposedAtNanos(r.store.clock.now().wallNanos()).build(), "freeze");
  }

  private static KvResponse notLeader(Replica r) {
    return r.isLeader ? null : Errors.notLeader(r.rangeId, r.leader, r.store.address(r.leader));
  }

  private static void propose(Replica r, Pending p, RaftCommand command, String what) {
    RaftNode.ProposeResult pr = r.raft().propose(command.toByteArray());
    if (!pr.accepted()) {
      p.reply(Errors.unavailable(what + " of range " + r.rangeId + ": " + pr.outcome()));
      return;
    }
    r.forget(r.proposals.put(pr.index(), new Replica.Proposal(pr.term(), p, command)));
    r.adminIndex = pr.index();
  }

  /** Why range {@code d} may not freeze for {@code f}, or null. */
  private static KvResponse freezeRefusal(RangeDescriptor d, FreezeTrigger f) {
    RangeDescriptor into = f.getInto();
    if (f.getExpectedGeneration() != d.getGeneration()) {
      return ReplicaChanges.staleGeneration(d, f.getExpectedGeneration(), "merge");
    }
    if (d.getRangeId() == KeySpace.META_RANGE_ID
        || into.getRangeId() == KeySpace.META_RANGE_ID
        || into.getRangeId() == d.getRangeId()
        || !into.getEndKey().equals(d.getStartKey())
        || f.getMergeId() == 0) {
      return Errors.invalid(
          "range " + d.getRangeId() + " cannot merge into " + into + " (not its left neighbour)");
    }
    return allVoters(d);
  }

  private static KvResponse allVoters(RangeDescriptor d) {
    for (ReplicaDescriptor x : d.getReplicasList()) {
      if (x.getRole() != ReplicaRole.REPLICA_ROLE_VOTER) {
        return Errors.invalid(
            "range "
                + d.getRangeId()
                + " has a replica that is not a voter ("
                + x
                + "): merge it once its replicas settle");
      }
    }
    return null;
  }

  /** A freeze's answer from leader {@code r}: no read it served is above its clock now. */
  static KvResponse freezeAnswer(Replica r, long freezeIndex) {
    Timestamp high = r.store.clock.now();
    Timestamp cached = r.tscache.max(r.descriptor.getStartKey(), endOf(r.descriptor)).ts();
    if (cached.compareTo(high) > 0) {
      high = cached;
    }
    return KvResponse.newBuilder()
        .setFreezeRange(
            FreezeRangeResponse.newBuilder()
                .setFrozen(r.descriptor)
                .setFreezeIndex(freezeIndex)
                .setReadHighWater(high.toProto())
                .setWrittenUpToNanos(r.clockWaits.appliedUpTo()))
        .build();
  }

  private static ByteString endOf(RangeDescriptor d) {
    return io.basalt.txn.eval.Commands.endOrUnbounded(d.getEndKey());
  }

  /**
   * Why the command at this log position may not apply to replica {@code r} (its descriptor and
   * freeze there, the same on every replica), or null if it may: nothing applies to a frozen range
   * but its freeze again or its unfreeze; a freeze or merge decided from another descriptor applies
   * nothing. Then the split and span checks.
   */
  static KvResponse refusedAtApply(Replica r, RaftCommand c) {
    RangeDescriptor d = r.descriptor;
    if (r.frozen != null) {
      boolean same =
          (c.hasFreeze() && c.getFreeze().getMergeId() == r.frozen.getMergeId())
              || c.getUnfreezeMergeId() != 0 // (another merge's: applies as nothing)
              || (c.hasMerge() && c.getMerge().getPhase() == MergePhase.MERGE_PHASE_ABANDON);
      return same ? null : frozenRefusal(r);
    }
    if (c.hasMerge()) {
      return mergeRefusal(r, c.getMerge());
    }
    if (r.prepared != null && (c.hasFreeze() || c.hasSplit())) {
      return Errors.unavailable(
          "range " + r.rangeId + " has a merge of its own prepared: try again later");
    }
    if (c.hasFreeze()) {
      return freezeRefusal(d, c.getFreeze());
    }
    return ReplicaSplits.refusedAtApply(d, c, r.store.rules());
  }

  static KvResponse frozenRefusal(Replica r) {
    return Errors.unavailable(
        "range "
            + r.rangeId
            + " is frozen for a merge into range "
            + r.frozen.getInto().getRangeId()
            + ": try again in a moment");
  }

  /**
   * Applies, on replica {@code r}, a freeze or unfreeze checked by {@link #refusedAtApply}; the
   * answer for its proposer (computed now, on the leader, from its timestamp cache).
   */
  static KvResponse applyFreeze(Replica r, RaftCommand c, long index, WriteBatch batch) {
    if (c.hasFreeze()) {
      if (r.frozen == null) {
        r.frozen = c.getFreeze().toBuilder().setFreezeIndex(index).build();
        batch.put(ColumnFamily.LOCAL, LocalKeys.frozen(r.rangeId), r.frozen.toByteArray());
      }
      return r.isLeader ? freezeAnswer(r, r.frozen.getFreezeIndex()) : null;
    }
    if (r.frozen == null || r.frozen.getMergeId() == c.getUnfreezeMergeId()) {
      if (r.frozen != null) {
        r.frozen = null;
        batch.delete(ColumnFamily.LOCAL, LocalKeys.frozen(r.rangeId));
      }
      // The range moves to the next generation, frozen for the merge or not yet: a freeze of
      // this merge still on its way (a try its runner gave up on) names the old one and applies
      // nothing. (Frozen for another merge, it stays as it is: that merge's end moves it on.)
      r.descriptor =
          r.descriptor.toBuilder().setGeneration(r.descriptor.getGeneration() + 1).build();
      StoreRecords.putDescriptor(batch, r.descriptor);
      r.store.listener.replicasChanged(r.rangeId, r.descriptor);
    }
    return KvResponse.newBuilder()
        .setFreezeRange(FreezeRangeResponse.newBuilder().setFrozen(r.descriptor))
        .build();
  }

  /** The freeze written for range {@code rangeId} (null if it is not frozen). */
  static FreezeTrigger readFrozen(Engine engine, long rangeId) {
    return read(engine, LocalKeys.frozen(rangeId), FreezeTrigger.parser(), rangeId, "freeze");
  }

  /** The record of {@code rangeId} at {@code key}, parsed (null if there is none). */
  private static <T> T read(
      Engine engine, byte[] key, com.google.protobuf.Parser<T> parser, long rangeId, String what) {
    byte[] v = engine.get(ColumnFamily.LOCAL, key);
    if (v == null) {
      return null;
    }
    try {
      return parser.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptionException("range " + rangeId + " " + what + " record does not parse", e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The absorbing range

  /**
   * Proposes, on leader {@code r}, the step of a merge {@code p} asks for (see {@link
   * MergeRangesRequest}); answered once it is applied.
   */
  static void proposeMerge(Replica r, Pending p) {
    MergeRangesRequest m = p.request.getMergeRanges();
    KvResponse notLeader = notLeader(r);
    if (notLeader == null && r.writtenApplied < r.leaderReadyIndex) {
      notLeader = Errors.unavailable("range " + r.rangeId + "'s new leader is not ready yet");
    }
    if (notLeader != null) {
      p.reply(notLeader);
      return;
    }
    RangeDescriptor d = r.descriptor;
    MergeTrigger.Builder trigger =
        MergeTrigger.newBuilder()
            .setPhase(m.getPhase())
            .setMergeId(m.getMergeId())
            .setExpectedGeneration(m.getExpectedGeneration());
    KvResponse answer = null;
    switch (m.getPhase()) {
      case MERGE_PHASE_PREPARE -> {
        if (r.prepared != null && r.prepared.getMergeId() == m.getMergeId()) {
          p.reply(prepareAnswer(r)); // asked again: it holds
          return;
        }
        KvResponse notNow = ReplicaChanges.notNow(r);
        if (notNow != null) {
          p.reply(notNow);
          return;
        }
        trigger.setRight(m.getRight()).setMerged(widened(d, m.getRight()));
        if (m.getExpectedGeneration() != d.getGeneration()) {
          p.reply(ReplicaChanges.staleGeneration(d, m.getExpectedGeneration(), "merge"));
          return;
        }
        answer = prepareAnswer(r);
      }
      case MERGE_PHASE_COMMIT -> {
        RangeDescriptor merged = widened(d, m.getRight());
        trigger
            .setRight(m.getRight())
            .setMerged(merged)
            .setFreezeIndex(m.getFreezeIndex())
            .setReadHighWater(m.getReadHighWater())
            .setWrittenUpToNanos(m.getWrittenUpToNanos());
        answer =
            KvResponse.newBuilder()
                .setMergeRanges(MergeRangesResponse.newBuilder().setMerged(merged))
                .build();
      }
      case MERGE_PHASE_ABANDON -> {}
      default -> {
        p.reply(Errors.invalid("not a merge phase: " + m.getPhase()));
        return;
      }
    }
    KvResponse refused = mergeRefusal(r, trigger.build());
    if (refused != null) {
      p.reply(refused);
      return;
    }
    RaftCommand.Builder command =
        RaftCommand.newBuilder()
            .setMerge(trigger)
            .setProposedAtNanos(r.store.clock.now().wallNanos());
    if (answer != null) {
      command.setResult(answer.toByteString());
    }
    propose(r, p, command.build(), "merge");
  }

  private static KvResponse prepareAnswer(Replica r) {
    return KvResponse.newBuilder()
        .setMergeRanges(MergeRangesResponse.newBuilder().setMerged(r.descriptor))
        .build();
  }

  /** {@code d} widened over {@code right}, at a generation above both. */
  private static RangeDescriptor widened(RangeDescriptor d, RangeDescriptor right) {
    return d.toBuilder()
        .setEndKey(right.getEndKey())
        .setGeneration(Math.max(d.getGeneration(), right.getGeneration()) + 1)
        .build();
  }

  /**
   * Why replica {@code r} may not apply merge step {@code m}, or null (the same on every replica:
   * its descriptor and prepared merge there). A preparation applies only to the descriptor it was
   * decided from, with no other merge prepared; a commit only to the merge prepared, still at that
   * descriptor; an abandonment always.
   */
  private static KvResponse mergeRefusal(Replica r, MergeTrigger m) {
    RangeDescriptor d = r.descriptor;
    switch (m.getPhase()) {
      case MERGE_PHASE_ABANDON -> {
        return null;
      }
      case MERGE_PHASE_PREPARE -> {
        if (r.prepared != null) {
          return r.prepared.getMergeId() == m.getMergeId()
              ? null // (another try of it: applies as nothing)
              : Errors.unavailable(
                  "range " + d.getRangeId() + " has another merge prepared: try again later");
        }
      }
      case MERGE_PHASE_COMMIT -> {
        if (r.prepared == null || r.prepared.getMergeId() != m.getMergeId()) {
          return Errors.invalid(
              "merge "
                  + m.getMergeId()
                  + " is not prepared in range "
                  + d.getRangeId()
                  + " (committed or abandoned already)");
        }
      }
      default -> {
        return Errors.invalid("not a merge phase: " + m.getPhase());
      }
    }
    if (m.getExpectedGeneration() != d.getGeneration()) {
      return ReplicaChanges.staleGeneration(d, m.getExpectedGeneration(), "merge");
    }
    RangeDescriptor merged = m.getMerged();
    RangeDescriptor right = m.getRight();
    boolean decidedFromThis =
        merged.toBuilder()
                .setEndKey(d.getEndKey())
                .setGeneration(d.getGeneration())
                .build()
                .equals(d)
            && merged.getGeneration() == Math.max(d.getGeneration(), right.getGeneration()) + 1
            && d.getEndKey().equals(right.getStartKey())
            && !d.getEndKey().isEmpty()
            && merged.getEndKey().equals(right.getEndKey());
    if (!decidedFromThis) {
      return Errors.invalid(
          "range " + d.getRangeId() + " changed before its merge applied: it is now " + d);
    }
    if (d.getRangeId() == KeySpace.META_RANGE_ID
        || right.getRangeId() == KeySpace.META_RANGE_ID
        || right.getRangeId() == d.getRangeId()
        || m.getMergeId() == 0
        || (m.getPhase() == MergePhase.MERGE_PHASE_COMMIT && m.getFreezeIndex() == 0)) {
      return Errors.invalid("range " + d.getRangeId() + " cannot merge " + right);
    }
    if (!nodesOf(d).equals(nodesOf(right))) {
      return Errors.invalid(
          "ranges "
              + d.getRangeId()
              + " and "
              + right.getRangeId()
              + " do not have their replicas on the same nodes: "
              + nodesOf(d)
              + " and "
              + nodesOf(right));
    }
    KvResponse voters = allVoters(d);
    return voters != null ? voters : allVoters(right);
  }

  private static Set<Long> nodesOf(RangeDescriptor d) {
    return d.getReplicasList().stream()
        .map(ReplicaDescriptor::getNodeId)
        .collect(Collectors.toCollection(java.util.TreeSet::new));
  }

  /**
   * Applies, on replica {@code r}, a merge checked by {@link #refusedAtApply}: its span widens over
   * the frozen range's, and this node's replica of that range is absorbed in the same write.
   *
   * @throws IllegalStateException if this node holds no replica of the frozen range that applied
   *     the freeze (whoever ran the merge did not wait for every replica of it): the absorbed
   *     span's data here would not be the range's
   */
  static KvResponse applyMerge(Replica r, MergeTrigger m, long index, WriteBatch batch) {
    switch (m.getPhase()) {
      case MERGE_PHASE_PREPARE -> {
        if (r.prepared == null) {
          r.prepared = m;
          batch.put(ColumnFamily.LOCAL, LocalKeys.mergePrepared(r.rangeId), m.toByteArray());
        }
        return null; // (answered with the result its proposer computed)
      }
      case MERGE_PHASE_ABANDON -> {
        boolean wasPrepared = r.prepared != null && r.prepared.getMergeId() == m.getMergeId();
        if (wasPrepared) {
          r.prepared = null;
          batch.delete(ColumnFamily.LOCAL, LocalKeys.mergePrepared(r.rangeId));
          batch.put(
              ColumnFamily.LOCAL, LocalKeys.mergeAbandoned(r.rangeId, m.getMergeId()), new byte[0]);
        }
        if (r.prepared == null && r.frozen == null) {
          // The next generation: a preparation of this merge still on its way (a try its runner
          // gave up on) names this one and applies nothing after this. (With another merge
          // prepared, or frozen, no preparation applies anyway: the range stays as it is.)
          r.descriptor =
              r.descriptor.toBuilder().setGeneration(r.descriptor.getGeneration() + 1).build();
          StoreRecords.putDescriptor(batch, r.descriptor);
          r.store.listener.replicasChanged(r.rangeId, r.descriptor);
        }
        return KvResponse.newBuilder()
            .setMergeRanges(
                MergeRangesResponse.newBuilder()
                    .setWasPrepared(wasPrepared)
                    .setIndex(index)
                    .setRange(r.descriptor))
            .build();
      }
      default -> {
        commit(r, m, batch);
        return null;
      }
    }
  }

  /** Reads the merge prepared in range {@code rangeId} as written (null if none). */
  static MergeTrigger readPrepared(Engine engine, long rangeId) {
    return read(
        engine, LocalKeys.mergePrepared(rangeId), MergeTrigger.parser(), rangeId, "prepared merge");
  }

  private static void commit(Replica r, MergeTrigger m, WriteBatch batch) {
    Store store = r.store;
    RangeDescriptor right = m.getRight();
    Replica x = store.replicaMap().get(right.getRangeId());
    String missing =
        x == null
            ? "holds no replica of it"
            : !x.initialized
                ? "holds an uninitialized replica of it"
                : x.frozen == null || x.frozen.getMergeId() != m.getMergeId()
                    ? "holds a replica of it not frozen for this merge"
                    : x.writtenApplied < m.getFreezeIndex()
                        ? "holds a replica of it at index " + x.writtenApplied
                        : null;
    if (missing != null) {
      throw new IllegalStateException(
          "range "
              + r.rangeId
              + " merges range "
              + right.getRangeId()
              + " frozen at index "
              + m.getFreezeIndex()
              + ", but node "
              + store.nodeId()
              + " "
              + missing);
    }
    r.descriptor = m.getMerged();
    r.prepared = null;
    r.load.reset();
    StoreRecords.putDescriptor(batch, r.descriptor);
    batch.delete(ColumnFamily.LOCAL, LocalKeys.mergePrepared(r.rangeId));
    batch.put(ColumnFamily.LOCAL, LocalKeys.merged(r.rangeId, m.getMergeId()), new byte[0]);
    // A write the absorbed range answered only once its clock passed it is answered again here
    // from its record: here too only then.
    r.clockWaits.applied(m.getWrittenUpToNanos());
    Timestamp high = Timestamp.fromProto(m.getReadHighWater());
    store.clock.update(high);
    if (r.isLeader) {
      r.tscache.add(right.getStartKey(), endOf(right), high, ByteString.EMPTY);
    }
    if (x != null) {
      r.sm.stageAbsorb(batch, x.sm);
      absorb(store, x, r, batch);
    }
    store.listener.replicasChanged(r.rangeId, r.descriptor);
  }

  /**
   * Stages the destruction of frozen replica {@code x}, whose span {@code into}, another replica
   * here, now covers (its data stays: it is that replica's), and takes it out of the store.
   */
  static void absorb(Store store, Replica x, Replica into, WriteBatch batch) {
    // Its records of the merges it took part in as the left-hand range stay (under a range id no
    // replica comes back to): a runner of one of them asks them whether it committed.
    List<byte[][]> records = new ArrayList<>();
    try (var it =
        store.engine.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.mergeRecordsFrom(x.rangeId),
            LocalKeys.mergeRecordsTo(x.rangeId))) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        records.add(new byte[][] {it.key(), it.value()});
      }
    }
    x.storage.destroy(batch);
    StoreRecords.stageDestroy(batch, x.descriptor, false, Long.MAX_VALUE);
    records.forEach(kv -> batch.put(ColumnFamily.LOCAL, kv[0], kv[1]));
    store.splits.absorb(batch, x.rangeId);
    x.replaced = true; // (its Ready of this round, if any, is not written)
    x.snapshots.cancelOutgoing();
    store.replicaMap().remove(x.rangeId);
    store.dirty.remove(x);
    x.closeForMerge(into);
    store.listener.replicaDestroyed(x.rangeId, x.replicaId);
  }

  /**
   * Whether {@code other}, a replica of this store, was merged away by the time of {@code d}, a
   * descriptor of another range, and nothing here still needs it: {@code d} holds {@code other}'s
   * start key, which a range keeps until a merge absorbs it (a split leaves it with the left-hand
   * side); and unless {@code d} is the range it merged into, this node's replica of that range
   * (which absorbs it when it applies the merge's commit) has settled the merge already. A snapshot
   * of {@code d} then takes its place: its state goes, and its data outside {@code d}'s span is
   * left to the snapshots of the ranges that hold it now.
   */
  static boolean subsumedBy(Replica other, RangeDescriptor d) {
    if (!other.initialized
        || other.rangeId == d.getRangeId()
        || !KeySpace.contains(d, other.descriptor.getStartKey().toByteArray())) {
      return false;
    }
    if (other.frozen == null || other.frozen.getInto().getRangeId() == d.getRangeId()) {
      return true;
    }
    long into = other.frozen.getInto().getRangeId();
    long mergeId = other.frozen.getMergeId();
    Replica absorber = other.store.replicaMap().get(into);
    Engine engine = other.store.engine;
    return absorber == null
        || !absorber.initialized
        || engine.get(ColumnFamily.LOCAL, LocalKeys.merged(into, mergeId)) != null
        || engine.get(ColumnFamily.LOCAL, LocalKeys.mergeAbandoned(into, mergeId)) != null;
  }

  /**
   * Stages, with the install by {@code into} of a snapshot of {@code d}, the destruction of the
   * frozen replicas it subsumes (its data replaces theirs).
   */
  static void absorbSubsumed(Store store, Replica into, RangeDescriptor d, WriteBatch batch) {
    List<Replica> subsumed = new ArrayList<>();
    for (Replica other : store.replicaMap().values()) {
      if (other.rangeId != d.getRangeId() && subsumedBy(other, d)) {
        subsumed.add(other);
      }
    }
    for (Replica x : subsumed) {
      absorb(store, x, into, batch);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What a merge waits for

  /**
   * The state of this store's replica of the request's range, written and synced to disk (any
   * replica answers, leader or not).
   */
  static KvResponse state(Store store, long rangeId, RangeStateRequest q) {
    Replica r = store.replicaMap().get(rangeId);
    RangeStateResponse.Builder b = RangeStateResponse.newBuilder();
    boolean mergedAway =
        r == null && StoreRecords.readTombstone(store.engine, rangeId) == Long.MAX_VALUE;
    if (mergedAway) {
      // Absorbed here by a merge, once it had applied everything before its freeze: its merge
      // records were kept.
      b.setMergedAway(true)
          .setMerged(
              q.getMergeId() != 0
                  && store.engine.get(ColumnFamily.LOCAL, LocalKeys.merged(rangeId, q.getMergeId()))
                      != null);
    }
    if (r != null && r.initialized) {
      store.engine.sync(); // (what it reports applied survives a crash of this node)
      b.setPresent(true)
          .setRange(r.descriptor)
          .setAppliedIndex(r.writtenApplied)
          .setFrozenMergeId(r.frozen == null ? 0 : r.frozen.getMergeId())
          .setMerged(
              q.getMergeId() != 0
                  && store.engine.get(ColumnFamily.LOCAL, LocalKeys.merged(rangeId, q.getMergeId()))
                      != null)
          .setAbandoned(
              q.getMergeId() != 0
                  && store.engine.get(
                          ColumnFamily.LOCAL, LocalKeys.mergeAbandoned(rangeId, q.getMergeId()))
                      != null)
          .setPreparedMergeId(r.prepared == null ? 0 : r.prepared.getMergeId());
    }
    return KvResponse.newBuilder().setRangeState(b).build();
  }
}
