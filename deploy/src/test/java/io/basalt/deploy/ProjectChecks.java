package io.basalt.deploy;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the API's schema cannot see: that the pieces of a rendered Basalt deployment agree. The
 * StatefulSet's peers Service exists, is headless and publishes pods before they are ready; the
 * names the pods build their --join from are that Service's; selectors reach the pods; probes and
 * Service ports name container ports; the PodDisruptionBudget never lets a voluntary disruption
 * take a range's majority; and every command names a script the image holds.
 */
final class ProjectChecks {
  private ProjectChecks() {}

  static List<String> problems(List<Map<String, Object>> docs) {
    List<String> problems = new ArrayList<>();
    List<Map<String, Object>> sets = of(docs, "StatefulSet");
    if (sets.size() != 1) {
      problems.add("expected one StatefulSet, found " + sets.size());
      return problems;
    }
    Map<String, Object> set = sets.get(0);
    String setName = Manifests.name(set);
    String namespace = namespace(set);
    Map<String, Object> spec = map(set, "spec");
    Map<String, Object> pod = map(spec, "template", "spec");
    Map<String, Object> podLabels = map(spec, "template", "metadata", "labels");
    int replicas = ((Number) spec.get("replicas")).intValue();

    for (Map<String, Object> d : docs) {
      if (!d.get("kind").equals("Namespace") && !Objects.equals(namespace(d), namespace)) {
        problems.add(
            d.get("kind")
                + " "
                + Manifests.name(d)
                + " is in namespace "
                + namespace(d)
                + ", the StatefulSet in "
                + namespace);
      }
    }
    if (!contains(podLabels, map(spec, "selector", "matchLabels"))) {
      problems.add("the StatefulSet's selector does not match its pod labels");
    }

    // The peers Service.
    String peers = (String) spec.get("serviceName");
    Map<String, Object> peerService = named(docs, "Service", peers);
    if (peerService == null) {
      problems.add("no Service " + peers + " (the StatefulSet's serviceName)");
    } else {
      Map<String, Object> ps = map(peerService, "spec");
      if (!"None".equals(ps.get("clusterIP"))) {
        problems.add("Service " + peers + " is not headless (clusterIP: None)");
      }
      if (!Boolean.TRUE.equals(ps.get("publishNotReadyAddresses"))) {
        problems.add(
            "Service " + peers + " does not publish unready pods: nodes could not find each other");
      }
    }
    List<Map<String, Object>> containers = list(pod, "containers");
    List<String> portNames = new ArrayList<>();
    for (Map<String, Object> c : containers) {
      for (Map<String, Object> p : list(c, "ports")) {
        portNames.add((String) p.get("name"));
      }
    }
    for (Map<String, Object> s : of(docs, "Service")) {
      if (!contains(podLabels, map(s, "spec", "selector"))) {
        problems.add("Service " + Manifests.name(s) + " selects no pod of the StatefulSet");
      }
      for (Map<String, Object> p : list(map(s, "spec"), "ports")) {
        Object target = p.get("targetPort");
        if (target instanceof String t && !portNames.contains(t)) {
          problems.add(
              "Service " + Manifests.name(s) + " targets port " + t + ", not a container's");
        }
      }
    }
    for (Map<String, Object> c : containers) {
      for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
        Map<String, Object> http = map(c, probe, "httpGet");
        if (http.isEmpty()) {
          problems.add(probe + " of container " + c.get("name") + " is not an HTTP probe");
          continue;
        }
        Object port = http.get("port");
        if (port instanceof String name && !portNames.contains(name)) {
          problems.add(probe + " uses port " + name + ", not a container's");
        }
        String path = (String) http.get("path");
        String expected = probe.equals("readinessProbe") ? "/ready" : "/health";
        if (!expected.equals(path)) {
          problems.add(probe + " polls " + path + " instead of " + expected);
        }
      }
    }

