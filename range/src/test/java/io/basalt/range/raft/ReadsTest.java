package io.basalt.range.raft;

import static io.basalt.range.raft.RaftTestSupport.ack;
import static io.basalt.range.raft.RaftTestSupport.makeLeader;
import static io.basalt.range.raft.RaftTestSupport.msg;
import static io.basalt.range.raft.RaftTestSupport.persistAll;
import static io.basalt.range.raft.RaftTestSupport.raft;
import static io.basalt.range.raft.RaftTestSupport.storage;
import static io.basalt.range.raft.RaftTestSupport.take;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Config.ReadOnlyOption;
import io.basalt.range.raft.Message.Type;
import io.basalt.range.raft.RaftNode.Role;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** ReadIndex and leader leases (thesis §6.4, DESIGN.md decision 4). */
class ReadsTest {

  private static final byte[] CTX = {42};

  private static Network leaseNetwork(boolean checkQuorum) {
    return Network.of(
        id ->
            Network.config(id)
                .readOnlyOption(ReadOnlyOption.LEASE_BASED)
                .checkQuorum(checkQuorum)
                .leaseClockDriftTicks(1),
        1,
        2,
        3);
  }

  @Test
  void readIndexWaitsForHeartbeatQuorum() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.propose(1, "a");
    long commit = n.status(1).commit();
    n.isolate(2);
    n.isolate(3);
    assertThat(n.node(1).readIndex(CTX)).isTrue();
    n.settle();
    assertThat(n.reads.get(1L)).as("no quorum has confirmed leadership yet").isEmpty();
    n.heal();
    n.isolate(2);
    n.tick(1); // the next heartbeat carries the pending context; 3 answers
    assertThat(n.reads.get(1L)).containsExactly(new ReadState(commit, CTX));
  }

  @Test
  void readIndexWaitsUntilLeaderCommitsEntryOfItsTerm() {
    Raft r = raft(1, storage(ConfState.ofVoters(1, 2, 3), 1, 1));
    makeLeader(r, 2);
    r.readIndex(CTX);
    assertThat(take(r)).as("commit index is not known yet: no heartbeat round").isEmpty();
    persistAll(r);
    r.step(ack(2, 1, r.term, 3));
    assertThat(r.log.committed()).isEqualTo(3);
    assertThat(take(r))
        .filteredOn(m -> m.type() == Type.HEARTBEAT)
        .hasSize(2)
        .allMatch(m -> m.context().length == 1 && m.context()[0] == 42);
    r.step(msg(Type.HEARTBEAT_RESPONSE, 3, 1, r.term).context(CTX).build());
    assertThat(r.readStates).containsExactly(new ReadState(3, CTX));
  }

  @Test
  void followerForwardsReadIndexToLeader() {
    Network n = Network.of(1, 2, 3);
    n.elect(1);
    n.propose(1, "a");
    assertThat(n.node(2).readIndex(CTX)).isTrue();
    n.settle();
    assertThat(n.reads.get(2L)).containsExactly(new ReadState(n.status(1).commit(), CTX));
  }

  @Test
  void readIndexWithoutKnownLeaderIsRefused() {
    Network n = Network.of(1, 2, 3);
    assertThat(n.node(2).readIndex(CTX)).isFalse();
  }

  @Test
  void leaseReadIsServedWithoutHeartbeatRound() {
    Network n = leaseNetwork(true);
    n.elect(1);
    n.tickAll(1);
    assertThat(n.status(1).leaseValid()).isTrue();
    n.isolate(2);
    n.isolate(3);
    n.node(1).readIndex(CTX);
    n.settle();
    assertThat(n.reads.get(1L)).containsExactly(new ReadState(n.status(1).commit(), CTX));
  }

  @Test
  void leaseReadRefusedWithoutCheckQuorum() {
    Network n = leaseNetwork(false);
    n.elect(1);
    n.tickAll(1);
    assertThat(n.status(1).leaseValid()).isFalse();
    n.isolate(2);
    n.isolate(3);
    n.node(1).readIndex(CTX);
    n.settle();
    assertThat(n.reads.get(1L)).as("falls back to ReadIndex, which needs a quorum").isEmpty();
  }

  @Test
  void buggyLeaseWithoutCheckQuorumServesReads() {
    Network n =
        Network.of(
            Set.of(PlantedBug.LEASE_WITHOUT_CHECK_QUORUM),
            id -> Network.config(id).readOnlyOption(ReadOnlyOption.LEASE_BASED).checkQuorum(false),
            1,
            2,
            3);
    n.elect(1);
    n.tickAll(1);
    assertThat(n.status(1).leaseValid()).isTrue();
  }

  @Test
  void brokenLeaseWithoutCheckQuorumOverlapsANewerLeader() {
    // What the simulator's lease oracle must catch: without CheckQuorum followers promise nothing,
    // so a new leader can be elected while the old one still believes its lease.
    Network n =
        Network.of(
            Set.of(PlantedBug.LEASE_WITHOUT_CHECK_QUORUM),
            id ->
                Network.config(id)
                    .readOnlyOption(ReadOnlyOption.LEASE_BASED)
                    .checkQuorum(false)
                    .preVote(false),
            1,
            2,
            3);
    n.elect(1);
    n.tickAll(1);
    n.cut(1, 2);
    n.cut(1, 3);
    n.node(2).campaign();
    n.settle();
    assertThat(n.status(2).role()).isEqualTo(Role.LEADER);
    assertThat(n.status(1).leaseValid()).as("stale lease holder").isTrue();
  }

  @Test
  void withCheckQuorumFollowersRefuseToElectWhileTheLeaseHolds() {
    Network n = leaseNetwork(true);
    n.elect(1);
    n.tickAll(1);
    n.cut(1, 2);
    n.cut(1, 3);
    n.node(2).campaign();
    n.settle();
    assertThat(n.status(2).role()).isNotEqualTo(Role.LEADER);
    assertThat(n.status(1).leaseValid()).isTrue();
  }

  @Test
  void leaseExpiresBeforeFollowersCanElect() {
    Network n = leaseNetwork(true);
    n.elect(1);
    n.tickAll(1); // heartbeat sent at leader tick 1, acknowledged by both followers
    n.isolate(1);
    int expiredAt = -1;
    int otherLeaderAt = -1;
    for (int tick = 2; tick < 60; tick++) {
      n.tickAll(1);
      boolean lease = n.status(1).leaseValid();
      boolean other = n.status(2).role() == Role.LEADER || n.status(3).role() == Role.LEADER;
      assertThat(lease && other)
          .as("lease valid while another leader exists, tick " + tick)
          .isFalse();
      if (!lease && expiredAt < 0) {
        expiredAt = tick;
      }
      if (other && otherLeaderAt < 0) {
        otherLeaderAt = tick;
      }
    }
    // Lease: valid while now < sent + electionTimeout - drift = 1 + 10 - 1.
    assertThat(expiredAt).isEqualTo(10);
    assertThat(otherLeaderAt).as("followers elect only after a full timeout").isGreaterThan(10);
  }

  @Test
  void leaseIsVoidOnceTimeoutNowIsSent() {
    Network n = leaseNetwork(true);
    n.elect(1);
    n.tickAll(1);
    n.isolate(2);
    n.node(1).transferLeader(3);
    assertThat(n.status(1).leaseValid()).isFalse();
  }
}
