package io.basalt.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Tier 1 of the deployment's proof, no root needed: the chart lints clean, renders for several
 * value sets and Kubernetes versions into documents the Kubernetes API accepts and that agree with
 * each other ({@link ProjectChecks}); the kustomize base is the chart's default rendering and the
 * example overlay builds to valid, agreeing documents. The validator and the checks are shown to
 * fire on planted mistakes, so that their passing means something.
 *
 * <p>After a change to the chart, {@code -Dbasalt.deploy.regenerate=true} rewrites the kustomize
 * base from it (that run fails, to be run again).
 */
class DeployManifestsTest {
  private static final List<String> KUBE_VERSIONS = List.of("1.23.0", "1.27.0", "1.30.0", "1.33.0");
  private static final Path BASE = Manifests.KUSTOMIZE.resolve("base/basalt.yaml");

  private static Map<String, Map<String, Object>> valueSets() {
    Map<String, Map<String, Object>> sets = new LinkedHashMap<>();
    sets.put("defaults", Map.of());
    sets.put(
        "tls, ServiceMonitor and dashboard",
        Map.of(
            "tls.enabled", "true",
            "serviceMonitor.enabled", "true",
            "dashboard.enabled", "true",
            "image.repository", "registry.example.com/basalt",
            "image.tag", "1.2.3"));
    sets.put(
        "five nodes, hard anti-affinity, options",
        Map.of(
            "replicas", "5",
            "antiAffinity", "hard",
            "startupSeconds", "900",
            "extraArgs[0]", "--range-max-bytes=128MiB",
            "storage.storageClassName", "fast",
            "storage.size", "100Gi",
            "init.enabled", "false"));
    sets.put(
        "five replicas per range",
        Map.of(
            "replicas", "5",
            "init.replicas", "5",
            "podDisruptionBudget.maxUnavailable", "2",
            "joinSeeds", "5",
            "antiAffinity", ""));
    return sets;
  }

  @Test
  void theChartLintsCleanInStrictMode() {
    LintResult lint = new Helm(Manifests.CHART).lint().strict().call();
    assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
  }

  @Test
  void everyValueSetRendersValidAgreeingManifestsOnEveryKubernetesVersion() {
    int rendered = 0;
    for (var set : valueSets().entrySet()) {
      for (String kube : KUBE_VERSIONS) {
        String what = "values '" + set.getKey() + "' on Kubernetes " + kube;
        List<Map<String, Object>> docs =
            Manifests.documents(Manifests.render(set.getValue(), kube, "shop"));
        assertThat(Manifests.problems(docs)).as(what).isEmpty();
        assertThat(ProjectChecks.problems(docs)).as(what).isEmpty();
        rendered += docs.size();
      }
    }
    System.out.println(
        "tier 1: "
            + rendered
            + " documents of "
            + valueSets().size()
            + " value sets on "
            + KUBE_VERSIONS
            + " valid and agreeing");
  }

  @Test
  void whatTheValuesSayReachesThePods() {
    var docs =
        Manifests.documents(
            Manifests.render(valueSets().get("tls, ServiceMonitor and dashboard"), "1.33.0", "x"));
    Map<String, Object> set = ProjectChecks.of(docs, "StatefulSet").get(0);
    Map<String, Object> c =
        ProjectChecks.list(ProjectChecks.map(set, "spec", "template", "spec"), "containers").get(0);
    assertThat(c.get("image")).isEqualTo("registry.example.com/basalt:1.2.3");
    assertThat(ProjectChecks.env(c, "BASALT_CERTS_DIR")).isEqualTo("/certs");
    assertThat(ProjectChecks.map(c, "readinessProbe", "httpGet").get("scheme")).isEqualTo("HTTPS");
    assertThat(ProjectChecks.of(docs, "ServiceMonitor")).hasSize(1);
    String dashboard =
        (String)
            ProjectChecks.map(ProjectChecks.of(docs, "ConfigMap").get(0), "data")
                .get("basalt.json");
    assertThat(dashboard).contains("basalt_kv_request_seconds_count");
    // Without TLS the node runs --insecure (pod-env), and probes use plain HTTP.
    var plain = Manifests.documents(Manifests.render(Map.of(), "1.33.0", "x"));
    Map<String, Object> pc =
        ProjectChecks.list(
                ProjectChecks.map(
                    ProjectChecks.of(plain, "StatefulSet").get(0), "spec", "template", "spec"),
                "containers")
            .get(0);
    assertThat(ProjectChecks.env(pc, "BASALT_CERTS_DIR")).isNull();
    assertThat(ProjectChecks.map(pc, "readinessProbe", "httpGet").get("scheme")).isEqualTo("HTTP");
  }

