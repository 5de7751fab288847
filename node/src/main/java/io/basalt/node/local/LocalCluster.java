package io.basalt.node.local;

import io.basalt.api.InitClusterRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.StatusRequest;
import io.basalt.api.StatusResponse;
import io.basalt.client.ClientTls;
import io.basalt.node.cli.BasaltCli;
import io.basalt.node.cli.WireClient;
import io.basalt.node.tls.Certificates;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;

/**
 * A cluster of node processes on loopback, each a JVM running {@code basalt start} from this JVM's
 * class path with its own store directory and log file under one temporary directory: what {@code
 * basalt demo} and the cluster benchmarks run against.
 */
public final class LocalCluster implements AutoCloseable {
  private final int size;
  private final Path dir;
  private final List<String> addresses = new ArrayList<>();
  private final List<Integer> httpPorts = new ArrayList<>();
  private final List<Process> processes = new ArrayList<>();
  private final List<String> jvmArgs;
  private final List<String> nodeArgs;
  private boolean keep;
  private boolean tls;

  private LocalCluster(int size, Path dir, List<String> jvmArgs, List<String> nodeArgs) {
    this.size = size;
    this.dir = dir;
    this.jvmArgs = List.copyOf(jvmArgs);
    this.nodeArgs = List.copyOf(nodeArgs);
  }

  /**
   * Starts {@code size} nodes that join each other (not yet initialized).
   *
   * @param jvmArgs extra JVM options for each node (e.g. a heap size)
   * @param nodeArgs extra {@code start} flags for each node
   */
  public static LocalCluster start(int size, List<String> jvmArgs, List<String> nodeArgs)
      throws IOException {
    return start(size, jvmArgs, nodeArgs, false);
  }

  /**
   * As above; with {@code tls}, the nodes run with mutual TLS from certificates made for them (a
   * CA, one node certificate for loopback, and the client certificate of user root, in {@link
   * #certsDir}), and this process's admin connections use them ({@link #clientTls} is for clients);
   * without, every node runs with {@code --insecure}.
   */
  public static LocalCluster start(
      int size, List<String> jvmArgs, List<String> nodeArgs, boolean tls) throws IOException {
    Path dir = Files.createTempDirectory("basalt-local-");
    List<String> args = new ArrayList<>(nodeArgs);
    if (tls) {
      Path certs = dir.resolve("certs");
      Certificates.Issued ca = Certificates.newCa("Basalt local CA", Duration.ofDays(1));
      Certificates.writeCertificate(certs.resolve(Certificates.CA_CERT), ca.certificate());
      Certificates.writeKey(dir.resolve(Certificates.CA_KEY), ca.key());
      Certificates.write(
          certs,
          Certificates.NODE_CERT,
          Certificates.NODE_KEY,
          Certificates.newNode(ca, List.of("127.0.0.1", "localhost"), Duration.ofDays(1)));
      Certificates.write(
          certs,
          Certificates.clientCert("root"),
          Certificates.clientKey("root"),
          Certificates.newClient(ca, "root", Duration.ofDays(1)));
      args.add("--certs-dir=" + certs);
      WireClient.useTls(ClientTls.inCertsDir(certs, "root"));
    } else {
      args.add("--insecure");
      WireClient.useTls(null);
    }
    LocalCluster c = new LocalCluster(size, dir, jvmArgs, args);
    c.tls = tls;
    for (int i = 0; i < size; i++) {
      c.addresses.add("127.0.0.1:" + freePort());
      c.httpPorts.add(freePort());
    }
    for (int i = 1; i <= size; i++) {
      c.processes.add(null);
      c.launch(i);
    }
    return c;
  }

