package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.range.raft.RaftNode;

/** What a store reports of each of its replicas ({@code bin/basalt status}, the driver). */
final class ReplicaReports {
  private ReplicaReports() {}

  /** The state of replica {@code r}, for {@code status}. */
  static ReplicaStatus of(Replica r) {
    RaftNode.Status s = r.core.status();
    return ReplicaStatus.newBuilder()
        .setRange(r.descriptor)
        .setRole(s.role().name())
        .setLeaderNode(r.nodeOf(s.leaderId()))
        .setTerm(s.term())
        .setCommit(s.commit())
        .setApplied(r.sm.appliedIndex())
        .setLastIndex(s.lastIndex())
        .setQuiesced(s.quiesced())
        .setLeaseValid(s.leaseValid())
        .setApproximateBytes(r.isLeader ? ReplicaSplits.approximateBytes(r) : 0)
        .setRequestsPerSecond(r.isLeader ? r.load.requestsPerSecond(r.nanoTime.getAsLong()) : 0)
        .setLoadSplitKey(r.isLeader ? r.load.splitKey(r.descriptor) : ByteString.EMPTY)
        .setFrozenMergeId(r.frozen == null ? 0 : r.frozen.getMergeId())
        .setFrozenInto(r.frozen == null ? RangeDescriptor.getDefaultInstance() : r.frozen.getInto())
        .setPreparedMergeId(r.prepared == null ? 0 : r.prepared.getMergeId())
        .setPreparedRight(
            r.prepared == null ? RangeDescriptor.getDefaultInstance() : r.prepared.getRight())
        .build();
  }
}
