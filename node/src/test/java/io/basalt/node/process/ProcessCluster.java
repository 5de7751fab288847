package io.basalt.node.process;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.basalt.api.InitClusterRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeInfoRequest;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.StatusRequest;
import io.basalt.api.StatusResponse;
import io.basalt.node.cli.WireClient;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * Real node processes on loopback for tests: each node is a separate JVM running {@code BasaltCli
 * start} from this test's class path, with its own store directory and log file. Faults are real:
 * SIGKILL, SIGSTOP/SIGCONT, restarts with the same store.
 */
final class ProcessCluster implements AutoCloseable {
  final int size;
  final Path dir;
  final int[] ports;
  final int[] httpPorts;
  final Process[] processes;
  private final List<String> extraArgs[];
  private final int tickMs;
  private final List<String> expectedErrors = new ArrayList<>();

  /** The hosts the nodes run on (node i on host i), or null: all on this host's loopback. */
  private final NetHosts hosts;

  ProcessCluster(String name, int size, int tickMs) throws IOException {
    this(name, size, tickMs, null);
  }

  /** A cluster whose node i runs on host i of {@code hosts} (null: on loopback). */
  @SuppressWarnings("unchecked")
  ProcessCluster(String name, int size, int tickMs, NetHosts hosts) throws IOException {
    this.size = size;
    this.tickMs = tickMs;
    this.hosts = hosts;
    this.dir = Files.createTempDirectory("basalt-" + name + "-");
    this.ports = new int[size + 1];
    this.httpPorts = new int[size + 1];
    this.processes = new Process[size + 1];
    this.extraArgs = new List[size + 1];
    for (int i = 1; i <= size; i++) {
      ports[i] = hosts == null ? freePort() : 7400;
      httpPorts[i] = hosts == null ? freePort() : 8080;
      extraArgs[i] = new ArrayList<>();
    }
    this.certs = dir.resolve("certs");
    makeCertificates();
  }

  /**
   * The cluster's certificates, as an operator makes them: a CA (its key outside the directory),
   * one node certificate naming every host the nodes run on, and user root's client certificate.
   * Nodes run with TLS; this JVM's admin connections and {@link #clientBuilder} use it too.
   */
  final Path certs;

  private void makeCertificates() throws IOException {
    io.basalt.node.tls.Certificates.Issued ca =
        io.basalt.node.tls.Certificates.newCa("test CA", Duration.ofDays(1));
    io.basalt.node.tls.Certificates.writeCertificate(
        certs.resolve(io.basalt.node.tls.Certificates.CA_CERT), ca.certificate());
    io.basalt.node.tls.Certificates.writeKey(dir.resolve("ca.key"), ca.key());
    List<String> names = new ArrayList<>(List.of("127.0.0.1", "localhost"));
    for (int i = 1; i <= size; i++) {
      if (!names.contains(host(i))) {
        names.add(host(i));
      }
    }
    io.basalt.node.tls.Certificates.write(
        certs,
        io.basalt.node.tls.Certificates.NODE_CERT,
        io.basalt.node.tls.Certificates.NODE_KEY,
        io.basalt.node.tls.Certificates.newNode(ca, names, Duration.ofDays(1)));
    io.basalt.node.tls.Certificates.write(
        certs,
        io.basalt.node.tls.Certificates.clientCert("root"),
        io.basalt.node.tls.Certificates.clientKey("root"),
        io.basalt.node.tls.Certificates.newClient(ca, "root", Duration.ofDays(1)));
    io.basalt.node.cli.WireClient.useTls(clientTls());
  }

  private boolean insecure;

  /**
   * Runs this cluster's nodes with {@code --insecure} and connects to them in plaintext: for tests
   * of the layers under TLS (frames, the handshake), whose refusals would otherwise be TLS's.
   */
  ProcessCluster insecure() {
    insecure = true;
    io.basalt.node.cli.WireClient.useTls(null);
    return this;
  }