  /**
   * Whether the kernel offers transparent huge pages to a process that asks (madvise or always).
   */
  static boolean transparentHugePages() {
    try {
      String mode = Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
      return mode.contains("[always]") || mode.contains("[madvise]");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Where the next {@link #freePort} search starts (a random place, so JVMs rarely meet). */
  private static final java.util.concurrent.atomic.AtomicInteger NEXT_PORT =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * A port that nothing listens on, for a node to be started on: one below the kernel's range of
   * ephemeral ports, which outgoing connections take their local ports from. A port the kernel
   * handed out as free ({@code bind(0)}) is inside that range, and a connection made before the
   * node binds it can take it (seen: a node that failed to start with "address already in use").
   * Successive calls in one JVM never return the same port.
   */
  public static int freePort() throws IOException {
    int low = 10_000;
    int high = ephemeralPortsStart();
    NEXT_PORT.compareAndSet(0, low + new java.util.Random().nextInt(high - low));
    for (int tries = 0; tries < high - low; tries++) {
      int port = low + Math.floorMod(NEXT_PORT.getAndIncrement() - low, high - low);
      try {
        new ServerSocket(port).close();
        return port;
      } catch (IOException inUse) {
        // taken: the next one
      }
    }
    throw new IOException("no free port in [" + low + ", " + high + ")");
  }

  /** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
  private static int ephemeralPortsStart() {
    try {
      String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
      int start = Integer.parseInt(range.split("\\s+")[0]);
      return start > 20_000 ? start : 32_768;
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }

  private void launch(int id) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    if (ProcessHandle.current().info().user().orElse("").equals("root")) {
      // Lets the store thread's priority reach the OS scheduler (only root may raise it).
      cmd.add("-XX:ThreadPriorityPolicy=1");
    }
    if (transparentHugePages()) {
      // Fewer TLB misses for the heap, as bin/basalt start does.
      cmd.add("-XX:+UseTransparentHugePages");
    }
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(BasaltCli.class.getName());
    cmd.add("start");
    cmd.add("--id=" + id);
    cmd.add("--store=" + dir.resolve("store-" + id));
    cmd.add("--listen=" + address(id));
    cmd.add("--http=127.0.0.1:" + httpPort(id));
    cmd.add("--join=" + String.join(",", addresses));
    cmd.addAll(nodeArgs);
    processes.set(
        id - 1,
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log(id).toFile()))
            .start());
  }

  public int size() {
    return size;
  }

  /** The certificates directory of a cluster with TLS. */
  public Path certsDir() {
    return dir.resolve("certs");
  }

  /** What a client of this cluster connects with: TLS files, or null (plaintext). */
  public ClientTls clientTls() {
    return tls ? ClientTls.inCertsDir(certsDir(), "root") : null;
  }

  public Path dir() {
    return dir;
  }

  /** "host:port" of node {@code id} (1-based). */
  public String address(int id) {
    return addresses.get(id - 1);
  }

  public List<String> addresses() {
    return List.copyOf(addresses);
  }

  public int httpPort(int id) {
    return httpPorts.get(id - 1);
  }

  public Path log(int id) {
    return dir.resolve("node-" + id + ".log");
  }

  public Process process(int id) {
    return processes.get(id - 1);
  }

  public boolean alive(int id) {
    Process p = processes.get(id - 1);
    return p != null && p.isAlive();
  }

  /**
   * Initializes the cluster through node 1, retrying until the nodes have found each other.
   *
   * @return the new cluster id
   * @throws IllegalStateException if that does not happen within {@code timeout}
   */
  public String init(int dataRanges, int replicas, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "no node answered";
    while (System.nanoTime() < deadline) {
      try (WireClient c = WireClient.connect(address(1), Duration.ofSeconds(5))) {
        KvResponse r =
            c.call(
                KvRequest.newBuilder()
                    .setInitCluster(
                        InitClusterRequest.newBuilder()
                            .setDataRanges(dataRanges)
                            .setReplication(replicas))
                    .build());
        if (!r.hasError()) {
          return r.getInitCluster().getClusterId();
        }
        last = r.getError().toString();
      } catch (RuntimeException e) {
        last = e.getMessage();
      }
      LockSupport.parkNanos(Duration.ofMillis(200).toNanos());
    }
    throw new IllegalStateException("the cluster did not initialize: " + last);
  }

  /** The status of every live node that answers, by node id. */
  public Map<Integer, StatusResponse> statuses() {
    Map<Integer, StatusResponse> out = new TreeMap<>();
    for (int i = 1; i <= size; i++) {
      if (!alive(i)) {
        continue;
      }
      try (WireClient c = WireClient.connect(address(i), Duration.ofSeconds(1))) {
        KvResponse r =
            c.call(KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
        if (r.hasStatus()) {
          out.put(i, r.getStatus());
        }
      } catch (RuntimeException e) {
        // down or busy: left out
      }
    }
    return out;
  }

  /** Range id to the node that leads it, as the live nodes report. */
  public Map<Long, Integer> leaders() {
    Map<Long, Integer> out = new TreeMap<>();
    statuses()
        .forEach((node, s) -> {
          for (ReplicaStatus r : s.getReplicasList()) {
            if (r.getRole().equals("LEADER")) {
              out.put(r.getRange().getRangeId(), node);
            }
          }
        });
    return out;
  }

  /** The range descriptors, as some live node reports them. */
  public List<RangeDescriptor> ranges() {
    for (StatusResponse s : statuses().values()) {
      if (s.getReplicasCount() > 0) {
        return s.getReplicasList().stream().map(ReplicaStatus::getRange).toList();
      }
    }
    return List.of();
  }

  /** Waits until every range has a leader. */
  public void awaitLeaders(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      List<RangeDescriptor> ranges = ranges();
      if (!ranges.isEmpty() && leaders().keySet().size() == ranges.size()) {
        return;
      }
      LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
    }
    throw new IllegalStateException("not every range elected a leader within " + timeout);
  }

  /** SIGKILLs node {@code id} and waits for it to exit. */
  public void kill(int id) throws InterruptedException {
    Process p = processes.get(id - 1);
    p.destroyForcibly();
    p.waitFor();
  }

  /** Starts node {@code id} again with its store. */
  public void restart(int id) throws IOException, InterruptedException {
    Process p = processes.get(id - 1);
    if (p != null && p.isAlive()) {
      throw new IllegalStateException("node " + id + " is running");
    }
    launch(id);
  }

  /** Leaves the processes running (and the directory in place) on {@link #close()}. */
  public void keepRunning() {
    keep = true;
  }

  /** The nodes' process ids. */
  public List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  /** Kills every node and deletes the directory (unless {@link #keepRunning()} was called). */
  @Override
  public void close() {
    if (keep) {
      return;
    }
    for (Process p : processes) {
      if (p != null) {
        p.destroyForcibly();
      }
    }
    for (Process p : processes) {
      if (p != null) {
        try {
          p.waitFor();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory: best effort
    }
  }
}
