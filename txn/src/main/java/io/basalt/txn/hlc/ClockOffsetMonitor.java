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
 * <p>A peer counts against this node when its latest measurement proves the offset beyond the
 * <em>tolerated</em> offset, four fifths of the maximum: {@code |offset| - error > tolerated}. This
 * node is healthy while it and the freshly measured peers that do not count against it are a
 * majority of it and all freshly measured peers (with one peer, a disagreement stops it). A node
 * that is not must stop serving (reads at its timestamps could be stale; leases could overlap), and
 * say so in its log.
 *
 * <p>Two guarantees follow, whatever the round trips:
 *
 * <ul>
 *   <li>a node whose true offset to its peers is at most the tolerated offset is never stopped
 *       ({@code |estimate| - error} never exceeds the true offset);
 *   <li>a node whose true offset to most of its peers exceeds the maximum is stopped by its first
 *       measurements of them, because a measurement is recorded only if its round trip is at most a
 *       fifth of the maximum offset (an error of a tenth), and then {@code |estimate| - error} is
 *       above the true offset less two errors, more than the tolerated offset.
 * </ul>
 *
 * <p>A slower round trip (a pause of either process, a busy machine) is no evidence of a clock
 * offset: unless it proves the offset beyond the tolerated one even so, it is not recorded, and the
 * peer's previous measurement stands until it goes stale. Between the tolerated and the maximum
 * offset the verdict depends on the round trips; CockroachDB makes the same choice, and the store's
 * guarantees assume offsets within the maximum, not the tolerated offset.
 */
public final class ClockOffsetMonitor {
  /** One peer's latest offset estimate. */
  public record Measurement(long offsetNanos, long errorNanos, long measuredAtNanos) {
    /** Whether this measurement proves the offset beyond {@code boundNanos}, however it fell. */
    public boolean provesBeyond(long boundNanos) {
      return Math.abs(offsetNanos) - errorNanos > boundNanos;
    }
  }

  private final long maxOffsetNanos;
  private final long toleratedNanos;
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
    this.toleratedNanos = maxOffsetNanos / 5 * 4;
    this.staleAfterNanos = staleAfterNanos;
  }

  /** The offset beyond which a peer counts against this node: four fifths of the maximum. */
  public long toleratedNanos() {
    return toleratedNanos;
  }

  /**
   * Records a round trip to {@code peer}: local send and receive times, the peer's reading. Returns
   * the measurement it makes, which is not recorded if its error is above a tenth of the maximum
   * offset and it does not prove the offset beyond the tolerated one (see the class comment).
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
    if (m.errorNanos() <= maxOffsetNanos / 10 || m.provesBeyond(toleratedNanos)) {
      byPeer.put(peer, m);
    }
    return m;
  }

  public synchronized void forget(long peer) {
    byPeer.remove(peer);
  }

  /**
   * Whether this node may serve at {@code nowNanos}: whether this node and the freshly measured
   * peers whose measurement does not prove the offset beyond the tolerated one are a majority of
   * this node and all freshly measured peers (so true with no fresh measurement: a single node, or
   * a cluster still starting).
   */
  public synchronized boolean healthy(long nowNanos) {
    int fresh = 0;
    int beyond = 0;
    for (Measurement m : byPeer.values()) {
      if (nowNanos - m.measuredAtNanos() > staleAfterNanos) {
        continue;
      }
      fresh++;
      if (m.provesBeyond(toleratedNanos)) {
        beyond++;
      }
    }
    return 2 * (fresh - beyond + 1) > fresh + 1;
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
