package io.basalt.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.client.BasaltClient;
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
 * Tier 3: the chart's StatefulSet run from the image with its pods emulated in network namespaces
 * ({@link EmulatedStatefulSet}): three pods started together, probed as a kubelet would, the init
 * Job run, then, under a workload that runs throughout, a pod killed and re-created with its volume
 * and a new address, and a rolling restart in reverse ordinal order (preStop drain, stop, start,
 * wait for readiness). Every write the cluster acknowledged is read back at the end, and every
 * metric the Grafana dashboard plots is exported by the nodes.
 */
class StatefulSetEmulationTest {
  private static final Path DIR = Manifests.ROOT.resolve("deploy/target/pods");
  private static final Duration READY = Duration.ofSeconds(90);

  @Test
  void theStatefulSetSurvivesAPodKillAndARollingRestartUnderLoad() throws Exception {
    assumeTrue(Image.root(), "tier 3 makes network namespaces: needs root");
    Image.build();
    long start = System.nanoTime();
    var docs = Manifests.documents(Manifests.render(Map.of(), "1.33.0", "default"));
    // The hosts file this JVM resolves names from (-Djdk.net.hosts.file, see deploy/pom.xml).
    Path hosts = Path.of(System.getProperty("jdk.net.hosts.file"));
    Image.delete(DIR);
    HttpClient web = HttpClient.newHttpClient();
    try (EmulatedStatefulSet set = new EmulatedStatefulSet(docs, "default", DIR, hosts)) {
      for (int i = 0; i < 3; i++) {
        set.create(i);
      }
      for (int i = 0; i < 3; i++) {
        awaitProbe(web, set, i, "/health");
      }
      String init = set.runInit();
      assertThat(init).contains("initialized cluster");
      for (int i = 0; i < 3; i++) {
        awaitProbe(web, set, i, "/ready");
      }
      // The init Job may run again (a retry, an upgrade): it changes nothing and succeeds.
      assertThat(set.runInit()).contains("initialized already");

      Workload load = new Workload(set.seed(0), set.seed(1), set.seed(2));
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
        load.awaitMore(50);
        // A rolling restart, highest ordinal first, each pod ready before the next.
        for (int i = 2; i >= 0; i--) {
          String drained = set.preStop(i);
          assertThat(drained).as("preStop of pod " + i).contains("is drained");
          set.kill(i);
          set.create(i);
          awaitProbe(web, set, i, "/ready");
          load.awaitMore(50);
        }
      } finally {
        load.stop.set(true);
        writer.join();
      }
      // Every acknowledged write is there.
      try (BasaltClient client = BasaltClient.connect(set.seed(0), set.seed(1), set.seed(2))) {
        for (var e : load.acked.entrySet()) {
          assertThat(client.get(ImageTest.bytes(e.getKey())))
              .as("acknowledged write " + e.getKey())
              .isEqualTo(ImageTest.bytes(e.getValue()));
        }
      }
      // Every metric the Grafana dashboard plots is exported by the running nodes.
      String metrics = "";
      for (int i = 0; i < 3; i++) {
        metrics += ImageTest.get(web, "http://" + set.ip(i) + ":7500/metrics").body();
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

  private static void awaitProbe(HttpClient web, EmulatedStatefulSet set, int ordinal, String path)
      throws InterruptedException {
    Poll.until(
        () -> {
          var r = ImageTest.get(web, "http://" + set.ip(ordinal) + ":7500" + path);
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
    private final AtomicInteger ackedCount = new AtomicInteger();
    private final List<Throwable> errors = new ArrayList<>();

    Workload(String... seeds) {
      this.seeds = seeds;
    }

    @Override
    public void run() {
      try (BasaltClient client =
          BasaltClient.builder().seeds(seeds).callTimeout(Duration.ofSeconds(30)).build()) {
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
