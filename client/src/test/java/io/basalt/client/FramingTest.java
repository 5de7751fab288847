package io.basalt.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.TooLongFrameException;
import org.junit.jupiter.api.Test;

class FramingTest {
  private final Frame hello =
      Frame.newBuilder()
          .setHello(Hello.newBuilder().setClusterId("c").setProtocolVersion(1))
          .build();

  private static EmbeddedChannel channel(int maxFrameBytes) {
    EmbeddedChannel channel = new EmbeddedChannel();
    Framing.install(channel.pipeline(), maxFrameBytes);
    return channel;
  }

  @Test
  void writesABigEndianLengthThenTheFrame() {
    EmbeddedChannel channel = channel(1024);

    channel.writeOutbound(hello);

    ByteBuf out = Unpooled.buffer();
    for (ByteBuf part; (part = channel.readOutbound()) != null; ) {
      out.writeBytes(part);
      part.release();
    }
    byte[] body = hello.toByteArray();
    assertThat(out.readInt()).isEqualTo(body.length);
    byte[] written = new byte[out.readableBytes()];
    out.readBytes(written);
    out.release();
    assertThat(written).isEqualTo(body);
    channel.finishAndReleaseAll();
  }

  @Test
  void readsFramesSplitAcrossReads() {
    EmbeddedChannel channel = channel(1024);
    byte[] body = hello.toByteArray();
    ByteBuf wire = Unpooled.buffer().writeInt(body.length).writeBytes(body);

    channel.writeInbound(wire.retainedSlice(0, 3));
    assertThat((Object) channel.readInbound()).isNull();
    channel.writeInbound(wire.retainedSlice(3, wire.readableBytes() - 3));
    wire.release();

    assertThat((Frame) channel.readInbound()).isEqualTo(hello);
    channel.finishAndReleaseAll();
  }

  @Test
  void refusesAFrameLongerThanTheMaximumBeforeBufferingIt() {
    EmbeddedChannel channel = channel(1024);

    assertThatThrownBy(() -> channel.writeInbound(Unpooled.buffer().writeInt(1025).writeByte(0)))
        .isInstanceOf(TooLongFrameException.class);
    channel.finishAndReleaseAll();
  }
}
