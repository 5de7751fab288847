package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzz target (Jazzer) for what a node reads from a connection before anything
 * else: the length-prefixed frame decoder and the handshake, fed arbitrary bytes in arbitrary
 * pieces. Each input must be taken (frames passed on after a valid hello) or refused with a reason
 * (the connection closed); an exception that escapes the pipeline, or a buffer sized by an
 * untrusted length beyond the maximum frame, is a finding. {@code bin/fuzz} fuzzes it for a while.
 */
class WireFuzzTest {
  private static final int MAX_FRAME = 64 * 1024;

  @FuzzTest(maxDuration = "10s")
  void framesAndHandshake(FuzzedDataProvider data) {
    List<String> reasons = new ArrayList<>();
    ConnectionGuard guard = new ConnectionGuard((ch, reason) -> reasons.add(reason));
    EmbeddedChannel channel = new EmbeddedChannel();
    FrameCodec.install(channel.pipeline(), MAX_FRAME, guard);
    channel.pipeline().addLast(new Handshake("c1", 1, guard));
    channel.pipeline().addLast(guard);
    channel.pipeline().fireChannelActive();
    while (data.remainingBytes() > 0 && channel.isOpen()) {
      byte[] piece = data.consumeBytes(data.consumeInt(1, 4096));
      channel.writeInbound(Unpooled.wrappedBuffer(piece));
    }
    // Nothing escapes: checkException rethrows what the pipeline did not handle.
    channel.checkException();
    for (Object in; (in = channel.readInbound()) != null; ) {
      ReferenceCountUtil.release(in);
    }
    for (Object out; (out = channel.readOutbound()) != null; ) {
      ReferenceCountUtil.release(out);
    }
    if (!channel.isOpen()) {
      assertThat(reasons).as("a closed connection says why").isNotEmpty();
    }
    channel.finishAndReleaseAll();
  }
}
