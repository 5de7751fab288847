package io.basalt.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.api.KvRequest;
import io.basalt.api.StatusRequest;
import io.basalt.client.BasaltClient;
import io.basalt.client.ClientTls;
import io.basalt.node.cli.WireClient;
import io.basalt.node.tls.Certificates;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Tier 3: the chart's StatefulSet, with TLS on (a Secret's files at /certs), run from the image
 * with its pods emulated in network namespaces ({@link EmulatedStatefulSet}): three pods started
 * together, probed as a kubelet would, the init Job run, then, under a workload that runs
 * throughout, a pod killed and re-created with its volume and a new address, and a rolling restart
 * in reverse ordinal order (preStop drain, SIGTERM within the grace period, start, ready). Every
 * write the cluster acknowledged is read back at the end, and every metric the Grafana dashboard
 * plots is exported by the nodes.
 */
class StatefulSetEmulationTest {
  private static final Path DIR = Manifests.ROOT.resolve("deploy/target/pods");
  private static final Duration READY = Duration.ofSeconds(90);

  @Test
  void theStatefulSetSurvivesAPodKillAndARollingRestartUnderLoad() throws Exception {
    assumeTrue(Image.root(), "tier 3 makes network namespaces: needs root");
    Image.build();
    long start = System.nanoTime();
    var docs =
        Manifests.documents(Manifests.render(Map.of("tls.enabled", "true"), "1.33.0", "default"));
    // The hosts file this JVM resolves names from (-Djdk.net.hosts.file, see deploy/pom.xml).
    Path hosts = Path.of(System.getProperty("jdk.net.hosts.file"));
    Image.delete(DIR);
    Path certs = certificates(DIR.resolve("certs"));
    ClientTls tls = ClientTls.inCertsDir(certs, "root");
    // A kubelet probes without a client certificate; this one checks the node's against the CA.
    HttpClient web = HttpClient.newBuilder().sslContext(trusting(certs)).build();
    try (EmulatedStatefulSet set = new EmulatedStatefulSet(docs, "default", DIR, hosts, certs)) {
      for (int i = 0; i < 3; i++) {
        set.create(i);
      }
      for (int i = 0; i < 3; i++) {
        awaitProbe(web, set, i, "/health");
      }
      String init = set.runInit();
      assertThat(init).contains("initialized cluster");
      WireClient.useTls(tls);
      for (int i = 0; i < 3; i++) {
        awaitProbe(web, set, i, "/ready");
        awaitConnected(set, i);
      }
      // The init Job may run again (a retry, an upgrade): it changes nothing and succeeds.
      assertThat(set.runInit()).contains("initialized already");

      Workload load = new Workload(tls, set.seed(0), set.seed(1), set.seed(2));
      Thread writer = Thread.ofPlatform().name("workload").start(load);
      try {
        load.awaitMore(50);
        // A pod dies and comes back with its volume and a new address.
        String before = set.ip(1);
        set.kill(1);
        load.awaitMore(50);
        set.create(1);
        assertThat(set.ip(1)).isNotEqualTo(before);
        awaitProbe(web, set, 1, "/ready");
        // Its peers reach it at its new address (a name looked up again, not a cached address).
        awaitConnected(set, 1);
        load.awaitMore(50);
        // A rolling restart, highest ordinal first, each pod ready before the next.
        for (int i = 2; i >= 0; i--) {
          String drained = set.preStop(i);
          assertThat(drained).as("preStop of pod " + i).contains("is drained");
          assertThat(set.terminate(i, 90))
              .as("pod %d ends by itself on SIGTERM within the grace period", i)
              .isTrue();
          set.create(i);
          awaitProbe(web, set, i, "/ready");
          awaitConnected(set, i);
          load.awaitMore(50);
        }
      } finally {
        load.stop.set(true);
        writer.join();
      }
      // Every acknowledged write is there.
      try (BasaltClient client =
          BasaltClient.builder().tls(tls).seeds(set.seed(0), set.seed(1), set.seed(2)).build()) {
        for (var e : load.acked.entrySet()) {
          assertThat(client.get(ImageTest.bytes(e.getKey())))
              .as("acknowledged write " + e.getKey())
              .isEqualTo(ImageTest.bytes(e.getValue()));
        }
      }
      // Every metric the Grafana dashboard plots is exported by the running nodes.
      String metrics = "";
      for (int i = 0; i < 3; i++) {
        metrics += ImageTest.get(web, "https://" + set.fqdn(i) + ":7500/metrics").body();
      }
      Matcher m =
          Pattern.compile("basalt_[a-z_]+")
              .matcher(Files.readString(Manifests.CHART.resolve("dashboards/basalt.json")));
      while (m.find()) {
        assertThat(metrics).as("the dashboard's " + m.group() + " is exported").contains(m.group());
      }
      System.out.printf(
          "tier 3: %d writes acknowledged and read back, %d failed and retried, in %.0f s%n",
          load.acked.size(), load.failed.get(), (System.nanoTime() - start) / 1e9);
    }
    // Nothing is left: no namespace, link or bridge, no process, no volume.
    assertThat(Image.run(List.of("ip", "netns", "list"), 30))
        .doesNotContain(EmulatedStatefulSet.NS_PREFIX);
    assertThat(Image.run(List.of("ip", "-o", "link", "show"), 30))
        .doesNotContain(EmulatedStatefulSet.BRIDGE)
        .doesNotContain("bpodv");
    assertThat(Image.run(List.of("ps", "-eo", "args"), 30)).doesNotContain(Image.ROOTFS.toString());
    Image.delete(DIR);
  }

