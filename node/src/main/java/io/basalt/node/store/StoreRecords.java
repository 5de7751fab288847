package io.basalt.node.store;

import io.basalt.api.KeySpace;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.Engine;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.WriteBatch;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a store keeps about itself in its engine, beside its ranges' own state: its identity (node
 * id and cluster id), the list of ranges it holds a replica of, the upper bound of the clock
 * readings its data may hold, and the nodes its node refuses for good (decommissioned); and the
 * state every initial replica of a range is created with. The store's keys live in the LOCAL column
 * family under range id 0 (range-local keys start with a range id of at least 1). Part of the
 * on-disk format.
 */
final class StoreRecords {
  private StoreRecords() {}

  /** The first log position of a bootstrapped range (as in CockroachDB, leaving room below). */
  static final long BOOTSTRAP_INDEX = 10;

  static final long BOOTSTRAP_TERM = 5;

  /** The MVCC timestamp of data written at bootstrap: the same on every initial replica. */
  static final Timestamp BOOTSTRAP_TS = new Timestamp(1, 0);

  /** The margin the clock bound is written ahead of the clock, so it is rewritten rarely. */
  static final long CLOCK_BOUND_MARGIN_NANOS = 100_000_000L;

  private static final byte[] IDENTITY_KEY = storeKey('i');

  /**
   * An upper bound of every HLC reading this store's data may hold (wall nanos, 8 bytes): written
   * in a round's batch whenever the clock passes the last one, with a margin.
   */
  private static final byte[] CLOCK_BOUND_KEY = storeKey('c');

  /** Followed by a range id (8 bytes, big-endian): this store holds a replica of that range. */
  private static final byte[] REPLICA_LIST_PREFIX = storeKey('R');

  /**
   * Followed by a range id: the lowest replica id of that range this store may still hold (8
   * bytes). Written when a replica is destroyed, so that a message for it, or for an older replica
   * of the range, never creates it again under an id whose vote and log are gone.
   */
  private static final byte[] TOMBSTONE_PREFIX = storeKey('T');

  private static byte[] rangeKey(byte[] prefix, long rangeId) {
    return ByteBuffer.allocate(prefix.length + 8).put(prefix).putLong(rangeId).array();
  }

  /** The lowest replica id of {@code rangeId} this store may hold (0: any). */
  static long readTombstone(Engine engine, long rangeId) {
    byte[] v = engine.get(ColumnFamily.LOCAL, rangeKey(TOMBSTONE_PREFIX, rangeId));
    return v != null && v.length == 8 ? ByteBuffer.wrap(v).getLong() : 0;
  }

  /**
   * Stages the destruction of a replica of range {@code d}: its range-local state, its data if it
   * holds any ({@code withData}: no other replica of this store overlaps its span; a replica still
   * waiting for its first snapshot holds none, and its placeholder descriptor has no span) and its
   * place in the replica list; and a tombstone refusing every replica id below {@code tombstone}.
   * The Raft log and hard state are the caller's to delete.
   */
  static void stageDestroy(WriteBatch batch, RangeDescriptor d, boolean withData, long tombstone) {
    long rangeId = d.getRangeId();
    batch.deleteRange(
        ColumnFamily.LOCAL, LocalKeys.rangePrefix(rangeId), LocalKeys.rangePrefixEnd(rangeId));
    if (withData) {
      if (d.getStartKey().isEmpty() && d.getEndKey().isEmpty()) {
        throw new IllegalStateException("range " + rangeId + " has no span to delete: " + d);
      }
      RangeSpan span =
          new RangeSpan(rangeId, d.getStartKey().toByteArray(), d.getEndKey().toByteArray());
      for (RangeSpan.EngineSpan s : span.engineSpans()) {
        batch.deleteRange(s.cf(), s.lower(), s.upper());
      }
    }
    batch.delete(ColumnFamily.LOCAL, rangeKey(REPLICA_LIST_PREFIX, rangeId));
    batch.put(
        ColumnFamily.LOCAL,
        rangeKey(TOMBSTONE_PREFIX, rangeId),
        ByteBuffer.allocate(8).putLong(tombstone).array());
  }

  private static byte[] storeKey(char kind) {
    return ByteBuffer.allocate(9).putLong(0).put((byte) kind).array();
  }

  /** The identity recorded in {@code engine}, if the store was ever initialized. */
  static Optional<Store.Identity> readIdentity(Engine engine) {
    byte[] v = engine.get(ColumnFamily.LOCAL, IDENTITY_KEY);
    if (v == null) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(v);
    long id = b.getLong();
    byte[] cluster = new byte[b.remaining()];
    b.get(cluster);
    return Optional.of(new Store.Identity(new String(cluster, StandardCharsets.UTF_8), id));
  }

