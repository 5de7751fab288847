package io.basalt.node.process;

import io.basalt.client.AmbiguousResultException;
import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import io.basalt.client.TxnOptions;
import io.basalt.range.check.ListAppendChecker;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntPredicate;

/**
 * Transaction workloads for process tests, each run by worker threads through {@link
 * BasaltClient#txn}: list-append (its history checked by {@link ListAppendChecker}) and a bank
 * (transfers with locking reads, and read-only audits of the total). A worker goes on while {@code
 * more} accepts the number of transactions it has run.
 */
final class TxnWorkloads {
  private TxnWorkloads() {}

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String s(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  /**
   * Runs list-append transactions (1 to 3 reads or appends of random keys of {@code names}) from
   * {@code workers} threads, then a final read of every key; returns the history. {@code done}
   * counts the transactions finished so far (for a caller timing its faults).
   */
  static List<ListAppendChecker.Txn> listAppend(
      BasaltClient client,
      List<String> names,
      int workers,
      long seed,
      IntPredicate more,
      AtomicInteger done)
      throws Exception {
    AtomicLong nextValue = new AtomicLong();
    AtomicLong nextTxn = new AtomicLong();
    ConcurrentLinkedQueue<ListAppendChecker.Txn> history = new ConcurrentLinkedQueue<>();
    long t0 = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    List<Future<?>> work = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      int process = w;
      Random rnd = new Random(seed * 31 + w);
      work.add(
          pool.submit(() -> {
            for (int n = 0; more.test(n); n++) {
              List<String[]> plan = new ArrayList<>();
              for (int i = 0, ops = 1 + rnd.nextInt(3); i < ops; i++) {
                String key = names.get(rnd.nextInt(names.size()));
                plan.add(
                    rnd.nextBoolean()
                        ? new String[] {"r", key}
                        : new String[] {"a", key, String.valueOf(nextValue.incrementAndGet())});
              }
              long invoke = System.nanoTime() - t0;
              List<ListAppendChecker.Op> committed = new ArrayList<>();
              ListAppendChecker.Outcome outcome;
              try {
                client.txn(tx -> {
                  committed.clear(); // each attempt records afresh; the committing one stays
                  for (String[] op : plan) {
                    byte[] k = b(op[1]);
                    if (op[0].equals("r")) {
                      committed.add(
                          ListAppendChecker.Op.read(
                              op[1], ListAppendChecker.decodeList(tx.get(k))));
                    } else {
                      List<Long> list =
                          new ArrayList<>(ListAppendChecker.decodeList(tx.getForUpdate(k)));
                      list.add(Long.parseLong(op[2]));
                      tx.put(k, b(ListAppendChecker.encodeList(list)));
                      committed.add(ListAppendChecker.Op.append(op[1], Long.parseLong(op[2])));
                    }
                  }
                  return null;
                });
                outcome = ListAppendChecker.Outcome.OK;
              } catch (AmbiguousResultException e) {
                outcome = ListAppendChecker.Outcome.INFO;
              } catch (BasaltException e) {
                outcome = ListAppendChecker.Outcome.FAIL;
              }
              List<ListAppendChecker.Op> ops = committed;
              if (outcome != ListAppendChecker.Outcome.OK) {
                // Only its appends matter: what it may have written.
                ops = new ArrayList<>();
                for (String[] op : plan) {
                  if (op[0].equals("a")) {
                    ops.add(ListAppendChecker.Op.append(op[1], Long.parseLong(op[2])));
                  }
                }
              }
              history.add(
                  new ListAppendChecker.Txn(
                      nextTxn.incrementAndGet(),
                      process,
                      invoke,
                      System.nanoTime() - t0,
                      outcome,
                      ops));
              done.incrementAndGet();
            }
            return null;
          }));
    }
    for (Future<?> f : work) {
      f.get();
    }
    pool.shutdown();
    // A final read of every key, after everything else.
    long invoke = System.nanoTime() - t0;
    List<ListAppendChecker.Op> finalReads =
        client.txn(
            TxnOptions.defaults().withMaxAttempts(50),
            tx -> {
              List<ListAppendChecker.Op> out = new ArrayList<>();
              for (String name : names) {
                out.add(
                    ListAppendChecker.Op.read(name, ListAppendChecker.decodeList(tx.get(b(name)))));
              }
              return out;
            });
    history.add(
        new ListAppendChecker.Txn(
            nextTxn.incrementAndGet(),
            workers,
            invoke,
            System.nanoTime() - t0,
            ListAppendChecker.Outcome.OK,
            finalReads));
    return new ArrayList<>(history);
  }

