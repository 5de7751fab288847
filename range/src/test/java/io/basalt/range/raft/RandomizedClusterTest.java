package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.raft.Config.ReadOnlyOption;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A small seeded fault-injection run (not the full simulator): five replicas, messages delivered in
 * random order after random delays, dropped and duplicated, partitions, crashes that lose the Ready
 * being processed, compaction. After every step it checks Election Safety, State Machine Safety,
 * commit monotonicity and read linearizability (a read's index covers everything committed anywhere
 * before it was issued).
 *
 * <p>Replay one seed: {@code ./mvnw -pl range verify -Dtest=RandomizedClusterTest
 * -Dbasalt.raft.seed=SEED}. More seeds: {@code -Dbasalt.raft.seeds=5000}. A deliberately broken
 * variant: {@code -Dbasalt.raft.bug=VOTE_WITHOUT_LOG_CHECK}.
 */
class RandomizedClusterTest {

  /** 1..5 start as voters; 6 starts empty and is added and removed by conf changes. */
  private static final long[] IDS = {1, 2, 3, 4, 5, 6};

  @Test
  void safetyHoldsUnderRandomFaults() {
    String only = System.getProperty("basalt.raft.seed");
    String bug = System.getProperty("basalt.raft.bug");
    Set<PlantedBug> bugs = bug == null ? Set.of() : Set.of(PlantedBug.valueOf(bug));
    if (only != null) {
      new Run(Long.parseLong(only), bugs).run(3000);
      return;
    }
    long seeds = Long.getLong("basalt.raft.seeds", 200);
    for (long seed = 1; seed <= seeds; seed++) {
      Run run = new Run(seed, bugs);
      try {
        run.run(3000);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(
            "seed "
                + seed
                + " failed; replay: ./mvnw -pl range verify -Dtest=RandomizedClusterTest"
                + " -Dbasalt.raft.seed="
                + seed,
            e);
      }
    }
  }

