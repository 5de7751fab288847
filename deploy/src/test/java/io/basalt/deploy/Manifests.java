package io.basalt.deploy;

import com.google.gson.Gson;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The deploy module's manifests as documents: the Helm chart rendered by Helm itself (its library,
 * offline), kustomize directories built by {@code kubectl kustomize}, and each document validated
 * against the Kubernetes API's models (client-java, the 1.32 API): an unknown field, a wrong type,
 * a missing required field or an API that Kubernetes no longer serves is an error.
 */
final class Manifests {
  /** The repository's root (the tests run in deploy/). */
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();

  static final Path CHART = ROOT.resolve("deploy/helm/basalt");
  static final Path KUSTOMIZE = ROOT.resolve("deploy/kustomize");

  /** API version and kind to the client-java model that parses and validates it. */
  private static final Map<String, String> MODELS =
      Map.of(
          "apps/v1 StatefulSet", "V1StatefulSet",
          "v1 Service", "V1Service",
          "v1 ConfigMap", "V1ConfigMap",
          "v1 Secret", "V1Secret",
          "v1 Namespace", "V1Namespace",
          "batch/v1 Job", "V1Job",
          "policy/v1 PodDisruptionBudget", "V1PodDisruptionBudget");

  /** Custom resources the API's models do not know; {@link ProjectChecks} looks at them. */
  private static final List<String> CUSTOM = List.of("monitoring.coreos.com/v1 ServiceMonitor");

  private Manifests() {}

  /** The chart rendered as release {@code basalt} in {@code namespace} with {@code values}. */
  static String render(Map<String, Object> values, String kubeVersion, String namespace) {
    var template =
        new Helm(CHART)
            .template()
            .withName("basalt")
            .withNamespace(namespace)
            .withKubeVersion(kubeVersion);
    new TreeMap<>(values).forEach(template::set);
    return template.call();
  }

  /** {@code kubectl kustomize dir}. */
  static String kustomize(Path dir) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder("kubectl", "kustomize", dir.toString())
            .redirectErrorStream(false)
            .start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("kubectl kustomize " + dir + " failed: " + err);
    }
    return new String(out, StandardCharsets.UTF_8);
  }

  /** The documents of a multi-document YAML text, empty ones left out. */
  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> documents(String yaml) {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object o : new Yaml(new LoaderOptions()).loadAll(yaml)) {
      if (o != null) {
        docs.add((Map<String, Object>) o);
      }
    }
    return docs;
  }

  /**
   * Validates {@code doc} against the Kubernetes API; returns the problem, or null when it is
   * valid.
   */
  static String validate(Map<String, Object> doc) {
    String key = doc.get("apiVersion") + " " + doc.get("kind");
    if (CUSTOM.contains(key)) {
      return null;
    }
    String model = MODELS.get(key);
    if (model == null) {
      return key + ": not an API this chart may use (removed from Kubernetes, or unknown)";
    }
    try {
      Class<?> type = Class.forName("io.kubernetes.client.openapi.models." + model);
      type.getMethod("fromJson", String.class).invoke(null, new Gson().toJson(doc));
      return null;
    } catch (InvocationTargetException e) {
      return key + " " + name(doc) + ": " + e.getCause().getMessage();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every problem the API's models find in {@code docs}. */
  static List<String> problems(List<Map<String, Object>> docs) {
    List<String> problems = new ArrayList<>();
    for (Map<String, Object> d : docs) {
      String p = validate(d);
      if (p != null) {
        problems.add(p);
      }
    }
    return problems;
  }

  static String name(Map<String, Object> doc) {
    Object meta = doc.get("metadata");
    return meta instanceof Map<?, ?> m ? String.valueOf(m.get("name")) : "?";
  }

  static String read(Path file) throws IOException {
    return Files.readString(file);
  }
}
