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
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.MvccStore.Version;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.util.ArrayList;
import java.util.List;

/**
 * UpdateRangeDirectory: the meta range's directory entries of ranges (keyed by their end keys,
 * where clients look ranges up) replaced by newer descriptors, in one command (both halves of a
 * split together). An entry that already holds the same generation or a later one, of whichever
 * range, is kept: whoever changed a range writes its new descriptor after the change, a late update
 * decided from an older one never wins, and a range that took over an end key (a split's new range)
 * is a generation above the one it replaced. A merged range's update also deletes the left-hand
 * range's old entry (covered_end_keys), which it covers at a later generation.
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

  private static List<RangeDescriptor> descriptors(KvRequest request) {
    List<RangeDescriptor> all = new ArrayList<>();
    all.add(request.getUpdateRangeDirectory().getRange());
    all.addAll(request.getUpdateRangeDirectory().getMoreList());
    return all;
  }

  private static ByteString key(RangeDescriptor d) {
    return ByteString.copyFrom(KeySpace.rangeDescriptorKey(d.getEndKey().toByteArray()));
  }

  /** The directory keys of the entries the request's range now covers (see covered_end_keys). */
  private static List<ByteString> coveredKeys(KvRequest request) {
    List<ByteString> keys = new ArrayList<>();
    for (ByteString end : request.getUpdateRangeDirectory().getCoveredEndKeysList()) {
      keys.add(ByteString.copyFrom(KeySpace.rangeDescriptorKey(end.toByteArray())));
    }
    return keys;
  }

  private static RangeDescriptor entry(Reader state, ByteString key) {
    Version current =
        MvccStore.get(state, key.toByteArray(), Timestamp.MAX)
            .filter(v -> !v.isTombstone())
            .orElse(null);
    if (current == null) {
      return null;
    }
    try {
      return RangeDescriptor.parseFrom(current.value());
    } catch (InvalidProtocolBufferException e) {
      return RangeDescriptor.getDefaultInstance(); // (an unreadable entry is replaced)
    }
  }

  @Override
  public KvResponse validate(KvRequest request, RangeDescriptor range) {
    KvResponse notMeta = Commands.onlyInMeta(range, "the range directory");
    if (notMeta != null) {
      return notMeta;
    }
    for (RangeDescriptor d : descriptors(request)) {
      if (d.getRangeId() <= 0 || d.getGeneration() <= 0 || d.getReplicasCount() == 0) {
        return Errors.invalid("not a range descriptor to record: " + d);
      }
    }
    return null;
  }

  @Override
  public List<Span> latchSpans(KvRequest request) {
    List<Span> spans = new ArrayList<>();
    for (RangeDescriptor d : descriptors(request)) {
      spans.add(Span.point(key(d), Mode.WRITE));
    }
    for (ByteString end : coveredKeys(request)) {
      spans.add(Span.point(end, Mode.WRITE));
    }
    return spans;
  }

  @Override
  public KvResponse evaluate(
      KvRequest request,
      Reader state,
      RangeDescriptor range,
      Commands.Context ctx,
      RaftCommand.Builder into) {
    List<RangeDescriptor> all = descriptors(request);
    List<ByteString> keys = new ArrayList<>();
    all.forEach(d -> keys.add(key(d)));
    keys.addAll(coveredKeys(request));
    Commands.PlainWrite w = Commands.plainWrite(request, state, ctx, keys);
    if (w.conflict() != null) {
      return w.conflict();
    }
    boolean updated = false;
    for (RangeDescriptor d : all) {
      ByteString key = key(d);
      RangeDescriptor current = entry(state, key);
      // Whichever range's entry it is: a range that took over this end key (the right-hand side
      // of a split, a merge) has a later generation than the one it replaces.
      if (current != null && current.getGeneration() >= d.getGeneration()) {
        continue;
      }
      into.addWrites(Commands.put(key, d.toByteString(), w.ts()));
      updated = true;
    }
    RangeDescriptor covering = request.getUpdateRangeDirectory().getRange();
    for (ByteString key : coveredKeys(request)) {
      RangeDescriptor current = entry(state, key);
      if (current != null
          && current.getGeneration() < covering.getGeneration()
          && within(current, covering)) {
        into.addWrites(Commands.tombstone(key, w.ts()));
        updated = true;
      }
    }
    return answer(updated);
  }

  private static boolean within(RangeDescriptor inner, RangeDescriptor outer) {
    var order = ByteString.unsignedLexicographicalComparator();
    return order.compare(outer.getStartKey(), inner.getStartKey()) <= 0
        && (outer.getEndKey().isEmpty()
            || (!inner.getEndKey().isEmpty()
                && order.compare(inner.getEndKey(), outer.getEndKey()) <= 0));
  }

  private static KvResponse answer(boolean updated) {
    return KvResponse.newBuilder()
        .setUpdateRangeDirectory(UpdateRangeDirectoryResponse.newBuilder().setUpdated(updated))
        .build();
  }
}
