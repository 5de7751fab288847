package io.basalt.node.store;

import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.TxnRecord;
import io.basalt.api.TxnStatus;
import io.basalt.client.AmbiguousResultException;
import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import io.basalt.client.SimClient;
import io.basalt.client.TxnOptions;
import io.basalt.range.check.ListAppendChecker;
import io.basalt.range.keys.LocalKeys;
import io.basalt.range.mvcc.MvccStore;
import io.basalt.range.storage.ColumnFamily;
import io.basalt.range.storage.EngineIterator;
import io.basalt.range.storage.MemEngine;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Transactions in the store simulation, run by the client's real coordinator ({@link SimClient}): a
 * bank (accounts in every data range; transfers with plain or locking reads; audits that read every
 * account and must see the constant total and no negative balance), list-append transactions
 * (checked by {@link ListAppendChecker}), and plain gets and compare-and-set appends on the same
 * keys. Some clients die in the middle of a commit (before the record is staged, after some of the
 * intents, or just after staging) and are replaced by new ones; their transactions' outcome is
 * unknown. After the faults stop, final transactions audit the bank, read every list and write
 * every key, and every replica must hold no intent and no PENDING or STAGING record.
 */
final class TxnSimWorkload {
  private static final int INITIAL_BALANCE = 100;

  private final StoreSimulation sim;
  private final SplittableRandom random;
  final List<String> accounts = new ArrayList<>();
  final List<String> lists = new ArrayList<>();

  /**
   * Lists only one client process appends to (besides the final writes), one per data range it
   * used: a commit that appends to a shared list and to its own is met by other transactions at the
   * shared one, while nobody else reads or writes its own (so nothing but the commit's rules
   * decides where a late write to it lands).
   */
  private final List<String> ownLists = new ArrayList<>();

  private final SplittableRandom ownRandom;

  /** The first character of the keys in each data range. */
  private final List<Character> rangePrefixes = new ArrayList<>();

  final List<ListAppendChecker.Txn> history = new ArrayList<>();
  final List<String> violations = new ArrayList<>();

  /** How each dead client died. */
  final List<String> deathLog = new ArrayList<>();

  /** By process: what to record if it dies in the middle of its current operation. */
  private final java.util.Map<Integer, Runnable> inFlight = new java.util.HashMap<>();

  /** The committing attempt of each list-append transaction, for failure reports. */
  final java.util.Map<Long, String> described = new java.util.HashMap<>();

  private long nextValue;
  private long nextTxn;
  private int nextProcess;
  private int clientSeq;
  int committed;
  int failed;
  int unknown;
  int deaths;
  private boolean finalAuditDone;
  private String lastAudit;
  private boolean finalListsDone;
  private boolean finalWritesDone;

  TxnSimWorkload(StoreSimulation sim, SplittableRandom random, SplittableRandom ownRandom) {
    this.sim = sim;
    this.random = random;
    this.ownRandom = ownRandom;
    for (RangeDescriptor d : sim.ranges) {
      if (d.getRangeId() == KeySpace.META_RANGE_ID) {
        continue;
      }
      char base = (char) (d.getRangeId() == 2 ? 'a' : 'a' + (d.getRangeId() - 2) * 8);
      for (int i = 0; i < 2; i++) {
        accounts.add((char) (base + 2) + "b" + i);
        lists.add((char) (base + 2) + "l" + i);
      }
      rangePrefixes.add((char) (base + 2));
    }
  }

  /** Every key the transactions use. */
  List<String> keys() {
    List<String> all = new ArrayList<>(accounts);
    all.addAll(allLists());
    return all;
  }

  private List<String> allLists() {
    List<String> all = new ArrayList<>(lists);
    all.addAll(ownLists);
    return all;
  }

  private final List<SimClient> clients = new ArrayList<>();

  private SimClient newClient() {
    SimClient c =
        new SimClient(
            sim.clientWorld(),
            sim.nodeCount,
            random.nextLong(),
            Duration.ofMillis(300),
            Duration.ofSeconds(4));
    clients.add(c);
    return c;
  }

