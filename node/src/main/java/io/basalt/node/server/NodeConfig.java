package io.basalt.node.server;

import io.basalt.placement.PlacementPolicy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Settings of a node; see {@code bin/basalt start --help}. */
public record NodeConfig(
    long nodeId,
    Path storeDir,
    InetSocketAddress listen,
    String advertise,
    List<String> join,
    Duration maxClockOffset,
    Duration tick,
    int compactLogAfter,
    int ioThreads,
    Duration gcTtl,
    Placement placement,
    Security security) {

  /**
   * Transport security: the directory of the node's certificates ({@code ca.crt}, {@code node.crt},
   * {@code node.key}), or null to run without TLS (said with {@code --insecure}), and the common
   * names whose certificates may act as peers.
   */
  public record Security(Path certsDir, java.util.Set<String> allowedPeerNames) {
    public static final Security INSECURE = new Security(null, java.util.Set.of("node"));

    public boolean tls() {
      return certsDir != null;
    }
  }

  /**
   * The placement driver's settings: whether it runs (on the node leading the meta range), the
   * voters each range should have, how long a node may be silent before its replicas are replaced,
   * the size and load above which a range is split, how long neighbours stay unchanged before they
   * may merge (null: never), and this node's locality.
   */
  public record Placement(
      boolean enabled,
      int replicationFactor,
      Duration timeUntilDead,
      long rangeMaxBytes,
      double rangeMaxQps,
      Duration mergeDelay,
      String locality) {
    public static final Placement DEFAULT =
        new Placement(
            true,
            3,
            Duration.ofSeconds(60),
            PlacementPolicy.DEFAULT_RANGE_MAX_BYTES,
            PlacementPolicy.DEFAULT_RANGE_MAX_QPS,
            Duration.ofMillis(PlacementPolicy.DEFAULT_MERGE_DELAY_MILLIS),
            "");
  }
}
