package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.ResponseHeader;
import io.basalt.api.Timestamp;

/**
 * The client's estimate of the cluster's hybrid clock: the highest reading a node put in an answer,
 * advanced by the time elapsed here since. Never ahead of the node that gave the reading (the
 * answer took time to arrive), so a timestamp taken from it is one some node's clock has passed. A
 * transaction that read nothing commits at it, so that all its writes, sent to several ranges at
 * once, start from the same timestamp.
 */
final class ClusterClock {
  private final Ticker ticker;
  private long wallNanos;
  private int logical;
  private long observedAtNanos;
  private boolean observed;

  ClusterClock(Ticker ticker) {
    this.ticker = ticker;
  }

  /** Records the node's reading in {@code header}, just received, if it has one. */
  void observe(ResponseHeader header) {
    if (header.hasTimestamp()) {
      observe(header.getTimestamp());
    }
  }

  /** Records a node's reading {@code ts}, just received. */
  synchronized void observe(Timestamp ts) {
    long now = ticker.read();
    long current = observed ? wallNanos + (now - observedAtNanos) : Long.MIN_VALUE;
    if (ts.getWallNanos() > current) {
      wallNanos = ts.getWallNanos();
      logical = ts.getLogical();
      observedAtNanos = now;
      observed = true;
    }
  }

  /** The estimate, or null before the first reading. */
  synchronized Timestamp estimate() {
    if (!observed) {
      return null;
    }
    long elapsed = ticker.read() - observedAtNanos;
    return Timestamp.newBuilder()
        .setWallNanos(wallNanos + elapsed)
        .setLogical(elapsed == 0 ? logical : 0)
        .build();
  }
}