  /** Starts {@code clients} clients that run transactions until {@code stopAt}. */
  void start(int clients, long stopAt) {
    for (int i = 0; i < clients; i++) {
      startClient(stopAt);
    }
  }

  private void startClient(long stopAt) {
    SimClient c = newClient();
    int process = nextProcess++;
    c.spawn("txn-client-" + process, () -> loop(c, process, stopAt));
  }

  private void loop(SimClient c, int process, long stopAt) {
    while (sim.now < stopAt) {
      int kind = random.nextInt(100);
      // Now and then the process dies in the middle of this commit.
      String death = null;
      if (kind < 70 && random.nextInt(25) == 0) {
        int point = random.nextInt(3);
        death =
            switch (point) {
              case 0 -> "before staging";
              case 1 -> "after an intent";
              default -> "after staging";
            };
        c.dieAt(
            r -> point == 0 && staging(r), r -> point == 1 ? intent(r) : point == 2 && staging(r));
        String at = death;
        // Its replacement starts at once; what it was doing stays unknown.
        c.onDeath(() -> {
          deaths++;
          deathLog.add("client " + process + " died " + at + " at t=" + sim.now);
          Runnable lost = inFlight.remove(process);
          if (lost != null) {
            lost.run();
          }
          startClient(stopAt);
        });
      }
      // In the seeds whose records expire after 1.5 s without a heartbeat, two faults of the
      // client's link. Now and then it is slow for 3 s: each request lands up to 2 s late, so a
      // commit's writes land far apart and its heartbeats late (its record may expire meanwhile).
      boolean linkFaults = sim.txnExpiryMillis < 5_000 && kind < 70 && death == null;
      if (linkFaults && random.nextInt(15) == 0) {
        c.slowLink(Duration.ofSeconds(2), Duration.ofSeconds(3));
      }
      // And now and then it is cut off for 2.2 s right after it sends a commit's staging write
      // (its other writes and its heartbeats held meanwhile, then delivered with their answers):
      // past the expiry, a recovery may meet the commit with a write still on its way.
      if (linkFaults && random.nextInt(3) == 0) {
        c.stallAfter(TxnSimWorkload::staging, Duration.ofMillis(1_700));
      }
      if (kind < 35) {
        transfer(c.client(), process);
      } else if (kind < 70) {
        listAppend(c.client(), process);
      } else if (kind < 85) {
        audit(c.client(), "audit");
      } else {
        plainOnList(c.client(), process);
      }
      c.dieAt(r -> false, r -> false);
      c.onDeath(null);
      c.stallAfter(r -> false, Duration.ZERO);
    }
  }

  private static boolean staging(KvRequest r) {
    return r.hasTxnWrite() && r.getTxnWrite().getStage();
  }

