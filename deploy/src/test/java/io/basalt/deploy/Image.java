package io.basalt.deploy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The node's image, built once per test run by {@code deploy/image/build.sh} and unpacked layer by
 * layer into a root filesystem that {@code deploy/image/run.sh} runs commands of.
 */
final class Image {
  static final Path TARBALL = Manifests.ROOT.resolve("deploy/target/basalt-image.tar");
  static final Path UNPACKED = Manifests.ROOT.resolve("deploy/target/image");
  static final Path ROOTFS = Manifests.ROOT.resolve("deploy/target/image-rootfs");
  static final Path RUN = Manifests.ROOT.resolve("deploy/image/run.sh");

  private static boolean built;
  private static double buildSeconds;

  private Image() {}

  static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }

  /** Builds and unpacks the image (once per JVM); returns the build's duration in seconds. */
  static synchronized double build() throws IOException, InterruptedException {
    if (!built) {
      long start = System.nanoTime();
      run(
          List.of(Manifests.ROOT.resolve("deploy/image/build.sh").toString(), TARBALL.toString()),
          600);
      buildSeconds = (System.nanoTime() - start) / 1e9;
      delete(UNPACKED);
      delete(ROOTFS);
      Files.createDirectories(UNPACKED);
      Files.createDirectories(ROOTFS);
      run(List.of("tar", "-xf", TARBALL.toString(), "-C", UNPACKED.toString()), 120);
      for (String layer : layers()) {
        run(
            List.of(
                "tar",
                "--numeric-owner",
                "-xpf",
                UNPACKED.resolve(layer).toString(),
                "-C",
                ROOTFS.toString()),
            120);
      }
      built = true;
    }
    return buildSeconds;
  }

  static JsonObject manifest() throws IOException {
    JsonArray all =
        JsonParser.parseString(Files.readString(UNPACKED.resolve("manifest.json")))
            .getAsJsonArray();
    return all.get(0).getAsJsonObject();
  }

  static JsonObject config() throws IOException {
    return JsonParser.parseString(
            Files.readString(UNPACKED.resolve(manifest().get("Config").getAsString())))
        .getAsJsonObject();
  }

  static List<String> layers() throws IOException {
    List<String> out = new ArrayList<>();
    manifest().getAsJsonArray("Layers").forEach(l -> out.add(l.getAsString()));
    return out;
  }

  /** Runs {@code command}, failing with its output unless it exits 0 within the time given. */
  static String run(List<String> command, int seconds) throws IOException, InterruptedException {
    Path out = Files.createTempFile("basalt-deploy-run", ".out");
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        throw new IllegalStateException(
            command + " did not end in " + seconds + " s:\n" + Files.readString(out));
      }
      String text = Files.readString(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(command + " failed (" + p.exitValue() + "):\n" + text);
      }
      return text;
    } finally {
      Files.deleteIfExists(out);
    }
  }

  static void delete(Path dir) throws IOException, InterruptedException {
    if (Files.exists(dir)) {
      run(List.of("rm", "-rf", dir.toString()), 120);
    }
  }
}
