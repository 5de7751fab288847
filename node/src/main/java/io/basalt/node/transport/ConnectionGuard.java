package io.basalt.node.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of every connection's pipeline: whatever goes wrong on one connection (bad
 * bytes, an oversize frame, a handshake from another cluster, a refused TLS handshake, a handler's
 * exception) closes that connection with one log line naming the peer and the reason (a flood of
 * them is limited to {@value #LOGGED_PER_WINDOW} lines of one kind per 10 s), and the node goes on
 * serving everyone else (DESIGN.md decision 10).
 */
@ChannelHandler.Sharable
public final class ConnectionGuard extends ChannelDuplexHandler {
  private static final Logger log = LoggerFactory.getLogger(ConnectionGuard.class);

  static final int LOGGED_PER_WINDOW = 20;

  private final BiConsumer<Channel, String> onClose;
  private final LogLimiter limiter =
      new LogLimiter(
          LOGGED_PER_WINDOW, java.util.concurrent.TimeUnit.SECONDS.toNanos(10), System::nanoTime);

  /**
   * @param onClose told of every connection closed for a protocol error, with the reason
   */
  public ConnectionGuard(BiConsumer<Channel, String> onClose) {
    this.onClose = onClose;
  }

  public ConnectionGuard() {
    this((channel, reason) -> {});
  }

  /** Closes {@code channel} because of {@code reason}, logging it once. */
  public void refuse(Channel channel, String reason) {
    report(channel, reason);
    channel.close();
  }

  /**
   * Logs a protocol problem of {@code channel} (at most {@value #LOGGED_PER_WINDOW} lines per 10 s;
   * the next line logged counts those left out) and tells the listener.
   */
  public void report(Channel channel, String reason) {
    // Reasons of one kind share their first words ("refused: the peer's certificate expired").
    long left = limiter.admit(reason.substring(0, Math.min(reason.length(), 40)));
    if (left != LogLimiter.SUPPRESS) {
      log.warn(
          "closing connection {}: {}{}",
          channel.remoteAddress(),
          reason,
          left == 0 ? "" : " (" + left + " more connections closed and not logged before this)");
    }
    onClose.accept(channel, reason);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    refuse(ctx.channel(), describe(cause));
  }

  static String describe(Throwable cause) {
    Throwable tls =
        cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    if (tls instanceof io.netty.handler.ssl.NotSslRecordException) {
      return "refused: not TLS (a plaintext connection; this node requires TLS)";
    }
    if (tls instanceof javax.net.ssl.SSLException) {
      StringBuilder all = new StringBuilder();
      for (Throwable t = tls; t != null && all.length() < 2000; t = t.getCause()) {
        all.append(t).append(" | ");
        if (t.getCause() == t) {
          break;
        }
      }
      String text = all.toString();
      String what;
      if (text.contains("Empty client certificate chain")
          || text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE")
          || text.contains("certificate_required")) {
        what = "the peer presented no certificate (or none of this cluster's CA)";
      } else if (text.contains("CertificateExpiredException")
          || text.contains("NotAfter")
          || text.contains("CERTIFICATE_EXPIRED")) {
        what = "the peer's certificate expired";
      } else if (text.contains("PKIX path building failed")
          || text.contains("unable to find valid certification path")
          || text.contains("signature check failed")) {
        what = "the peer's certificate is not signed by this cluster's CA";
      } else {
        what = "TLS handshake failed";
      }
      return "refused: " + what + ": " + tls.getMessage();
    }
    if (cause instanceof TooLongFrameException) {
      return "oversize frame: " + cause.getMessage();
    }
    if (cause instanceof CorruptedFrameException) {
      return cause.getMessage();
    }
    if (cause instanceof DecoderException && cause.getCause() != null) {
      // A handler's exception wrapped by the decoder: the inner one says what happened.
      Throwable inner = cause.getCause();
      return inner.getMessage() != null ? inner.getMessage() : inner.toString();
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.toString();
  }
}
