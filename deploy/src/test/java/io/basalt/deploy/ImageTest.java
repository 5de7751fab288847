package io.basalt.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import io.basalt.client.BasaltClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tier 2: the image is built without a Docker daemon, holds what the manifests and its scripts
 * expect where they expect it, and its entrypoint runs a node from the image's own filesystem (run
 * as a container by {@code deploy/image/run.sh}) that answers {@code /health}, is initialized by
 * the image's {@code basalt init}, serves a client and exports every metric the Grafana dashboard
 * plots.
 */
class ImageTest {
  @Test
  void theImageHoldsWhatTheManifestsAndScriptsName() throws Exception {
    assumeTrue(Image.root(), "tier 2 unpacks the image with its owners: needs root");
    double seconds = Image.build();
    JsonObject config = Image.config();
    JsonObject c = config.getAsJsonObject("config");
    assertThat(c.get("User").getAsString()).isEqualTo("10001:10001");
    assertThat(c.getAsJsonArray("Entrypoint").get(0).getAsString()).isEqualTo("/app/bin/basalt");
    assertThat(c.getAsJsonObject("ExposedPorts").keySet()).contains("7400/tcp", "7500/tcp");
    assertThat(c.getAsJsonObject("Volumes").keySet()).containsExactly("/data");
    // Each layer is what the config's diff_ids name.
    List<String> layers = Image.layers();
    var diffIds = config.getAsJsonObject("rootfs").getAsJsonArray("diff_ids");
    assertThat(diffIds).hasSize(layers.size());
    for (int i = 0; i < layers.size(); i++) {
      assertThat("sha256:" + sha256(Image.UNPACKED.resolve(layers.get(i))))
          .isEqualTo(diffIds.get(i).getAsString());
    }

    Path root = Image.ROOTFS;
    assertThat(root.resolve("opt/java/bin/java")).isExecutable();
    assertThat(root.resolve("app/basalt-node.jar")).isRegularFile();
    // The scripts and the manifests' commands are in the image.
    List<String> commands = new ArrayList<>(List.of("/app/bin/pod-env"));
    for (var doc : Manifests.documents(Manifests.render(Map.of(), "1.33.0", "x"))) {
      for (var kind : List.of("StatefulSet", "Job")) {
        if (kind.equals(doc.get("kind"))) {
          var c0 =
              ProjectChecks.list(ProjectChecks.map(doc, "spec", "template", "spec"), "containers")
                  .get(0);
          commands.add(String.valueOf(((List<?>) c0.get("command")).get(0)));
          var preStop = ProjectChecks.map(c0, "lifecycle", "preStop", "exec");
          if (preStop.get("command") instanceof List<?> l) {
            commands.add(String.valueOf(l.get(0)));
          }
        }
      }
    }
    for (String command : commands) {
      assertThat(root.resolve(command.substring(1))).as(command).isRegularFile();
    }
    assertThat(commands).contains("/app/bin/pod-start", "/app/bin/pod-init", "/app/bin/pod-drain");
    // The launcher's class path and runtime are where it looks.
    String launcher = Files.readString(root.resolve("app/bin/basalt"));
    Matcher cp = Pattern.compile("-cp '([^']+)'").matcher(launcher);
    assertThat(cp.find()).as("the launcher's -cp").isTrue();
    for (String entry : cp.group(1).split(":")) {
      Path p = root.resolve(entry.substring(1).replace("/*", ""));
      assertThat(p).as(entry).exists();
    }
    assertThat(launcher).contains("/opt/java/bin/java");
    // Every library of the node is in the image.
    try (Stream<Path> libs = Files.list(Manifests.ROOT.resolve("node/target/lib"))) {
      for (Path lib : libs.toList()) {
        assertThat(root.resolve("app/lib").resolve(lib.getFileName())).exists();
      }
    }
    // The store's volume belongs to the user the node runs as; the rest to root.
    assertThat(Files.getAttribute(root.resolve("data"), "unix:uid")).isEqualTo(10001);
    assertThat(root.resolve("certs")).as("the TLS Secret's mount point").isDirectory();
    assertThat(Files.getAttribute(root.resolve("app/basalt-node.jar"), "unix:uid")).isEqualTo(0);
    assertThat(Files.readString(root.resolve("etc/passwd"))).contains("basalt:x:10001:10001");
    assertThat(Files.getPosixFilePermissions(root.resolve("tmp")))
        .contains(PosixFilePermission.OTHERS_WRITE);
    System.out.printf(
        "tier 2: image %s built in %.1f s (%d MiB, %d layers)%n",
        Image.TARBALL, seconds, Files.size(Image.TARBALL) >> 20, layers.size());
  }

