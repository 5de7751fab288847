package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A leader that stops serving (its clock is too far from the cluster's) hands its ranges over: a
 * quiesced range whose leader still answers pings would otherwise keep its followers asleep, and
 * clients would bounce between them and the leader until their deadline.
 */
class NotServingLeaderTest {
  private static final long RANGE = 2;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L);

  @Test
  void aQuiescedRangeWhoseLeaderStopsServingIsWritableAgainWithinTwoElectionTimeouts() {
    ScriptedStores c = new ScriptedStores(3, Set.of());
    c.pingsAnswered = true;
    c.tick(ALL, 12);
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(ALL);
    assertThat(c.stores[1].isLeader(RANGE)).isTrue();
    assertThat(put(c, 1, "before")).as("written through n1").isFalse();
    for (int t = 0; t < 40; t++) {
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    assertThat(c.stores[1].debugRange(RANGE))
        .as("the idle range quiesced")
        .contains("quiesced=true");

    c.stores[1].setNotServing("clock offset beyond the maximum");
    long newLeader = 0;
    for (int t = 0; t < 20 && newLeader == 0; t++) { // two election timeouts of 10 ticks
      c.tick(ALL, 1);
      c.exchange(ALL);
      for (long n = 2; n <= 3; n++) {
        if (c.stores[(int) n].isLeader(RANGE)) {
          newLeader = n;
        }
      }
    }
    assertThat(newLeader).as("another node leads: %s", c.stores[1].debugRange(RANGE)).isNotZero();
    assertThat(c.stores[1].isLeader(RANGE)).isFalse();
    assertThat(put(c, newLeader, "after")).as("written through the new leader").isFalse();
  }

  /** Puts through node {@code n}; returns whether the answer was an error. */
  private static boolean put(ScriptedStores c, long n, String value) {
    List<KvResponse> answers = new ArrayList<>();
    c.stores[(int) n].submit(
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(RANGE)
                    .setRequestId(ByteString.copyFromUtf8("r-" + value)))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("k"))
                    .setValue(ByteString.copyFromUtf8(value)))
            .build(),
        answers::add);
    for (int t = 0; t < 10 && answers.isEmpty(); t++) {
      c.stores[(int) n].process();
      c.exchange(ALL);
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    assertThat(answers).hasSize(1);
    return answers.get(0).hasError();
  }
}