  static void putIdentity(WriteBatch batch, Store.Identity id) {
    byte[] cluster = id.clusterId().getBytes(StandardCharsets.UTF_8);
    batch.put(
        ColumnFamily.LOCAL,
        IDENTITY_KEY,
        ByteBuffer.allocate(8 + cluster.length).putLong(id.nodeId()).put(cluster).array());
  }

  /** The clock bound recorded in {@code engine} (wall nanos), or 0 if none. */
  static long readClockBound(Engine engine) {
    byte[] bound = engine.get(ColumnFamily.LOCAL, CLOCK_BOUND_KEY);
    return bound != null && bound.length == 8 ? ByteBuffer.wrap(bound).getLong() : 0;
  }

  static void putClockBound(WriteBatch batch, long wallNanos) {
    batch.put(
        ColumnFamily.LOCAL, CLOCK_BOUND_KEY, ByteBuffer.allocate(8).putLong(wallNanos).array());
  }

  /** Followed by a node id: that node is decommissioned, and this node refuses it for good. */
  private static final byte[] DECOMMISSIONED_PREFIX = storeKey('D');

  /** Records, synced, that node {@code nodeId} is decommissioned. */
  static void putDecommissioned(Engine engine, long nodeId) {
    WriteBatch batch = new WriteBatch();
    batch.put(ColumnFamily.LOCAL, rangeKey(DECOMMISSIONED_PREFIX, nodeId), new byte[0]);
    engine.write(batch, true);
  }

  /** The nodes recorded as decommissioned, in order. */
  static List<Long> decommissioned(Engine engine) {
    return idsUnder(engine, DECOMMISSIONED_PREFIX);
  }

  /** The ids of the ranges this store holds a replica of, in order. */
  static List<Long> replicaRangeIds(Engine engine) {
    return idsUnder(engine, REPLICA_LIST_PREFIX);
  }

  /** The ids that follow {@code prefix} in the keys under it, in order. */
  private static List<Long> idsUnder(Engine engine, byte[] prefix) {
    byte[] end = prefix.clone();
    end[end.length - 1]++;
    List<Long> ids = new ArrayList<>();
    try (EngineIterator it = engine.newIterator(ColumnFamily.LOCAL, prefix, end)) {
      for (it.seekToFirst(); it.valid(); it.next()) {
        ids.add(ByteBuffer.wrap(it.key(), prefix.length, 8).getLong());
      }
    }
    return ids;
  }

  /** Records range {@code d}'s descriptor, and that this store holds a replica of it. */
  static void putDescriptor(WriteBatch batch, RangeDescriptor d) {
    batch.put(ColumnFamily.LOCAL, LocalKeys.descriptor(d.getRangeId()), d.toByteArray());
    batch.put(
        ColumnFamily.LOCAL,
        ByteBuffer.allocate(REPLICA_LIST_PREFIX.length + 8)
            .put(REPLICA_LIST_PREFIX)
            .putLong(d.getRangeId())
            .array(),
        new byte[0]);
  }

  /**
   * Stages the state of an initial replica of range {@code d}: its Raft log at the bootstrap
   * position with every replica a voter, its applied index, its descriptor; for the meta range also
   * the range directory ({@code ranges}) and the node directory ({@code nodes}). Every initial
   * replica of a range stages exactly the same state, so they start in agreement.
   */
  static void stageInitialReplica(
      Engine engine,
      WriteBatch batch,
      RangeDescriptor d,
      List<RangeDescriptor> ranges,
      List<NodeDescriptor> nodes) {
    long[] voters = d.getReplicasList().stream().mapToLong(r -> r.getReplicaId()).toArray();
    new EngineRaftStorage(engine, d.getRangeId())
        .bootstrap(batch, BOOTSTRAP_INDEX, BOOTSTRAP_TERM, ConfState.ofVoters(voters), new byte[0]);
    batch.put(
        ColumnFamily.LOCAL,
        LocalKeys.appliedIndex(d.getRangeId()),
        ByteBuffer.allocate(8).putLong(BOOTSTRAP_INDEX).array());
    putDescriptor(batch, d);
    if (d.getRangeId() == KeySpace.META_RANGE_ID) {
      for (RangeDescriptor r : ranges) {
        MvccStore.put(
            batch,
            KeySpace.rangeDescriptorKey(r.getEndKey().toByteArray()),
            BOOTSTRAP_TS,
            r.toByteArray());
      }
      for (NodeDescriptor n : nodes) {
        MvccStore.put(batch, KeySpace.nodeKey(n.getNodeId()), BOOTSTRAP_TS, n.toByteArray());
      }
    }
  }
}