    // The pods' and the init Job's environment: names built from the peers Service.
    List<Map<String, Object>> podContainers = new ArrayList<>(containers);
    for (Map<String, Object> job : of(docs, "Job")) {
      List<Map<String, Object>> jc = list(map(job, "spec", "template", "spec"), "containers");
      podContainers.addAll(jc);
      for (Map<String, Object> c : jc) {
        String target = env(c, "POD_NAME");
        if (!(setName + "-0").equals(target)) {
          problems.add(
              "Job "
                  + Manifests.name(job)
                  + " initializes through "
                  + target
                  + ", not "
                  + setName
                  + "-0");
        }
        String replication = env(c, "BASALT_REPLICAS");
        if (replication != null && Integer.parseInt(replication) > replicas) {
          problems.add("init asks for " + replication + " replicas of " + replicas + " nodes");
        }
      }
    }
    for (Map<String, Object> c : podContainers) {
      String service = env(c, "BASALT_SERVICE");
      if (!Objects.equals(service, peers)) {
        problems.add(
            "container "
                + c.get("name")
                + " builds peer names from Service "
                + service
                + ", the StatefulSet's is "
                + peers);
      }
      if (!"metadata.namespace".equals(fieldRef(c, "POD_NAMESPACE"))) {
        problems.add("container " + c.get("name") + " does not take POD_NAMESPACE from its pod");
      }
      String seeds = env(c, "BASALT_JOIN_SEEDS");
      if (seeds == null || Integer.parseInt(seeds) < 1 || Integer.parseInt(seeds) > replicas) {
        problems.add(
            "container "
                + c.get("name")
                + " joins through "
                + seeds
                + " seeds of "
                + replicas
                + " pods");
      }
      List<?> command = (List<?>) c.get("command");
      if (command == null || command.isEmpty()) {
        problems.add("container " + c.get("name") + " relies on the image's entrypoint");
      } else {
        String script = String.valueOf(command.get(0));
        if (!script.startsWith("/app/bin/")
            || !Files.isExecutable(
                Manifests.ROOT.resolve("deploy/image/bin").resolve(script.substring(9)))) {
          problems.add(
              "container "
                  + c.get("name")
                  + " runs "
                  + script
                  + ", which the image does not hold (deploy/image/bin)");
        }
      }
    }
    if (!"metadata.name".equals(fieldRef(containers.get(0), "POD_NAME"))) {
      problems.add("the node does not take POD_NAME (its ordinal) from its pod");
    }

    // The disruption budget: a voluntary disruption never takes a majority of a range's replicas.
    List<Map<String, Object>> pdbs = of(docs, "PodDisruptionBudget");
    if (pdbs.size() != 1) {
      problems.add("expected one PodDisruptionBudget, found " + pdbs.size());
    } else {
      Map<String, Object> pdb = map(pdbs.get(0), "spec");
      if (!contains(podLabels, map(pdb, "selector", "matchLabels"))) {
        problems.add("the PodDisruptionBudget selects no pod of the StatefulSet");
      }
      // The replication factor the nodes keep (the placement driver trims any range to it).
      String factor = env(containers.get(0), "BASALT_REPLICATION_FACTOR");
      int replication = factor == null ? 3 : Integer.parseInt(factor);
      for (Map<String, Object> job : of(docs, "Job")) {
        String r =
            env(list(map(job, "spec", "template", "spec"), "containers").get(0), "BASALT_REPLICAS");
        if (r != null && Integer.parseInt(r) != replication) {
          problems.add(
              "init makes " + r + " replicas per range, but the nodes keep " + replication);
        }
      }
      Object max = pdb.get("maxUnavailable");
      if (!(max instanceof Integer m) || m < 1 || m > (replication - 1) / 2) {
        problems.add(
            "the PodDisruptionBudget allows "
                + max
                + " pods down; ranges of "
                + replication
                + " replicas keep a majority only with 1.."
                + (replication - 1) / 2);
      }
    }
    return problems;
  }

  static List<Map<String, Object>> of(List<Map<String, Object>> docs, String kind) {
    return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
  }

  static Map<String, Object> named(List<Map<String, Object>> docs, String kind, String name) {
    return of(docs, kind).stream()
        .filter(d -> Manifests.name(d).equals(name))
        .findFirst()
        .orElse(null);
  }

  static String env(Map<String, Object> container, String name) {
    for (Map<String, Object> e : list(container, "env")) {
      if (name.equals(e.get("name"))) {
        Object v = e.get("value");
        return v == null ? null : String.valueOf(v);
      }
    }
    return null;
  }

  static String fieldRef(Map<String, Object> container, String name) {
    for (Map<String, Object> e : list(container, "env")) {
      if (name.equals(e.get("name"))) {
        return (String) map(e, "valueFrom", "fieldRef").get("fieldPath");
      }
    }
    return null;
  }

  private static String namespace(Map<String, Object> doc) {
    return (String) map(doc, "metadata").get("namespace");
  }

  private static boolean contains(Map<String, Object> labels, Map<String, Object> selector) {
    return !selector.isEmpty()
        && selector.entrySet().stream()
            .allMatch(e -> Objects.equals(labels.get(e.getKey()), e.getValue()));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Map<String, Object> from, String... path) {
    Object o = from;
    for (String p : path) {
      o = o instanceof Map<?, ?> m ? m.get(p) : null;
    }
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> list(Map<String, Object> from, String key) {
    Object o = from.get(key);
    return o instanceof List<?> l ? (List<Map<String, Object>>) l : List.of();
  }
}
