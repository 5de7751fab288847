package io.basalt.node.transport;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.LeaseTiming;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.function.Supplier;

/**
 * The first frame each way is a {@link Hello}. This handler sends ours when the connection opens,
 * and refuses the connection unless the peer's first frame is a Hello from the same cluster with a
 * protocol version we speak; after that it steps aside and frames flow on. A client (node id 0) may
 * leave the cluster id empty; another node may not, and is refused while this node has no cluster
 * id yet.
 */
public final class Handshake extends ChannelInboundHandlerAdapter {
  public static final int PROTOCOL_VERSION = 1;

  /** Fired down the pipeline once the peer's Hello was accepted. */
  public record Completed(Hello peer) {}

  private final Supplier<String> clusterId;
  private final long nodeId;
  private final ConnectionGuard guard;
  private final Supplier<LeaseTiming> leaseTiming;
  private volatile Hello peer;
  private PeerCheck peerCheck = (channel, node) -> null;

  /** Decides whether a connection's remote end may act as a node (beyond the cluster id). */
  @FunctionalInterface
  public interface PeerCheck {
    /** Why {@code channel}'s remote end may not act as node {@code nodeId}, or null if it may. */
    String refusal(io.netty.channel.Channel channel, long nodeId);
  }

  /** Checks every remote end that says it is a node with {@code check} (TLS: its certificate). */
  public Handshake checkingPeers(PeerCheck check) {
    this.peerCheck = java.util.Objects.requireNonNull(check, "check");
    return this;
  }

  public Handshake(String clusterId, long nodeId, ConnectionGuard guard) {
    this(fixed(clusterId), nodeId, guard);
  }

  private static Supplier<String> fixed(String clusterId) {
    if (clusterId.isEmpty()) {
      throw new IllegalArgumentException("cluster id must not be empty");
    }
    return () -> clusterId;
  }

  /**
   * @param clusterId this node's cluster id, read at each handshake; empty while the node is not
   *     initialized (it then accepts clients but refuses other nodes)
   * @param nodeId this node's id; 0 for a client
   */
  public Handshake(Supplier<String> clusterId, long nodeId, ConnectionGuard guard) {
    this(clusterId, nodeId, () -> null, guard);
  }

  /**
   * As above, for a node whose lease timing is {@code leaseTiming} (null: not announced, not
   * checked): another node announcing a different one is refused, since leases counted in ticks of
   * different lengths no longer exclude each other.
   */
  public Handshake(
      Supplier<String> clusterId,
      long nodeId,
      Supplier<LeaseTiming> leaseTiming,
      ConnectionGuard guard) {
    this.clusterId = clusterId;
    this.nodeId = nodeId;
    this.guard = guard;
    this.leaseTiming = leaseTiming;
  }

  /** The peer's Hello, once received. */
  public Hello peer() {
    return peer;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    Hello.Builder hello =
        Hello.newBuilder()
            .setClusterId(clusterId.get())
            .setNodeId(nodeId)
            .setProtocolVersion(PROTOCOL_VERSION);
    LeaseTiming timing = leaseTiming.get();
    if (timing != null) {
      hello.setLeaseTiming(timing);
    }
    ctx.writeAndFlush(Frame.newBuilder().setHello(hello).build());
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (peer != null) {
      ctx.fireChannelRead(msg);
      return;
    }
    try {
      if (!(msg instanceof Frame frame) || !frame.hasHello()) {
        guard.refuse(ctx.channel(), "the first frame was not a hello");
        return;
      }
      Hello hello = frame.getHello();
      String ours = clusterId.get();
      boolean client = hello.getNodeId() == 0;
      if (!client && ours.isEmpty()) {
        guard.refuse(
            ctx.channel(),
            "node " + hello.getNodeId() + " connected, but this node is not initialized yet");
        return;
      }
      if (!hello.getClusterId().equals(ours) && !(client && hello.getClusterId().isEmpty())) {
        guard.refuse(
            ctx.channel(),
            "peer belongs to cluster '" + hello.getClusterId() + "', this node to '" + ours + "'");
        return;
      }
      if (hello.getProtocolVersion() != PROTOCOL_VERSION) {
        guard.refuse(
            ctx.channel(),
            "peer speaks protocol version "
                + hello.getProtocolVersion()
                + ", this node "
                + PROTOCOL_VERSION);
        return;
      }
      String refusal = client ? null : peerCheck.refusal(ctx.channel(), hello.getNodeId());
      if (refusal != null) {
        guard.refuse(ctx.channel(), refusal);
        return;
      }
      LeaseTiming timing = leaseTiming.get();
      if (!client && timing != null && !timing.equals(hello.getLeaseTiming())) {
        guard.refuse(
            ctx.channel(),
            "node "
                + hello.getNodeId()
                + " runs with lease timing "
                + describe(hello.hasLeaseTiming() ? hello.getLeaseTiming() : null)
                + ", this node with "
                + describe(timing)
                + ": leases are counted in ticks, so every node needs the same --tick-ms and"
                + " --max-offset-ms");
        return;
      }
      peer = hello;
      ctx.fireUserEventTriggered(new Completed(hello));
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  static String describe(LeaseTiming t) {
    if (t == null) {
      return "(none announced)";
    }
    return "tick "
        + t.getTickMs()
        + " ms, election "
        + t.getElectionTicks()
        + " ticks, heartbeat "
        + t.getHeartbeatTicks()
        + " ticks, lease drift "
        + t.getLeaseDriftTicks()
        + " ticks, max offset "
        + t.getMaxOffsetMs()
        + " ms";
  }
}