  @Test
  void brokenVoteRuleIsCaught() {
    // The harness has teeth: with the §5.4.1 election restriction switched off, committed entries
    // get overwritten and the safety oracles (or the core's own committed-entry guard) fire.
    int safetyViolations = 0;
    for (long seed = 1; seed <= 20; seed++) {
      try {
        new Run(seed, Set.of(PlantedBug.VOTE_WITHOUT_LOG_CHECK)).run(3000);
      } catch (AssertionError | IllegalStateException e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("Safety") || msg.contains("conflicts with committed")) {
          safetyViolations++;
        }
      }
    }
    assertThat(safetyViolations).isPositive();
  }

  private static final class Run {
    final long seed;
    final SplittableRandom rnd;
    final Set<PlantedBug> bugs;
    final Map<Long, RaftNode> nodes = new TreeMap<>();
    final Map<Long, MemoryRaftStorage> storages = new TreeMap<>();
    final Map<Long, Config> configs = new TreeMap<>();
    final List<Message> pool = new ArrayList<>();
    final Map<Long, Long> leaderOfTerm = new HashMap<>();
    final Map<Long, Entry> appliedAt = new HashMap<>();
    final Map<Long, Long> lastApplied = new TreeMap<>();
    final Map<ByteBuffer, Long> readFloor = new HashMap<>();
    Set<Long> partition = Set.of();
    long maxCommit;
    int nextValue;
    int nextRead;

    Run(long seed, Set<PlantedBug> bugs) {
      this.seed = seed;
      this.rnd = new SplittableRandom(seed);
      this.bugs = bugs;
      TreeSet<Long> voters = new TreeSet<>(List.of(1L, 2L, 3L, 4L, 5L));
      int heartbeatTicks = 1 + rnd.nextInt(3);
      ReadOnlyOption reads = rnd.nextBoolean() ? ReadOnlyOption.SAFE : ReadOnlyOption.LEASE_BASED;
      int quiesceAfter = rnd.nextBoolean() ? 0 : 5 + rnd.nextInt(20);
      for (long id : IDS) {
        boolean checkQuorum = !bugs.contains(PlantedBug.LEASE_WITHOUT_CHECK_QUORUM);
        Config cfg =
            Config.builder(id, new SplittableRandom(seed * 31 + id))
                .electionTimeoutTicks(10)
                .heartbeatTicks(heartbeatTicks)
                .checkQuorum(checkQuorum)
                .preVote(checkQuorum)
                .readOnlyOption(reads)
                .leaseClockDriftTicks(1)
                .maxSizePerMsgBytes(200)
                .maxInflightMsgs(4)
                .quiesceAfterTicks(quiesceAfter)
                .build();
        configs.put(id, cfg);
        MemoryRaftStorage st =
            id == 6
                ? new MemoryRaftStorage()
                : MemoryRaftStorage.bootstrap(new ConfState(voters, null, null, null, false));
        storages.put(id, st);
        nodes.put(id, PlantedBug.create(cfg, st, bugs));
        lastApplied.put(id, 0L);
      }
    }

    void run(int steps) {
      for (int step = 0; step < steps; step++) {
        int a = rnd.nextInt(100);
        if (a < 20) {
          nodes.values().forEach(RaftNode::tick);
        } else if (a < 70) {
          deliver();
        } else if (a < 78) {
          long id = pick();
          nodes.get(id).propose(("v" + nextValue++).getBytes());
        } else if (a < 83) {
          long id = pick();
          byte[] ctx = ByteBuffer.allocate(4).putInt(nextRead++).array();
          readFloor.put(ByteBuffer.wrap(ctx), currentMaxCommit());
          nodes.get(id).readIndex(ctx);
        } else if (a < 85) {
          partition();
        } else if (a < 87) {
          partition = Set.of();
        } else if (a < 88) {
          long id = pick();
          nodes.get(id).transferLeader(pick());
        } else if (a < 89) {
          compact(pick());
        } else if (a < 90) {
          nodes.get(pick()).proposeConfChange(randomConfChange());
        }
        for (long id : IDS) {
          if (nodes.get(id).hasReady()) {
            process(id, rnd.nextInt(50) == 0);
          }
        }
        check();
      }
      // Heal and let the group converge: it must elect a leader and commit.
      partition = Set.of();
      boolean trace = Boolean.getBoolean("basalt.raft.trace");
      for (int i = 0; i < 400; i++) {
        if (i % 3 == 0) {
          nodes.values().forEach(RaftNode::tick);
          if (trace) {
            StringBuilder line = new StringBuilder("tick");
            for (RaftNode n : nodes.values()) {
              RaftNode.Status st = n.status();
              line.append(
                  String.format(
                      " | %d %s t%d L%d e%d%s",
                      st.id(),
                      st.role().name().charAt(0),
                      st.term(),
                      st.leaderId(),
                      n.raft().electionElapsed,
                      st.quiesced() ? " Q" : ""));
            }
            System.out.println(line);
          }
        }
        while (!pool.isEmpty()) {
          deliver();
        }
        for (long id : IDS) {
          if (nodes.get(id).hasReady()) {
            process(id, false);
          }
        }
        check();
      }
      // An election may be under way at this instant: allow it to finish.
      for (int i = 0; i < 200 && leaderCount() != 1; i++) {
        nodes.values().forEach(RaftNode::tick);
        while (!pool.isEmpty()) {
          deliver();
        }
        for (long id : IDS) {
          if (nodes.get(id).hasReady()) {
            process(id, false);
          }
        }
        check();
      }
      long leaders = leaderCount();
      assertThat(leaders).as("a leader after healing: %s", statuses()).isEqualTo(1);
      long leader =
          nodes.values().stream()
              .filter(n -> n.status().role() == RaftNode.Role.LEADER)
              .findFirst()
              .orElseThrow()
              .status()
              .id();
      RaftNode.ProposeResult p = nodes.get(leader).propose("final".getBytes());
      assertThat(p.accepted()).as("leader accepts after healing: %s", p).isTrue();
      // Long enough for a lost snapshot to time out (Raft.SNAPSHOT_TIMEOUT_ELECTIONS) and be
      // resent.
      for (int i = 0; i < 300; i++) {
        nodes.values().forEach(RaftNode::tick);
        while (!pool.isEmpty()) {
          deliver();
        }
        for (long id : IDS) {
          if (nodes.get(id).hasReady()) {
            process(id, false);
          }
        }
      }
      for (long id : nodes.get(leader).status().confState().allMembers()) {
        assertThat(lastApplied.get(id))
            .as("replica %d applied the final write: %s", id, statuses())
            .isGreaterThanOrEqualTo(p.index());
      }
    }

    String statuses() {
      StringBuilder sb = new StringBuilder();
      for (RaftNode n : nodes.values()) {
        sb.append('\n').append(n.status());
        Raft r = n.raft();
        sb.append(" electionElapsed=").append(r.electionElapsed);
        sb.append(" rto=").append(r.randomizedElectionTimeout);
        sb.append(" progress=").append(r.tracker.progress());
      }
      return sb.toString();
    }

    long leaderCount() {
      return nodes.values().stream().filter(n -> n.status().role() == RaftNode.Role.LEADER).count();
    }

    ConfChange randomConfChange() {
      return switch (rnd.nextInt(6)) {
        case 0 -> ConfChange.addLearner(6);
        case 1 -> ConfChange.addVoter(6);
        case 2 -> ConfChange.removeNode(6);
        case 3 -> ConfChange.addVoter(5);
        case 4 -> ConfChange.removeNode(5);
        default ->
            ConfChange.of(
                ConfChange.Transition.AUTO,
                new ConfChange.Change(ConfChange.Kind.ADD_VOTER, rnd.nextBoolean() ? 5 : 6),
                new ConfChange.Change(ConfChange.Kind.REMOVE_NODE, rnd.nextBoolean() ? 5 : 6));
      };
    }

    long pick() {
      return IDS[rnd.nextInt(IDS.length)];
    }

    void partition() {
      Set<Long> side = new TreeSet<>();
      for (long id : IDS) {
        if (rnd.nextBoolean()) {
          side.add(id);
        }
      }
      partition = side;
    }

    void deliver() {
      if (pool.isEmpty()) {
        return;
      }
      Message m = pool.remove(rnd.nextInt(pool.size()));
      int r = rnd.nextInt(100);
      if (partition.contains(m.from()) != partition.contains(m.to()) || r < 5) {
        // Lost. A transport notices a failed snapshot stream (but not always in time).
        if (m.type() == Message.Type.SNAPSHOT && rnd.nextBoolean()) {
          nodes.get(m.from()).reportSnapshot(m.to(), false);
        }
        return;
      }
      if (r < 8) {
        pool.add(m); // duplicated
      }
      nodes.get(m.to()).step(m);
    }

    void process(long id, boolean crash) {
      RaftNode node = nodes.get(id);
      Ready rd = node.ready();
      if (crash) {
        // Crash before anything of this Ready is durable; the messages that may be sent before
        // persisting may or may not have left. Restart from storage.
        if (rnd.nextBoolean()) {
          pool.addAll(rd.messages());
        }
        RaftNode restarted = PlantedBug.create(configs.get(id), storages.get(id), bugs);
        nodes.put(id, restarted);
        lastApplied.put(id, restarted.status().applied());
        return;
      }
      pool.addAll(rd.messages());
      MemoryRaftStorage st = storages.get(id);
      if (rd.snapshot() != null) {
        st.applySnapshot(rd.snapshot());
        lastApplied.put(id, rd.snapshot().metadata().index());
      }
      st.append(rd.entries());
      if (rd.hardState() != null) {
        st.setHardState(rd.hardState());
      }
      pool.addAll(rd.messagesAfterPersist());
      for (Entry e : rd.committedEntries()) {
        Entry prev = appliedAt.putIfAbsent(e.index(), e);
        assertThat(prev == null || prev.equals(e))
            .as("State Machine Safety at index %d: %s vs %s", e.index(), prev, e)
            .isTrue();
        long last = lastApplied.get(id);
        assertThat(e.index()).as("replica %d applies in order", id).isEqualTo(last + 1);
        lastApplied.put(id, e.index());
      }
      for (ReadState rs : rd.readStates()) {
        Long floor = readFloor.get(ByteBuffer.wrap(rs.context()));
        assertThat(rs.index())
            .as("read %s at replica %d misses committed writes", rs, id)
            .isGreaterThanOrEqualTo(floor);
      }
      node.advance(rd);
    }

    void compact(long id) {
      RaftNode node = nodes.get(id);
      long applied = node.status().applied();
      MemoryRaftStorage st = storages.get(id);
      if (applied > st.firstIndex() + 5) {
        st.createSnapshot(applied, node.status().confState(), null);
        st.compact(applied - 2);
      }
    }

    long currentMaxCommit() {
      long max = 0;
      for (RaftNode n : nodes.values()) {
        max = Math.max(max, n.status().commit());
      }
      return max;
    }

    void check() {
      long maxLeaseTerm = -1;
      long maxLeaderTerm = -1;
      for (RaftNode n : nodes.values()) {
        RaftNode.Status s = n.status();
        if (s.role() == RaftNode.Role.LEADER) {
          Long prev = leaderOfTerm.putIfAbsent(s.term(), s.id());
          assertThat(prev == null || prev == s.id())
              .as("Election Safety: two leaders in term %d", s.term())
              .isTrue();
          maxLeaderTerm = Math.max(maxLeaderTerm, s.term());
          if (s.leaseValid()) {
            maxLeaseTerm = Math.max(maxLeaseTerm, s.term());
          }
        }
        maxCommit = Math.max(maxCommit, s.commit());
      }
      if (maxLeaseTerm >= 0) {
        assertThat(maxLeaseTerm)
            .as("a lease holder while a newer leader exists")
            .isEqualTo(maxLeaderTerm);
      }
    }
  }
}
