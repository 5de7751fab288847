package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.HeartbeatTxnRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RequestHeader;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A record its coordinator left PENDING (a heartbeat that landed after the coordinator gave up, a
 * rollback that could not be sent) and nobody meets again is aborted by its range's leader once
 * unheard of for twice the expiry, so that it can be collected; a record still heartbeated is left
 * alone. Found by the transaction simulation's slow links ("live records left").
 */
class AbandonedRecordTest {
  /** Records expire after 5 s; collections every 10 ticks (1 s). */
  private final ManualStore node =
      new ManualStore(
          new StoreOptions(
              10, 2, 30, 2, 50, 5, 20, 10_000, 1 << 20, 600_000, 10, 5_000, 0, 600, false));

  @Test
  void aRecordUnheardOfForTwiceTheExpiryIsAborted() {
    heartbeat("abandoned");
    node.advance(9_000);
    assertThat(status("abandoned")).as("within twice the expiry").isEqualTo(TxnStatus.TXN_PENDING);
    node.advance(2_000);
    assertThat(status("abandoned")).isEqualTo(TxnStatus.TXN_ABORTED);
  }

  @Test
  void aHeartbeatedRecordIsLeftAlone() {
    // The control: the same record, heartbeated every 3 s, stays PENDING.
    for (int i = 0; i < 6; i++) {
      heartbeat("alive");
      node.advance(3_000);
    }
    assertThat(status("alive")).isEqualTo(TxnStatus.TXN_PENDING);
  }

  private void heartbeat(String id) {
    KvResponse r =
        node.call(
            KvRequest.newBuilder()
                .setHeader(
                    RequestHeader.newBuilder()
                        .setRangeId(2)
                        .setTxn(ManualStore.txnAt(id, node.wallNanos)))
                .setHeartbeatTxn(HeartbeatTxnRequest.getDefaultInstance())
                .build());
    assertThat(r.hasError()).as("%s", r).isFalse();
  }

  private TxnStatus status(String id) {
    List<TxnRecord> found = new ArrayList<>();
    try (EngineIterator it =
        node.engine.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.txnRecordsFrom(new byte[0]),
            LocalKeys.txnRecordsTo(new byte[0]))) {
      it.seekToFirst();
      while (it.valid()) {
        TxnRecord record = TxnRecord.parseFrom(it.value());
        if (record.getMeta().getId().toStringUtf8().equals(id)) {
          found.add(record);
        }
        it.next();
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    assertThat(found).hasSize(1);
    return found.get(0).getStatus();
  }
}
