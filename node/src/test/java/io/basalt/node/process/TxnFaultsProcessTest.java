package io.basalt.node.process;

import static io.basalt.node.process.TxnWorkloads.b;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.client.BasaltClient;
import io.basalt.range.check.ListAppendChecker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Transactions through {@link BasaltClient#txn} on a real 3-node cluster (8 ranges) while a seeded
 * nemesis runs faults one after another: SIGKILL of a range's leader and its restart, SIGSTOP of a
 * leader for longer than its lease and SIGCONT, a rolling restart of every node, and a restart of a
 * node whose clock runs 400 ms ahead (the tolerated offset, four fifths of the 500 ms maximum: it
 * must never be stopped, however slow the round trips of its clock probes). List-append histories
 * must be serializable (Elle-style checker), the bank's total must never change, and no node may
 * log an ERROR line. Each workload runs for {@code -Dbasalt.txnfaults.seconds} (40 by default).
 */
class TxnFaultsProcessTest {
  private static final String[] SPREAD = {"!", "0", "A", "M", "a", "m", "z", "~"};
  private static final long SECONDS = Long.getLong("basalt.txnfaults.seconds", 40);

  private ProcessCluster cluster;
  private BasaltClient client;
  private long seed;
  private String replay;

  @BeforeEach
  void start() throws Exception {
    seed = Long.getLong("basalt.txn.seed", System.nanoTime());
    replay =
        " (seed "
            + seed
            + "; replay: bin/test -pl node -am -Dtest=TxnFaultsProcessTest -Dbasalt.txn.seed="
            + seed
            + ")";
    cluster = new ProcessCluster("txnfaults", 3, 60);
    cluster.startAll();
    cluster.init(8);
    cluster.awaitConverged(Duration.ofSeconds(60));
    client =
        cluster
            .clientBuilder()
            .seeds(cluster.addresses().toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(10))
            .build();
  }

  @AfterEach
  void stop() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close(); // fails on any ERROR line in a node's log
    }
  }

  @Test
  void listAppendUnderFaultsIsSerializable() throws Exception {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      names.add(SPREAD[i] + "-faults-" + i);
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(SECONDS).toNanos();
    ExecutorService runner = Executors.newSingleThreadExecutor();
    Future<List<ListAppendChecker.Txn>> run =
        runner.submit(() ->
            TxnWorkloads.listAppend(
                client, names, 6, seed, n -> System.nanoTime() < deadline, new AtomicInteger()));
    List<String> faults = nemesis(names, deadline);
    List<ListAppendChecker.Txn> history = run.get();
    runner.shutdown();
    ListAppendChecker.Result result =
        ListAppendChecker.check(history, ListAppendChecker.Consistency.SERIALIZABLE);
    assertThat(result.valid()).as("faults %s: %s%s", faults, result.describe(), replay).isTrue();
    long ok = history.stream().filter(t -> t.outcome() == ListAppendChecker.Outcome.OK).count();
    System.out.printf(
        "list-append under %s: %d transactions, %d committed%s%n",
        faults, history.size(), ok, replay);
    assertThat(ok).as("committed transactions under %s%s", faults, replay).isGreaterThan(50);
  }

  @Test
  void aBankUnderFaultsKeepsItsTotal() throws Exception {
    List<byte[]> keys = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      names.add(SPREAD[i % SPREAD.length] + "-faults-acct-" + i);
      keys.add(b(names.get(i)));
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(SECONDS).toNanos();
    ExecutorService runner = Executors.newSingleThreadExecutor();
    Future<TxnWorkloads.Bank> run =
        runner.submit(() ->
            TxnWorkloads.bank(client, keys, 100, 6, 2, seed, n -> System.nanoTime() < deadline));
    List<String> faults = nemesis(names, deadline);
    TxnWorkloads.Bank bank = run.get();
    runner.shutdown();
    System.out.printf(
        "bank under %s: %d transfers (%d failed), %d audits%s%n",
        faults, bank.transfers(), bank.failedTransfers(), bank.audits(), replay);
    assertThat(bank.violations()).as("anomalies under %s%s", faults, replay).isEmpty();
    assertThat(bank.total()).isEqualTo(1000);
    assertThat(bank.transfers()).as("transfers under %s%s", faults, replay).isGreaterThan(50);
    assertThat(bank.audits()).as("audits under %s%s", faults, replay).isGreaterThan(5);
  }

  /**
   * Runs faults, in a seeded order, until 5 s before {@code deadline}, then heals everything: every
   * node running and its clock right. Returns what it did, for the failure message.
   */
  private List<String> nemesis(List<String> names, long deadline) throws Exception {
    Random rnd = new Random(seed);
    List<String> done = new ArrayList<>();
    int[] skewed = {0}; // the node whose clock runs ahead, or 0
    List<Long> ranges = new ArrayList<>(); // (looked up while every node answers)
    for (String name : names) {
      ranges.add(TxnProcessTest.rangeOf(cluster, name));
    }
    long quietFrom = deadline - Duration.ofSeconds(5).toNanos();
    while (System.nanoTime() < quietFrom) {
      hold(Duration.ofSeconds(2));
      int leader = cluster.awaitLeader(ranges.get(rnd.nextInt(ranges.size())));
      switch (rnd.nextInt(4)) {
        case 0 -> {
          done.add("kill " + leader);
          cluster.kill(leader);
          hold(Duration.ofSeconds(2));
          cluster.start(leader);
        }
        case 1 -> {
          done.add("stop " + leader);
          cluster.signal(leader, "STOP");
          hold(Duration.ofSeconds(3)); // several lease lengths (10 ticks of 60 ms)
          cluster.signal(leader, "CONT");
        }
        case 2 -> {
          done.add("rolling restart");
          for (int n = 1; n <= 3; n++) {
            cluster.stop(n);
            cluster.start(n);
            int node = n;
            ProcessCluster.await(
                () -> cluster.status(node).isPresent(),
                "node " + node + " answers",
                Duration.ofSeconds(30));
          }
        }
        default -> {
          // Skew one node's clock 400 ms ahead (a restart with the skew), or, if one is skewed,
          // set it right again.
          int node = skewed[0] != 0 ? skewed[0] : 1 + rnd.nextInt(3);
          boolean skew = skewed[0] == 0;
          done.add((skew ? "skew +400ms " : "unskew ") + node);
          cluster.stop(node);
          cluster.setFakeTime(node, skew ? "+0.4" : null);
          cluster.start(node);
          skewed[0] = skew ? node : 0;
        }
      }
    }
    // Heal: every node up (a skewed one stays within the maximum offset).
    for (int n = 1; n <= 3; n++) {
      if (!cluster.alive(n)) {
        cluster.start(n);
      }
    }
    return done;
  }

  /** Lets a fault (or the quiet between two) last {@code d}: a schedule, not a synchronization. */
  private static void hold(Duration d) {
    long until = System.nanoTime() + d.toNanos();
    for (long left = d.toNanos(); left > 0; left = until - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }
}
