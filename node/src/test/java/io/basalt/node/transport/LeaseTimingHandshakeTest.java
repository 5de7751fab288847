package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.LeaseTiming;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Leases are counted in ticks: a leader at 100 ms ticks and a follower at 50 ms would let the
 * leader serve reads after the follower voted for another. Nodes therefore announce their lease
 * timing in the handshake and refuse a peer whose timing differs, saying why.
 */
class LeaseTimingHandshakeTest {
  private static final LeaseTiming OURS = timing(100);
  private final List<String> closeReasons = new ArrayList<>();
  private final ConnectionGuard guard =
      new ConnectionGuard((ch, reason) -> closeReasons.add(reason));

  private static LeaseTiming timing(int tickMs) {
    return LeaseTiming.newBuilder()
        .setTickMs(tickMs)
        .setElectionTicks(10)
        .setHeartbeatTicks(2)
        .setLeaseDriftTicks(2)
        .setMaxOffsetMs(500)
        .build();
  }

  /** Feeds a peer's hello to a node with {@link #OURS}; returns whether it was accepted. */
  private boolean accepts(Hello.Builder peer) {
    EmbeddedChannel channel = new EmbeddedChannel();
    List<Object> completed = new ArrayList<>();
    channel.pipeline().addLast(new Handshake(() -> "c1", 1, () -> OURS, guard));
    channel
        .pipeline()
        .addLast(
            new io.netty.channel.ChannelInboundHandlerAdapter() {
              @Override
              public void userEventTriggered(
                  io.netty.channel.ChannelHandlerContext ctx, Object event) {
                completed.add(event);
              }
            });
    channel.pipeline().fireChannelActive();
    Frame ours = channel.readOutbound();
    assertThat(ours.getHello().getLeaseTiming())
        .as("the node announces its timing")
        .isEqualTo(OURS);
    channel.writeInbound(
        Frame.newBuilder()
            .setHello(peer.setClusterId(peer.getNodeId() == 0 ? "" : "c1").setProtocolVersion(1))
            .build());
    boolean accepted = !completed.isEmpty();
    assertThat(channel.isOpen()).isEqualTo(accepted);
    channel.finishAndReleaseAll();
    return accepted;
  }

  @Test
  void aPeerWithTheSameTimingIsAccepted() {
    assertThat(accepts(Hello.newBuilder().setNodeId(2).setLeaseTiming(timing(100)))).isTrue();
    assertThat(closeReasons).isEmpty();
  }

  @Test
  void aPeerTickingAtAnotherRateIsRefusedWithTheReason() {
    assertThat(accepts(Hello.newBuilder().setNodeId(2).setLeaseTiming(timing(50)))).isFalse();
    assertThat(closeReasons)
        .singleElement()
        .asString()
        .contains("node 2 runs with lease timing tick 50 ms")
        .contains("this node with tick 100 ms")
        .contains("--tick-ms");
  }

  @Test
  void aPeerAnnouncingNoTimingIsRefused() {
    assertThat(accepts(Hello.newBuilder().setNodeId(2))).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("(none announced)");
  }

  @Test
  void aClientNeedsNoTiming() {
    assertThat(accepts(Hello.newBuilder().setNodeId(0))).isTrue();
  }
}
