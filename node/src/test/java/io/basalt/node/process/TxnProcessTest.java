package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.client.BasaltClient;
import io.basalt.client.HlcTimestamp;
import io.basalt.client.KeyValue;
import io.basalt.client.TransactionRetryException;
import io.basalt.client.Txn;
import io.basalt.client.TxnOptions;
import io.basalt.range.check.ListAppendChecker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Transactions through {@link BasaltClient#txn} and {@link BasaltClient#begin} against a real
 * 3-node cluster whose keys are pre-split into 8 ranges: atomic commits across ranges, rollback,
 * read-your-writes, serializable refusal of a lost update and of write skew (and snapshot
 * isolation's acceptance of the skew), and a concurrent bank whose total never changes.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TxnProcessTest {
  /** One key per pre-split range (init cuts the key space evenly over the first byte). */
  private static final String[] SPREAD = {"!", "0", "A", "M", "a", "m", "z", "~"};

  private static ProcessCluster cluster;
  private static BasaltClient client;

  @BeforeAll
  static void start() throws Exception {
    cluster = new ProcessCluster("txn", 3, 60);
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

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String s(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  @Test
  @Order(1)
  void aTransactionAcrossRangesCommitsAllItsWritesAndReadsItsOwn() {
    HlcTimestamp[] committedAt = new HlcTimestamp[1];
    Txn tx = client.begin();
    for (String c : SPREAD) {
      tx.put(b(c + "-basic"), b("v" + c));
    }
    tx.delete(b("a-basic-absent"));
    // Read-your-writes, by get and by scan (merged over what is committed: nothing yet).
    assertThat(s(tx.get(b("M-basic")))).isEqualTo("vM");
    List<KeyValue> own = tx.scan(b("0"), b("N"), 100);
    assertThat(own).extracting(kv -> s(kv.key())).containsExactly("0-basic", "A-basic", "M-basic");
    // Nobody else sees them before the commit.
    assertThat(client.get(b("M-basic"))).isNull();
    committedAt[0] = tx.commit();
    assertThat(committedAt[0].wallNanos()).isPositive();
    for (String c : SPREAD) {
      assertThat(s(client.get(b(c + "-basic")))).isEqualTo("v" + c);
    }
    // A plain scan over every range meets no intent left behind (it would wait, or resolve it).
    List<String> keys = new ArrayList<>();
    for (KeyValue kv : client.scan(b("!"), new byte[0], 1000)) {
      if (s(kv.key()).endsWith("-basic")) {
        keys.add(s(kv.key()));
      }
    }
    assertThat(keys).hasSize(SPREAD.length);
  }

  @Test
  @Order(2)
  void aRolledBackTransactionLeavesNothingAndAThrowingFunctionRollsBack() {
    Txn tx = client.begin();
    tx.put(b("!-rolled"), b("x"));
    tx.put(b("z-rolled"), b("x"));
    tx.rollback();
    assertThat(client.get(b("!-rolled"))).isNull();
    assertThatThrownBy(() ->
            client.txn(t -> {
              t.put(b("A-thrown"), b("x"));
              t.put(b("m-thrown"), b("x"));
              throw new IllegalStateException("the caller changed its mind");
            }))
        .isInstanceOf(IllegalStateException.class);
    assertThat(client.get(b("A-thrown"))).isNull();
    assertThat(client.get(b("m-thrown"))).isNull();
  }

  @Test
  @Order(3)
  void aLostUpdateIsRefused() {
    client.put(b("A-counter"), b("0"));
    Txn first = client.begin();
    Txn second = client.begin();
    int a = Integer.parseInt(s(first.get(b("A-counter"))));
    int c = Integer.parseInt(s(second.get(b("A-counter"))));
    second.put(b("A-counter"), b(String.valueOf(c + 1)));
    second.put(b("z-counter-log"), b("second"));
    second.commit();
    first.put(b("A-counter"), b(String.valueOf(a + 1)));
    first.put(b("z-counter-log"), b("first"));
    // Its write must go above the second's; its read of the counter no longer holds there.
    assertThatThrownBy(first::commit).isInstanceOf(TransactionRetryException.class);
    assertThat(s(client.get(b("A-counter")))).isEqualTo("1");
    assertThat(s(client.get(b("z-counter-log")))).isEqualTo("second");
  }

  @Test
  @Order(4)
  void writeSkewIsRefusedUnderSerializableAndAllowedUnderSnapshot() {
    // Two doctors on call; each goes off call only if the other is still on.
    for (TxnOptions.Isolation isolation : TxnOptions.Isolation.values()) {
      String x = "M-oncall-" + isolation;
      String y = "m-oncall-" + isolation;
      client.put(b(x), b("on"));
      client.put(b(y), b("on"));
      TxnOptions options = TxnOptions.defaults().withIsolation(isolation);
      Txn t1 = client.begin(options);
      Txn t2 = client.begin(options);
      assertThat(s(t1.get(b(x)))).isEqualTo("on");
      assertThat(s(t1.get(b(y)))).isEqualTo("on");
      assertThat(s(t2.get(b(x)))).isEqualTo("on");
      assertThat(s(t2.get(b(y)))).isEqualTo("on");
      t1.put(b(x), b("off"));
      t2.put(b(y), b("off"));
      t1.commit();
      if (isolation == TxnOptions.Isolation.SERIALIZABLE) {
        assertThatThrownBy(t2::commit).isInstanceOf(TransactionRetryException.class);
        assertThat(s(client.get(b(y)))).isEqualTo("on");
      } else {
        t2.commit(); // snapshot isolation permits write skew
        assertThat(s(client.get(b(y)))).isEqualTo("off");
      }
    }
  }

  @Test
  @Order(5)
  void concurrentTransfersKeepTheTotalAndNoReaderSeesItChange() throws Exception {
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      keys.add(b(SPREAD[i % SPREAD.length] + "-acct-" + i));
    }
    long seed = Long.getLong("basalt.txn.seed", System.nanoTime());
    String replay = " (seed " + seed + "; replay with -Dbasalt.txn.seed=" + seed + ")";
    TxnWorkloads.Bank bank = TxnWorkloads.bank(client, keys, 100, 8, 2, seed, n -> n < 40);
    assertThat(bank.violations()).as("anomalies" + replay).isEmpty();
    assertThat(bank.transfers()).as("transfers" + replay).isEqualTo(8 * 40);
    assertThat(bank.audits()).as("audits" + replay).isEqualTo(2 * 40);
    assertThat(bank.total()).as("the total read by plain gets at the end" + replay).isEqualTo(1000);
  }

  @Test
  @Order(6)
  void listAppendTransactionsThroughALeaderKillAreSerializable() throws Exception {
    int workers = 6;
    int txnsPerWorker = 40;
    long seed = Long.getLong("basalt.txn.seed", System.nanoTime());
    String replay = " (seed " + seed + "; replay with -Dbasalt.txn.seed=" + seed + ")";
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      names.add(SPREAD[i % SPREAD.length] + "-la-" + i);
    }
    AtomicInteger done = new AtomicInteger();
    ExecutorService runner = Executors.newSingleThreadExecutor();
    Future<List<ListAppendChecker.Txn>> run =
        runner.submit(() ->
            TxnWorkloads.listAppend(client, names, workers, seed, n -> n < txnsPerWorker, done));
    // The fault: once a third of the transactions are done, kill the leader of the range of the
    // first key, and restart it once two thirds are.
    int total = workers * txnsPerWorker;
    ProcessCluster.await(() -> done.get() >= total / 3, "a third done", Duration.ofSeconds(120));
    int victim = cluster.awaitLeader(rangeOf(cluster, names.get(0)));
    cluster.kill(victim);
    ProcessCluster.await(
        () -> done.get() >= 2 * total / 3, "two thirds done", Duration.ofSeconds(120));
    cluster.start(victim);
    List<ListAppendChecker.Txn> history = run.get();
    runner.shutdown();
    ListAppendChecker.Result result =
        ListAppendChecker.check(history, ListAppendChecker.Consistency.SERIALIZABLE);
    assertThat(result.valid()).as("%s%s", result.describe(), replay).isTrue();
    long ok = history.stream().filter(t -> t.outcome() == ListAppendChecker.Outcome.OK).count();
    assertThat(ok).as("committed transactions" + replay).isGreaterThan(total / 2);
  }

  @Test
  @Order(7)
  void aKilledClientsLocksAreReleasedWithinTheExpiryAndItsWritesNeverApply() throws Exception {
    String k1 = "A-held";
    String k2 = "z-held";
    client.put(b(k1), b("before"));
    client.put(b(k2), b("before"));
    String javaCommand = ProcessHandle.current().info().command().orElse("java");
    Process holder =
        new ProcessBuilder(
                javaCommand,
                "-Dbasalt.test.certs=" + cluster.certs,
                "-cp",
                System.getProperty("java.class.path"),
                LockHolder.class.getName(),
                cluster.address(1),
                k1,
                k2)
            .redirectErrorStream(true)
            .start();
    try {
      java.io.BufferedReader lines =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      String line;
      while ((line = lines.readLine()) != null && !line.equals("LOCKED")) {
        // the holder's log lines, if any
      }
      assertThat(line).as("the holder locked its keys").isEqualTo("LOCKED");
      // A writer of those keys waits while the holder lives, beyond the expiry (its heartbeats
      // keep it alive), and goes on once the holder is killed and its record expires.
      ExecutorService one = Executors.newSingleThreadExecutor();
      // Its calls wait longer than the holder lives here.
      BasaltClient patient =
          cluster
              .clientBuilder()
              .seeds(cluster.addresses().toArray(String[]::new))
              .callTimeout(Duration.ofSeconds(30))
              .build();
      Future<Long> contender =
          one.submit(() -> {
            patient.txn(
                TxnOptions.defaults().withMaxAttempts(20),
                tx -> {
                  tx.getForUpdate(b(k1));
                  tx.getForUpdate(b(k2));
                  tx.put(b(k1), b("after"));
                  tx.put(b(k2), b("after"));
                  return null;
                });
            return System.nanoTime();
          });
      assertThatThrownBy(() -> contender.get(6, java.util.concurrent.TimeUnit.SECONDS))
          .as("the contender waits while the holder lives")
          .isInstanceOf(java.util.concurrent.TimeoutException.class);
      holder.destroyForcibly();
      holder.waitFor();
      long killedAt = System.nanoTime();
      long doneAt = contender.get(30, java.util.concurrent.TimeUnit.SECONDS);
      one.shutdown();
      patient.close();
      long releasedMs = (doneAt - killedAt) / 1_000_000;
      // Expiry (5 s) after its last heartbeat, which is at most 1 s before the kill.
      assertThat(releasedMs).as("ms from the kill to the contender's commit").isLessThan(6_000);
      assertThat(s(client.get(b(k1)))).isEqualTo("after");
      assertThat(s(client.get(b(k2)))).isEqualTo("after");
    } finally {
      holder.destroyForcibly();
    }
  }

  @Test
  @Order(8)
  void anAbandonedStagedTransactionIsRecoveredCommittedIfEveryWriteLandedElseAborted() {
    // Two coordinators that staged their commits and died (requests sent by hand): T1's
    // in-flight write landed, T2's did not. A reader meets each anchor's intent, waits out the
    // expiry, recovers the record, and reads what recovery decided.
    for (String k : List.of("B-staged1", "y-flight1", "B-staged2", "y-flight2")) {
      client.put(b(k), b("before"));
    }
    long anchorRange = rangeOf(cluster, "B-staged1");
    long flightRange = rangeOf(cluster, "y-flight1");
    assertThat(anchorRange).isNotEqualTo(flightRange);

    io.basalt.api.KvResponse landed =
        rawCall(flightRange, rawTxnWrite(rawTxn("t1", "B-staged1"), "y-flight1", "t1", null));
    io.basalt.api.Transaction t1 = landed.getHeader().getTxn();
    io.basalt.api.KvResponse staged1 =
        rawCall(anchorRange, rawTxnWrite(t1, "B-staged1", "t1", "y-flight1"));
    assertThat(staged1.getTxnWrite().getStaged()).as("T1 staged: %s", staged1).isTrue();

    io.basalt.api.Transaction t2Begun = rawTxn("t2", "B-staged2");
    io.basalt.api.KvResponse staged2 =
        rawCall(anchorRange, rawTxnWrite(t2Begun, "B-staged2", "t2", "y-flight2"));
    assertThat(staged2.getTxnWrite().getStaged()).as("T2 staged: %s", staged2).isTrue();
    io.basalt.api.Transaction t2 = staged2.getHeader().getTxn();

    BasaltClient patient =
        cluster
            .clientBuilder()
            .seeds(cluster.addresses().toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(30))
            .build();
    try {
      assertThat(s(patient.get(b("B-staged1")))).as("T1 recovered committed").isEqualTo("t1");
      assertThat(s(patient.get(b("y-flight1")))).isEqualTo("t1");
      assertThat(s(patient.get(b("B-staged2")))).as("T2 recovered aborted").isEqualTo("before");

      // T2's missing write arrives late: the recovery's query kept it off the staging
      // timestamp, and it is never read.
      io.basalt.api.KvResponse late =
          rawCall(flightRange, rawTxnWrite(t2, "y-flight2", "t2", null));
      io.basalt.api.Timestamp lateAt = late.getHeader().getTxn().getMeta().getWriteTimestamp();
      io.basalt.api.Timestamp stagedAt = t2.getMeta().getWriteTimestamp();
      assertThat(
              java.util.Comparator.comparingLong(io.basalt.api.Timestamp::getWallNanos)
                  .thenComparingInt(io.basalt.api.Timestamp::getLogical)
                  .compare(lateAt, stagedAt))
          .as("the late write (%s) lands above the staging timestamp (%s)", lateAt, stagedAt)
          .isPositive();
      assertThat(s(patient.get(b("y-flight2")))).isEqualTo("before");
      // Every key is writable again.
      patient.put(b("y-flight2"), b("after"));
      patient.put(b("B-staged2"), b("after"));
      assertThat(s(patient.get(b("y-flight2")))).isEqualTo("after");
    } finally {
      patient.close();
    }
  }

  /** A snapshot transaction anchored at {@code anchor}, not begun (its first write sets ts). */
  private static io.basalt.api.Transaction rawTxn(String name, String anchor) {
    return io.basalt.api.Transaction.newBuilder()
        .setMeta(
            io.basalt.api.TxnMeta.newBuilder()
                .setId(com.google.protobuf.ByteString.copyFromUtf8(name + System.nanoTime()))
                .setAnchorKey(com.google.protobuf.ByteString.copyFromUtf8(anchor)))
        .setIsolation(io.basalt.api.Isolation.ISOLATION_SNAPSHOT)
        .build();
  }

  /** A TxnWrite of {@code key}; staging, naming {@code inFlight}, when that is not null. */
  private static io.basalt.api.KvRequest rawTxnWrite(
      io.basalt.api.Transaction txn, String key, String value, String inFlight) {
    var k = com.google.protobuf.ByteString.copyFromUtf8(key);
    var w =
        io.basalt.api.TxnWriteRequest.newBuilder()
            .addMutations(
                io.basalt.api.Mutation.newBuilder()
                    .setPut(
                        io.basalt.api.PutRequest.newBuilder()
                            .setKey(k)
                            .setValue(com.google.protobuf.ByteString.copyFromUtf8(value))));
    if (inFlight != null) {
      var f = com.google.protobuf.ByteString.copyFromUtf8(inFlight);
      w.setStage(true).addInFlightWrites(f).addLockKeys(k).addLockKeys(f);
    }
    return io.basalt.api.KvRequest.newBuilder()
        .setHeader(
            io.basalt.api.RequestHeader.newBuilder()
                .setTxn(txn)
                .setRequestId(
                    com.google.protobuf.ByteString.copyFrom(
                        java.nio.ByteBuffer.allocate(16)
                            .putLong(System.nanoTime())
                            .putLong(key.hashCode())
                            .array())))
        .setTxnWrite(w)
        .build();
  }

  /** {@code request} sent to {@code rangeId}'s leader; fails on any error. */
  private static io.basalt.api.KvResponse rawCall(long rangeId, io.basalt.api.KvRequest request) {
    io.basalt.api.KvRequest routed =
        request.toBuilder().setHeader(request.getHeader().toBuilder().setRangeId(rangeId)).build();
    String address = cluster.address(cluster.awaitLeader(rangeId));
    try (io.basalt.node.cli.WireClient c =
        io.basalt.node.cli.WireClient.connect(address, Duration.ofSeconds(5))) {
      io.basalt.api.KvResponse r = c.call(routed);
      assertThat(r.hasError()).as("error from %s: %s", address, r.getError()).isFalse();
      return r;
    }
  }

  static long rangeOf(ProcessCluster cluster, String key) {
    byte[] k = b(key);
    for (int n = 1; n <= 3; n++) {
      if (!cluster.alive(n)) {
        continue;
      }
      for (var r : cluster.status(n).orElseThrow().getReplicasList()) {
        if (r.getRange().getRangeId() != 1 && io.basalt.api.KeySpace.contains(r.getRange(), k)) {
          return r.getRange().getRangeId();
        }
      }
    }
    throw new AssertionError("no range for " + key);
  }
}