  /** What a bank run saw. */
  record Bank(int transfers, int failedTransfers, int audits, List<String> violations, int total) {}

  /**
   * Sets every account of {@code keys} to {@code initial}, then runs transfers (locking reads of
   * two accounts, then a move of up to 20 if the first has it) from {@code tellers} threads and
   * read-only audits (every balance, in one transaction: the total must never change, no balance go
   * negative) from {@code auditors} threads; ends with the total read by plain gets.
   */
  static Bank bank(
      BasaltClient client,
      List<byte[]> keys,
      int initial,
      int tellers,
      int auditors,
      long seed,
      IntPredicate more)
      throws Exception {
    client.txn(tx -> {
      keys.forEach(k -> tx.put(k, b(String.valueOf(initial))));
      return null;
    });
    int total = keys.size() * initial;
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    AtomicInteger transfers = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger audits = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(tellers + auditors);
    List<Future<?>> work = new ArrayList<>();
    for (int w = 0; w < tellers; w++) {
      Random rnd = new Random(seed + w);
      work.add(
          pool.submit(() -> {
            for (int n = 0; more.test(n); n++) {
              int from = rnd.nextInt(keys.size());
              int to = (from + 1 + rnd.nextInt(keys.size() - 1)) % keys.size();
              int amount = 1 + rnd.nextInt(20);
              try {
                client.txn(tx -> {
                  int a = Integer.parseInt(s(tx.getForUpdate(keys.get(from))));
                  int c = Integer.parseInt(s(tx.getForUpdate(keys.get(to))));
                  if (a >= amount) {
                    tx.put(keys.get(from), b(String.valueOf(a - amount)));
                    tx.put(keys.get(to), b(String.valueOf(c + amount)));
                  }
                  return null;
                });
                transfers.incrementAndGet();
              } catch (BasaltException e) {
                failed.incrementAndGet(); // atomic either way: the total holds
              }
            }
            return null;
          }));
    }
    for (int r = 0; r < auditors; r++) {
      work.add(
          pool.submit(() -> {
            for (int n = 0; more.test(n); n++) {
              // Read-only transactions over keys written all the time restart often: a value
              // committed within the uncertainty interval (the maximum clock offset, 500 ms) after
              // the read timestamp is uncertain, and refreshing the earlier reads past it fails
              // when those were written too. Hence many attempts.
              List<Integer> balances;
              try {
                balances =
                    client.txn(
                        TxnOptions.defaults().withMaxAttempts(200),
                        tx -> {
                          List<Integer> out = new ArrayList<>();
                          for (byte[] k : keys) {
                            out.add(Integer.parseInt(s(tx.get(k))));
                          }
                          return out;
                        });
              } catch (BasaltException e) {
                continue; // an audit that could not run checks nothing
              }
              int sum = 0;
              for (int v : balances) {
                sum += v;
                if (v < 0) {
                  violations.add("a negative balance " + balances);
                }
              }
              if (sum != total) {
                violations.add("a read-only transaction saw a total of " + sum + ": " + balances);
              }
              audits.incrementAndGet();
            }
            return null;
          }));
    }
    for (Future<?> f : work) {
      f.get();
    }
    pool.shutdown();
    int sum = 0;
    for (byte[] k : keys) {
      sum += Integer.parseInt(s(client.get(k)));
    }
    if (sum != total) {
      violations.add("the plain gets at the end read a total of " + sum + ", not " + total);
    }
    return new Bank(transfers.get(), failed.get(), audits.get(), new ArrayList<>(violations), sum);
  }
}
