package io.basalt.client;

import io.basalt.api.Frame;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.protobuf.ProtobufDecoder;
import io.netty.handler.codec.protobuf.ProtobufEncoder;

/**
 * The framing of a Basalt connection: a 4-byte big-endian length, then one serialized {@link
 * Frame}. A frame announced longer than the maximum fails the connection before it is buffered.
 */
final class Framing {
  /** The largest frame either side sends or accepts. */
  static final int MAX_FRAME_BYTES = 16 << 20;

  private Framing() {}

  static void install(ChannelPipeline pipeline, int maxFrameBytes) {
    // Length: 4 bytes at offset 0, counting the body only, stripped from what is passed on.
    pipeline.addLast(
        "frame-length-decoder", new LengthFieldBasedFrameDecoder(maxFrameBytes, 0, 4, 0, 4));
    pipeline.addLast("frame-decoder", new ProtobufDecoder(Frame.getDefaultInstance()));
    pipeline.addLast("frame-length-encoder", new LengthFieldPrepender(4));
    pipeline.addLast("frame-encoder", new ProtobufEncoder());
  }
}
