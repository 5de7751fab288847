package io.basalt.bench.raft;

import io.basalt.range.raft.ConfState;
import io.basalt.range.raft.Config;
import io.basalt.range.raft.EngineRaftStorage;
import io.basalt.range.raft.Message;
import io.basalt.range.raft.RaftNode;
import io.basalt.range.raft.Ready;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.WriteBatch;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Many 3-replica Raft groups on three in-memory nodes, driven the way the Multi-Raft store drives
 * them: each round, every replica with a Ready stages its entries and hard state into its node's
 * one batch, each node writes its batch once (group commit), then messages are delivered. Used by
 * the Raft core benchmarks; everything runs on the calling thread.
 */
final class InMemoryCluster {
  static final int NODES = 3;

  final MemEngine[] engines = new MemEngine[NODES];

  /** replicas[group][node]; replica id = node + 1, range id = group + 1. */
  final RaftNode[][] replicas;

  final EngineRaftStorage[][] storages;
  final List<ArrayDeque<Message>> inboxes = new ArrayList<>();
  long messagesSent;
  long entriesCommitted;

  InMemoryCluster(int groups, int quiesceAfterTicks) {
    replicas = new RaftNode[groups][NODES];
    storages = new EngineRaftStorage[groups][NODES];
    for (int n = 0; n < NODES; n++) {
      engines[n] = new MemEngine();
    }
    for (int g = 0; g < groups; g++) {
      for (int n = 0; n < NODES; n++) {
        EngineRaftStorage storage = new EngineRaftStorage(engines[n], g + 1);
        WriteBatch batch = new WriteBatch();
        storage.bootstrap(batch, 5, 1, ConfState.ofVoters(1, 2, 3), new byte[0]);
        engines[n].write(batch, true);
        storages[g][n] = storage;
        replicas[g][n] =
            RaftNode.create(
                Config.builder(n + 1, new SplittableRandom(g * 31L + n))
                    .electionTimeoutTicks(10)
                    .heartbeatTicks(1)
                    .quiesceAfterTicks(quiesceAfterTicks)
                    .build(),
                storage);
        inboxes.add(new ArrayDeque<>());
      }
    }
    electLeaders();
  }

  /**
   * Ticks every replica until every group has a leader (a freshly bootstrapped replica ignores
   * votes for one election timeout, so this takes a few timeouts), then lets the groups settle.
   */
  private void electLeaders() {
    for (int tick = 0; tick < 1000; tick++) {
      tickAll();
      pumpUntilQuiet();
      if (leaderlessGroups() == 0) {
        return;
      }
    }
    throw new IllegalStateException(leaderlessGroups() + " groups elected no leader");
  }

  private int leaderlessGroups() {
    int leaderless = 0;
    for (int g = 0; g < replicas.length; g++) {
      if (leader(g) == null) {
        leaderless++;
      }
    }
    return leaderless;
  }

  /** The replica of {@code group} that is leader, or null. */
  RaftNode leader(int group) {
    for (RaftNode node : replicas[group]) {
      if (node.status().role() == RaftNode.Role.LEADER) {
        return node;
      }
    }
    return null;
  }

  private ArrayDeque<Message> inbox(int group, long replicaId) {
    return inboxes.get(group * NODES + (int) (replicaId - 1));
  }

  /** One round: persist every Ready (one write per node), then deliver every message. */
  boolean round() {
    boolean busy = false;
    List<Ready> readies = new ArrayList<>();
    List<int[]> owners = new ArrayList<>();
    WriteBatch[] batches = new WriteBatch[NODES];
    for (int n = 0; n < NODES; n++) {
      batches[n] = new WriteBatch();
    }
    for (int g = 0; g < replicas.length; g++) {
      for (int n = 0; n < NODES; n++) {
        RaftNode node = replicas[g][n];
        if (!node.hasReady()) {
          continue;
        }
        busy = true;
        Ready rd = node.ready();
        for (Message m : rd.messages()) {
          inbox(g, m.to()).add(m);
          messagesSent++;
        }
        storages[g][n].stage(batches[n], rd);
        readies.add(rd);
        owners.add(new int[] {g, n});
      }
    }
    for (int n = 0; n < NODES; n++) {
      if (!batches[n].isEmpty()) {
        engines[n].write(batches[n], true);
      }
    }
    for (int i = 0; i < readies.size(); i++) {
      Ready rd = readies.get(i);
      int g = owners.get(i)[0];
      int n = owners.get(i)[1];
      for (Message m : rd.messagesAfterPersist()) {
        inbox(g, m.to()).add(m);
        messagesSent++;
      }
      if (replicas[g][n].status().role() == RaftNode.Role.LEADER) {
        entriesCommitted += rd.committedEntries().size();
      }
      replicas[g][n].advance(rd);
    }
    for (int g = 0; g < replicas.length; g++) {
      for (int n = 0; n < NODES; n++) {
        ArrayDeque<Message> inbox = inboxes.get(g * NODES + n);
        Message m;
        while ((m = inbox.poll()) != null) {
          busy = true;
          replicas[g][n].step(m);
        }
      }
    }
    return busy;
  }

  void pumpUntilQuiet() {
    for (int i = 0; i < 10_000 && round(); i++) {
      // keep going
    }
  }

  void tickAll() {
    for (RaftNode[] group : replicas) {
      for (RaftNode node : group) {
        node.tick();
      }
    }
  }
}