  /** This cluster's nodes and clients use {@code other}'s certificates (one CA for both). */
  void useCertificatesOf(ProcessCluster other) throws IOException {
    try (var files = Files.list(other.certs)) {
      for (Path f : files.toList()) {
        Files.copy(
            f, certs.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    io.basalt.node.cli.WireClient.useTls(clientTls());
  }

  /** What a client of this cluster connects with. */
  io.basalt.client.ClientTls clientTls() {
    return io.basalt.client.ClientTls.inCertsDir(certs, "root");
  }

  /** A client builder for this cluster: TLS with user root's certificate (seeds still to set). */
  io.basalt.client.BasaltClient.Builder clientBuilder() {
    io.basalt.client.BasaltClient.Builder b = io.basalt.client.BasaltClient.builder();
    return insecure ? b : b.tls(clientTls());
  }

  private String host(int node) {
    return hosts == null ? "127.0.0.1" : hosts.ip(node);
  }

  private static int freePort() throws IOException {
    return io.basalt.node.local.LocalCluster.freePort();
  }

  String address(int node) {
    return host(node) + ":" + ports[node];
  }

  List<String> addresses() {
    List<String> out = new ArrayList<>();
    for (int i = 1; i <= size; i++) {
      out.add(address(i));
    }
    return out;
  }

  Path store(int node) {
    return dir.resolve("store-" + node);
  }

  Path log(int node) {
    return dir.resolve("node-" + node + ".log");
  }

  /**
   * Declares that node logs may contain ERROR lines containing {@code text} (e.g. a node that stops
   * serving because of its clock). Any other ERROR line fails the test when the cluster closes.
   */
  void expectErrors(String text) {
    expectedErrors.add(text);
  }

  private String heap = "256m";

  /**
   * The maximum heap of every node started from now on (default 256m). A node installing a snapshot
   * holds it in memory until it is written.
   */
  void setHeap(String heap) {
    this.heap = heap;
  }

  /** What each node's clock reads ({@code FAKETIME} of libfaketime), or null: the true clock. */
  private final java.util.Map<Integer, String> fakeTime = new java.util.HashMap<>();

  /**
   * From its next start, node {@code node} reads a false clock, wall and monotonic alike, through
   * libfaketime ({@code deploy/hosts/faketime.sh}): {@code spec} is its {@code FAKETIME}, such as
   * {@code "+3.0"} (3 s ahead) or {@code "+0 x0.5"} (half speed); null for the true clock.
   */
  void setFakeTime(int node, String spec) {
    if (spec == null) {
      fakeTime.remove(node);
    } else {
      fakeTime.put(node, spec);
    }
  }

  private static String fakeTimeLibrary;

  /** The path of libfaketime, found (or installed) by {@code deploy/hosts/faketime.sh}. */
  private static synchronized String fakeTimeLibrary() throws IOException {
    if (fakeTimeLibrary == null) {
      Path script = null;
      for (Path d = Path.of("").toAbsolutePath(); d != null && script == null; d = d.getParent()) {
        if (Files.isExecutable(d.resolve("deploy/hosts/faketime.sh"))) {
          script = d.resolve("deploy/hosts/faketime.sh");
        }
      }
      if (script == null) {
        throw new IOException("deploy/hosts/faketime.sh not found");
      }
      Process p = new ProcessBuilder(script.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), UTF_8).strip();
      try {
        if (p.waitFor() != 0) {
          throw new IOException("libfaketime is needed for clock faults: " + out);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      String[] lines = out.split("\n");
      fakeTimeLibrary = lines[lines.length - 1];
    }
    return fakeTimeLibrary;
  }

  void setExtraArgs(int node, List<String> args) {
    extraArgs[node] = new ArrayList<>(args);
  }

  void start(int node) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>();
    if (hosts != null) {
      cmd.addAll(hosts.exec(node));
    }
    cmd.add(java);
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Xmx" + heap);
    cmd.add("-XX:+UseSerialGC");
    // Leaks are looked for in tests (a node left to itself does not sample its buffers).
    cmd.add("-Dio.netty.leakDetection.level=simple");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.basalt.node.cli.BasaltCli");
    cmd.add("start");
    cmd.add("--id=" + node);
    cmd.add("--store=" + store(node));
    cmd.add("--listen=" + address(node));
    cmd.add("--http=" + host(node) + ":" + httpPorts[node]);
    cmd.add("--join=" + String.join(",", addresses()));
    cmd.add("--tick-ms=" + tickMs);
    cmd.add(insecure ? "--insecure" : "--certs-dir=" + certs);
    cmd.addAll(extraArgs[node]);
    File logFile = log(node).toFile();
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile));
    String faked = fakeTime.get(node);
    if (faked != null) {
      pb.environment().put("LD_PRELOAD", fakeTimeLibrary());
      pb.environment().put("FAKETIME", faked);
      pb.environment().put("FAKETIME_NO_CACHE", "1");
    }
    processes[node] = pb.start();
  }

  void startAll() throws IOException {
    for (int i = 1; i <= size; i++) {
      start(i);
    }
  }

  /** Initializes the cluster through node 1 once every node started answers. */
  void init(int dataRanges) {
    init(dataRanges, Math.min(3, size));
  }

  /** Initializes the cluster through node 1 once every node answers. */
  void init(int dataRanges, int replication) {
    for (int i = 1; i <= size; i++) {
      if (processes[i] == null) {
        continue; // (never started: not part of the cluster yet)
      }
      int n = i;
      await(() -> nodeInfoCluster(n).isPresent(), "node " + n + " answers", Duration.ofSeconds(60));
    }
    await(
        () -> {
          try (WireClient c = WireClient.connect(address(1), Duration.ofSeconds(10))) {
            KvResponse r =
                c.call(
                    KvRequest.newBuilder()
                        .setInitCluster(
                            InitClusterRequest.newBuilder()
                                .setDataRanges(dataRanges)
                                .setReplication(replication))
                        .build());
            return !r.hasError();
          } catch (RuntimeException e) {
            return false;
          }
        },
        "init succeeds",
        Duration.ofSeconds(60));
  }

  Optional<String> nodeInfoCluster(int node) {
    try (WireClient c = WireClient.connect(address(node), Duration.ofSeconds(2))) {
      KvResponse r =
          c.call(KvRequest.newBuilder().setNodeInfo(NodeInfoRequest.getDefaultInstance()).build());
      return Optional.of(r.getNodeInfo().getClusterId());
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  Optional<StatusResponse> status(int node) {
    try (WireClient c = WireClient.connect(address(node), Duration.ofSeconds(2))) {
      KvResponse r =
          c.call(KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
      return r.hasStatus() ? Optional.of(r.getStatus()) : Optional.empty();
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The node that leads {@code rangeId} according to the live nodes, or 0. */
  int leaderOf(long rangeId) {
    for (int i = 1; i <= size; i++) {
      if (!alive(i)) {
        continue;
      }
      Optional<StatusResponse> s = status(i);
      if (s.isEmpty()) {
        continue;
      }
      for (ReplicaStatus r : s.get().getReplicasList()) {
        if (r.getRange().getRangeId() == rangeId && r.getRole().equals("LEADER")) {
          return i;
        }
      }
    }
    return 0;
  }

  /** Waits until {@code range} has a leader; returns its node. */
  int awaitLeader(long range) {
    int[] leader = new int[1];
    await(
        () -> (leader[0] = leaderOf(range)) != 0,
        "range " + range + " has a leader",
        Duration.ofSeconds(30));
    return leader[0];
  }

  /**
   * Waits until every range has a leader and every replica its descriptor names, and all replicas
   * of each range applied the same index.
   */
  void awaitConverged(Duration timeout) {
    await(
        () -> {
          java.util.Map<Long, Long> applied = new java.util.HashMap<>();
          java.util.Map<Long, Integer> replicas = new java.util.HashMap<>();
          java.util.Map<Long, Integer> named = new java.util.HashMap<>();
          java.util.Set<Long> led = new java.util.HashSet<>();
          for (int i = 1; i <= size; i++) {
            if (processes[i] == null) {
              continue; // (never started)
            }
            Optional<StatusResponse> s = status(i);
            if (s.isEmpty()) {
              return false;
            }
            for (ReplicaStatus r : s.get().getReplicasList()) {
              long id = r.getRange().getRangeId();
              replicas.merge(id, 1, Integer::sum);
              named.put(id, r.getRange().getReplicasCount());
              Long prev = applied.put(id, r.getApplied());
              if (prev != null && prev != r.getApplied()) {
                return false;
              }
              if (r.getRole().equals("LEADER")) {
                led.add(id);
              }
            }
          }
          return !applied.isEmpty() && replicas.equals(named) && led.containsAll(applied.keySet());
        },
        "all replicas converge",
        timeout);
  }

  /** GETs {@code path} on a node's HTTP port: the status code, a space, the body. */
  String http(int node, String path) {
    try {
      java.net.http.HttpResponse<String> r =
          (insecure
                  ? java.net.http.HttpClient.newBuilder()
                  : java.net.http.HttpClient.newBuilder()
                      .sslContext(io.basalt.node.tls.JdkTls.context(clientTls())))
              .build()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create(
                              (insecure ? "http://" : "https://")
                                  + host(node)
                                  + ":"
                                  + httpPorts[node]
                                  + path))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body();
    } catch (IOException e) {
      return "unreachable " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  boolean alive(int node) {
    return processes[node] != null && processes[node].isAlive();
  }

  void kill(int node) throws InterruptedException {
    processes[node].destroyForcibly();
    processes[node].waitFor();
  }

  /** Stops the node gracefully (SIGTERM) and waits for it to exit. */
  void stop(int node) throws InterruptedException {
    processes[node].destroy();
    processes[node].waitFor();
  }

  void signal(int node, String signal) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder("kill", "-" + signal, String.valueOf(processes[node].pid()))
            .inheritIO()
            .start();
    if (p.waitFor() != 0) {
      throw new IOException("kill -" + signal + " failed");
    }
  }

  static void await(BooleanSupplier condition, String what, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting until " + what);
      }
      try {
        Thread.onSpinWait();
        synchronized (condition) {
          condition.wait(100);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting until " + what, e);
      }
    }
  }

  /**
   * Kills every node left running, deletes their stores (a test run starts dozens of clusters, and
   * a killed node's recycled write-ahead log files keep their full size), then fails if any node
   * log holds an ERROR line that no {@link #expectErrors} call declared. The logs stay in {@link
   * #dir} for whoever reads a failure.
   */
  @Override
  public void close() {
    killAll();
    for (int i = 1; i <= size; i++) {
      deleteTree(store(i));
    }
    List<Path> logs = new ArrayList<>();
    for (int i = 1; i <= size; i++) {
      logs.add(log(i));
    }
    assertNoUnexpectedErrors(logs, expectedErrors);
  }

  /**
   * Fails with every ERROR line of {@code logs} (slf4j-simple's level field: "[thread] ERROR logger
   * - message") that contains none of {@code expected}.
   */
  static void assertNoUnexpectedErrors(List<Path> logs, List<String> expected) {
    List<String> unexpected = new ArrayList<>();
    for (Path log : logs) {
      String text;
      try {
        text = Files.exists(log) ? new String(Files.readAllBytes(log), UTF_8) : "";
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      for (String line : text.split("\n")) {
        if (ERROR_LINE.matcher(line).find() && expected.stream().noneMatch(line::contains)) {
          unexpected.add(log.getFileName() + ": " + line);
        }
      }
    }
    if (!unexpected.isEmpty()) {
      throw new AssertionError(
          unexpected.size()
              + " unexpected ERROR line(s) in the node logs ("
              + logs.get(0).getParent()
              + "):\n  "
              + String.join("\n  ", unexpected.subList(0, Math.min(20, unexpected.size()))));
    }
  }

  private static final java.util.regex.Pattern ERROR_LINE =
      java.util.regex.Pattern.compile("(^|\\s)ERROR\\s");

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (var files = Files.walk(root)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot delete " + root, e);
    }
  }

  private void killAll() {
    for (int i = 1; i <= size; i++) {
      Process p = processes[i];
      if (p != null && p.isAlive()) {
        try {
          signal(i, "CONT");
        } catch (IOException | InterruptedException ignored) {
          // killing it anyway
        }
        p.destroyForcibly();
      }
    }
    for (int i = 1; i <= size; i++) {
      if (processes[i] != null) {
        try {
          processes[i].waitFor();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