  private static boolean intent(KvRequest r) {
    return r.hasTxnWrite() && !r.getTxnWrite().getStage();
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static int balance(byte[] v) {
    return v == null ? INITIAL_BALANCE : Integer.parseInt(new String(v, StandardCharsets.UTF_8));
  }

  private void transfer(BasaltClient client, int process) {
    String from = accounts.get(random.nextInt(accounts.size()));
    String to = accounts.get(random.nextInt(accounts.size()));
    if (from.equals(to)) {
      return;
    }
    int amount = 1 + random.nextInt(20);
    boolean locking = random.nextBoolean();
    TxnOptions options =
        random.nextInt(4) == 0
            ? TxnOptions.defaults().withIsolation(TxnOptions.Isolation.SNAPSHOT)
            : TxnOptions.defaults();
    try {
      client.txn(
          options,
          tx -> {
            int a = balance(locking ? tx.getForUpdate(b(from)) : tx.get(b(from)));
            int c = balance(locking ? tx.getForUpdate(b(to)) : tx.get(b(to)));
            if (a >= amount) {
              tx.put(b(from), b(String.valueOf(a - amount)));
              tx.put(b(to), b(String.valueOf(c + amount)));
            }
            return null;
          });
      committed++;
    } catch (AmbiguousResultException e) {
      unknown++;
    } catch (BasaltException e) {
      failed++;
    }
  }

  /**
   * Reads every account in one transaction: the total must be the initial one and no balance
   * negative. Snapshot isolation allows write skew but never a torn transfer, so its audits are
   * checked too.
   */
  private boolean audit(BasaltClient client, String what) {
    TxnOptions options =
        random.nextInt(3) == 0
            ? TxnOptions.defaults().withIsolation(TxnOptions.Isolation.SNAPSHOT)
            : TxnOptions.defaults();
    if (what.equals("final audit")) {
      options = TxnOptions.defaults().withMaxAttempts(50);
    }
    try {
      int[] seen =
          client.txn(
              options,
              tx -> {
                int[] balances = new int[accounts.size()];
                for (int i = 0; i < balances.length; i++) {
                  balances[i] = balance(tx.get(b(accounts.get(i))));
                }
                lastAudit = SimClient.describe(tx);
                return balances;
              });
      int total = 0;
      for (int i = 0; i < seen.length; i++) {
        total += seen[i];
        if (seen[i] < 0) {
          violations.add(
              what
                  + " at t="
                  + sim.now
                  + ": "
                  + accounts.get(i)
                  + " is negative ("
                  + seen[i]
                  + ")");
        }
      }
      if (total != INITIAL_BALANCE * accounts.size()) {
        violations.add(
            what
                + " at t="
                + sim.now
                + ": total "
                + total
                + ", not "
                + INITIAL_BALANCE * accounts.size()
                + " "
                + java.util.Arrays.toString(seen)
                + "\n  read by "
                + lastAudit
                + "\n  versions now (timestamp=value, newest first):"
                + accountVersions());
      }
      return true;
    } catch (BasaltException e) {
      if (what.equals("final audit")) {
        violations.add("the final audit failed: " + e);
      }
      return false;
    }
  }

  private String accountVersions() {
    StringBuilder out = new StringBuilder();
    for (String a : accounts) {
      for (int n = 1; n <= sim.nodeCount; n++) {
        out.append("\n    ")
            .append(a)
            .append(" on node ")
            .append(n)
            .append(": ")
            .append(sim.versions(n, a))
            .append(
                MvccStore.getIntent(sim.nodes[n].engine, b(a)) != null ? "(and an intent)" : "");
      }
    }
    return out.toString();
  }

  private void listAppend(BasaltClient client, int process) {
    List<String[]> plan = new ArrayList<>();
    for (int i = 0, n = 1 + random.nextInt(4); i < n; i++) {
      String key = lists.get(random.nextInt(lists.size()));
      plan.add(
          random.nextBoolean()
              ? new String[] {"r", key}
              : new String[] {"a", key, String.valueOf(++nextValue)});
    }
    // (Drawn from a source of their own, in the seeds with link faults only: the other seeds'
    // schedules stay as they were.)
    if (sim.txnExpiryMillis < 5_000 && ownRandom.nextBoolean()) {
      String own = rangePrefixes.get(ownRandom.nextInt(rangePrefixes.size())) + "p" + process;
      if (!ownLists.contains(own)) {
        ownLists.add(own);
      }
      plan.add(new String[] {"a", own, String.valueOf(++nextValue)});
    }
    boolean locking = random.nextBoolean();
    long invoke = sim.now;
    List<ListAppendChecker.Op> ops = new ArrayList<>();
    ListAppendChecker.Outcome outcome;
    inFlight.put(
        process, () -> record(process, invoke, ListAppendChecker.Outcome.INFO, appends(plan)));
    String[] seenBy = new String[1];
    try {
      client.txn(tx -> {
        ops.clear(); // each attempt records afresh; the committing one stays
        seenBy[0] = null;
        for (String[] op : plan) {
          if (op[0].equals("r")) {
            ops.add(
                ListAppendChecker.Op.read(op[1], ListAppendChecker.decodeList(tx.get(b(op[1])))));
          } else {
            byte[] old = locking ? tx.getForUpdate(b(op[1])) : tx.get(b(op[1]));
            List<Long> list = new ArrayList<>(ListAppendChecker.decodeList(old));
            list.add(Long.parseLong(op[2]));
            tx.put(b(op[1]), b(ListAppendChecker.encodeList(list)));
            ops.add(ListAppendChecker.Op.append(op[1], Long.parseLong(op[2])));
          }
        }
        seenBy[0] = SimClient.describe(tx);
        return null;
      });
      outcome = ListAppendChecker.Outcome.OK;
      committed++;
    } catch (AmbiguousResultException e) {
      outcome = ListAppendChecker.Outcome.INFO;
      unknown++;
    } catch (BasaltException e) {
      outcome = ListAppendChecker.Outcome.FAIL;
      failed++;
    }
    inFlight.remove(process);
    record(process, invoke, outcome, outcome == ListAppendChecker.Outcome.OK ? ops : appends(plan));
    if (seenBy[0] != null) {
      described.put(nextTxn, seenBy[0]);
    }
  }

  /** A transaction that may or may not have committed is recorded by what it may have written. */
  private static List<ListAppendChecker.Op> appends(List<String[]> plan) {
    List<ListAppendChecker.Op> out = new ArrayList<>();
    for (String[] op : plan) {
      if (op[0].equals("a")) {
        out.add(ListAppendChecker.Op.append(op[1], Long.parseLong(op[2])));
      }
    }
    return out;
  }

  /**
   * A plain get of a list (a one-read transaction: it must never see an uncommitted append), or a
   * plain append: a get, then a compare-and-set of the list with the value added (a one-key
   * transaction; a refused one was never applied).
   */
  private void plainOnList(BasaltClient client, int process) {
    String key = lists.get(random.nextInt(lists.size()));
    long invoke = sim.now;
    if (random.nextBoolean()) {
      try {
        List<Long> seen = ListAppendChecker.decodeList(client.get(b(key)));
        record(
            process,
            invoke,
            ListAppendChecker.Outcome.OK,
            List.of(ListAppendChecker.Op.read(key, seen)));
      } catch (BasaltException e) {
        failed++;
      }
      return;
    }
    long value = ++nextValue;
    List<ListAppendChecker.Op> append = List.of(ListAppendChecker.Op.append(key, value));
    byte[] old;
    try {
      old = client.get(b(key));
    } catch (BasaltException e) {
      failed++;
      return;
    }
    invoke = sim.now;
    List<Long> list = new ArrayList<>(ListAppendChecker.decodeList(old));
    list.add(value);
    ListAppendChecker.Outcome outcome;
    try {
      outcome =
          client.compareAndSet(b(key), old, b(ListAppendChecker.encodeList(list)))
              ? ListAppendChecker.Outcome.OK
              : ListAppendChecker.Outcome.FAIL;
    } catch (AmbiguousResultException e) {
      outcome = ListAppendChecker.Outcome.INFO;
    } catch (BasaltException e) {
      outcome = ListAppendChecker.Outcome.FAIL;
    }
    record(process, invoke, outcome, append);
  }

  private void record(
      int process, long invoke, ListAppendChecker.Outcome outcome, List<ListAppendChecker.Op> ops) {
    history.add(
        new ListAppendChecker.Txn(
            ++nextTxn,
            process,
            invoke,
            outcome == ListAppendChecker.Outcome.INFO ? Long.MAX_VALUE : sim.now,
            outcome,
            List.copyOf(ops)));
  }

  /**
   * Once the faults have stopped: audits the bank, reads every list, then writes every key, each in
   * a transaction with many attempts; all three must commit.
   */
  void startFinal() {
    SimClient c = newClient();
    int process = nextProcess++;
    c.spawn(
        "txn-final",
        () -> {
          finalAuditDone = audit(c.client(), "final audit");
          long invoke = sim.now;
          try {
            List<ListAppendChecker.Op> reads =
                c.client()
                    .txn(
                        TxnOptions.defaults().withMaxAttempts(50),
                        tx -> {
                          List<ListAppendChecker.Op> out = new ArrayList<>();
                          for (String key : allLists()) {
                            out.add(
                                ListAppendChecker.Op.read(
                                    key, ListAppendChecker.decodeList(tx.get(b(key)))));
                          }
                          return out;
                        });
            record(process, invoke, ListAppendChecker.Outcome.OK, reads);
            finalListsDone = true;
          } catch (BasaltException e) {
            violations.add("the final read of the lists failed: " + e);
          }
          // Every key written once more, keeping what the checks rely on: each account
          // rewritten with its balance, a new value appended to each list (and recorded). A lock
          // held by a transaction its client gave up on stays until its record expires (5 s
          // after its last heartbeat), longer than a call's timeout: an attempt that waited for
          // it fails (or its outcome is unknown, recorded so) and is tried again, for 9 s.
          long giveUpAt = sim.now + 9_000;
          while (!finalWritesDone) {
            invoke = sim.now;
            List<ListAppendChecker.Op> appended = new ArrayList<>();
            try {
              c.client()
                  .txn(
                      TxnOptions.defaults().withMaxAttempts(50),
                      tx -> {
                        appended.clear();
                        for (String key : accounts) {
                          byte[] v = tx.getForUpdate(b(key));
                          tx.put(b(key), b(String.valueOf(balance(v))));
                        }
                        for (String key : allLists()) {
                          List<Long> list =
                              new ArrayList<>(
                                  ListAppendChecker.decodeList(tx.getForUpdate(b(key))));
                          long value = ++nextValue;
                          list.add(value);
                          tx.put(b(key), b(ListAppendChecker.encodeList(list)));
                          appended.add(ListAppendChecker.Op.append(key, value));
                        }
                        return null;
                      });
              record(process, invoke, ListAppendChecker.Outcome.OK, appended);
              finalWritesDone = true;
            } catch (BasaltException e) {
              record(
                  process,
                  invoke,
                  e instanceof AmbiguousResultException
                      ? ListAppendChecker.Outcome.INFO
                      : ListAppendChecker.Outcome.FAIL,
                  appended);
              if (sim.now >= giveUpAt) {
                violations.add("the final write of every key failed: " + e);
                break;
              }
            }
          }
        });
  }

  /**
   * What went wrong, by check: {@code bank} (an audit saw a torn or negative state), {@code
   * list-append} (the checker's anomalies), {@code unfinished after heal} (a final transaction did
   * not commit), {@code intents left} and {@code live records left} (on any replica, once
   * everything settled).
   */
  java.util.Map<String, String> check() {
    java.util.Map<String, String> failed = new java.util.LinkedHashMap<>();
    if (!violations.isEmpty()) {
      failed.put("bank", String.join("\n", violations));
    }
    ListAppendChecker.Result result =
        ListAppendChecker.check(history, ListAppendChecker.Consistency.SERIALIZABLE);
    if (!result.valid()) {
      failed.put("list-append", result.describe());
    }
    List<String> stale = staleReads();
    if (!stale.isEmpty()) {
      failed.put("stale read", String.join("\n", stale));
    }
    if (!finalAuditDone || !finalListsDone || !finalWritesDone) {
      List<String> waiting = new ArrayList<>();
      clients.forEach(c -> waiting.addAll(c.waiting()));
      failed.put(
          "unfinished after heal",
          "audit "
              + finalAuditDone
              + ", lists "
              + finalListsDone
              + ", writes "
              + finalWritesDone
              + "; client threads still waiting:\n    "
              + String.join("\n    ", waiting));
    }
    List<String> intents = new ArrayList<>();
    List<String> records = new ArrayList<>();
    for (RangeDescriptor d : sim.ranges) {
      for (ReplicaDescriptor r : d.getReplicasList()) {
        MemEngine engine = sim.nodes[(int) r.getNodeId()].engine;
        for (String key : keys()) {
          if (KeySpace.contains(d, b(key)) && MvccStore.getIntent(engine, b(key)) != null) {
            intents.add(key + " on node " + r.getNodeId());
          }
        }
        records.addAll(liveRecords(engine, d.getRangeId(), r.getNodeId()));
      }
    }
    if (!intents.isEmpty()) {
      failed.put("intents left", String.join("\n", intents));
    }
    if (!records.isEmpty()) {
      failed.put(
          "live records left",
          String.join("\n", records)
              + "\n  (at t="
              + sim.now
              + " ms; dead clients: "
              + deathLog
              + ")");
    }
    return failed;
  }

  /**
   * Reads that missed an append acknowledged before their transaction (or plain get) began: per
   * key, what a client was told is committed is seen by everything that starts after (the promise
   * the uncertainty interval keeps across clocks). Across keys no such order is promised:
   * transactions are serializable, not strictly so. Empty when every read kept it.
   */
  List<String> staleReads() {
    java.util.Map<String, List<ListAppendChecker.Txn>> appenders = new java.util.TreeMap<>();
    for (ListAppendChecker.Txn t : history) {
      if (t.outcome() == ListAppendChecker.Outcome.OK) {
        for (ListAppendChecker.Op op : t.ops()) {
          if (op.kind() == ListAppendChecker.Op.Kind.APPEND) {
            appenders.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(t);
          }
        }
      }
    }
    List<String> out = new ArrayList<>();
    for (ListAppendChecker.Txn t : history) {
      if (t.outcome() != ListAppendChecker.Outcome.OK) {
        continue;
      }
      for (ListAppendChecker.Op read : t.ops()) {
        if (read.kind() != ListAppendChecker.Op.Kind.READ) {
          continue;
        }
        for (ListAppendChecker.Txn a : appenders.getOrDefault(read.key(), List.of())) {
          if (a.completeNanos() >= t.invokeNanos()) {
            continue;
          }
          for (ListAppendChecker.Op op : a.ops()) {
            if (op.kind() == ListAppendChecker.Op.Kind.APPEND
                && op.key().equals(read.key())
                && !read.read().contains(op.value())) {
              out.add(
                  "txn "
                      + t.id()
                      + " "
                      + described.getOrDefault(t.id(), "(a plain get)")
                      + " (from t="
                      + t.invokeNanos()
                      + ") read "
                      + read
                      + " without "
                      + op.value()
                      + ", appended by txn "
                      + a.id()
                      + " acknowledged at t="
                      + a.completeNanos());
            }
          }
        }
      }
    }
    return out;
  }

  private static List<String> liveRecords(MemEngine engine, long rangeId, long node) {
    List<String> out = new ArrayList<>();
    EngineIterator it =
        engine.newIterator(
            ColumnFamily.LOCAL,
            LocalKeys.txnRecordsFrom(new byte[0]),
            LocalKeys.txnRecordsTo(new byte[0]));
    try {
      for (it.seekToFirst(); it.valid(); it.next()) {
        TxnRecord record = TxnRecord.parseFrom(it.value());
        if (record.getStatus() == TxnStatus.TXN_PENDING
            || record.getStatus() == TxnStatus.TXN_STAGING) {
          out.add(
              "range "
                  + rangeId
                  + " on node "
                  + node
                  + ": "
                  + record.getStatus()
                  + " anchored at "
                  + record.getMeta().getAnchorKey().toStringUtf8()
                  + ", last heartbeat "
                  + record.getLastHeartbeat().getWallNanos()
                  + " ns (its transaction began at "
                  + record.getMeta().getMinTimestamp().getWallNanos()
                  + ")");
        }
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      out.add("range " + rangeId + " on node " + node + ": a record does not parse: " + e);
    } finally {
      it.close();
    }
    return out;
  }
}
