package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code basalt init|status|kv} as an operator runs them, and the identity checks of start. */
class CliTest {
  record Result(int code, String out, String err) {}

  /** {@code basalt ARGS --certs-dir=CERTS}: a client command with the cluster's TLS. */
  static Result cli(ProcessCluster cluster, String... args)
      throws IOException, InterruptedException {
    List<String> withTls = new ArrayList<>(List.of(args));
    withTls.add("--certs-dir=" + cluster.certs);
    return cli(withTls.toArray(String[]::new));
  }

  static Result cli(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.basalt.node.cli.BasaltCli");
    cmd.addAll(List.of(args));
    java.nio.file.Path out = java.nio.file.Files.createTempFile("basalt-cli", ".out");
    java.nio.file.Path err = java.nio.file.Files.createTempFile("basalt-cli", ".err");
    try {
      Process p =
          new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("basalt " + String.join(" ", args) + " did not finish");
      }
      return new Result(
          p.exitValue(),
          java.nio.file.Files.readString(out, StandardCharsets.UTF_8),
          java.nio.file.Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      java.nio.file.Files.deleteIfExists(out);
      java.nio.file.Files.deleteIfExists(err);
    }
  }

  @Test
  void initStatusAndKvLikeAnOperator() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster("cli", 3, 50)) {
      cluster.startAll();
      // init waits (--wait-seconds) while the nodes are still finding each other.
      Result init =
          cli(
              cluster,
              "init",
              "--host",
              cluster.address(2),
              "--ranges",
              "4",
              "--wait-seconds",
              "60");
      assertThat(init.code()).as(init.err()).isZero();
      assertThat(init.out()).contains("initialized cluster");
      Result again = cli(cluster, "init", "--host", cluster.address(3));
      assertThat(again.code()).isEqualTo(1);
      assertThat(again.err()).contains("ALREADY_INITIALIZED");
      // --if-new makes a repeated init (a Kubernetes Job run again) succeed, changing nothing.
      Result ifNew = cli(cluster, "init", "--host", cluster.address(1), "--if-new");
      assertThat(ifNew.code()).as(ifNew.err()).isZero();
      assertThat(ifNew.out()).contains("initialized already");
      cluster.awaitConverged(Duration.ofSeconds(60));

      // The placement driver may be moving a leadership when status runs (a range with no leader
      // for a moment, reported unavailable): the status asserted is one taken between moves.
      Result[] last = new Result[1];
      ProcessCluster.await(
          () -> {
            try {
              last[0] = cli(cluster, "status", "--host", cluster.address(1));
              return last[0]
                  .out()
                  .contains("unavailable ranges (no leader, or no live majority): []");
            } catch (Exception e) {
              return false;
            }
          },
          "a status with every range available",
          Duration.ofSeconds(30));
      Result status = last[0];
      assertThat(status.code()).isZero();
      assertThat(status.out())
          .contains("NODE", "RANGE", "LEADER")
          .containsPattern("(?m)^1 +127\\.0\\.0\\.1:\\d+ +up +5 ")
          .containsPattern("(?m)^3 +127\\.0\\.0\\.1:\\d+ +up +5 ")
          .containsPattern("placement driver: node \\d \\(it leads the meta range\\)")
          .contains("SIZE", "REQ/S")
          .contains("under-replicated ranges (a voter on a node that does not answer): []")
          .contains("unavailable ranges (no leader, or no live majority): []");

      String host = "--host=" + cluster.address(3);
      assertThat(cli(cluster, "kv", host, "put", "alpha", "1").out()).contains("OK");
      assertThat(cli(cluster, "kv", host, "put", "zulu", "26").out()).contains("OK");
      assertThat(cli(cluster, "kv", "--host=" + cluster.address(1), "get", "alpha").out().strip())
          .isEqualTo("1");
      assertThat(cli(cluster, "kv", host, "scan").out()).contains("alpha\t1").contains("zulu\t26");
      assertThat(cli(cluster, "kv", host, "delete", "alpha").out()).contains("deleted");
      Result missing = cli(cluster, "kv", host, "get", "alpha");
      assertThat(missing.code()).isEqualTo(1);
      assertThat(missing.err()).contains("not found");
      Result empty = cli(cluster, "kv", host, "put", "", "x");
      assertThat(empty.code()).isEqualTo(1);
      assertThat(empty.err()).contains("must not be empty");

      // A transaction across ranges: reads, writes, and its commit timestamp.
      Result txn =
          cli(cluster, "kv", host, "txn", "get", "zulu", "put", "alpha", "2", "put", "zz", "3");
      assertThat(txn.code()).as(txn.err()).isZero();
      assertThat(txn.out()).contains("zulu = 26").containsPattern("committed at \\d+,\\d+");
      assertThat(cli(cluster, "kv", host, "get", "alpha").out().strip()).isEqualTo("2");
      assertThat(cli(cluster, "kv", host, "get", "zz").out().strip()).isEqualTo("3");
      Result bad = cli(cluster, "kv", host, "txn", "get");
      assertThat(bad.code()).isEqualTo(1);
      assertThat(bad.err()).contains("get needs 1 argument");
    }
  }

  @Test
  void aStoreIsRefusedUnderAnotherIdOrAmongAnotherClustersNodes() throws Exception {
    try (ProcessCluster a = new ProcessCluster("cli-a", 1, 50);
        ProcessCluster b = new ProcessCluster("cli-b", 1, 50)) {
      b.useCertificatesOf(a); // one CA for both: what refuses the join is the cluster id
      a.startAll();
      a.init(1, 1);
      b.startAll();
      b.init(1, 1);
      a.stop(1);

      Result wrongId =
          cli(
              "start",
              "--id=7",
              "--store=" + a.store(1),
              "--listen=" + a.address(1),
              "--http=127.0.0.1:" + a.httpPorts[1],
              "--certs-dir=" + a.certs);
      assertThat(wrongId.code()).isEqualTo(1);
      assertThat(wrongId.err()).contains("belongs to node 1");

      Result otherCluster =
          cli(
              "start",
              "--id=1",
              "--store=" + a.store(1),
              "--listen=" + a.address(1),
              "--http=127.0.0.1:" + a.httpPorts[1],
              "--join=" + b.address(1),
              "--certs-dir=" + a.certs);
      assertThat(otherCluster.code()).isEqualTo(1);
      assertThat(otherCluster.err()).contains("belongs to cluster").contains("refusing to join");
    }
  }
}
