package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.range.storage.Engine;
import io.basalt.range.storage.MemEngine;
import io.basalt.range.storage.RocksDbEngine;
import io.basalt.range.storage.WriteBatch;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica persisted through {@link EngineRaftStorage} resumes, after a restart, from exactly the
 * term, vote, log and snapshot it synced.
 */
class EngineRaftStorageTest {
  private static final long RANGE = 3;

  /** A single-voter group driven to completion of every Ready, persisting through the engine. */
  static final class Replica {
    final Engine engine;
    final EngineRaftStorage storage;
    final RaftNode node;
    final List<Entry> applied = new ArrayList<>();

    Replica(Engine engine) {
      this.engine = engine;
      this.storage = new EngineRaftStorage(engine, RANGE);
      this.node =
          RaftNode.create(
              Config.builder(1, new SplittableRandom(1)).electionTimeoutTicks(10).build(), storage);
    }

    void drain(boolean sync) {
      while (node.hasReady()) {
        Ready rd = node.ready();
        WriteBatch batch = new WriteBatch();
        storage.stage(batch, rd);
        engine.write(batch, sync);
        applied.addAll(rd.committedEntries());
        node.advance(rd);
      }
    }

    void elect() {
      for (int i = 0; i < 30 && node.status().role() != RaftNode.Role.LEADER; i++) {
        node.tick();
        drain(true);
      }
      assertThat(node.status().role()).isEqualTo(RaftNode.Role.LEADER);
    }
  }

  static void bootstrap(Engine engine) {
    EngineRaftStorage storage = new EngineRaftStorage(engine, RANGE);
    WriteBatch batch = new WriteBatch();
    storage.bootstrap(batch, 5, 1, ConfState.ofVoters(1), new byte[] {42});
    engine.write(batch, true);
  }

