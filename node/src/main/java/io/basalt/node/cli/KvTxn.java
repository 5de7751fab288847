package io.basalt.node.cli;

import io.basalt.client.BasaltClient;
import io.basalt.client.BasaltException;
import io.basalt.client.HlcTimestamp;
import io.basalt.client.TransactionAbortedException;
import io.basalt.client.TransactionRetryException;
import io.basalt.client.Txn;
import io.basalt.client.TxnOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code basalt kv txn}: runs one transaction through the Java client and prints what it read and
 * its commit timestamp. Operations come as arguments ({@code get K put K V delete K}) or, with
 * none, one per line on standard input.
 */
@Command(
    name = "txn",
    description = {
      "Run one transaction and print its reads and commit timestamp.",
      "Operations, as arguments or one per line on stdin: get KEY | lock KEY (read and lock)"
          + " | put KEY VALUE | delete KEY."
    })
final class KvTxn implements Callable<Integer> {
  @CommandLine.ParentCommand BasaltCli.Kv kv;

  @Parameters(arity = "0..*", description = "Operations (read from stdin when none).")
  List<String> words = new ArrayList<>();

  @Option(
      names = "--isolation",
      defaultValue = "SERIALIZABLE",
      description = "SERIALIZABLE (default) or SNAPSHOT.")
  TxnOptions.Isolation isolation;

  /** One operation of the transaction. */
  record Op(String verb, String key, String value) {}

  @Override
  public Integer call() throws IOException {
    List<Op> ops;
    try {
      ops = parse(words.isEmpty() ? stdinWords() : words);
    } catch (IllegalArgumentException e) {
      System.err.println("basalt kv txn: " + e.getMessage());
      return BasaltCli.FAILED;
    }
    io.basalt.client.ClientTls tls = kv.security.apply();
    BasaltClient.Builder builder =
        BasaltClient.builder().seeds(kv.host).callTimeout(Duration.ofSeconds(10));
    if (tls != null) {
      builder.tls(tls);
    }
    try (BasaltClient client = builder.build()) {
      // begin() rather than txn(fn): the commit timestamp is printed. Retried like txn(fn).
      TxnOptions options = TxnOptions.defaults().withIsolation(isolation);
      for (int attempt = 1; ; attempt++) {
        Txn tx = client.begin(options);
        try {
          List<String> out = new ArrayList<>();
          for (Op op : ops) {
            byte[] k = op.key().getBytes(StandardCharsets.UTF_8);
            switch (op.verb()) {
              case "get", "lock" -> {
                byte[] v = op.verb().equals("get") ? tx.get(k) : tx.getForUpdate(k);
                out.add(
                    op.key()
                        + " = "
                        + (v == null ? "(none)" : new String(v, StandardCharsets.UTF_8)));
              }
              case "put" -> tx.put(k, op.value().getBytes(StandardCharsets.UTF_8));
              default -> tx.delete(k);
            }
          }
          HlcTimestamp at = tx.commit();
          out.forEach(System.out::println);
          System.out.println("committed at " + at);
          return 0;
        } catch (TransactionRetryException | TransactionAbortedException e) {
          tx.rollback();
          if (attempt == options.maxAttempts()) {
            throw e;
          }
        }
      }
    } catch (BasaltException | IllegalArgumentException e) {
      System.err.println("basalt kv txn: " + e.getMessage());
      return BasaltCli.FAILED;
    }
  }

  private static List<String> stdinWords() throws IOException {
    List<String> out = new ArrayList<>();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      for (String w : line.trim().split("\\s+")) {
        if (!w.isEmpty()) {
          out.add(w);
        }
      }
    }
    return out;
  }

  /**
   * The operations {@code words} spell.
   *
   * @throws IllegalArgumentException naming the first word that is not an operation or lacks its
   *     arguments
   */
  static List<Op> parse(List<String> words) {
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < words.size(); ) {
      String verb = words.get(i).toLowerCase(java.util.Locale.ROOT);
      int args =
          switch (verb) {
            case "get", "lock", "delete" -> 1;
            case "put" -> 2;
            default ->
                throw new IllegalArgumentException(
                    "'" + words.get(i) + "' is not an operation (get, lock, put, delete)");
          };
      if (i + args >= words.size()) {
        throw new IllegalArgumentException(verb + " needs " + args + " argument(s)");
      }
      ops.add(new Op(verb, words.get(i + 1), args == 2 ? words.get(i + 2) : null));
      i += 1 + args;
    }
    if (ops.isEmpty()) {
      throw new IllegalArgumentException("no operations given");
    }
    return ops;
  }
}