  @Test
  void theChartRefusesWhatCannotWork() {
    assertThatThrownBy(() -> Manifests.render(Map.of("replicas", "2"), "1.33.0", "x"))
        .hasMessageContaining("replicas (2) must be at least init.replicas (3)");
    assertThatThrownBy(() -> Manifests.render(Map.of(), "1.22.0", "x"))
        .hasMessageContaining("kube");
  }

  @Test
  void theKustomizeBaseIsTheChartsDefaultRendering() throws Exception {
    String expected = baseFromChart();
    if (Boolean.getBoolean("basalt.deploy.regenerate")) {
      Files.writeString(BASE, expected);
      throw new AssertionError("rewrote " + BASE + " from the chart: run again");
    }
    assertThat(Manifests.documents(Files.readString(BASE)))
        .as(BASE + " differs from the chart: run with -Dbasalt.deploy.regenerate=true")
        .isEqualTo(Manifests.documents(expected));
    List<Map<String, Object>> base =
        Manifests.documents(Manifests.kustomize(Manifests.KUSTOMIZE.resolve("base")));
    assertThat(Manifests.problems(base)).isEmpty();
    assertThat(ProjectChecks.problems(base)).isEmpty();
  }

  @Test
  void theExampleOverlayBuildsValidAgreeingManifests() throws Exception {
    List<Map<String, Object>> docs =
        Manifests.documents(Manifests.kustomize(Manifests.KUSTOMIZE.resolve("overlays/example")));
    assertThat(Manifests.problems(docs)).isEmpty();
    assertThat(ProjectChecks.problems(docs)).isEmpty();
    Map<String, Object> set = ProjectChecks.of(docs, "StatefulSet").get(0);
    assertThat(ProjectChecks.map(set, "metadata").get("namespace")).isEqualTo("basalt-example");
    assertThat(ProjectChecks.map(set, "spec").get("replicas")).isEqualTo(5);
  }

  @Test
  void theValidatorRejectsEachKindOfMistake() {
    List<Map<String, Object>> docs = Manifests.documents(Manifests.render(Map.of(), "1.33.0", "x"));
    assertThat(Manifests.problems(docs)).as("control: the rendered chart").isEmpty();
    assertThat(plantedInStatefulSet(docs, s -> container(s).put("cmd", List.of("x"))))
        .as("unknown field")
        .anyMatch(p -> p.contains("cmd"));
    assertThat(
            plantedInStatefulSet(docs, s -> ProjectChecks.map(s, "spec").put("replicas", "three")))
        .as("wrong type")
        .isNotEmpty();
    assertThat(plantedInStatefulSet(docs, s -> ProjectChecks.map(s, "spec").remove("selector")))
        .as("missing required field")
        .anyMatch(p -> p.contains("selector"));
    Map<String, Object> pdb = copy(ProjectChecks.of(docs, "PodDisruptionBudget").get(0));
    pdb.put("apiVersion", "policy/v1beta1");
    assertThat(Manifests.validate(pdb)).as("removed API").contains("policy/v1beta1");
  }

  @Test
  void theProjectChecksFireOnPlantedMismatches() {
    List<Map<String, Object>> docs = Manifests.documents(Manifests.render(Map.of(), "1.33.0", "x"));
    assertThat(ProjectChecks.problems(docs)).as("control: the rendered chart").isEmpty();
    Map<String, String> plants = new LinkedHashMap<>();
    List<List<Map<String, Object>>> planted = new ArrayList<>();
    plants.put("builds peer names from Service", "env BASALT_SERVICE");
    planted.add(withStatefulSet(docs, s -> setEnv(container(s), "BASALT_SERVICE", "basalt")));
    plants.put("not a container's", "probe port");
    planted.add(
        withStatefulSet(
            docs,
            s -> ProjectChecks.map(container(s), "readinessProbe", "httpGet").put("port", "web")));
    plants.put("allows 2 pods down", "disruption budget");
    planted.add(
        with(
            docs,
            "PodDisruptionBudget",
            p -> ProjectChecks.map(p, "spec").put("maxUnavailable", 2)));
    plants.put("does not publish unready pods", "peers Service");
    planted.add(
        with(
            docs, "Service", s -> ProjectChecks.map(s, "spec").remove("publishNotReadyAddresses")));
    plants.put("but the nodes keep 5", "replication factor");
    planted.add(withStatefulSet(docs, s -> setEnv(container(s), "BASALT_REPLICATION_FACTOR", "5")));
    plants.put("which the image does not hold", "command");
    planted.add(withStatefulSet(docs, s -> container(s).put("command", List.of("/app/bin/start"))));
    plants.put("selects no pod", "selector");
    planted.add(
        with(
            docs,
            "Service",
            s -> ProjectChecks.map(s, "spec", "selector").put("app.kubernetes.io/name", "db")));
    int i = 0;
    for (var e : plants.entrySet()) {
      assertThat(ProjectChecks.problems(planted.get(i++)))
          .as("planted: " + e.getValue())
          .anyMatch(p -> p.contains(e.getKey()));
    }
  }

