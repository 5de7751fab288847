package io.basalt.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The rendered chart's StatefulSet, run the way a kubelet would run it but without Kubernetes:
 * every pod is the image's filesystem run by {@code deploy/image/run.sh} in its own network
 * namespace (an address on bridge {@value #BRIDGE}), with its own host name, the cluster's hosts
 * file as its DNS, its volume kept across re-creations, and the container's command, arguments and
 * environment (downward API included) taken from the manifest. A re-created pod gets a new address,
 * as on Kubernetes. {@link #close} removes every namespace, link, process and directory it made; so
 * does the next run's start, after a killed one.
 */
final class EmulatedStatefulSet implements AutoCloseable {
  static final String BRIDGE = "basaltpods0";
  static final String NS_PREFIX = "basaltpod-";
  static final String NET = "10.79.0";

  record Container(List<String> command, Map<String, Object> env, List<String> preStop) {}

  private final String setName;
  private final String peers;
  private final String namespace;
  private final String domain;
  private final Container node;
  private final Container init;
  private final Path dir;
  private final Path hosts;
  private final Path certs;
  private final Map<String, String> ips = new TreeMap<>();
  private final Map<String, Process> pods = new LinkedHashMap<>();
  private final Thread hook =
      new Thread(() -> {
        try {
          cleanUp();
        } catch (Exception e) {
          System.err.println("emulated pods: clean-up failed: " + e);
        }
      });
  private int nextAddress = 10;
  private int nextLink;

  /**
   * @param certs the TLS Secret's files, mounted at /certs when the manifest runs with TLS (owned
   *     by the image's user, as fsGroup makes a Secret's files), or null
   */
  EmulatedStatefulSet(
      List<Map<String, Object>> docs, String namespace, Path dir, Path hosts, Path certs)
      throws IOException, InterruptedException {
    Map<String, Object> set = ProjectChecks.of(docs, "StatefulSet").get(0);
    this.setName = Manifests.name(set);
    this.peers = (String) ProjectChecks.map(set, "spec").get("serviceName");
    this.namespace = namespace;
    this.dir = dir;
    this.hosts = hosts;
    this.certs = certs;
    Map<String, Object> c = container(set);
    this.node = new Container(command(c), envOf(c), preStop(c));
    this.domain = peers + "." + namespace + ".svc." + ProjectChecks.env(c, "BASALT_CLUSTER_DOMAIN");
    Map<String, Object> job = ProjectChecks.of(docs, "Job").get(0);
    Map<String, Object> jc = container(job);
    this.init = new Container(command(jc), envOf(jc), List.of());
    cleanUp();
    // If this JVM ends before close (a crash, Ctrl-C), the pods and their network go with it.
    Runtime.getRuntime().addShutdownHook(hook);
    Files.createDirectories(dir);
    sh("ip link add " + BRIDGE + " type bridge");
    sh("ip addr add " + NET + ".1/24 dev " + BRIDGE);
    sh("ip link set " + BRIDGE + " up");
    writeHosts();
  }

  String podName(int ordinal) {
    return setName + "-" + ordinal;
  }

  /** The pod's stable name, as the headless Service gives it. */
  String fqdn(int ordinal) {
    return podName(ordinal) + "." + domain;
  }

  /** The pod's node as a client reaches it: its stable name and the node's port. */
  String seed(int ordinal) {
    return fqdn(ordinal) + ":" + node.env().get("BASALT_PORT");
  }

  String ip(int ordinal) {
    return ips.get(podName(ordinal));
  }

  /** Creates pod {@code ordinal} (a new address; the volume it had, if any). */
  synchronized void create(int ordinal) throws IOException, InterruptedException {
    String name = podName(ordinal);
    String ip = NET + "." + nextAddress++;
    String ns = NS_PREFIX + name;
    addNamespace(ns, ip);
    ips.put(name, ip);
    writeHosts();
    Map<String, String> env = resolve(node.env(), name);
    env.put("BASALT_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC");
    pods.put(
        name, start(ns, name, dir.resolve("data-" + name), env, node.command(), "pod-" + name));
  }

  /** Kills pod {@code ordinal} at once (SIGKILL) and removes its network namespace. */
  synchronized void kill(int ordinal) throws IOException, InterruptedException {
    String name = podName(ordinal);
    Process p = pods.remove(name);
    if (p != null) {
      p.destroyForcibly().waitFor();
    }
    removeNamespace(NS_PREFIX + name);
    ips.remove(name);
    writeHosts();
  }

  /**
   * Deletes pod {@code ordinal} as the kubelet does after its preStop hook: SIGTERM to the
   * container's process, SIGKILL if it has not ended within {@code graceSeconds}; returns whether
   * it ended by itself.
   */
  synchronized boolean terminate(int ordinal, int graceSeconds)
      throws IOException, InterruptedException {
    String name = podName(ordinal);
    Process p = pods.get(name);
    // The container's first process is the namespace launcher's child (run.sh execs down to it).
    p.toHandle().children().forEach(ProcessHandle::destroy);
    boolean ended = p.waitFor(graceSeconds, java.util.concurrent.TimeUnit.SECONDS);
    kill(ordinal);
    return ended;
  }

  /** Runs the pod's preStop hook in it (a second container process), returning its output. */
  String preStop(int ordinal) throws IOException, InterruptedException {
    String name = podName(ordinal);
    Map<String, String> env = resolve(node.env(), name);
    Process p =
        start(
            NS_PREFIX + name,
            name + "-prestop",
            dir.resolve("prestop-" + name),
            env,
            node.preStop(),
            "prestop-" + name);
    return finish(p, "prestop-" + name, 120);
  }

  /** Runs the init Job to completion in a namespace of its own; returns its output. */
  String runInit() throws IOException, InterruptedException {
    String ns = NS_PREFIX + "init";
    addNamespace(ns, NET + "." + nextAddress++);
    try {
      Map<String, String> env = resolve(init.env(), "basalt-init");
      Process p = start(ns, "basalt-init", dir.resolve("init"), env, init.command(), "init");
      return finish(p, "init", 300);
    } finally {
      removeNamespace(ns);
    }
  }

  /** A network namespace linked to the bridge, at {@code ip}. */
  private void addNamespace(String ns, String ip) throws IOException, InterruptedException {
    String link = "bpodv" + nextLink++;
    sh("ip netns add " + ns);
    sh("ip link add " + link + " type veth peer name eth0 netns " + ns);
    sh("ip link set " + link + " master " + BRIDGE + " up");
    sh("ip -n " + ns + " addr add " + ip + "/24 dev eth0");
    sh("ip -n " + ns + " link set eth0 up");
    sh("ip -n " + ns + " link set lo up");
    sh("ip -n " + ns + " route add default via " + NET + ".1");
  }

  Path log(int ordinal) {
    return dir.resolve("pod-" + podName(ordinal) + ".log");
  }

  private Process start(
      String ns,
      String hostname,
      Path data,
      Map<String, String> env,
      List<String> command,
      String logName)
      throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Image.RUN.toString(),
                Image.ROOTFS.toString(),
                data.toString(),
                "--netns",
                ns,
                "--hostname",
                hostname,
                "--hosts",
                hosts.toString()));
    env.forEach((k, v) -> cmd.addAll(List.of("--env", k + "=" + v)));
    if (env.containsKey("BASALT_CERTS_DIR")) {
      cmd.addAll(List.of("--mount", certs + ":" + env.get("BASALT_CERTS_DIR")));
    }
    cmd.add("--");
    cmd.addAll(command);
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(logName + ".log").toFile()))
        .start();
  }

  private String finish(Process p, String logName, int seconds)
      throws IOException, InterruptedException {
    boolean ended = p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS);
    String out = Files.readString(dir.resolve(logName + ".log"));
    if (!ended || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(logName + " failed:\n" + out);
    }
    return out;
  }

  /** The container's environment, the downward API's fields filled in as the kubelet would. */
  private Map<String, String> resolve(Map<String, Object> env, String pod) {
    Map<String, String> out = new LinkedHashMap<>();
    env.forEach((k, v) -> {
      if (v instanceof FieldRef(String field)) {
        out.put(
            k,
            switch (field) {
              case "metadata.name" -> pod;
              case "metadata.namespace" -> namespace;
              case "spec.nodeName" -> "emulated-host";
              default -> throw new IllegalArgumentException("no downward API field " + field);
            });
      } else {
        out.put(k, (String) v);
      }
    });
    return out;
  }

  /** Name to value, or to a {@link FieldRef} for the downward API. */
  private static Map<String, Object> envOf(Map<String, Object> c) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map<String, Object> e : ProjectChecks.list(c, "env")) {
      Object v = e.get("value");
      out.put(
          (String) e.get("name"),
          v != null
              ? String.valueOf(v)
              : new FieldRef(
                  (String) ProjectChecks.map(e, "valueFrom", "fieldRef").get("fieldPath")));
    }
    return out;
  }

  private record FieldRef(String path) {
    @Override
    public String toString() {
      return path;
    }
  }

  private static Map<String, Object> container(Map<String, Object> owner) {
    return ProjectChecks.list(ProjectChecks.map(owner, "spec", "template", "spec"), "containers")
        .get(0);
  }

  private static List<String> command(Map<String, Object> c) {
    List<String> out = new ArrayList<>();
    ((List<?>) c.get("command")).forEach(o -> out.add(String.valueOf(o)));
    if (c.get("args") instanceof List<?> args) {
      args.forEach(o -> out.add(String.valueOf(o)));
    }
    return out;
  }

  private static List<String> preStop(Map<String, Object> c) {
    List<String> out = new ArrayList<>();
    if (ProjectChecks.map(c, "lifecycle", "preStop", "exec").get("command") instanceof List<?> l) {
      l.forEach(o -> out.add(String.valueOf(o)));
    }
    return out;
  }

  /** The cluster's DNS: rewritten in place (pods bind-mount this very file). */
  private void writeHosts() throws IOException {
    StringBuilder b = new StringBuilder("127.0.0.1 localhost\n");
    ips.forEach((pod, ip) ->
        b.append(ip)
            .append(' ')
            .append(pod)
            .append('.')
            .append(domain)
            .append(' ')
            .append(pod)
            .append('.')
            .append(peers)
            .append(' ')
            .append(pod)
            .append('\n'));
    Files.createDirectories(hosts.getParent());
    Files.writeString(
        hosts,
        b.toString(),
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING);
  }

  @Override
  public synchronized void close() throws IOException, InterruptedException {
    for (Process p : pods.values()) {
      p.destroyForcibly().waitFor();
    }
    pods.clear();
    cleanUp();
    Runtime.getRuntime().removeShutdownHook(hook);
  }

  /** Removes whatever an emulation left: its namespaces (and what runs in them), links, bridge. */
  static void cleanUp() throws IOException, InterruptedException {
    for (String line : Image.run(List.of("ip", "netns", "list"), 30).split("\n")) {
      String ns = line.split(" ")[0];
      if (ns.startsWith(NS_PREFIX)) {
        removeNamespace(ns);
      }
    }
    for (String line : Image.run(List.of("ip", "-o", "link", "show"), 30).split("\n")) {
      String[] f = line.split(": ");
      if (f.length > 1) {
        String name = f[1].split("@")[0];
        if (name.startsWith("bpodv") || name.equals(BRIDGE)) {
          sh("ip link del " + name + " || true");
        }
      }
    }
  }

  private static void removeNamespace(String ns) throws IOException, InterruptedException {
    sh(
        "for p in $(ip netns pids "
            + ns
            + " 2>/dev/null); do kill -9 $p; done; ip netns del "
            + ns
            + " 2>/dev/null || true");
  }

  private static void sh(String command) throws IOException, InterruptedException {
    Image.run(List.of("bash", "-c", command), 30);
  }
}
