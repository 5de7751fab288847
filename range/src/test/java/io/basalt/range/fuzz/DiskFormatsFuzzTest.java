package io.basalt.range.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.keys.MvccKeys;
import io.basalt.range.keys.OrderedBytes;
import io.basalt.range.log.Checksummed;
import io.basalt.range.replica.ReplicaStateMachine;
import io.basalt.range.snapshot.RangeSpan;
import io.basalt.range.snapshot.SnapshotReceiver;
import io.basalt.range.storage.CorruptionException;
import io.basalt.range.storage.MemEngine;
import java.util.Arrays;

/**
 * Coverage-guided fuzz targets (Jazzer) for what this module parses from the disk or the network:
 * key encodings, checksummed log records, snapshot chunks and replicated commands (the write
 * batches a leader proposes, applied by every replica). Each input must give a valid object or a
 * {@link CorruptionException}; anything else (another exception, a hang, an allocation sized by an
 * untrusted length) is a finding. {@code bin/test} runs the committed inputs (regression mode);
 * {@code bin/fuzz} fuzzes each target for a while.
 */
class DiskFormatsFuzzTest {
  @FuzzTest(maxDuration = "10s")
  void keyEncodings(byte[] input) {
    try {
      OrderedBytes.Decoded d = OrderedBytes.decode(input, 0);
      // What decodes re-encodes to a prefix of the input (the encoding is canonical).
      byte[] again = OrderedBytes.encode(d.raw());
      assertThat(Arrays.copyOf(input, Math.min(input.length, again.length)))
          .as("re-encoded")
          .isEqualTo(Arrays.copyOf(again, Math.min(input.length, again.length)));
    } catch (CorruptionException expected) {
      // a clear rejection
    }
    try {
      MvccKeys.Decoded k = MvccKeys.decode(input);
      if (!k.isMetadata()) {
        assertThat(MvccKeys.decode(MvccKeys.version(k.userKey(), k.timestamp())).timestamp())
            .isEqualTo(k.timestamp());
      }
    } catch (CorruptionException expected) {
      // a clear rejection
    }
    try {
      LocalKeys.logIndexOf(input);
    } catch (CorruptionException | IllegalArgumentException expected) {
      // a clear rejection
    }
  }

  @FuzzTest(maxDuration = "10s")
  void checksummedRecords(FuzzedDataProvider data) {
    byte[] key = data.consumeBytes(16);
    byte[] stored = data.consumeRemainingAsBytes();
    try {
      byte[] payload = Checksummed.unwrap(key, stored, "fuzzed record");
      assertThat(Checksummed.wrap(key, payload)).isEqualTo(stored);
    } catch (CorruptionException expected) {
      // a clear rejection
    }
  }

  @FuzzTest(maxDuration = "10s")
  void snapshotChunks(FuzzedDataProvider data) {
    SnapshotReceiver receiver =
        new SnapshotReceiver(new RangeSpan(7, new byte[] {'a'}, new byte[] {'q'}));
    int chunks = data.consumeInt(1, 4);
    try {
      for (int i = 0; i < chunks; i++) {
        receiver.accept(i, data.consumeBytes(data.consumeInt(0, 512)));
      }
      receiver.finish(data.consumeInt());
    } catch (CorruptionException expected) {
      // a clear rejection
    }
  }

  @FuzzTest(maxDuration = "10s")
  void replicatedCommands(byte[] input) {
    ReplicaStateMachine replica = new ReplicaStateMachine(new MemEngine(), 7);
    try {
      replica.apply(1, input);
    } catch (CorruptionException expected) {
      assertThat(replica.appliedIndex()).as("applied index after a refused command").isZero();
      return;
    }
    assertThat(replica.appliedIndex()).isEqualTo(1);
    // Applied once: the same index again is skipped without being read.
    assertThat(replica.apply(1, input)).isEmpty();
  }
}
