package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Errors;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.UpdateRangeDirectoryResponse;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.List;

/**
 * UpdateRangeDirectory: the meta range's directory entry of a range (keyed by its end key, where
 * clients look ranges up) replaced by a newer descriptor. An update carrying a generation the entry
 * already has, or an older one, writes nothing: whoever changed the range writes its new descriptor
 * after the change, and a late update decided from an older one never wins.
 */
final class Directory implements Commands.Command {
  @Override
  public String method() {
    return "update_range_directory";
  }

  @Override
  public boolean isWrite() {
    return true;
  }

  private static ByteString key(KvRequest request) {
    return ByteString.copyFrom(
        KeySpace.rangeDescriptorKey(
            request.getUpdateRangeDirectory().getRange().getEndKey().toByteArray()));
  }

  @Override
  public KvResponse validate(KvRequest request, RangeDescriptor range) {
    if (range.getRangeId() != KeySpace.META_RANGE_ID) {
      return Errors.invalid(
          "the range directory is in the meta range, not range " + range.getRangeId());
    }
    RangeDescriptor d = request.getUpdateRangeDirectory().getRange();
    if (d.getRangeId() <= 0 || d.getGeneration() <= 0 || d.getReplicasCount() == 0) {
      return Errors.invalid("not a range descriptor to record: " + d);
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
    RangeDescriptor d = request.getUpdateRangeDirectory().getRange();
    Commands.PlainWrite w = Commands.plainWrite(request, state, ctx, List.of(key));
    if (w.conflict() != null) {
      return w.conflict();
    }
    Version current = w.current().orElse(null);
    if (current != null && !current.isTombstone()) {
      try {
        RangeDescriptor recorded = RangeDescriptor.parseFrom(current.value());
        if (recorded.getRangeId() == d.getRangeId()
            && recorded.getGeneration() >= d.getGeneration()) {
          return answer(false);
        }
      } catch (InvalidProtocolBufferException e) {
        // An unreadable entry is replaced.
      }
    }
    into.addWrites(Commands.put(key, d.toByteString(), w.ts()));
    return answer(true);
  }

  private static KvResponse answer(boolean updated) {
    return KvResponse.newBuilder()
        .setUpdateRangeDirectory(UpdateRangeDirectoryResponse.newBuilder().setUpdated(updated))
        .build();
  }
}
