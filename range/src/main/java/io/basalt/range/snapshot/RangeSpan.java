package io.basalt.range.snapshot;

import io.basalt.range.keys.LocalKeys;
import io.basalt.range.keys.MvccKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.storage.Bytes;
import io.basalt.range.storage.ColumnFamily;
import java.util.List;

/**
 * The engine spans that hold one range's replicated data: its user keys {@code [startKey, endKey)}
 * in {@code MVCC} (an empty end key is the end of the keyspace), its range-local state in {@code
 * LOCAL}, and the transaction records anchored in its span (also {@code LOCAL}, addressed by key).
 * The Raft log is not part of it: a snapshot replaces the log by its truncated state.
 */
public record RangeSpan(long rangeId, byte[] startKey, byte[] endKey) {
  /** One column family's span {@code [lower, upper)}. */
  public record EngineSpan(ColumnFamily cf, byte[] lower, byte[] upper) {}

  public RangeSpan {
    if (endKey.length > 0 && Bytes.compare(startKey, endKey) >= 0) {
      throw new IllegalArgumentException(
          "range "
              + rangeId
              + " start key "
              + Bytes.toHex(startKey)
              + " is not below its end key "
              + Bytes.toHex(endKey));
    }
  }

  public List<EngineSpan> engineSpans() {
    List<EngineSpan> data = dataSpans();
    return List.of(
        data.get(0),
        new EngineSpan(
            ColumnFamily.LOCAL, LocalKeys.rangePrefix(rangeId), LocalKeys.rangePrefixEnd(rangeId)),
        data.get(1));
  }

  /**
   * The spans addressed by key alone, which belong to whichever range holds the keys: the user
   * keys' versions and intents, and the transaction records anchored there.
   */
  public List<EngineSpan> dataSpans() {
    byte[] mvccUpper = endKey.length == 0 ? MvccStore.KEYSPACE_END : MvccKeys.metadata(endKey);
    return List.of(
        new EngineSpan(ColumnFamily.MVCC, MvccKeys.metadata(startKey), mvccUpper),
        new EngineSpan(
            ColumnFamily.LOCAL,
            LocalKeys.txnRecordsFrom(startKey),
            LocalKeys.txnRecordsTo(endKey)));
  }
}
