package io.basalt.node.process;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Test hosts in network namespaces, made by {@code deploy/hosts/hosts.sh}: host {@code nI} at
 * {@code 10.77.0.(10+I)} on a bridge that this JVM (the client) reaches too. {@link #cut} and
 * {@link #heal} are the partition nemesis: iptables rules inside the hosts' namespaces, so that a
 * cut can be one-way, or leave the client's traffic alone. {@link #close} removes every host (so
 * does a shutdown hook if the JVM exits first; a killed run's leftovers are removed by the next
 * {@code up}).
 */
final class NetHosts implements AutoCloseable {
  private static final Path SCRIPT = findScript();

  private final int size;
  private final Thread cleanup;

  private static Path findScript() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path script = dir.resolve("deploy/hosts/hosts.sh");
      if (Files.isExecutable(script)) {
        return script;
      }
    }
    return null;
  }

  /** Why hosts cannot be made here (not root, no namespaces, no iptables), or empty. */
  static Optional<String> unavailable() {
    if (SCRIPT == null) {
      return Optional.of("deploy/hosts/hosts.sh not found above " + Path.of("").toAbsolutePath());
    }
    try {
      Result r = run(List.of(SCRIPT.toString(), "check"));
      return r.code == 0 ? Optional.empty() : Optional.of(r.output.strip());
    } catch (IOException e) {
      return Optional.of(e.toString());
    }
  }

  private NetHosts(int size) {
    this.size = size;
    this.cleanup = new Thread(this::down, "net-hosts-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
  }

  /** Makes hosts n1..n{@code size} (removing any left by an earlier run). */
  static NetHosts up(int size) throws IOException {
    NetHosts hosts = new NetHosts(size);
    hosts.script("up", String.valueOf(size));
    return hosts;
  }

  String ip(int node) {
    return "10.77.0." + (10 + node);
  }

  /** The command prefix that runs a command on host {@code node}. */
  List<String> exec(int node) {
    return List.of(SCRIPT.toString(), "exec", String.valueOf(node));
  }

  /**
   * Cuts what host {@code node} receives from each host in {@code from} (one way: what it sends
   * still arrives); {@link #cutBothWays} for both.
   */
  void cut(int node, int... from) throws IOException {
    for (int f : from) {
      script("exec", String.valueOf(node), "iptables", "-A", "INPUT", "-s", ip(f), "-j", "DROP");
    }
  }

  /**
   * Cuts {@code node} off from each host in {@code others}, both ways; the client still reaches
   * all.
   */
  void cutBothWays(int node, int... others) throws IOException {
    cut(node, others);
    for (int o : others) {
      cut(o, node);
    }
  }

  /**
   * Drops each packet host {@code node} receives from host {@code from} with probability {@code
   * percent}/100 (iptables' statistic match: loss without tc netem).
   */
  void loss(int node, int from, int percent) throws IOException {
    script(
        "exec",
        String.valueOf(node),
        "iptables",
        "-A",
        "INPUT",
        "-s",
        ip(from),
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        String.valueOf(percent / 100.0),
        "-j",
        "DROP");
  }

  /** Removes every cut. */
  void heal() throws IOException {
    for (int i = 1; i <= size; i++) {
      script("exec", String.valueOf(i), "iptables", "-F", "INPUT");
    }
  }

  private void down() {
    try {
      script("down");
    } catch (IOException e) {
      System.err.println("could not remove the test hosts: " + e);
    }
  }

  @Override
  public void close() {
    down();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs anyway
    }
  }

  private void script(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(SCRIPT.toString());
    cmd.addAll(List.of(args));
    Result r = run(cmd);
    if (r.code != 0) {
      throw new IOException(String.join(" ", cmd) + " failed (" + r.code + "): " + r.output);
    }
    System.out.printf("%tT hosts: %s%n", System.currentTimeMillis(), String.join(" ", args));
  }

  private record Result(int code, String output) {}

  private static Result run(List<String> cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), UTF_8);
    try {
      return new Result(p.waitFor(), out);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
