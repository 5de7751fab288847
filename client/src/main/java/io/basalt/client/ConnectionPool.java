package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * One connection per node address, opened on first use and replaced on the next use after it
 * breaks. All connections share one small event loop group (epoll when available, NIO otherwise),
 * whose threads also run the router's retry timers and transactions' heartbeats: the {@link
 * ClientRuntime} of a client.
 */
final class ConnectionPool implements ClientRuntime {
  private final EventLoopGroup group;
  private final Bootstrap bootstrap;
  private final NodeDirectory directory;
  private final long connectTimeoutNanos;
  private final Ticker ticker;
  private final Map<String, Connection> connections = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();
  private final Set<Runnable> timers = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /** The TLS context connections are made with, or null (plaintext). */
  private final io.netty.handler.ssl.SslContext tls;

  /**
   * Connections whose calls read their deadlines on {@code ticker}, over TLS with {@code tls}
   * (null: plaintext).
   */
  ConnectionPool(
      NodeDirectory directory,
      Duration connectTimeout,
      int ioThreads,
      Ticker ticker,
      io.netty.handler.ssl.SslContext tls) {
    this.tls = tls;
    boolean epoll = Epoll.isAvailable();
    this.group =
        new MultiThreadIoEventLoopGroup(
            ioThreads,
            new DefaultThreadFactory("basalt-client", true),
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    this.bootstrap =
        new Bootstrap()
            .group(group)
            .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
    this.directory = directory;
    this.connectTimeoutNanos = connectTimeout.toNanos();
    this.ticker = ticker;
  }

  /**
   * The connection to {@code address}, opening one if there is none or the last one broke.
   *
   * @throws IllegalStateException once the pool is closed
   */
  private Connection get(String address) {
    if (closed) {
      throw new IllegalStateException("the client is closed");
    }
    return connections.compute(
        address,
        (a, existing) ->
            existing != null && existing.isUsable()
                ? existing
                : Connection.open(
                    bootstrap,
                    a,
                    directory,
                    ticker,
                    Framing.MAX_FRAME_BYTES,
                    connectTimeoutNanos,
                    tls));
  }

  @Override
  public CompletableFuture<KvResponse> call(String address, KvRequest request, long deadlineNanos) {
    return get(address).call(request, deadlineNanos);
  }

  /** Runs {@code task} on an I/O thread. */
  @Override
  public void execute(Runnable task) {
    group.execute(task);
  }

  /**
   * Runs timers (retry backoff, heartbeats) on the I/O threads. Timers still pending when the pool
   * closes run then, on the closing thread, so that nothing waits for one forever.
   */
  @Override
  public void schedule(Runnable task, long delayNanos) {
    Runnable once =
        new Runnable() {
          @Override
          public void run() {
            if (timers.remove(this)) {
              task.run();
            }
          }
        };
    timers.add(once);
    try {
      group.schedule(once, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      timers.remove(once);
      throw e;
    }
  }

  @Override
  public Ticker ticker() {
    return ticker;
  }

  @Override
  public long wallMillis() {
    return System.currentTimeMillis();
  }

  @Override
  public RandomGenerator random() {
    return random;
  }

  /** Closes every connection and stops the I/O threads (waits up to 5 s for them). */
  @Override
  public void close() {
    closed = true;
    for (Connection connection : connections.values()) {
      connection.close("the client is closing");
    }
    connections.clear();
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    for (Runnable timer : timers) {
      timer.run();
    }
  }
}
