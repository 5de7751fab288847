package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvResponse;
import io.basalt.api.MvccVersion;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ReplicaRole;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.SplitRangeRequest;
import io.basalt.api.SplitRangeResponse;
import io.basalt.api.SplitTrigger;
import io.basalt.api.TxnRecordWrite;
import io.basalt.api.WriteIntent;
import io.basalt.range.keys.MvccKeys;
import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.HardState;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Range splits (DESIGN.md, "Splits"). A split is one command in the range's Raft log carrying both
 * descriptors it produces: the range keeps {@code [start, key)} and a new range takes {@code [key,
 * end)} with the same replicas under the same replica ids, both at the next generation. Every
 * replica applies it at the same index: its descriptor narrows, and its node creates the new
 * range's replica from state staged in the same write (Raft log at the bootstrap position, the
 * range's dedupe records and GC threshold copied). The user data and the transaction records,
 * addressed by key, stay where they are and now belong to the new range.
 *
 * <p>What keeps a split safe: every command is checked against the descriptor at its own log
 * position when applied ({@link #refusedAtApply}), so a write evaluated on the old span and applied
 * after the split is refused by every replica alike instead of landing in keys the new range owns;
 * reads and writes check the span again when they are served; a split is refused while another
 * change of the range is in flight and applies only to the descriptor it was decided from; and the
 * new range's replica is created only once the write holding its state is in the engine (messages
 * for it are dropped until then).
 */
final class ReplicaSplits {
  private ReplicaSplits() {}

  private static final Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();

  /** The right-hand replica a split staged, created once the batch holding it is written. */
  record Staged(RangeDescriptor right, boolean campaign, boolean newGroup) {}

  /** Proposes, on leader {@code r}, the split {@code p} asks for; answered once it is applied. */
  static void propose(Replica r, Pending p) {
    KvResponse notNow = ReplicaChanges.notNow(r);
    if (notNow != null) {
      p.reply(notNow);
      return;
    }
    SplitRangeRequest s = p.request.getSplitRange();
    RangeDescriptor d = r.descriptor;
    KvResponse refusal = refusal(r, d, s);
    if (refusal != null) {
      p.reply(refusal);
      return;
    }
    ByteString key = s.getSplitKey().isEmpty() ? middleKey(r, d) : s.getSplitKey();
    if (key == null) {
      p.reply(Errors.invalid("range " + r.rangeId + " holds too little data to split"));
      return;
    }
    String bad = KeySpace.invalidUserKey(key.toByteArray());
    if (bad != null
        || ORDER.compare(key, d.getStartKey()) <= 0
        || (!d.getEndKey().isEmpty() && ORDER.compare(key, d.getEndKey()) >= 0)) {
      p.reply(
          Errors.invalid(
              "cannot split range "
                  + r.rangeId
                  + " at that key: "
                  + (bad != null ? bad : "it is not strictly inside the range's span")));
      return;
    }
    RangeDescriptor left =
        d.toBuilder().setEndKey(key).setGeneration(d.getGeneration() + 1).build();
    RangeDescriptor right =
        d.toBuilder()
            .setRangeId(s.getNewRangeId())
            .setStartKey(key)
            .setGeneration(d.getGeneration() + 1)
            .build();
    KvResponse answer =
        KvResponse.newBuilder()
            .setSplitRange(SplitRangeResponse.newBuilder().setLeft(left).setRight(right))
            .build();
    RaftCommand command =
        RaftCommand.newBuilder()
            .setSplit(SplitTrigger.newBuilder().setLeft(left).setRight(right))
            .setResult(answer.toByteString())
            .setProposedAtNanos(r.store.clock.now().wallNanos())
            .build();
    RaftNode.ProposeResult pr = r.raft().propose(command.toByteArray());
    if (!pr.accepted()) {
      p.reply(Errors.unavailable("split of range " + r.rangeId + ": " + pr.outcome()));
      return;
    }
    r.forget(r.proposals.put(pr.index(), new Replica.Proposal(pr.term(), p, command)));
    r.adminIndex = pr.index();
  }

  private static KvResponse refusal(Replica r, RangeDescriptor d, SplitRangeRequest s) {
    if (s.getExpectedGeneration() != d.getGeneration()) {
      return ReplicaChanges.staleGeneration(d, s.getExpectedGeneration(), "split");
    }
    if (d.getRangeId() == KeySpace.META_RANGE_ID) {
      return Errors.invalid("the meta range does not split");
    }
    long id = s.getNewRangeId();
    if (id <= KeySpace.META_RANGE_ID || id == d.getRangeId() || id >= Long.MAX_VALUE - 1) {
      return Errors.invalid("not a range id for the new range: " + id);
    }
    if (r.store.replicaMap().containsKey(id) || StoreRecords.readTombstone(r.engine, id) > 0) {
      return Errors.invalid("range id " + id + " is already in use on node " + r.store.nodeId());
    }
    for (ReplicaDescriptor x : d.getReplicasList()) {
      if (x.getRole() != ReplicaRole.REPLICA_ROLE_VOTER) {
        return Errors.invalid(
            "range "
                + d.getRangeId()
                + " has a replica that is not a voter ("
                + x
                + "): split it once its replicas settle");
      }
    }
    return null;
  }

  /**
   * The user key that about halves the range's data (by the bytes of its versions), or null if it
   * holds fewer than two keys. One pass over the range's data, remembering a key every 64 KiB.
   */
  private static ByteString middleKey(Replica r, RangeDescriptor d) {
    long step = 64 << 10;
    long total = 0;
    long nextMark = 0;
    List<byte[]> marks = new ArrayList<>();
    List<Long> at = new ArrayList<>();
    byte[] lastUser = null;
    RangeSpan.EngineSpan mvcc =
        new RangeSpan(d.getRangeId(), d.getStartKey().toByteArray(), d.getEndKey().toByteArray())
            .engineSpans()
            .get(0);
    try (EngineIterator it = r.engine.newIterator(ColumnFamily.MVCC, mvcc.lower(), mvcc.upper())) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        byte[] user = MvccKeys.decode(it.key()).userKey();
        if (lastUser == null || !java.util.Arrays.equals(user, lastUser)) {
          if (lastUser != null && total >= nextMark) {
            marks.add(user);
            at.add(total);
            nextMark = total + step;
          }
          lastUser = user;
        }
        total += it.key().length + it.value().length;
      }
    }
    byte[] best = null;
    long bestDistance = Long.MAX_VALUE;
    for (int i = 0; i < marks.size(); i++) {
      long distance = Math.abs(at.get(i) - total / 2);
      if (distance < bestDistance) {
        best = marks.get(i);
        bestDistance = distance;
      }
    }
    return best == null ? null : ByteString.copyFrom(best);
  }

  /**
   * Why the command at this log position may not apply to a range with descriptor {@code d}, or
   * null if it may. Every replica holds the same descriptor at the same position, so every replica
   * decides the same: a split decided from another descriptor, or a write with a key outside the
   * span (evaluated before a split narrowed it), applies nothing and is answered with the refusal.
   */
  static KvResponse refusedAtApply(RangeDescriptor d, RaftCommand c, StoreRules rules) {
    if (c.hasSplit()) {
      RangeDescriptor left = c.getSplit().getLeft();
      RangeDescriptor right = c.getSplit().getRight();
      boolean decidedFromThis =
          left.toBuilder()
                  .setEndKey(d.getEndKey())
                  .setGeneration(d.getGeneration())
                  .build()
                  .equals(d)
              && left.getGeneration() == d.getGeneration() + 1
              && right.getEndKey().equals(d.getEndKey())
              && right.getStartKey().equals(left.getEndKey());
      return decidedFromThis
          ? null
          : Errors.invalid(
              "range " + d.getRangeId() + " changed before its split applied: it is now " + d);
    }
    if (!rules.checkSpanAtApply()) {
      return null;
    }
    ByteString start = d.getStartKey();
    ByteString end = d.getEndKey();
    for (ReplicatedWrite w : c.getWritesList()) {
      if (!inside(start, end, w.getKey())) {
        return Errors.keyNotInRange(w.getKey().toByteArray(), d);
      }
    }
    for (WriteIntent w : c.getIntentsList()) {
      if (!inside(start, end, w.getKey())) {
        return Errors.keyNotInRange(w.getKey().toByteArray(), d);
      }
    }
    for (ByteString k : c.getClearedIntentsList()) {
      if (!inside(start, end, k)) {
        return Errors.keyNotInRange(k.toByteArray(), d);
      }
    }
    for (TxnRecordWrite w : c.getTxnRecordsList()) {
      if (!inside(start, end, w.getAnchorKey())) {
        return Errors.keyNotInRange(w.getAnchorKey().toByteArray(), d);
      }
    }
    for (MvccVersion v : c.getGcVersionsList()) {
      if (!inside(start, end, v.getKey())) {
        return Errors.keyNotInRange(v.getKey().toByteArray(), d);
      }
    }
    return null;
  }

  private static boolean inside(ByteString start, ByteString end, ByteString key) {
    return ORDER.compare(key, start) >= 0 && (end.isEmpty() || ORDER.compare(key, end) < 0);
  }

  /**
   * Applies, on replica {@code r}, a split checked by {@link #refusedAtApply}: the range narrows to
   * the left descriptor, and the right-hand range's replica on this node is staged in {@code batch}
   * and created once it is written. If this node's replica of the new range was removed from it
   * before this node applied the split (a tombstone at or above its id, or a later replica of the
   * range already here), the new range's data on this node is not this node's: it is deleted
   * instead.
   */
  static void apply(Replica r, SplitTrigger split, WriteBatch batch) {
    RangeDescriptor left = split.getLeft();
    RangeDescriptor right = split.getRight();
    Store store = r.store;
    r.descriptor = left;
    r.load.reset();
    StoreRecords.putDescriptor(batch, left);
    store.listener.replicasChanged(r.rangeId, left);
    long mine = 0;
    for (ReplicaDescriptor x : right.getReplicasList()) {
      if (x.getNodeId() == store.nodeId()) {
        mine = x.getReplicaId();
      }
    }
    long rightId = right.getRangeId();
    Replica existing = store.replicaMap().get(rightId);
    if (existing != null && existing.initialized) {
      // Spans never overlap on a node (snapshots that would overlap are refused), and this
      // range's replica here covered the new range's span until now.
      throw new IllegalStateException(
          "range "
              + r.rangeId
              + " splits off range "
              + rightId
              + ", which this node already holds initialized: "
              + existing.descriptor);
    }
    if (StoreRecords.readTombstone(r.engine, rightId) > mine
        || (existing != null && (existing.removed || existing.replicaId != mine))) {
      List<RangeSpan.EngineSpan> spans =
          new RangeSpan(rightId, right.getStartKey().toByteArray(), right.getEndKey().toByteArray())
              .dataSpans();
      for (RangeSpan.EngineSpan s : spans) {
        batch.deleteRange(s.cf(), s.lower(), s.upper());
      }
      return;
    }
    long term = StoreRecords.BOOTSTRAP_TERM;
    long vote = 0;
    EngineRaftStorage storage = new EngineRaftStorage(r.engine, rightId);
    // A replica of the new range created by a message before this node applied the split (the new
    // range's leader elsewhere is already at work) may have voted, in memory or on disk (a
    // placeholder is not loaded at a restart, but its hard state was written): its vote stands,
    // and the new replica keeps the restart quarantine (it may have acknowledged a leader).
    HardState persisted = storage.initialState().hardState();
    boolean heardOf = persisted.term() > 0;
    if (persisted.term() >= term) {
      term = persisted.term();
      vote = persisted.vote();
    }
    if (existing != null) {
      heardOf = true;
      RaftNode.Status st = existing.core.status();
      if (st.term() > term || (st.term() == term && st.vote() != 0)) {
        term = st.term();
        vote = st.vote();
      }
      existing.snapshots.cancelOutgoing();
      existing.replaced = true; // (its Ready of this round, if any, is not written)
      store.replicaMap().remove(rightId);
      store.dirty.remove(existing);
    }
    long[] voters = right.getReplicasList().stream().mapToLong(x -> x.getReplicaId()).toArray();
    storage.bootstrap(
        batch,
        StoreRecords.BOOTSTRAP_INDEX,
        StoreRecords.BOOTSTRAP_TERM,
        ConfState.ofVoters(voters),
        new byte[0]);
    storage.setHardState(batch, new HardState(term, vote, StoreRecords.BOOTSTRAP_INDEX));
    batch.put(
        ColumnFamily.LOCAL,
        io.basalt.range.keys.LocalKeys.appliedIndex(rightId),
        ByteBuffer.allocate(8).putLong(StoreRecords.BOOTSTRAP_INDEX).array());
    StoreRecords.putDescriptor(batch, right);
    r.sm.stageSplitCopy(batch, rightId);
    // The left-hand leader's node campaigns at once for the new range, whose keys it served.
    // Unless a replica of the new range was here already (it may have heard from a leader of it,
    // whose lease its restart quarantine protects), the new replica votes at once.
    store.splits.stage(batch, new Staged(right, r.isLeader, !heardOf));
  }

  /** About how many bytes the range's data takes in the engine (its keys' versions and intents). */
  static long approximateBytes(Replica r) {
    long applied = r.sm.appliedIndex();
    if (r.sizedAt[0] == applied && applied > 0) {
      return r.sizedAt[1]; // (nothing applied since it was measured: a range at rest)
    }
    RangeSpan.EngineSpan mvcc =
        new RangeSpan(
                r.rangeId,
                r.descriptor.getStartKey().toByteArray(),
                r.descriptor.getEndKey().toByteArray())
            .dataSpans()
            .get(0);
    long bytes = r.engine.approximateSize(mvcc.cf(), mvcc.lower(), mvcc.upper());
    r.sizedAt[0] = applied;
    r.sizedAt[1] = bytes;
    return bytes;
  }
}
