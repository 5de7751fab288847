package io.basalt.node.transport;

import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.Frame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.MessageToMessageDecoder;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.io.IOException;
import java.util.List;

/**
 * The framing of every Basalt connection: a 4-byte big-endian length, then one serialized {@link
 * Frame}. A frame longer than the maximum is refused as soon as its length is read (before it is
 * buffered), bytes that do not parse as a frame are refused, and a connection that ends in the
 * middle of a frame is reported; each of these closes that connection only (see {@link
 * ConnectionGuard}), never the node.
 */
public final class FrameCodec {
  static final String LENGTH_DECODER = "frame-length-decoder";
  static final String FRAME_DECODER = "frame-decoder";
  static final String LENGTH_ENCODER = "frame-length-encoder";
  static final String FRAME_ENCODER = "frame-encoder";

  private FrameCodec() {}

  /** Adds the frame decoders and encoders to {@code pipeline}. */
  public static void install(ChannelPipeline pipeline, int maxFrameBytes, ConnectionGuard guard) {
    if (maxFrameBytes < 1) {
      throw new IllegalArgumentException("maxFrameBytes must be positive, got " + maxFrameBytes);
    }
    pipeline.addLast(LENGTH_DECODER, new LengthDecoder(maxFrameBytes, guard));
    pipeline.addLast(FRAME_DECODER, new ProtoDecoder());
    pipeline.addLast(LENGTH_ENCODER, new LengthFieldPrepender(4));
    pipeline.addLast(FRAME_ENCODER, new ProtoEncoder());
  }

  /** Splits the stream into frames; reports a connection that ends inside one. */
  static final class LengthDecoder extends LengthFieldBasedFrameDecoder {
    private final ConnectionGuard guard;

    LengthDecoder(int maxFrameBytes, ConnectionGuard guard) {
      // Length field: 4 bytes at offset 0, counting only the body, stripped from the output.
      super(maxFrameBytes, 0, 4, 0, 4, true);
      this.guard = guard;
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out)
        throws Exception {
      super.decodeLast(ctx, in, out);
      if (in.isReadable()) {
        guard.report(
            ctx.channel(),
            "connection ended in the middle of a frame (" + in.readableBytes() + " bytes)");
        in.skipBytes(in.readableBytes());
      }
    }
  }

  /** Parses one frame body. */
  static final class ProtoDecoder extends MessageToMessageDecoder<ByteBuf> {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf body, List<Object> out)
        throws IOException {
      try (ByteBufInputStream in = new ByteBufInputStream(body)) {
        out.add(Frame.parseFrom(in));
      } catch (InvalidProtocolBufferException e) {
        throw new CorruptedFrameException(
            "malformed frame of " + body.capacity() + " bytes: " + e.getMessage(), e);
      }
    }
  }

  /** Serializes one frame (the length is prepended after it). */
  static final class ProtoEncoder extends MessageToMessageEncoder<Frame> {
    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, List<Object> out) {
      out.add(Unpooled.wrappedBuffer(frame.toByteArray()));
    }
  }
}
