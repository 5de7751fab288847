package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Replicas at rest are not ticked (see {@link Hibernation}), and one that wakes has counted the
 * ticks it slept through: its leader's heartbeats carry the store's tick count, on which its lease
 * rests.
 */
class HibernationTest {
  private static final long RANGE = 2;
  private static final Set<Long> ALL = Set.of(1L, 2L, 3L);

  /** Three stores whose ranges were written once and then left alone until they hibernate. */
  private static ScriptedStores atRest(Set<PlantedStoreBug> bugs) {
    ScriptedStores c = new ScriptedStores(3, bugs);
    c.pingsAnswered = true;
    c.tick(ALL, 12); // (past the election timeout in which the replicas refuse to vote)
    c.dropAll();
    c.campaign(1, 1); // (the meta range)
    c.campaign(1, RANGE);
    c.exchange(ALL);
    assertThat(put(c, "a").hasError()).isFalse();
    for (int t = 0; t < 60; t++) {
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    for (long n : ALL) {
      assertThat(c.stores[(int) n].hibernation.awakeCount()).as("node %d", n).isZero();
    }
    return c;
  }

  private static KvResponse put(ScriptedStores c, String id) {
    return c.call(
        c.stores[1],
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(RANGE)
                    .setRequestId(ByteString.copyFromUtf8(id)))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("k"))
                    .setValue(ByteString.copyFromUtf8(id)))
            .build(),
        ALL);
  }

  /** The tick count on the first heartbeat node 1 sends for the range once a write wakes it. */
  private static long heartbeatTickOnWake(ScriptedStores c) {
    c.stores[1].submit(
        KvRequest.newBuilder()
            .setHeader(
                RequestHeader.newBuilder()
                    .setRangeId(RANGE)
                    .setRequestId(ByteString.copyFromUtf8("wake")))
            .setPut(
                PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("k"))
                    .setValue(ByteString.copyFromUtf8("w")))
            .build(),
        answer -> {});
    c.stores[1].process();
    return c.inFlight().stream()
        .filter(s -> s.from() == 1 && s.message().getRangeId() == RANGE)
        .filter(s -> s.message().getType() == MessageType.MESSAGE_TYPE_HEARTBEAT)
        .findFirst()
        .orElseThrow()
        .message()
        .getIndex();
  }

  @Test
  void rangesAtRestAreNotTickedAndSendNothing() {
    ScriptedStores c = atRest(Set.of());
    c.tick(ALL, 500);
    assertThat(c.inFlight()).as("nothing is sent by ranges at rest").isEmpty();
    for (long n : ALL) {
      assertThat(c.stores[(int) n].hibernation.awakeCount()).isZero();
    }
    assertThat(put(c, "b").hasError()).as("a write wakes its range").isFalse();
    assertThat(c.read(2, RANGE, "k")).hasValue("b");
    assertThat(c.stores[1].hibernation.awakeCount()).isPositive();
    for (int t = 0; t < 60; t++) {
      c.tick(ALL, 1);
      c.exchange(ALL);
    }
    assertThat(c.stores[1].hibernation.awakeCount()).as("and it goes back to rest").isZero();
  }

  @Test
  void aWokenLeaderHasCountedTheTicksItSlept() {
    ScriptedStores c = atRest(Set.of());
    c.tick(ALL, 500);
    assertThat(heartbeatTickOnWake(c)).isEqualTo(c.stores[1].ticks());
  }

  @Test
  void withoutCountingThemItsTicksStandStill() {
    // The control: the planted bug leaves the leader's tick count where it fell asleep, so old
    // lease acknowledgements would look 500 ticks younger than they are.
    ScriptedStores c = atRest(Set.of(PlantedStoreBug.WAKE_WITHOUT_SLEPT_TICKS));
    c.tick(ALL, 500);
    assertThat(heartbeatTickOnWake(c)).isLessThanOrEqualTo(c.stores[1].ticks() - 500);
  }

  /** Nodes 2 and 3, ticked and talking to each other only: does one of them lead the range? */
  private static boolean anotherLeaderWithin(ScriptedStores c, int ticks) {
    Set<Long> survivors = Set.of(2L, 3L);
    for (int t = 0; t < ticks; t++) {
      c.tick(survivors, 1);
      c.exchange(survivors);
    }
    return c.stores[2].isLeader(RANGE) || c.stores[3].isLeader(RANGE);
  }

  @Test
  void aLostConnectionToTheLeaderStartsItsFollowersTimersAtOnce() {
    ScriptedStores c = atRest(Set.of());
    c.dropAll(); // node 1 crashed: nothing of it arrives any more
    c.stores[2].suspect(1);
    c.stores[3].suspect(1);
    assertThat(anotherLeaderWithin(c, 45)).as("elected within a few election timeouts").isTrue();
  }

  @Test
  void withoutItQuiescedFollowersWaitForTheLivenessTimeout() {
    // The control: the same crash unreported (the pings that would find node 1 silent are
    // answered here) leaves the quiesced followers' timers stopped.
    ScriptedStores c = atRest(Set.of());
    c.dropAll();
    assertThat(anotherLeaderWithin(c, 45)).isFalse();
  }

  @Test
  void initSpreadsTheInitialLeadersByRangeId() {
    // Range 1 is led by the replica at position 1 mod 3 (node 2), range 2 by position 2 (node 3).
    ScriptedStores c = new ScriptedStores(3, Set.of());
    for (long n : ALL) {
      c.stores[(int) n].readyInitialVoters();
      c.stores[(int) n].process();
    }
    for (long n : ALL) {
      c.stores[(int) n].spreadInitialLeaders();
      c.stores[(int) n].process();
    }
    c.exchange(ALL);
    assertThat(c.stores[2].isLeader(1)).isTrue();
    assertThat(c.stores[3].isLeader(RANGE)).isTrue();
  }

  @Test
  void withoutTheVoteRoundTheSpreadCampaignsAreRefused() {
    // The control: new replicas keep the restart quarantine, so no campaign wins before timeouts.
    ScriptedStores c = new ScriptedStores(3, Set.of());
    for (long n : ALL) {
      c.stores[(int) n].spreadInitialLeaders();
      c.stores[(int) n].process();
    }
    c.exchange(ALL);
    assertThat(c.stores[2].isLeader(1)).isFalse();
    assertThat(c.stores[3].isLeader(RANGE)).isFalse();
  }
}
