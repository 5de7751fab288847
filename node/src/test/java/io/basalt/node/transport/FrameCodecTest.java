package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.Frame;
import io.basalt.api.GetRequest;
import io.basalt.api.Hello;
import io.basalt.api.KvRequest;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Framing and the handshake, without sockets (STYLE.md: Netty handlers on EmbeddedChannel). */
class FrameCodecTest {
  private static final int MAX_FRAME = 1024;
  private final List<String> closeReasons = new ArrayList<>();
  private final ConnectionGuard guard =
      new ConnectionGuard((ch, reason) -> closeReasons.add(reason));

  private EmbeddedChannel channel(String clusterId) {
    EmbeddedChannel channel = new EmbeddedChannel();
    FrameCodec.install(channel.pipeline(), MAX_FRAME, guard);
    channel.pipeline().addLast(new Handshake(clusterId, 1, guard));
    channel.pipeline().addLast(guard);
    channel.pipeline().fireChannelActive();
    return channel;
  }

  private static Frame hello(String clusterId, int version) {
    return Frame.newBuilder()
        .setHello(
            Hello.newBuilder().setClusterId(clusterId).setNodeId(2).setProtocolVersion(version))
        .build();
  }

  private static ByteBuf encoded(Frame frame) {
    byte[] body = frame.toByteArray();
    return Unpooled.buffer().writeInt(body.length).writeBytes(body);
  }

  private static Frame raftFrame() {
    return Frame.newBuilder()
        .setRaftBatch(
            RaftBatch.newBuilder()
                .setClusterId("c1")
                .setFromNode(2)
                .setToNode(1)
                .addMessages(RaftMessage.newBuilder().setRangeId(7).setTerm(3)))
        .build();
  }

  /** Everything written so far, as one buffer (the length prefix comes as its own buffer). */
  private static ByteBuf drainOutbound(EmbeddedChannel channel) {
    ByteBuf out = Unpooled.buffer();
    ByteBuf part;
    while ((part = channel.readOutbound()) != null) {
      out.writeBytes(part);
      part.release();
    }
    return out;
  }

  @Test
  void sendsItsHelloFirstWithALengthPrefix() {
    EmbeddedChannel channel = channel("c1");
    ByteBuf out = drainOutbound(channel);
    int length = out.readInt();
    assertThat(length).isEqualTo(out.readableBytes());
    byte[] body = new byte[length];
    out.readBytes(body);
    out.release();
    assertThat(new String(body, java.nio.charset.StandardCharsets.ISO_8859_1)).contains("c1");
    channel.finishAndReleaseAll();
  }

  @Test
  void framesPassOnceTheHandshakeSucceeds() {
    EmbeddedChannel channel = channel("c1");
    ByteBuf stream = Unpooled.buffer();
    stream.writeBytes(encoded(hello("c1", Handshake.PROTOCOL_VERSION)));
    stream.writeBytes(encoded(raftFrame()));
    // Deliver byte by byte: frames must be reassembled whatever the TCP segmentation.
    while (stream.isReadable()) {
      channel.writeInbound(stream.readRetainedSlice(1));
    }
    stream.release();
    Frame received = channel.readInbound();
    assertThat(received).isEqualTo(raftFrame());
    assertThat(channel.isOpen()).isTrue();
    assertThat(closeReasons).isEmpty();
    channel.finishAndReleaseAll();
  }

  @Test
  void anotherClustersHelloClosesTheConnection() {
    EmbeddedChannel channel = channel("c1");
    channel.writeInbound(encoded(hello("other", Handshake.PROTOCOL_VERSION)));
    assertThat(channel.isOpen()).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("cluster 'other'");
    channel.finishAndReleaseAll();
  }

  @Test
  void aFrameBeforeTheHelloClosesTheConnection() {
    EmbeddedChannel channel = channel("c1");
    channel.writeInbound(encoded(raftFrame()));
    assertThat(channel.isOpen()).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("not a hello");
    channel.finishAndReleaseAll();
  }

  @Test
  void anUnknownProtocolVersionClosesTheConnection() {
    EmbeddedChannel channel = channel("c1");
    channel.writeInbound(encoded(hello("c1", 99)));
    assertThat(channel.isOpen()).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("protocol version 99");
    channel.finishAndReleaseAll();
  }

  @Test
  void garbageBytesCloseTheConnectionWithAReason() {
    EmbeddedChannel channel = channel("c1");
    ByteBuf garbage =
        Unpooled.buffer().writeInt(6).writeBytes(new byte[] {(byte) 0xFF, 1, 2, 3, 4, 5});
    channel.writeInbound(garbage);
    assertThat(channel.isOpen()).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("malformed frame");
    channel.finishAndReleaseAll();
  }

  @Test
  void anOversizeFrameIsRefusedFromItsLengthAlone() {
    EmbeddedChannel channel = channel("c1");
    // Only the length arrives: the frame must be refused without waiting for (or buffering) it.
    channel.writeInbound(Unpooled.buffer().writeInt(MAX_FRAME + 1));
    assertThat(channel.isOpen()).isFalse();
    assertThat(closeReasons).singleElement().asString().contains("oversize frame");
    channel.finishAndReleaseAll();
  }

  @Test
  void aConnectionEndingInsideAFrameIsReported() {
    EmbeddedChannel channel = channel("c1");
    channel.writeInbound(encoded(hello("c1", Handshake.PROTOCOL_VERSION)));
    ByteBuf partial = encoded(raftFrame());
    channel.writeInbound(partial.readRetainedSlice(partial.readableBytes() - 3));
    partial.release();
    channel.close();
    assertThat(closeReasons).singleElement().asString().contains("middle of a frame");
    channel.finishAndReleaseAll();
  }

  @Test
  void aBadConnectionDoesNotDisturbAnother() {
    EmbeddedChannel bad = channel("c1");
    EmbeddedChannel good = channel("c1");
    good.writeInbound(encoded(hello("c1", Handshake.PROTOCOL_VERSION)));
    bad.writeInbound(Unpooled.buffer().writeInt(MAX_FRAME * 10));
    Frame request =
        Frame.newBuilder()
            .setKvRequest(
                KvRequest.newBuilder()
                    .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8("k"))))
            .build();
    good.writeInbound(encoded(request));
    assertThat(bad.isOpen()).isFalse();
    assertThat(good.isOpen()).isTrue();
    assertThat((Frame) good.readInbound()).isEqualTo(request);
    bad.finishAndReleaseAll();
    good.finishAndReleaseAll();
  }

  @Test
  void outboundFramesAreLengthPrefixed() {
    EmbeddedChannel channel = channel("c1");
    drainOutbound(channel).release(); // our hello
    channel.writeOutbound(raftFrame());
    ByteBuf out = drainOutbound(channel);
    EmbeddedChannel peer = new EmbeddedChannel();
    FrameCodec.install(peer.pipeline(), MAX_FRAME, guard);
    peer.writeInbound(out);
    assertThat((Frame) peer.readInbound()).isEqualTo(raftFrame());
    channel.finishAndReleaseAll();
    peer.finishAndReleaseAll();
  }
}
