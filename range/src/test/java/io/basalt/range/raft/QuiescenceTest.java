package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.raft.Config.ReadOnlyOption;
import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import org.junit.jupiter.api.Test;

/** A leader with nothing to do lets its group go quiet; any activity wakes it. */
class QuiescenceTest {

  private static Network quiescingNetwork() {
    return Network.of(
        id -> Network.config(id).quiesceAfterTicks(5).readOnlyOption(ReadOnlyOption.LEASE_BASED),
        1,
        2,
        3);
  }

  private static Network quiesced() {
    Network n = quiescingNetwork();
    n.elect(1);
    n.propose(1, "a");
    n.tickAll(10);
    return n;
  }

  @Test
  void quiescedGroupSendsNoHeartbeats() {
    Network n = quiesced();
    long term = n.status(1).term();
    for (long id = 1; id <= 3; id++) {
      assertThat(n.status(id).quiesced()).as("replica " + id).isTrue();
    }
    n.sent.clear();
    n.tickAll(100);
    assertThat(n.sent).isEmpty();
    assertThat(n.status(1).role())
        .as("no CheckQuorum step-down while quiet")
        .isEqualTo(Role.LEADER);
    assertThat(n.status(2).term()).as("followers' election timers are stopped").isEqualTo(term);
  }

  @Test
  void groupWithLaggingFollowerDoesNotQuiesce() {
    Network n = quiescingNetwork();
    n.elect(1);
    n.isolate(3);
    n.propose(1, "a");
    n.tickAll(20);
    assertThat(n.status(1).quiesced()).isFalse();
    assertThat(n.sentOfType(Type.HEARTBEAT)).isNotEmpty();
  }

  @Test
  void quiescedGroupWakesOnProposal() {
    Network n = quiesced();
    assertThat(n.propose(1, "b").accepted()).isTrue();
    assertThat(n.status(1).quiesced()).isFalse();
    assertThat(n.status(2).quiesced()).isFalse();
    assertThat(n.appliedData(3)).containsExactly("a", "b");
    n.sent.clear();
    n.tickAll(2);
    assertThat(n.sentOfType(Type.HEARTBEAT)).isNotEmpty();
  }

  @Test
  void quiescedLeaderLeaseIsNotValidAndReadsWakeTheGroup() {
    Network n = quiesced();
    assertThat(n.status(1).leaseValid()).isFalse();
    byte[] ctx = {9};
    n.node(1).readIndex(ctx);
    n.settle();
    assertThat(n.status(2).quiesced()).isFalse();
    assertThat(n.reads.get(1L)).containsExactly(new ReadState(n.status(1).commit(), ctx));
  }

  @Test
  void followerThatMissedQuiesceCannotDisruptTheLeader() {
    Network n = quiescingNetwork();
    n.dropIf(m -> m.quiesce() && m.to() == 3);
    n.elect(1);
    long term = n.status(1).term();
    n.tickAll(200);
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    assertThat(n.status(1).term()).isEqualTo(term);
    assertThat(n.status(3).leaderId()).isEqualTo(1);
  }

  @Test
  void wakeRestartsElectionTimersSoADeadLeaderIsReplaced() {
    Network n = quiesced();
    n.isolate(1);
    n.node(2).wake();
    n.node(3).wake();
    n.tickAll(40);
    assertThat(n.status(2).role() == Role.LEADER || n.status(3).role() == Role.LEADER).isTrue();
  }

  @Test
  void strayMessageAtAFollowerWakesTheLeaderToo() {
    Network n = quiesced();
    long term = n.status(1).term();
    // A removed replica that never learned of its removal pre-votes; only 3 hears it.
    n.node(3).step(Message.builder(Type.PRE_VOTE, 9, 3, term + 1).index(1).logTerm(1).build());
    n.settle();
    assertThat(n.status(1).quiesced()).as("the follower pinged its leader").isFalse();
    n.tickAll(100);
    assertThat(n.status(1).role()).isEqualTo(Role.LEADER);
    assertThat(n.status(1).term()).as("no election was triggered").isEqualTo(term);
    assertThat(n.status(3).quiesced()).as("and the group went quiet again").isTrue();
  }

  /** The tick count a leader's heartbeats carry when {@code n} wakes it with a proposal. */
  private static long heartbeatTickOnWake(Network n) {
    n.sent.clear();
    n.propose(1, "b"); // (a woken leader heartbeats at once, stamped with its tick count)
    return n.sentOfType(Type.HEARTBEAT).stream()
        .filter(m -> m.from() == 1)
        .findFirst()
        .orElseThrow()
        .index();
  }

  @Test
  void skippedTicksCountAsTicksSoHibernationCannotStretchALease() {
    Network ticked = quiesced();
    Network skipped = quiesced();
    ticked.tickAll(250);
    for (long id = 1; id <= 3; id++) {
      skipped.node(id).skipQuiescedTicks(250);
    }
    long expected = heartbeatTickOnWake(ticked);
    assertThat(heartbeatTickOnWake(skipped))
        .as("a leader that slept through 250 ticks counts them, as one ticked 250 times does")
        .isEqualTo(expected);
    assertThat(skipped.status(1).leaseValid()).isEqualTo(ticked.status(1).leaseValid());
  }

  @Test
  void onlyAQuiescedGroupSkipsTicks() {
    Network n = quiescingNetwork();
    n.elect(1);
    assertThatThrownBy(() -> n.node(1).skipQuiescedTicks(1))
        .isInstanceOf(IllegalStateException.class);
    Network q = quiesced();
    assertThatThrownBy(() -> q.node(1).skipQuiescedTicks(-1))
        .isInstanceOf(IllegalStateException.class);
  }
}
