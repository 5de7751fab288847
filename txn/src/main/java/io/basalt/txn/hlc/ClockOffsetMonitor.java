package io.basalt.txn.hlc;

import java.util.Map;
import java.util.TreeMap;

/**
 * Decides whether this node's clock may be trusted, from offsets measured against its peers
 * (DESIGN.md decision 5; CockroachDB's RemoteClockMonitor does the same job).
 *
 * <p>Each measurement comes from a round trip: we send at {@code sent}, the peer stamps its clock
 * {@code remote}, we receive at {@code received}. The peer's clock then read {@code remote} at some
 * instant in {@code [sent, received]}, so the offset (remote minus local) lies in {@code [remote -
 * received, remote - sent]}: estimate {@code remote - (sent + received) / 2}, error {@code
 * (received - sent) / 2}.
 *
 * <p>This node is healthy while, among the peers with a fresh measurement, a majority (counting
 * this node, which agrees with itself) is provably within the maximum offset: {@code |offset| +
 * error <= maxOffset}. A node that cannot show that must stop serving (reads at its timestamps
 * could be stale; leases could overlap), and say so in its log.
 *
 * <p>A round trip slower than half the maximum offset (an error above a quarter of it) is too
 * coarse to prove an offset within the bound, and a process paused by its collector or a busy
 * machine is no evidence of a clock offset: unless it proves the offset beyond the bound even so,
 * it is not recorded, and the peer's previous measurement stands until it goes stale.
 */
public final class ClockOffsetMonitor {
  /** One peer's latest offset estimate. */
  public record Measurement(long offsetNanos, long errorNanos, long measuredAtNanos) {
    public boolean within(long maxOffsetNanos) {
      return Math.abs(offsetNanos) + errorNanos <= maxOffsetNanos;
    }
  }

  private final long maxOffsetNanos;
  private final long staleAfterNanos;
  private final Map<Long, Measurement> byPeer = new TreeMap<>();

  /**
   * @param staleAfterNanos measurements older than this are ignored
   */
  public ClockOffsetMonitor(long maxOffsetNanos, long staleAfterNanos) {
    if (maxOffsetNanos <= 0 || staleAfterNanos <= 0) {
      throw new IllegalArgumentException("maxOffsetNanos and staleAfterNanos must be positive");
    }
    this.maxOffsetNanos = maxOffsetNanos;
    this.staleAfterNanos = staleAfterNanos;
  }

  /**
   * Records a round trip to {@code peer}: local send and receive times, the peer's reading. Returns
   * the measurement it makes, which is not recorded if its error is above a quarter of the maximum
   * offset and it does not prove the offset beyond the maximum (see the class comment).
   */
  public synchronized Measurement record(
      long peer, long sentNanos, long remoteNanos, long receivedNanos) {
    if (receivedNanos < sentNanos) {
      throw new IllegalArgumentException(
          "received before sent: " + receivedNanos + " < " + sentNanos);
    }
    long midpoint = sentNanos + (receivedNanos - sentNanos) / 2;
    Measurement m =
        new Measurement(remoteNanos - midpoint, (receivedNanos - sentNanos + 1) / 2, receivedNanos);
    boolean provesBeyond = Math.abs(m.offsetNanos()) - m.errorNanos() > maxOffsetNanos;
    if (m.errorNanos() <= maxOffsetNanos / 4 || provesBeyond) {
      byPeer.put(peer, m);
    }
    return m;
  }

  public synchronized void forget(long peer) {
    byPeer.remove(peer);
  }

  /**
   * Whether this node may serve at {@code nowNanos}: true when no peer has a fresh measurement (a
   * single node, or a cluster still starting), or when this node and the peers provably within the
   * maximum offset form a majority of this node and the freshly measured peers.
   */
  public synchronized boolean healthy(long nowNanos) {
    int fresh = 0;
    int within = 0;
    for (Measurement m : byPeer.values()) {
      if (nowNanos - m.measuredAtNanos() > staleAfterNanos) {
        continue;
      }
      fresh++;
      if (m.within(maxOffsetNanos)) {
        within++;
      }
    }
    return 2 * (within + 1) > fresh + 1;
  }

  /** The fresh measurements, by peer (for metrics and status). */
  public synchronized Map<Long, Measurement> measurements(long nowNanos) {
    Map<Long, Measurement> out = new TreeMap<>();
    byPeer.forEach((peer, m) -> {
      if (nowNanos - m.measuredAtNanos() <= staleAfterNanos) {
        out.put(peer, m);
      }
    });
    return out;
  }
}
