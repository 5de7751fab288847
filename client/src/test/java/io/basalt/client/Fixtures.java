package io.basalt.client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/** Helpers shared by the client's tests. */
final class Fixtures {
  private Fixtures() {}

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String s(byte[] bytes) {
    return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
  }

  /** A client of {@code cluster} seeded with {@code seedNodes}, with short timeouts for tests. */
  static BasaltClient.Builder clientOf(FakeCluster cluster, long... seedNodes) {
    String[] seeds =
        Arrays.stream(seedNodes.length == 0 ? new long[] {1} : seedNodes)
            .mapToObj(cluster::address)
            .toArray(String[]::new);
    return BasaltClient.builder()
        .seeds(seeds)
        .callTimeout(Duration.ofSeconds(3))
        .connectTimeout(Duration.ofSeconds(1))
        .maxRetryBackoff(Duration.ofMillis(40));
  }
}