  /** The chart's default rendering as a kustomize base: no namespace, no Helm bookkeeping. */
  private static String baseFromChart() {
    List<Map<String, Object>> docs =
        Manifests.documents(Manifests.render(Map.of(), "1.33.0", "default"));
    StringBuilder out =
        new StringBuilder(
            "# Generated from deploy/helm/basalt with its default values by DeployManifestsTest\n"
                + "# (-Dbasalt.deploy.regenerate=true); change the chart, not this file.\n");
    DumperOptions options = new DumperOptions();
    options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    options.setWidth(120);
    Yaml yaml = new Yaml(options);
    for (Map<String, Object> d : docs) {
      stripHelm(d);
      out.append("---\n").append(yaml.dump(d));
    }
    return out.toString();
  }

  @SuppressWarnings("unchecked")
  private static void stripHelm(Object o) {
    if (o instanceof Map<?, ?> m) {
      Map<String, Object> map = (Map<String, Object>) m;
      map.remove("namespace");
      Object labels = map.get("labels");
      if (labels instanceof Map<?, ?> l) {
        l.remove("helm.sh/chart");
        if ("Helm".equals(l.get("app.kubernetes.io/managed-by"))) {
          ((Map<String, Object>) l).put("app.kubernetes.io/managed-by", "kustomize");
        }
      }
      if ("Job".equals(map.get("kind"))) {
        Map<String, Object> meta = (Map<String, Object>) map.get("metadata");
        meta.put("name", ((String) meta.get("name")).replaceAll("-\\d+$", ""));
      }
      map.values().forEach(DeployManifestsTest::stripHelm);
    } else if (o instanceof List<?> l) {
      l.forEach(DeployManifestsTest::stripHelm);
    }
  }

  private static List<String> plantedInStatefulSet(
      List<Map<String, Object>> docs, Consumer<Map<String, Object>> plant) {
    Map<String, Object> s = copy(ProjectChecks.of(docs, "StatefulSet").get(0));
    plant.accept(s);
    return Manifests.problems(List.of(s));
  }

  private static List<Map<String, Object>> withStatefulSet(
      List<Map<String, Object>> docs, Consumer<Map<String, Object>> plant) {
    return with(docs, "StatefulSet", plant);
  }

  /**
   * A deep copy of {@code docs} with {@code plant} applied to the first document of {@code kind}.
   */
  private static List<Map<String, Object>> with(
      List<Map<String, Object>> docs, String kind, Consumer<Map<String, Object>> plant) {
    List<Map<String, Object>> out = new ArrayList<>();
    boolean done = false;
    for (Map<String, Object> d : docs) {
      Map<String, Object> c = copy(d);
      if (!done && kind.equals(c.get("kind"))) {
        plant.accept(c);
        done = true;
      }
      out.add(c);
    }
    return out;
  }

  private static Map<String, Object> container(Map<String, Object> set) {
    return ProjectChecks.list(ProjectChecks.map(set, "spec", "template", "spec"), "containers")
        .get(0);
  }

  private static void setEnv(Map<String, Object> container, String name, String value) {
    for (Map<String, Object> e : ProjectChecks.list(container, "env")) {
      if (name.equals(e.get("name"))) {
        e.put("value", value);
      }
    }
  }

  private static Map<String, Object> copy(Map<String, Object> doc) {
    return Manifests.documents(new Yaml().dump(doc)).get(0);
  }
}
