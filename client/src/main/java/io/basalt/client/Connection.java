package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One connection to one node, carrying many calls at once. Each call gets a call id unique on this
 * connection; answers may come in any order and are matched by it. The connection opens
 * asynchronously; calls made meanwhile wait for the handshake (a {@link Hello} each way).
 *
 * <p>Every call ends exactly once: with the node's answer, or with a {@link Failure} that says
 * whether the request may have reached the node ({@link Failure.Kind}). That distinction is what
 * lets the router tell a write that certainly failed from one whose outcome is unknown.
 *
 * <p>Calls are registered and written on the channel's event loop, so a call registered after the
 * channel closed is failed by its write, and one registered before is failed by the close.
 */
final class Connection {
  static final int PROTOCOL_VERSION = 1;

  /** Why a call ended without an answer. */
  static final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    enum Kind {
      /** The request never left the client (connect, handshake or write failed). */
      NOT_SENT,
      /** The request was sent and the connection broke before the answer came. */
      LOST,
      /** The request was sent and no answer came before the call's deadline. */
      NO_REPLY
    }

    final Kind kind;

    Failure(Kind kind, String message, Throwable cause) {
      super(message, cause);
      this.kind = kind;
    }
  }

  private final String address;
  private final NodeDirectory directory;
  private final Ticker ticker;
  private final CompletableFuture<Hello> ready = new CompletableFuture<>();
  private final Map<Long, CompletableFuture<KvResponse>> pending = new ConcurrentHashMap<>();
  private Channel channel;
  private long nextCallId = 1; // event loop only
  private volatile String closeReason;

  private Connection(String address, NodeDirectory directory, Ticker ticker) {
    this.address = address;
    this.directory = directory;
    this.ticker = ticker;
  }

  /**
   * Starts connecting to {@code address} ("host:port"); returns at once.
   *
   * @param ticker the clock that call deadlines are read on
   * @param tls the TLS context to connect with, or null (plaintext)
   */
  static Connection open(
      Bootstrap bootstrap,
      String address,
      NodeDirectory directory,
      Ticker ticker,
      int maxFrameBytes,
      long handshakeTimeoutNanos,
      io.netty.handler.ssl.SslContext tls) {
    Connection connection = new Connection(address, directory, ticker);
    connection.start(bootstrap, maxFrameBytes, handshakeTimeoutNanos, tls);
    return connection;
  }

  private void start(
      Bootstrap bootstrap,
      int maxFrameBytes,
      long handshakeTimeoutNanos,
      io.netty.handler.ssl.SslContext tls) {
    HostAndPort target = HostAndPort.parse(address);
    ChannelFuture connecting =
        bootstrap
            .clone()
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    if (tls != null) {
                      // The node's certificate is checked against the host dialed.
                      ch.pipeline()
                          .addLast("tls", tls.newHandler(ch.alloc(), target.host(), target.port()));
                    }
                    // Many threads' calls reach the event loop one by one: flush once per burst.
                    ch.pipeline()
                        .addLast(new io.netty.handler.flush.FlushConsolidationHandler(256, true));
                    Framing.install(ch.pipeline(), maxFrameBytes);
                    ch.pipeline().addLast("client", new Handler());
                  }
                })
            .connect(target.host(), target.port());
    channel = connecting.channel();
    connecting.addListener(f -> {
      if (!f.isSuccess()) {
        closeReason = "cannot connect: " + Failures.describe(f.cause());
        ready.completeExceptionally(notSent(closeReason));
      }
    });
    channel.closeFuture().addListener(f -> failAll());
    ScheduledFuture<?> handshakeTimer =
        channel
            .eventLoop()
            .schedule(
                () -> {
                  if (!ready.isDone()) {
                    closeWith(
                        channel,
                        "no handshake within "
                            + TimeUnit.NANOSECONDS.toMillis(handshakeTimeoutNanos)
                            + " ms");
                  }
                },
                handshakeTimeoutNanos,
                TimeUnit.NANOSECONDS);
    ready.whenComplete((hello, failure) -> handshakeTimer.cancel(false));
  }

  /** Whether new calls may still succeed on this connection. */
  boolean isUsable() {
    return channel.isOpen() && !ready.isCompletedExceptionally();
  }

  String address() {
    return address;
  }

  /**
   * Sends {@code request} (its call id is set here) and completes with the answer, or with a {@link
   * Failure} when none arrives by {@code deadlineNanos} (on the connection's ticker). The wait is
   * timed on the event loop: it lasts as long as the ticker said was left when the request went
   * out.
   */
  CompletableFuture<KvResponse> call(KvRequest request, long deadlineNanos) {
    CompletableFuture<KvResponse> result = new CompletableFuture<>();
    ready.whenComplete((hello, failure) -> {
      if (failure != null) {
        result.completeExceptionally(notSent(failure.getMessage()));
        return;
      }
      try {
        channel.eventLoop().execute(() -> send(request, deadlineNanos, result));
      } catch (RejectedExecutionException e) {
        result.completeExceptionally(notSent("the client is shutting down"));
      }
    });
    return result;
  }

  /** Closes the connection; calls in flight fail as {@link Failure.Kind#LOST}. */
  void close(String reason) {
    closeWith(channel, reason);
  }

  private void send(KvRequest request, long deadlineNanos, CompletableFuture<KvResponse> result) {
    if (!channel.isActive()) {
      result.completeExceptionally(notSent(reason()));
      return;
    }
    long remainingNanos = deadlineNanos - ticker.read();
    if (remainingNanos <= 0) {
      result.completeExceptionally(notSent("the deadline passed before the request was sent"));
      return;
    }
    long callId = nextCallId++;
    pending.put(callId, result);
    ScheduledFuture<?> timer =
        channel
            .eventLoop()
            .schedule(
                () -> {
                  if (pending.remove(callId, result)) {
                    result.completeExceptionally(
                        new Failure(
                            Failure.Kind.NO_REPLY,
                            "no answer from " + address + " before the deadline",
                            null));
                  }
                },
                remainingNanos,
                TimeUnit.NANOSECONDS);
    result.whenComplete((response, failure) -> timer.cancel(false));
    channel
        .writeAndFlush(
            Frame.newBuilder().setKvRequest(request.toBuilder().setCallId(callId)).build())
        .addListener(written -> {
          // A frame that failed to write was not (fully) sent: no node can have decoded it.
          if (!written.isSuccess() && pending.remove(callId, result)) {
            result.completeExceptionally(
                notSent("cannot send: " + Failures.describe(written.cause())));
          }
        });
  }

  // Takes the channel because the handler may run before the opening thread stored it.
  private void closeWith(Channel ch, String reason) {
    if (closeReason == null) {
      closeReason = reason;
    }
    ch.close();
  }

  private void failAll() {
    ready.completeExceptionally(notSent(reason()));
    for (Long callId : new ArrayList<>(pending.keySet())) {
      CompletableFuture<KvResponse> call = pending.remove(callId);
      if (call != null) {
        call.completeExceptionally(
            new Failure(
                Failure.Kind.LOST,
                "connection to " + address + " lost before the answer came: " + reason(),
                null));
      }
    }
  }

  private String reason() {
    String reason = closeReason;
    return reason == null ? "the connection closed" : reason;
  }

  private Failure notSent(String why) {
    return new Failure(Failure.Kind.NOT_SENT, "cannot reach " + address + ": " + why, null);
  }

  private final class Handler extends SimpleChannelInboundHandler<Frame> {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.writeAndFlush(
          Frame.newBuilder()
              .setHello(
                  Hello.newBuilder()
                      .setClusterId(directory.clusterId())
                      .setNodeId(0)
                      .setProtocolVersion(PROTOCOL_VERSION))
              .build());
      ctx.fireChannelActive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Frame frame) {
      if (!ready.isDone()) {
        String refusal = refusal(frame);
        if (refusal != null) {
          closeWith(ctx.channel(), refusal);
          return;
        }
        directory.learnClusterId(frame.getHello().getClusterId());
        ready.complete(frame.getHello());
        return;
      }
      if (!frame.hasKvResponse()) {
        closeWith(
            ctx.channel(),
            "the node sent a " + frame.getBodyCase() + " frame, a client expects answers");
        return;
      }
      CompletableFuture<KvResponse> call = pending.remove(frame.getKvResponse().getCallId());
      if (call != null) {
        call.complete(frame.getKvResponse());
      }
      // An answer to no pending call came after its deadline: nobody waits for it any more.
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      closeWith(ctx.channel(), Failures.describe(cause));
    }

    private String refusal(Frame frame) {
      if (!frame.hasHello()) {
        return "the node's first frame was a " + frame.getBodyCase() + ", not a hello";
      }
      Hello hello = frame.getHello();
      if (hello.getProtocolVersion() != PROTOCOL_VERSION) {
        return "the node speaks protocol version "
            + hello.getProtocolVersion()
            + ", the client "
            + PROTOCOL_VERSION;
      }
      String known = directory.clusterId();
      if (!known.isEmpty()
          && !hello.getClusterId().isEmpty()
          && !known.equals(hello.getClusterId())) {
        return "the node belongs to cluster '"
            + hello.getClusterId()
            + "', the client talks to '"
            + known
            + "'";
      }
      return null;
    }
  }
}
