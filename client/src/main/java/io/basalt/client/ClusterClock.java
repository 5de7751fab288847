package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.ResponseHeader;
import io.basalt.api.Timestamp;

/**
 * The client's estimate of the cluster's hybrid clock, from the readings nodes put in their
 * answers: at least the highest HLC reading seen (so a timestamp taken from it is above every write
 * the client has been answered for), and otherwise the highest physical reading advanced by the
 * time elapsed here since. A transaction that read nothing commits at it, so that all its writes,
 * sent to several ranges at once, start from the same timestamp, one the clocks of the nodes that
 * answered have passed (a leader holds the answer to a write above its physical clock until its
 * clock passes it).
 *
 * <p>An HLC reading is not advanced by the time elapsed: a node's HLC runs ahead of its physical
 * clock after it takes in a timestamp from ahead (writes in the first max offset after an election
 * land up to the max offset ahead), and then stays put until the physical clock catches up.
 * Advancing it would keep the estimate ahead for good, and every write at it would wait.
 */
final class ClusterClock {
  private final Ticker ticker;
  private long hlcWall;
  private int hlcLogical;
  private long physicalNanos;
  private long physicalAtNanos;
  private boolean observed;

  ClusterClock(Ticker ticker) {
    this.ticker = ticker;
  }

  /** Records the node's readings in {@code header}, just received, if it has them. */
  void observe(ResponseHeader header) {
    if (header.hasTimestamp()) {
      observe(header.getTimestamp(), header.getPhysicalNanos());
    }
  }

  /**
   * Records a node's readings, just received: its HLC {@code ts} and its physical clock {@code
   * physical} (0 if the node does not send it: then the HLC reading stands for both).
   */
  synchronized void observe(Timestamp ts, long physical) {
    long now = ticker.read();
    if (!observed
        || ts.getWallNanos() > hlcWall
        || (ts.getWallNanos() == hlcWall && ts.getLogical() > hlcLogical)) {
      hlcWall = ts.getWallNanos();
      hlcLogical = ts.getLogical();
    }
    long reading = physical != 0 ? physical : ts.getWallNanos();
    if (!observed || reading > physicalNanos + (now - physicalAtNanos)) {
      physicalNanos = reading;
      physicalAtNanos = now;
    }
    observed = true;
  }

  /** The estimate, or null before the first reading. */
  synchronized Timestamp estimate() {
    if (!observed) {
      return null;
    }
    long physical = physicalNanos + (ticker.read() - physicalAtNanos);
    if (physical > hlcWall) {
      return Timestamp.newBuilder().setWallNanos(physical).build();
    }
    return Timestamp.newBuilder().setWallNanos(hlcWall).setLogical(hlcLogical).build();
  }
}
