package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import io.basalt.api.DecommissionNodeResponse;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicatedWrite;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.List;

/**
 * DecommissionNode: the meta range's record that a node is being decommissioned, written (or, to
 * recommission it, deleted). The placement driver reads the records on every pass.
 */
final class Decommission implements Commands.Command {
  @Override
  public String method() {
    return "decommission_node";
  }

  @Override
  public boolean isWrite() {
    return true;
  }

  private static ByteString key(KvRequest request) {
    return ByteString.copyFrom(KeySpace.decommissionKey(request.getDecommissionNode().getNodeId()));
  }

  @Override
  public KvResponse validate(KvRequest request, RangeDescriptor range) {
    KvResponse notMeta = Commands.onlyInMeta(range, "recording a decommission");
    if (notMeta != null) {
      return notMeta;
    }
    if (request.getDecommissionNode().getNodeId() <= 0) {
      return Errors.invalid("a node id is positive");
    }
    return null;
  }

  @Override
  public List<Span> latchSpans(KvRequest request) {
    return List.of(Span.point(key(request), Mode.WRITE));
  }

  @Override
  public KvResponse evaluate(
      KvRequest request,
      Reader state,
      RangeDescriptor range,
      Commands.Context ctx,
      RaftCommand.Builder into) {
    ByteString key = key(request);
    Commands.PlainWrite w = Commands.plainWrite(request, state, ctx, List.of(key));
    if (w.conflict() != null) {
      return w.conflict();
    }
    into.addWrites(
        request.getDecommissionNode().getRecommission()
            ? ReplicatedWrite.newBuilder()
                .setKey(key)
                .setTombstone(true)
                .setTimestamp(w.ts())
                .build()
            : Commands.put(key, ByteString.copyFromUtf8("decommissioning"), w.ts()));
    return KvResponse.newBuilder()
        .setDecommissionNode(DecommissionNodeResponse.getDefaultInstance())
        .build();
  }
}
