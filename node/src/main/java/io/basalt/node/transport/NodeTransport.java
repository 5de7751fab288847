package io.basalt.node.transport;

import io.basalt.api.Frame;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.basalt.api.SnapshotChunk;
import io.basalt.api.Timestamp;
import io.basalt.node.store.SnapshotStream;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Node-to-node transport of Raft traffic (DESIGN.md decision 2, the node issue's "Transport").
 *
 * <ul>
 *   <li><b>One connection per peer pair.</b> The node with the lower id dials, the other accepts;
 *       both send on the same connection. The dialer reconnects with exponential backoff and
 *       jitter. Epoll is used when available, NIO otherwise.
 *   <li><b>Batching.</b> {@link #send} only queues; the peer's event loop drains everything queued
 *       for that peer into one {@link RaftBatch} frame (up to the frame limit), so the traffic of
 *       every range bound for a node travels together. Heartbeats and their responses are coalesced
 *       into compact per-range entries of that frame ({@link Heartbeats}).
 *   <li><b>Back-pressure.</b> A peer's queue is bounded in bytes, and it is drained only while the
 *       connection is writable (Netty's write-buffer water marks). A slow or stalled peer fills its
 *       queue, after which {@link #send} refuses (returns {@code false}): Raft treats it as a lost
 *       message and retries later, and the heap stays bounded.
 *   <li><b>Failure.</b> A protocol error closes that connection alone ({@link ConnectionGuard}).
 * </ul>
 *
 * <p>Inbound batches are handed to {@link Inbound} on the connection's event loop; the handler must
 * not block.
 */
public final class NodeTransport implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeTransport.class);

  /** Receives what peers and clients send; called on connection event loops, must not block. */
  @FunctionalInterface
  public interface Inbound {
    void onRaftBatch(long fromNode, RaftBatch batch);

    /**
     * The connection to {@code node} closed (a peer that stopped, crashed or was cut off; the
     * transport dials it again). Called on an event loop. By default nothing is done.
     */
    default void onPeerLost(long node) {}

    /**
     * A client's request; {@code reply} may be called from any thread, once. By default the node
     * serves no clients.
     */
    default void onKvRequest(KvRequest request, Consumer<KvResponse> reply) {
      reply.accept(
          KvResponse.newBuilder()
              .setError(
                  io.basalt.api.Error.newBuilder()
                      .setUnavailable(
                          io.basalt.api.UnavailableError.newBuilder()
                              .setMessage("this endpoint serves no clients")))
              .build());
    }
  }

  private final TransportOptions options;
  private final Inbound inbound;
  private final ConnectionGuard guard;
  private final EventLoopGroup group;
  private final io.netty.channel.EventLoop storeExecutor;
  private final boolean epoll;
  private final Map<Long, Peer> peers = new ConcurrentHashMap<>();
  private Channel server;
  private volatile boolean closed;
  private volatile String clusterId;
  private volatile Thread deferring;

  /** Every open connection, accepted or dialed (a closed one leaves the group by itself). */
  private final io.netty.channel.group.ChannelGroup channels =
      new io.netty.channel.group.DefaultChannelGroup(
          io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

  /** Flushes the deferring thread owes; touched only by that thread. */
  private final List<Runnable> deferred = new ArrayList<>();

  private volatile Supplier<Timestamp> clock = Timestamp::getDefaultInstance;

  public NodeTransport(TransportOptions options, Inbound inbound, ConnectionGuard guard) {
    this.options = options;
    this.clusterId = options.clusterId();
    this.inbound = inbound;
    this.guard = guard;
    this.epoll = Epoll.isAvailable();
    // The node's store runs on one of these threads (storeExecutor): every request waits for it,
    // so where the JVM maps priorities to the OS (-XX:ThreadPriorityPolicy=1, as bin/basalt sets
    // it) it is scheduled ahead of the rest.
    this.group =
        new MultiThreadIoEventLoopGroup(
            options.ioThreads(),
            new io.netty.util.concurrent.DefaultThreadFactory(
                "node-" + options.nodeId() + "-io", false, Thread.MAX_PRIORITY),
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    this.storeExecutor = group.next();
  }

  /**
   * The event loop the node's store runs on. Connections on it hand their messages to the store and
   * write what it sends without a thread hand-off (with one I/O thread, the default, that is every
   * connection).
   */
  public io.netty.channel.EventLoop storeExecutor() {
    return storeExecutor;
  }

  /** Starts accepting connections on {@code listen}; returns the bound address. */
  public InetSocketAddress start(InetSocketAddress listen) throws InterruptedException {
    Class<? extends ServerChannel> channelClass =
        epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    server =
        new ServerBootstrap()
            .group(group)
            .channel(channelClass)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
            .childHandler(initializer(null))
            .bind(listen)
            .sync()
            .channel();
    InetSocketAddress bound = (InetSocketAddress) server.localAddress();
    log.info("node {} listening on {} ({})", options.nodeId(), bound, epoll ? "epoll" : "nio");
    return bound;
  }

  /**
   * The lease timing this node announces to peers and requires of them (see {@link Handshake}); set
   * before {@link #start}.
   */
  public void setLeaseTiming(io.basalt.api.LeaseTiming leaseTiming) {
    this.leaseTiming = leaseTiming;
  }

  private volatile io.basalt.api.LeaseTiming leaseTiming;

  private volatile io.basalt.node.tls.NodeTls tls;

  /**
   * Accepts and makes connections with mutual TLS from now on (set before {@link #start}); without
   * it, plaintext.
   */
  public void setTls(io.basalt.node.tls.NodeTls tls) {
    this.tls = tls;
  }

  /** Sets the cluster id once the node is initialized (it was empty until then). */
  public void setClusterId(String clusterId) {
    this.clusterId = Objects.requireNonNull(clusterId);
  }

  public String clusterId() {
    return clusterId;
  }

  /** The clock whose reading stamps every outgoing batch (the node's HLC). */
  public void setClock(Supplier<Timestamp> clock) {
    this.clock = clock;
  }

  /**
   * Sends a clock probe to {@code toNode} now (not queued behind Raft traffic, so the round trip
   * measures the network, not our backlog); returns false if not connected.
   */
  public boolean sendPing(long toNode, long sentNanos) {
    return sendControl(toNode, RaftBatch.newBuilder().setPingSentNanos(sentNanos));
  }

  /** Answers a clock probe: echoes its send time with our physical clock reading. */
  public boolean sendPong(long toNode, long echoNanos, long remoteNanos) {
    return sendControl(
        toNode, RaftBatch.newBuilder().setPongEchoNanos(echoNanos).setPongRemoteNanos(remoteNanos));
  }

  private boolean sendControl(long toNode, RaftBatch.Builder batch) {
    Peer peer = peers.get(toNode);
    Channel ch = peer == null ? null : peer.channel;
    if (ch == null || !ch.isActive()) {
      return false;
    }
    batch
        .setClusterId(clusterId)
        .setFromNode(options.nodeId())
        .setToNode(toNode)
        .setTimestamp(clock.get());
    ch.writeAndFlush(Frame.newBuilder().setRaftBatch(batch).build());
    return true;
  }

  /** The ids of peers with an open connection. */
  public java.util.List<Long> connectedPeers() {
    java.util.List<Long> out = new java.util.ArrayList<>();
    peers.forEach((id, p) -> {
      if (p.channel != null && p.channel.isActive()) {
        out.add(id);
      }
    });
    java.util.Collections.sort(out);
    return out;
  }

  private WriteBufferWaterMark waterMark() {
    return new WriteBufferWaterMark(256 * 1024, Math.max(512 * 1024, options.maxFrameBytes()));
  }

  private ChannelInitializer<SocketChannel> initializer(Peer dialing) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        channels.add(ch);
        io.basalt.node.tls.NodeTls t = tls;
        if (t != null) {
          ch.pipeline()
              .addLast(
                  "tls",
                  dialing == null
                      ? t.server().newHandler(ch.alloc())
                      : t.peerClient()
                          .newHandler(
                              ch.alloc(),
                              dialing.address.getHostString(),
                              dialing.address.getPort()));
        }
        // Answers and batches written in one read burst go out in one flush. Writes from the
        // store thread come batched per round step already: flushed at once (no extra task).
        ch.pipeline().addLast(new io.netty.handler.flush.FlushConsolidationHandler(256, false));
        FrameCodec.install(ch.pipeline(), options.maxFrameBytes(), guard);
        Handshake handshake =
            new Handshake(() -> clusterId, options.nodeId(), () -> leaseTiming, guard);
        if (t != null) {
          handshake.checkingPeers(t::refusePeer);
        }
        ch.pipeline().addLast(handshake);
        ch.pipeline().addLast(new PeerHandler(dialing));
        ch.pipeline().addLast(guard);
      }
    };
  }

  /**
   * Declares a peer. This node dials it if its id is higher than ours; otherwise it waits for the
   * peer to connect.
   */
  public void addPeer(long nodeId, InetSocketAddress address) {
    if (nodeId == options.nodeId()) {
      throw new IllegalArgumentException("a node is not its own peer: " + nodeId);
    }
    if (refused.containsKey(nodeId) || refuseEveryNode != null) {
      return;
    }
    Peer peer = peers.computeIfAbsent(nodeId, Peer::new);
    peer.address = address;
    if (nodeId > options.nodeId()) {
      peer.dial(0);
    }
  }

  /** Nodes refused for good (decommissioned), with the reason each is given. */
  private final Map<Long, String> refused = new ConcurrentHashMap<>();

  /**
   * Refuses node {@code nodeId} from now on, for good: its connection is closed, it is not dialed
   * again, and a connection it makes is closed after the handshake, with {@code reason} logged.
   * Clients (node id 0) are not affected.
   */
  public void refuse(long nodeId, String reason) {
    if (nodeId == options.nodeId() || refused.putIfAbsent(nodeId, reason) != null) {
      return;
    }
    Peer peer = peers.remove(nodeId);
    if (peer != null) {
      peer.address = null; // no more dials
      Channel ch = peer.channel;
      if (ch != null) {
        guard.refuse(ch, reason);
      }
      peer.abortStreams(reason);
    }
  }

  /** Set once this node refuses every other node (it was decommissioned), with the reason. */
  private volatile String refuseEveryNode;

  /**
   * Refuses every other node from now on, for good (this node was decommissioned: it talks to the
   * cluster no more); clients are still served.
   */
  public void refuseEveryNode(String reason) {
    refuseEveryNode = reason;
    for (Long id : List.copyOf(peers.keySet())) {
      refuse(id, reason);
    }
  }

  /** Declares a peer unless it is already known at {@code address}. */
  public void addPeerIfAbsent(long nodeId, InetSocketAddress address) {
    Peer peer = peers.get(nodeId);
    if (peer == null || !address.equals(peer.address)) {
      addPeer(nodeId, address);
    }
  }

  /**
   * Queues {@code message} for {@code toNode}. Returns {@code false}, dropping it, when the peer is
   * unknown or its queue is full (back-pressure; Raft retransmits).
   */
  public boolean send(long toNode, RaftMessage message) {
    Peer peer = peers.get(toNode);
    return peer != null && peer.enqueue(List.of(message));
  }

  /**
   * From now on, what {@code thread} queues (Raft messages, replies) waits for its next {@link
   * #flushDeferred()} before it is written: the store queues many messages and answers per round,
   * and writing a frame (or waking a network thread) for each would cost more than the work itself.
   * Only {@code thread} may call {@link #flushDeferred()}; {@code null} stops deferring. The store
   * loop defers only while its round runs, so that what the event loop answers by itself between
   * rounds (or after the store stopped) leaves at once.
   */
  public void deferFlushesOn(Thread thread) {
    deferring = thread;
  }

  /**
   * Writes (or hands to their network threads) everything the deferring thread queued since its
   * last call. A failure to write one connection is logged and does not stop the others: it must
   * not take the store's round down with it.
   */
  public void flushDeferred() {
    if (deferred.isEmpty()) {
      return;
    }
    List<Runnable> todo = new ArrayList<>(deferred);
    deferred.clear();
    for (Runnable r : todo) {
      try {
        r.run();
      } catch (RuntimeException e) {
        log.warn("node {}: a deferred write failed", options.nodeId(), e);
      }
    }
  }

  /** Hand-offs the deferring thread owes (for tests). */
  int deferredFlushes() {
    return deferred.size();
  }

  /**
   * Runs {@code task} on {@code loop}: right here if this is that loop's thread (the store's round
   * writes before its fsync, not after), else as a task.
   */
  static void runOn(io.netty.channel.EventLoop loop, Runnable task) {
    if (loop.inEventLoop()) {
      task.run();
    } else {
      loop.execute(task);
    }
  }

  /** Runs {@code schedule} now, or at the deferring thread's next flush if this is that thread. */
  private void scheduleFlush(Runnable schedule) {
    if (Thread.currentThread() == deferring) {
      deferred.add(schedule);
    } else {
      schedule.run();
    }
  }

  /**
   * Streams a snapshot to {@code toNode}: its chunks are pulled one frame at a time while the
   * connection is writable, after the Raft messages queued before each frame, so a snapshot of any
   * size goes out without filling the peer's queue or holding up heartbeats. Returns false, and
   * takes nothing, if there is no connection to {@code toNode}; a connection lost mid-stream, or
   * replaced by a new one from that node, {@link SnapshotStream#abort aborts} the stream.
   */
  public boolean sendSnapshot(long toNode, SnapshotStream stream) {
    Peer peer = peers.get(toNode);
    return peer != null && peer.enqueueSnapshot(stream);
  }

  /** Whether a handshaken connection to {@code toNode} is open. */
  public boolean connected(long toNode) {
    Peer peer = peers.get(toNode);
    return peer != null && peer.channel != null && peer.channel.isActive();
  }

  /** Bytes queued for {@code toNode} and not yet handed to its connection. */
  public long queuedBytes(long toNode) {
    Peer peer = peers.get(toNode);
    return peer == null ? 0 : peer.queuedBytes();
  }

  /** The frames sent to {@code toNode} so far (batches, not messages). */
  public long framesSent(long toNode) {
    Peer peer = peers.get(toNode);
    return peer == null ? 0 : peer.framesSent;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (server != null) {
      server.close().syncUninterruptibly();
    }
    for (Peer peer : peers.values()) {
      Channel channel = peer.channel;
      if (channel != null) {
        channel.close().syncUninterruptibly();
      }
      peer.abortStreams("the transport is closed");
    }
    // Every other connection too (clients, peers not declared here): their remote ends must see
    // the close now, as they would if the process exited.
    channels.close().syncUninterruptibly();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** One remote node: its connection, its outbound queue, its reconnect state. */
  private final class Peer {
    final long nodeId;
    volatile InetSocketAddress address;
    volatile Channel channel;

    /** RaftMessages and SnapshotChunks, in order. */
    private final ArrayDeque<com.google.protobuf.Message> queue = new ArrayDeque<>();

    /** Snapshot streams being sent, oldest first; one at a time. */
    private final ArrayDeque<SnapshotStream> streams = new ArrayDeque<>();

    private long queued;
    private boolean flushScheduled;
    private long backoffMillis;
    volatile long framesSent;

    Peer(long nodeId) {
      this.nodeId = nodeId;
    }

    synchronized long queuedBytes() {
      return queued;
    }

    boolean enqueue(List<? extends com.google.protobuf.Message> items) {
      long size = 0;
      for (com.google.protobuf.Message m : items) {
        size += m.getSerializedSize();
      }
      Channel ch;
      synchronized (this) {
        if (queued + size > options.maxQueuedBytesPerPeer()) {
          return false;
        }
        queue.addAll(items);
        queued += size;
        ch = channel;
        if (ch == null || flushScheduled) {
          return true;
        }
        flushScheduled = true;
      }
      scheduleFlush(() -> runOn(ch.eventLoop(), this::flush));
      return true;
    }

    boolean enqueueSnapshot(SnapshotStream stream) {
      Channel ch;
      synchronized (this) {
        ch = channel;
        if (ch == null || !ch.isActive()) {
          return false;
        }
        streams.add(stream);
        if (flushScheduled) {
          return true;
        }
        flushScheduled = true;
      }
      scheduleFlush(() -> runOn(ch.eventLoop(), this::flush));
      return true;
    }

    /** Aborts every snapshot stream (the connection is gone). */
    void abortStreams(String reason) {
      List<SnapshotStream> aborted;
      synchronized (this) {
        aborted = new ArrayList<>(streams);
        streams.clear();
      }
      aborted.forEach(s -> s.abort(reason));
    }

    /**
     * The next chunk of the oldest snapshot stream, or null if none is being sent. Called on the
     * channel's event loop only, outside the lock: it reads the engine.
     */
    private SnapshotChunk nextSnapshotChunk() {
      while (true) {
        SnapshotStream head;
        synchronized (this) {
          head = streams.peek();
        }
        if (head == null) {
          return null;
        }
        SnapshotChunk chunk = head.next();
        if (chunk != null) {
          return chunk;
        }
        synchronized (this) {
          streams.remove(head); // complete or cancelled
        }
      }
    }

    /** Runs on the channel's event loop: writes queued messages while the channel is writable. */
    void flush() {
      Channel ch = channel;
      synchronized (this) {
        flushScheduled = false;
      }
      if (ch == null || !ch.isActive()) {
        return;
      }
      boolean wrote = false;
      while (ch.isWritable()) {
        RaftBatch.Builder batch =
            RaftBatch.newBuilder()
                .setClusterId(clusterId)
                .setFromNode(options.nodeId())
                .setToNode(nodeId)
                .setTimestamp(clock.get());
        long bytes = 0;
        synchronized (this) {
          com.google.protobuf.Message item;
          while ((item = queue.peek()) != null) {
            int size = item.getSerializedSize();
            if (bytes > 0 && bytes + size > options.maxFrameBytes() - 1024) {
              break;
            }
            if (item instanceof SnapshotChunk chunk) {
              queue.poll();
              queued -= size;
              bytes += size;
              batch.addSnapshotChunks(chunk);
              continue;
            }
            RaftMessage next = (RaftMessage) item;
            queue.poll();
            queued -= size;
            bytes += size;
            if (Heartbeats.coalescable(next)) {
              if (next.getType() == io.basalt.api.MessageType.MESSAGE_TYPE_HEARTBEAT) {
                batch.addHeartbeats(Heartbeats.coalesce(next));
              } else {
                batch.addHeartbeatResponses(Heartbeats.coalesce(next));
              }
            } else {
              batch.addMessages(next);
            }
          }
        }
        if (bytes < options.maxFrameBytes() / 2) {
          SnapshotChunk chunk = nextSnapshotChunk();
          if (chunk != null) {
            batch.addSnapshotChunks(chunk);
          }
        }
        if (batch.getMessagesCount() == 0
            && batch.getHeartbeatsCount() == 0
            && batch.getHeartbeatResponsesCount() == 0
            && batch.getSnapshotChunksCount() == 0) {
          break;
        }
        ch.write(Frame.newBuilder().setRaftBatch(batch).build());
        framesSent++;
        wrote = true;
      }
      if (wrote) {
        ch.flush();
      }
    }

    void attach(Channel ch) {
      Channel previous;
      synchronized (this) {
        previous = channel;
        channel = ch;
        backoffMillis = 0;
      }
      log.info("node {} connected to node {} ({})", options.nodeId(), nodeId, ch.remoteAddress());
      if (previous != null && previous != ch) {
        // The peer connected again while its old connection still looked open here (it lost its
        // side: a restart, a partition that ate the close). What the streams wrote into the old
        // one is lost with it: none may go on from its middle in the new one.
        abortStreams("connection to node " + nodeId + " replaced");
      }
      ch.eventLoop().execute(this::flush);
    }

    void detach(Channel ch) {
      boolean wasOurs;
      synchronized (this) {
        wasOurs = channel == ch;
        if (wasOurs) {
          channel = null;
        }
      }
      if (wasOurs) {
        log.info("node {} lost its connection to node {}", options.nodeId(), nodeId);
        abortStreams("connection to node " + nodeId + " lost");
        inbound.onPeerLost(nodeId);
        if (nodeId > options.nodeId()) {
          dial(nextBackoffMillis());
        }
      }
    }

    void dial(long delayMillis) {
      if (closed || address == null) {
        return;
      }
      group
          .next()
          .schedule(
              () -> {
                if (closed || channel != null) {
                  return;
                }
                ChannelFuture connect =
                    new Bootstrap()
                        .group(group)
                        .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true)
                        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 2_000)
                        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                        .handler(initializer(this))
                        .resolver(PeerResolver.INSTANCE)
                        .connect(PeerResolver.unresolved(address));
                connect.addListener(done -> {
                  if (!done.isSuccess()) {
                    detachFailedDial();
                  }
                });
              },
              delayMillis,
              TimeUnit.MILLISECONDS);
    }

    private void detachFailedDial() {
      dial(nextBackoffMillis());
    }

    /** Doubles the backoff (from the minimum, up to the maximum) and draws a jittered delay. */
    private synchronized long nextBackoffMillis() {
      backoffMillis =
          backoffMillis == 0
              ? options.reconnectMinMillis()
              : Math.min(options.reconnectMaxMillis(), backoffMillis * 2);
      return backoffMillis / 2 + ThreadLocalRandom.current().nextLong(backoffMillis / 2 + 1);
    }
  }

  /**
   * After the handshake: binds the connection to its peer, dispatches batches, tracks writability.
   */
  private final class PeerHandler extends ChannelInboundHandlerAdapter {
    private final Peer dialing;
    private Peer peer;
    private boolean client;
    private ReplyQueue replies;

    PeerHandler(Peer dialing) {
      this.dialing = dialing;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (!(event instanceof Handshake.Completed completed)) {
        ctx.fireUserEventTriggered(event);
        return;
      }
      long remote = completed.peer().getNodeId();
      if (remote == 0 && dialing == null) {
        client = true;
        return;
      }
      if (remote <= 0 || remote == options.nodeId()) {
        guard.refuse(ctx.channel(), "peer announced node id " + remote);
        return;
      }
      String refusal = refuseEveryNode != null ? refuseEveryNode : refused.get(remote);
      if (refusal != null) {
        guard.refuse(ctx.channel(), refusal);
        return;
      }
      if (dialing != null && dialing.nodeId != remote) {
        guard.refuse(
            ctx.channel(), "dialed node " + dialing.nodeId + " but node " + remote + " answered");
        return;
      }
      peer = peers.computeIfAbsent(remote, Peer::new);
      peer.attach(ctx.channel());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Frame frame && frame.hasRaftBatch() && peer != null) {
          RaftBatch batch = frame.getRaftBatch();
          if (!batch.getClusterId().equals(clusterId) || batch.getToNode() != options.nodeId()) {
            guard.refuse(
                ctx.channel(),
                "batch addressed to node "
                    + batch.getToNode()
                    + " of cluster '"
                    + batch.getClusterId()
                    + "'");
            return;
          }
          inbound.onRaftBatch(peer.nodeId, batch);
        } else if (msg instanceof Frame frame && frame.hasKvRequest() && client) {
          if (replies == null) {
            replies = new ReplyQueue(ctx.channel(), NodeTransport.this::scheduleFlush);
          }
          long callId = frame.getKvRequest().getCallId();
          ReplyQueue out = replies;
          inbound.onKvRequest(
              frame.getKvRequest(),
              response ->
                  out.add(
                      Frame.newBuilder()
                          .setKvResponse(response.toBuilder().setCallId(callId))
                          .build()));
        } else {
          guard.refuse(ctx.channel(), "unexpected frame on a node connection: " + describe(msg));
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable() && peer != null) {
        peer.flush();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (peer != null) {
        peer.detach(ctx.channel());
      } else if (dialing != null) {
        dialing.detachFailedDial();
      }
      ctx.fireChannelInactive();
    }

    private String describe(Object msg) {
      return msg instanceof Frame frame ? frame.getBodyCase().toString() : String.valueOf(msg);
    }
  }
}
