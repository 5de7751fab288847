package io.basalt.txn.eval;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.AllocateRangeIdResponse;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Reader;
import io.basalt.txn.latch.SpanLatches.Mode;
import io.basalt.txn.latch.SpanLatches.Span;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * AllocateRangeId: the meta range's counter of range ids moved up by one, and the new value
 * answered, for a split's new range. The counter starts, the first time, above every range id in
 * the range directory. Under the counter's latch, so two allocations never read the same value; an
 * id whose split never happens is simply never used.
 */
final class RangeIds implements Commands.Command {
  private static final ByteString KEY = ByteString.copyFrom(KeySpace.rangeIdCounterKey());

  @Override
  public String method() {
    return "allocate_range_id";
  }

  @Override
  public boolean isWrite() {
    return true;
  }

  @Override
  public KvResponse validate(KvRequest request, RangeDescriptor range) {
    return Commands.onlyInMeta(range, "allocating range ids");
  }

  @Override
  public List<Span> latchSpans(KvRequest request) {
    return List.of(Span.point(KEY, Mode.WRITE));
  }

  @Override
  public KvResponse evaluate(
      KvRequest request,
      Reader state,
      RangeDescriptor range,
      Commands.Context ctx,
      RaftCommand.Builder into) {
    Commands.PlainWrite w = Commands.plainWrite(request, state, ctx, List.of(KEY));
    if (w.conflict() != null) {
      return w.conflict();
    }
    long last =
        w.current().isPresent() && w.current().get().value().length == 8
            ? ByteBuffer.wrap(w.current().get().value()).getLong()
            : highestInDirectory(state);
    long id = last + 1;
    into.addWrites(
        Commands.put(KEY, ByteString.copyFrom(ByteBuffer.allocate(8).putLong(id).array()), w.ts()));
    return KvResponse.newBuilder()
        .setAllocateRangeId(AllocateRangeIdResponse.newBuilder().setRangeId(id))
        .build();
  }

  private static long highestInDirectory(Reader state) {
    long highest = KeySpace.META_RANGE_ID;
    byte[] from = KeySpace.rangeDirectoryStart();
    while (from != null) {
      MvccStore.ScanResult page =
          MvccStore.scan(state, from, KeySpace.rangeDirectoryEnd(), Timestamp.MAX, 1024, 1L << 26);
      for (MvccStore.Version v : page.versions()) {
        try {
          highest = Math.max(highest, RangeDescriptor.parseFrom(v.value()).getRangeId());
        } catch (InvalidProtocolBufferException e) {
          // Not a descriptor: nothing to learn from it.
        }
      }
      from = page.resumeKey();
    }
    return highest;
  }
}