  @Test
  void podStartPassesTheContainersArgumentsToTheNode(@TempDir Path tmp) throws Exception {
    assumeTrue(Image.root(), "tier 2 runs the image's filesystem as a container: needs root");
    Image.build();
    // The chart's extraArgs arrive as the container's arguments: they must reach `start`, which
    // names one it does not know (without them passed on, the node would start instead).
    List<String> command =
        List.of(
            Image.RUN.toString(),
            Image.ROOTFS.toString(),
            tmp.resolve("data").toString(),
            "--env",
            "POD_NAME=basalt-2",
            "--env",
            "POD_NAMESPACE=ns",
            "--env",
            "BASALT_SERVICE=basalt-peers",
            "--",
            "/app/bin/pod-start",
            "--no-such-option");
    assertThatThrownBy(() -> Image.run(command, 20))
        .hasMessageContaining("Unknown option: '--no-such-option'")
        .hasMessageContaining("Usage: basalt start");
  }

  @Test
  void itsEntrypointRunsANodeThatAnswersHealthAndServes(@TempDir Path tmp) throws Exception {
    assumeTrue(Image.root(), "tier 2 runs the image's filesystem as a container: needs root");
    Image.build();
    int port = freePort();
    int http = freePort();
    Process node =
        new ProcessBuilder(
                Image.RUN.toString(),
                Image.ROOTFS.toString(),
                tmp.resolve("data").toString(),
                "--",
                "/app/bin/basalt",
                "start",
                "--id=1",
                "--store=/data/store",
                "--listen=127.0.0.1:" + port,
                "--http=127.0.0.1:" + http,
                "--insecure")
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("node.log").toFile())
            .start();
    try {
      HttpClient web = HttpClient.newHttpClient();
      String health = "http://127.0.0.1:" + http + "/health";
      Poll.until(
          () -> get(web, health).statusCode() == 200,
          "the node answers " + health,
          Duration.ofSeconds(60),
          () -> log(tmp));
      String init =
          Image.run(
              List.of(
                  Image.RUN.toString(),
                  Image.ROOTFS.toString(),
                  tmp.resolve("init").toString(),
                  "--",
                  "/app/bin/basalt",
                  "init",
                  "--host=127.0.0.1:" + port,
                  "--replicas=1",
                  "--ranges=2",
                  "--insecure",
                  "--wait-seconds=60"),
              120);
      assertThat(init).contains("initialized cluster");
      Poll.until(
          () -> get(web, "http://127.0.0.1:" + http + "/ready").statusCode() == 200,
          "the node is ready",
          Duration.ofSeconds(60),
          () -> log(tmp));
      try (BasaltClient client = BasaltClient.connect("127.0.0.1:" + port)) {
        client.put(bytes("k"), bytes("v"));
        assertThat(client.get(bytes("k"))).isEqualTo(bytes("v"));
      }
      String metrics = get(web, "http://127.0.0.1:" + http + "/metrics").body();
      assertThat(metrics).contains("basalt_kv_request_seconds_count");
    } finally {
      node.destroyForcibly().waitFor();
    }
  }

  static HttpResponse<String> get(HttpClient web, String url) {
    try {
      return web.send(
          HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static String log(Path tmp) {
    try {
      return Files.readString(tmp.resolve("node.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        d.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }
}