  static byte[] data(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void restartedReplicaResumesFromPersistedTermVoteLogAndSnapshot() {
    MemEngine engine = new MemEngine();
    bootstrap(engine);
    Replica first = new Replica(engine);
    first.elect();
    for (int i = 0; i < 5; i++) {
      first.node.propose(data("e" + i));
      first.drain(true);
    }
    RaftNode.Status before = first.node.status();
    assertThat(before.commit()).isEqualTo(before.lastIndex());
    long snapIndex = before.commit() - 2;
    WriteBatch batch = new WriteBatch();
    first.storage.saveSnapshot(
        batch,
        new Snapshot(
            new SnapshotMetadata(snapIndex, first.storage.term(snapIndex), ConfState.ofVoters(1)),
            data("state@" + snapIndex)),
        snapIndex);
    engine.write(batch, true);

    Replica restarted = new Replica(engine.crash());
    RaftNode.Status after = restarted.node.status();
    assertThat(after.term()).isEqualTo(before.term());
    assertThat(after.vote()).isEqualTo(before.vote());
    assertThat(after.lastIndex()).isEqualTo(before.lastIndex());
    assertThat(after.confState()).isEqualTo(ConfState.ofVoters(1));
    assertThat(restarted.storage.snapshot().data()).isEqualTo(data("state@" + snapIndex));
    assertThat(restarted.storage.firstIndex()).isEqualTo(snapIndex + 1);
    // Entries after the snapshot are handed out again to rebuild the state machine.
    restarted.drain(true);
    assertThat(restarted.applied).extracting(Entry::index).startsWith(snapIndex + 1);
    assertThat(restarted.applied.get(restarted.applied.size() - 1).data()).isEqualTo(data("e4"));
  }

  @Test
  void unsyncedEntriesAreLostByACrashButNothingAcknowledged() {
    MemEngine engine = new MemEngine();
    bootstrap(engine);
    Replica first = new Replica(engine);
    first.elect();
    first.node.propose(data("synced"));
    first.drain(true);
    long durableLast = first.node.status().lastIndex();
    first.node.propose(data("lost"));
    first.drain(false); // written but never synced (and so never acknowledged)
    Replica restarted = new Replica(engine.crash());
    assertThat(restarted.node.status().lastIndex()).isEqualTo(durableLast);
  }

  @Test
  void stateSurvivesARocksDbReopen(@TempDir Path dir) {
    RaftNode.Status before;
    try (RocksDbEngine engine = RocksDbEngine.open(dir)) {
      bootstrap(engine);
      Replica first = new Replica(engine);
      first.elect();
      first.node.propose(data("x"));
      first.drain(true);
      before = first.node.status();
    }
    try (RocksDbEngine engine = RocksDbEngine.open(dir)) {
      Replica restarted = new Replica(engine);
      assertThat(restarted.node.status().term()).isEqualTo(before.term());
      assertThat(restarted.node.status().lastIndex()).isEqualTo(before.lastIndex());
      assertThat(restarted.storage.entries(before.lastIndex(), before.lastIndex() + 1, 1 << 20))
          .extracting(Entry::data)
          .containsExactly(data("x"));
    }
  }

  @Test
  void compactedAndUnavailableIndexesUseTheRaftStorageExceptions() {
    MemEngine engine = new MemEngine();
    bootstrap(engine);
    EngineRaftStorage storage = new EngineRaftStorage(engine, RANGE);
    assertThat(storage.firstIndex()).isEqualTo(6);
    assertThat(storage.term(5)).isEqualTo(1);
    assertThatThrownBy(() -> storage.term(4)).isInstanceOf(RaftStorage.LogCompactedException.class);
    assertThatThrownBy(() -> storage.term(6))
        .isInstanceOf(RaftStorage.LogUnavailableException.class);
    assertThatThrownBy(() -> storage.entries(3, 6, 100))
        .isInstanceOf(RaftStorage.LogCompactedException.class);
  }

  @Test
  void bootstrappingTwiceIsRefused() {
    MemEngine engine = new MemEngine();
    bootstrap(engine);
    assertThatThrownBy(() -> bootstrap(engine))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already initialized");
  }

  /**
   * The entry cache is invisible: after every random append (extending or replacing a suffix),
   * compaction and snapshot, entries and terms read through the caching storage equal those a fresh
   * storage reads from the engine, for every interval and byte limit.
   */
  @Test
  void cachedEntriesEqualWhatTheEngineHolds() {
    for (long seed = 1; seed <= 40; seed++) {
      SplittableRandom random = new SplittableRandom(seed);
      MemEngine engine = new MemEngine();
      bootstrap(engine);
      EngineRaftStorage cached = new EngineRaftStorage(engine, RANGE);
      long term = 1;
      for (int step = 0; step < 200; step++) {
        WriteBatch batch = new WriteBatch();
        int action = random.nextInt(20);
        long first = cached.firstIndex();
        long last = cached.lastIndex();
        if (action == 0 && last > first) {
          long to = first + random.nextLong(last - first);
          cached.saveSnapshot(
              batch,
              new Snapshot(
                  new SnapshotMetadata(to, cached.term(to), ConfState.ofVoters(1)), new byte[0]),
              to);
        } else if (action == 1) {
          long at = last + random.nextInt(5);
          cached.applySnapshot(
              batch,
              new Snapshot(new SnapshotMetadata(at, term, ConfState.ofVoters(1)), new byte[0]));
        } else {
          // Extend, or replace a suffix (a new leader's conflicting entries) with a newer term.
          long from = random.nextInt(4) == 0 ? Math.max(first, last - random.nextInt(6)) : last + 1;
          if (from <= last) {
            term++;
          }
          List<Entry> entries = new ArrayList<>();
          int n = 1 + random.nextInt(random.nextInt(10) == 0 ? 700 : 8);
          for (int i = 0; i < n; i++) {
            byte[] payload = new byte[random.nextInt(random.nextInt(10) == 0 ? 4000 : 40)];
            random.nextBytes(payload);
            entries.add(Entry.normal(term, from + i, payload));
          }
          cached.append(batch, entries);
        }
        engine.write(batch, false);
        EngineRaftStorage fresh = new EngineRaftStorage(engine, RANGE);
        assertThat(cached.firstIndex()).isEqualTo(fresh.firstIndex());
        assertThat(cached.lastIndex()).isEqualTo(fresh.lastIndex());
        long lo = cached.firstIndex();
        long hi = cached.lastIndex() + 1;
        for (int probe = 0; probe < 5 && lo < hi; probe++) {
          long a = lo + random.nextLong(hi - lo);
          long b = a + 1 + random.nextLong(hi - a);
          long maxBytes = random.nextBoolean() ? Long.MAX_VALUE : random.nextLong(2000);
          assertThat(cached.entries(a, b, maxBytes))
              .as("seed %d step %d entries [%d, %d) max %d", seed, step, a, b, maxBytes)
              .isEqualTo(fresh.entries(a, b, maxBytes));
          assertThat(cached.term(a)).isEqualTo(fresh.term(a));
        }
        assertThat(cached.cachedEntries()).isLessThanOrEqualTo(EngineRaftStorage.CACHE_MAX_ENTRIES);
      }
    }
  }
}
