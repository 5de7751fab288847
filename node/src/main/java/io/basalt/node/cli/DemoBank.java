package io.basalt.node.cli;

import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import io.basalt.client.TxnOptions;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The demo's bank, beside its key-value workload: accounts spread over every range, threads moving
 * money between two of them in transactions (each reads both balances with a lock, then writes
 * both), and an auditor whose read-only transactions sum every balance. The total never changes,
 * and no balance goes negative: the auditor checks it all through the run (and through the leader
 * kill), and {@link #check} once more at the end.
 */
final class DemoBank {
  static final int ACCOUNTS = 20;
  static final int INITIAL = 1_000;

  private final byte[][] accounts = new byte[ACCOUNTS][];
  final AtomicLong transfers = new AtomicLong();
  final AtomicLong audits = new AtomicLong();
  final AtomicLong failures = new AtomicLong();
  final AtomicLong badAudits = new AtomicLong();
  private volatile boolean stop;
  private final List<Thread> threads = new ArrayList<>();
  private final PrintStream out;

  DemoBank(PrintStream out) {
    this.out = out;
    for (int i = 0; i < ACCOUNTS; i++) {
      // The first byte spreads accounts over the pre-split ranges.
      byte first = (byte) (1 + (i * 97) % 255);
      byte[] rest = ("bank-" + i).getBytes(StandardCharsets.UTF_8);
      byte[] k = new byte[rest.length + 1];
      k[0] = first;
      System.arraycopy(rest, 0, k, 1, rest.length);
      accounts[i] = k;
    }
  }

  /** Opens every account with the same balance, in one transaction. */
  void open(BasaltClient client) {
    client.txn(tx -> {
      for (byte[] a : accounts) {
        tx.put(a, bytes(INITIAL));
      }
      return null;
    });
  }

  void start(BasaltClient client, int tellers) {
    for (int t = 0; t < tellers; t++) {
      int id = t;
      threads.add(new Thread(() -> transfer(client, id), "demo-teller-" + t));
    }
    threads.add(new Thread(() -> audit(client), "demo-auditor"));
    for (Thread th : threads) {
      th.setDaemon(true);
      th.start();
    }
  }

  void stop() throws InterruptedException {
    stop = true;
    for (Thread th : threads) {
      th.join(30_000);
    }
  }

  private void transfer(BasaltClient client, int teller) {
    SplittableRandom random = new SplittableRandom(1_000 + teller);
    while (!stop) {
      int from = random.nextInt(ACCOUNTS);
      int to = (from + 1 + random.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
      int amount = 1 + random.nextInt(50);
      try {
        client.txn(tx -> {
          int a = balance(tx.getForUpdate(accounts[from]));
          int b = balance(tx.getForUpdate(accounts[to]));
          if (a >= amount) {
            tx.put(accounts[from], bytes(a - amount));
            tx.put(accounts[to], bytes(b + amount));
          }
          return null;
        });
        transfers.incrementAndGet();
      } catch (BasaltException e) {
        failures.incrementAndGet(); // not applied, or (ambiguous) applied whole: the total holds
      }
    }
  }

  private void audit(BasaltClient client) {
    while (!stop) {
      try {
        List<Integer> balances = balances(client);
        if (!sound(balances)) {
          badAudits.incrementAndGet();
          out.println("bank: an audit saw " + balances + " (total " + sum(balances) + ")");
        }
        audits.incrementAndGet();
      } catch (BasaltException e) {
        failures.incrementAndGet();
      }
    }
  }

  private List<Integer> balances(BasaltClient client) {
    // Over keys written all the time, a read-only transaction restarts often (a value committed
    // in its uncertainty interval), hence many attempts.
    return client.txn(
        TxnOptions.defaults().withMaxAttempts(200),
        tx -> {
          List<Integer> out = new ArrayList<>();
          for (byte[] a : accounts) {
            out.add(balance(tx.get(a)));
          }
          return out;
        });
  }

  private static boolean sound(List<Integer> balances) {
    return sum(balances) == (long) ACCOUNTS * INITIAL && balances.stream().allMatch(b -> b >= 0);
  }

  private static long sum(List<Integer> balances) {
    return balances.stream().mapToLong(Integer::longValue).sum();
  }

  /** Audits once more at the end; returns the number of problems seen in the whole run. */
  long check(BasaltClient client) {
    List<Integer> last = balances(client);
    boolean ok = sound(last);
    out.printf(
        "  bank            %d transfers, %d audits (%d saw a wrong total), final total %d of %d:"
            + " %s%n",
        transfers.get(),
        audits.get(),
        badAudits.get(),
        sum(last),
        (long) ACCOUNTS * INITIAL,
        ok && badAudits.get() == 0 ? "OK" : "FAILED");
    return badAudits.get() + (ok ? 0 : 1);
  }

  private static int balance(byte[] v) {
    if (v == null) {
      throw new IllegalStateException("an account has no balance");
    }
    return Integer.parseInt(new String(v, StandardCharsets.UTF_8));
  }

  private static byte[] bytes(int n) {
    return String.valueOf(n).getBytes(StandardCharsets.UTF_8);
  }
}
