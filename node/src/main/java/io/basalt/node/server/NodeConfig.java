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
    Placement placement) {

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