  /**
   * The TLS Secret's files: the CA, one node certificate naming every pod by a wildcard under the
   * peers Service (and localhost), and root's client certificate; readable by the image's user
   * through its group only, as fsGroup and defaultMode 0440 make a mounted Secret's.
   */
  private static Path certificates(Path dir) throws Exception {
    Certificates.Issued ca = Certificates.newCa("Basalt test CA", Duration.ofDays(1));
    Certificates.writeCertificate(dir.resolve(Certificates.CA_CERT), ca.certificate());
    Certificates.write(
        dir,
        Certificates.NODE_CERT,
        Certificates.NODE_KEY,
        Certificates.newNode(
            ca,
            List.of("localhost", "127.0.0.1", "*.basalt-peers.default.svc.cluster.local"),
            Duration.ofDays(1)));
    Certificates.write(
        dir,
        Certificates.clientCert("root"),
        Certificates.clientKey("root"),
        Certificates.newClient(ca, "root", Duration.ofDays(1)));
    Image.run(List.of("chown", "-R", "0:10001", dir.toString()), 30);
    Image.run(List.of("bash", "-c", "chmod 0440 " + dir + "/*"), 30);
    return dir;
  }

  /** Waits until pod {@code ordinal}'s node is connected to both other nodes. */
  private static void awaitConnected(EmulatedStatefulSet set, int ordinal)
      throws InterruptedException {
    long self = ordinal + 1;
    List<Long> others = List.of(1L, 2L, 3L).stream().filter(n -> n != self).toList();
    List<Long> connected = new ArrayList<>();
    Poll.until(
        () -> {
          try (WireClient c = WireClient.connect(set.seed(ordinal), Duration.ofSeconds(5))) {
            connected.clear();
            connected.addAll(
                c.call(KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build())
                    .getStatus()
                    .getConnectedList());
            return connected.containsAll(others);
          }
        },
        "node " + self + " is connected to nodes " + others,
        READY,
        () -> "connected to " + connected);
  }

  /** A TLS context that checks the node's certificate against the CA and presents none. */
  private static javax.net.ssl.SSLContext trusting(Path certs) throws Exception {
    java.security.KeyStore trusted = java.security.KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    trusted.setCertificateEntry(
        "ca", Certificates.readCertificate(certs.resolve(Certificates.CA_CERT)));
    javax.net.ssl.TrustManagerFactory tmf =
        javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  private static void awaitProbe(HttpClient web, EmulatedStatefulSet set, int ordinal, String path)
      throws InterruptedException {
    Poll.until(
        () -> {
          var r = ImageTest.get(web, "https://" + set.fqdn(ordinal) + ":7500" + path);
          return r != null && r.statusCode() == 200;
        },
        "pod " + set.podName(ordinal) + " answers " + path,
        READY,
        () -> {
          try {
            return Files.readString(set.log(ordinal));
          } catch (Exception e) {
            return e.toString();
          }
        });
  }

  /** Writes distinct keys in a loop; records what was acknowledged and counts what failed. */
  private static final class Workload implements Runnable {
    final Map<String, String> acked = new ConcurrentHashMap<>();
    final AtomicInteger failed = new AtomicInteger();
    final AtomicBoolean stop = new AtomicBoolean();
    private final String[] seeds;
    private final ClientTls tls;
    private final AtomicInteger ackedCount = new AtomicInteger();
    private final List<Throwable> errors = new ArrayList<>();

    Workload(ClientTls tls, String... seeds) {
      this.tls = tls;
      this.seeds = seeds;
    }

    @Override
    public void run() {
      try (BasaltClient client =
          BasaltClient.builder()
              .tls(tls)
              .seeds(seeds)
              .callTimeout(Duration.ofSeconds(30))
              .build()) {
        for (int n = 0; !stop.get(); n++) {
          String key = "sts-" + n;
          String value = "v" + n;
          try {
            client.put(ImageTest.bytes(key), ImageTest.bytes(value));
            acked.put(key, value);
            ackedCount.incrementAndGet();
          } catch (RuntimeException e) {
            failed.incrementAndGet(); // not acknowledged: may or may not be there
          }
        }
      } catch (RuntimeException e) {
        errors.add(e);
      }
    }

    /** Waits until {@code n} more writes are acknowledged. */
    void awaitMore(int n) throws InterruptedException {
      int target = ackedCount.get() + n;
      Poll.until(
          () -> ackedCount.get() >= target,
          n + " more acknowledged writes",
          Duration.ofSeconds(60),
          () -> "failed " + failed.get() + " " + errors);
    }
  }
}
