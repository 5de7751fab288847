package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.range.storage.MemEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Coverage-guided fuzz target (Jazzer) for every protobuf message a node's store accepts from the
 * network: client requests (each kind of the command table), Raft messages (converted to the Raft
 * core's) and snapshot chunks (ingested), parsed from arbitrary bytes and handed to a running
 * one-node store that leads its ranges. Each must be answered or dropped: an exception out of the
 * store (which would stop a node), a request answered twice, or a hang is a finding. {@code
 * bin/fuzz} fuzzes it for a while.
 */
class StoreInputFuzzTest {
  @FuzzTest(maxDuration = "10s")
  void messagesANodeAccepts(FuzzedDataProvider data) {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    Store store = TestStores.isolated(1, new MemEngine(), now::get);
    TestStores.bootstrapAlone(store, TestStores.META_AND_DATA);
    for (int i = 0; i < 30; i++) {
      now.addAndGet(100_000_000L);
      store.tick();
      store.process();
    }
    List<List<KvResponse>> answers = new ArrayList<>();
    int messages = data.consumeInt(1, 8);
    for (int i = 0; i < messages && data.remainingBytes() > 0; i++) {
      int kind = data.consumeInt(0, 2);
      byte[] bytes = data.consumeBytes(data.consumeInt(0, 2048));
      try {
        switch (kind) {
          case 0 -> {
            List<KvResponse> answer = new ArrayList<>();
            answers.add(answer);
            store.submit(KvRequest.parseFrom(bytes), answer::add);
          }
          case 1 -> store.receive(data.consumeLong(0, 3), RaftMessage.parseFrom(bytes));
          default ->
              store.receiveSnapshotChunk(data.consumeLong(0, 3), SnapshotChunk.parseFrom(bytes));
        }
      } catch (InvalidProtocolBufferException notAMessage) {
        continue; // the transport refuses it before the store sees it
      }
      store.process();
    }
    for (int i = 0; i < 20; i++) {
      now.addAndGet(100_000_000L);
      store.tick();
      store.process();
    }
    for (List<KvResponse> answer : answers) {
      assertThat(answer.size()).as("answers to one request").isLessThanOrEqualTo(1);
    }
  }
}
