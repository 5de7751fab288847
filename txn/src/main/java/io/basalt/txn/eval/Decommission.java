package io.basalt.txn.eval;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.protobuf.ByteString;
import io.basalt.api.DecommissionNodeRequest;
import io.basalt.api.DecommissionNodeResponse;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.List;

/**
 * DecommissionNode: the meta range's record that a node is being decommissioned, written (or, to
 * recommission it, deleted), and marked finished by the placement driver once the node holds no
 * replica. A finished record stays: the node cannot be recommissioned, and a repeated decommission
 * leaves it finished. The placement driver reads the records on every pass.
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
    DecommissionNodeRequest d = request.getDecommissionNode();
    String current = w.current().map(v -> new String(v.value(), UTF_8)).orElse("");
    boolean finished = current.equals(KeySpace.DECOMMISSIONED);
    if (d.getRecommission()) {
      if (finished) {
        return Errors.invalid(
            "node "
                + d.getNodeId()
                + " is decommissioned: the cluster refuses it for good (start a node with a new id"
                + " and an empty store instead)");
      }
      into.addWrites(Commands.tombstone(key, w.ts()));
    } else if (d.getFinished()) {
      if (!finished && !current.equals(KeySpace.DECOMMISSIONING)) {
        return Errors.invalid("node " + d.getNodeId() + " is not being decommissioned");
      }
      if (!finished) {
        into.addWrites(Commands.put(key, ByteString.copyFromUtf8(KeySpace.DECOMMISSIONED), w.ts()));
      }
      finished = true;
    } else if (!finished) {
      into.addWrites(Commands.put(key, ByteString.copyFromUtf8(KeySpace.DECOMMISSIONING), w.ts()));
    }
    return KvResponse.newBuilder()
        .setDecommissionNode(DecommissionNodeResponse.newBuilder().setDecommissioned(finished))
        .build();
  }
}
