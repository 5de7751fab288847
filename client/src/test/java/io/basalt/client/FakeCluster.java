package io.basalt.client;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.ConditionalPutResponse;
import io.basalt.api.DeleteResponse;
import io.basalt.api.Error;
import io.basalt.api.Frame;
import io.basalt.api.GenericError;
import io.basalt.api.GetResponse;
import io.basalt.api.Hello;
import io.basalt.api.KeyNotInRangeError;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.NodeInfoResponse;
import io.basalt.api.NotLeaderError;
import io.basalt.api.PutResponse;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RangeNotFoundError;
import io.basalt.api.ReplicaDescriptor;
import io.basalt.api.ScanRequest;
import io.basalt.api.ScanResponse;
import io.basalt.api.TimeoutError;
import io.basalt.api.UnavailableError;
import io.basalt.api.WriteBatchResponse;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.MessageToByteEncoder;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * An in-process stand-in for a Basalt cluster, speaking the client protocol on loopback: nodes with
 * real sockets, ranges with an in-memory sorted map each, a meta range whose range directory is
 * derived from the ranges' descriptors, leaders and replicas the test places and moves, and
 * per-range deduplication of request ids.
 *
 * <p>A {@link Script} decides, request by request, whether a node behaves normally or misbehaves
 * (stays silent, drops the connection, answers an error, applies and then loses the answer, holds
 * the answer back). Every request is recorded, with the node it reached, for assertions.
 *
 * <p>The framing here is written independently of the client's (plain length-prefixed reads and
 * writes), so that a codec bug on one side is not mirrored on the other.
 */
final class FakeCluster implements AutoCloseable {
  static final String CLUSTER_ID = "fake-cluster";

  /** What a node does with one request. */
  sealed interface Action {
    /** Behave like a correct node. */
    Action PASS = new Pass();

    /** Never answer. */
    Action SILENCE = new Silence();

    /** Close the connection without evaluating the request. */
    Action CLOSE = new Close();

    /** Evaluate the request (apply it, if a write), then close the connection unanswered. */
    Action APPLY_THEN_CLOSE = new ApplyThenClose();

    /** Evaluate the request, but keep the answer until {@link #releaseHeld}. */
    Action HOLD = new Hold();

    record Pass() implements Action {}

    record Silence() implements Action {}

    record Close() implements Action {}

    record ApplyThenClose() implements Action {}

    record Hold() implements Action {}

    /** Answer {@code error} without evaluating the request. */
    record Fail(Error error) implements Action {}

    /** Evaluate the request (apply it, if a write), then answer {@code error} instead. */
    record ApplyThenFail(Error error) implements Action {}

    /**
     * Evaluate the request (apply it, if a write), then answer {@code response} (with the request's
     * call id) instead.
     */
    record ApplyThenAnswer(KvResponse response) implements Action {}
  }

  /** Decides what node {@code nodeId} does with {@code request}. Runs under the cluster's lock. */
  @FunctionalInterface
  interface Script {
    Action decide(long nodeId, KvRequest request);
  }

  /** A request as a node received it. */
  record Received(long nodeId, KvRequest request) {
    long rangeId() {
      return request.getHeader().getRangeId();
    }

    boolean isData() {
      return !request.hasNodeInfo() && rangeId() != KeySpace.META_RANGE_ID;
    }

    boolean isMetaLookup() {
      return !request.hasNodeInfo() && rangeId() == KeySpace.META_RANGE_ID;
    }
  }

  private static final class FakeRange {
    RangeDescriptor descriptor;
    long leader;
    final TreeMap<ByteString, ByteString> data =
        new TreeMap<>(ByteString.unsignedLexicographicalComparator());
    final Map<ByteString, KvResponse> answered = new HashMap<>();

    FakeRange(RangeDescriptor descriptor, long leader) {
      this.descriptor = descriptor;
      this.leader = leader;
    }

    boolean holdsReplicaOn(long nodeId) {
      return descriptor.getReplicasList().stream().anyMatch(r -> r.getNodeId() == nodeId);
    }
  }

  private record Held(Channel channel, KvResponse response) {}

  private final EventLoopGroup group =
      new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final Map<Long, String> addresses = new TreeMap<>();
  private final Map<Long, Channel> servers = new HashMap<>();

  // Guarded by this.
  private final TreeMap<Long, FakeRange> ranges = new TreeMap<>();
  private final Map<ByteString, Integer> applications = new HashMap<>();
  private final List<Received> received = new ArrayList<>();
  private final List<Hello> clientHellos = new ArrayList<>();
  private final Map<Long, Integer> connectionsAccepted = new HashMap<>();
  private final Deque<Held> held = new ArrayDeque<>();
  private Script script = (node, request) -> Action.PASS;
  private boolean leaderAddressInNotLeader;
  private boolean currentInKeyNotInRange = true;

  private FakeCluster() {}

  /** Starts {@code nodeCount} nodes (ids 1..n) on loopback, with no ranges yet. */
  static FakeCluster start(int nodeCount) throws InterruptedException {
    FakeCluster cluster = new FakeCluster();
    for (long id = 1; id <= nodeCount; id++) {
      cluster.startNode(id);
    }
    return cluster;
  }

  private void startNode(long nodeId) throws InterruptedException {
    Channel server =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    channels.add(ch);
                    synchronized (FakeCluster.this) {
                      connectionsAccepted.merge(nodeId, 1, Integer::sum);
                    }
                    ch.pipeline()
                        .addLast(new FrameDecoder(), new FrameEncoder(), new NodeHandler(nodeId));
                  }
                })
            .bind(new InetSocketAddress("127.0.0.1", 0))
            .sync()
            .channel();
    servers.put(nodeId, server);
    addresses.put(nodeId, "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort());
  }

  // ---- layout -------------------------------------------------------------------------------

  /** Places the meta range on {@code replicas}, led by {@code leader}. */
  synchronized FakeCluster meta(long leader, long... replicas) {
    ranges.put(
        KeySpace.META_RANGE_ID,
        new FakeRange(
            descriptor(KeySpace.META_RANGE_ID, new byte[0], KeySpace.USER_START, 1, replicas),
            leader));
    rebuildDirectory();
    return this;
  }

  /**
   * Adds data range {@code id} spanning {@code [start, end)}: a "" start is the first user key, a
   * "" end is unbounded.
   */
  synchronized FakeCluster range(long id, String start, String end, long leader, long... replicas) {
    byte[] from = start.isEmpty() ? KeySpace.USER_START : bytes(start);
    ranges.put(id, new FakeRange(descriptor(id, from, bytes(end), 1, replicas), leader));
    rebuildDirectory();
    return this;
  }

  /** Makes {@code nodeId} the leader of range {@code rangeId}. */
  synchronized void setLeader(long rangeId, long nodeId) {
    ranges.get(rangeId).leader = nodeId;
  }

  /**
   * Splits range {@code rangeId} at {@code splitKey}: it keeps the left part (next generation),
   * range {@code newId} takes the right part and its data, led by {@code newLeader}.
   */
  synchronized void split(long rangeId, String splitKey, long newId, long newLeader, long... repl) {
    FakeRange left = ranges.get(rangeId);
    RangeDescriptor old = left.descriptor;
    byte[] at = bytes(splitKey);
    left.descriptor =
        old.toBuilder()
            .setEndKey(ByteString.copyFrom(at))
            .setGeneration(old.getGeneration() + 1)
            .build();
    FakeRange right =
        new FakeRange(
            descriptor(newId, at, old.getEndKey().toByteArray(), old.getGeneration() + 1, repl),
            newLeader);
    SortedMap<ByteString, ByteString> moved = left.data.tailMap(ByteString.copyFrom(at));
    right.data.putAll(moved);
    moved.clear();
    ranges.put(newId, right);
    rebuildDirectory();
  }

  /** Moves range {@code rangeId} to {@code replicas}, led by {@code leader} (next generation). */
  synchronized void move(long rangeId, long leader, long... replicas) {
    FakeRange range = ranges.get(rangeId);
    RangeDescriptor old = range.descriptor;
    range.descriptor =
        descriptor(
            rangeId,
            old.getStartKey().toByteArray(),
            old.getEndKey().toByteArray(),
            old.getGeneration() + 1,
            replicas);
    range.leader = leader;
    rebuildDirectory();
  }

  /** Whether NotLeader errors carry the leader's address (default: no). */
  synchronized void leaderAddressInNotLeader(boolean include) {
    leaderAddressInNotLeader = include;
  }

  /** Whether KeyNotInRange errors carry the range's current descriptor (default: yes). */
  synchronized void currentInKeyNotInRange(boolean include) {
    currentInKeyNotInRange = include;
  }

  synchronized void script(Script script) {
    this.script = script;
  }

  // ---- observation --------------------------------------------------------------------------

  String address(long nodeId) {
    return addresses.get(nodeId);
  }

  /** The value of {@code key} in range {@code rangeId}'s map, or null. */
  synchronized String value(long rangeId, String key) {
    ByteString value = ranges.get(rangeId).data.get(ByteString.copyFromUtf8(key));
    return value == null ? null : value.toStringUtf8();
  }

  /** Writes {@code key} straight into range {@code rangeId}'s map. */
  synchronized void load(long rangeId, String key, String value) {
    ranges.get(rangeId).data.put(ByteString.copyFromUtf8(key), ByteString.copyFromUtf8(value));
  }

  /** How many times a write with {@code requestId} was applied. */
  synchronized int timesApplied(ByteString requestId) {
    return applications.getOrDefault(requestId, 0);
  }

  synchronized List<Received> received() {
    return List.copyOf(received);
  }

  synchronized List<Received> received(Predicate<Received> filter) {
    return received.stream().filter(filter).toList();
  }

  synchronized List<Hello> clientHellos() {
    return List.copyOf(clientHellos);
  }

  synchronized int connectionsAccepted() {
    return connectionsAccepted.values().stream().mapToInt(Integer::intValue).sum();
  }

  synchronized int connectionsAccepted(long nodeId) {
    return connectionsAccepted.getOrDefault(nodeId, 0);
  }

  /**
   * Waits until at least {@code count} received requests match {@code filter}.
   *
   * @throws AssertionError if that does not happen within {@code timeout}
   */
  synchronized void awaitReceived(Predicate<Received> filter, int count, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (received.stream().filter(filter).count() < count) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError(
            "expected " + count + " matching requests within " + timeout + ", got " + received);
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** Sends the held answers, newest first (so they arrive in the reverse order of the requests). */
  void releaseHeld() {
    List<Held> answers = new ArrayList<>();
    synchronized (this) {
      while (!held.isEmpty()) {
        answers.add(held.pollLast());
      }
    }
    for (Held answer : answers) {
      answer.channel().writeAndFlush(Frame.newBuilder().setKvResponse(answer.response()).build());
    }
  }

  @Override
  public void close() {
    channels.close().awaitUninterruptibly();
    for (Channel server : servers.values()) {
      server.close().awaitUninterruptibly();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
  }

  // ---- evaluation ---------------------------------------------------------------------------

  /** What a node sends back: an answer (or none), and whether to close the connection after. */
  private record Outcome(KvResponse response, boolean close) {}

  private synchronized Outcome handle(long nodeId, Channel channel, KvRequest request) {
    received.add(new Received(nodeId, request));
    notifyAll(); // waiters wake once this returns, after a held answer is registered
    Action action = script.decide(nodeId, request);
    long callId = request.getCallId();
    return switch (action) {
      case Action.Pass p -> new Outcome(evaluate(nodeId, request), false);
      case Action.Silence s -> new Outcome(null, false);
      case Action.Close c -> new Outcome(null, true);
      case Action.ApplyThenClose a -> {
        evaluate(nodeId, request);
        yield new Outcome(null, true);
      }
      case Action.Hold h -> {
        held.add(new Held(channel, evaluate(nodeId, request)));
        yield new Outcome(null, false);
      }
      case Action.Fail f -> new Outcome(error(callId, f.error()), false);
      case Action.ApplyThenFail f -> {
        evaluate(nodeId, request);
        yield new Outcome(error(callId, f.error()), false);
      }
      case Action.ApplyThenAnswer a -> {
        evaluate(nodeId, request);
        yield new Outcome(a.response().toBuilder().setCallId(callId).build(), false);
      }
    };
  }

  private KvResponse evaluate(long nodeId, KvRequest request) {
    long callId = request.getCallId();
    if (request.hasNodeInfo()) {
      NodeInfoResponse.Builder info =
          NodeInfoResponse.newBuilder().setClusterId(CLUSTER_ID).setNode(node(nodeId));
      for (long id : addresses.keySet()) {
        info.addNodes(node(id));
      }
      return KvResponse.newBuilder().setCallId(callId).setNodeInfo(info).build();
    }
    long rangeId = request.getHeader().getRangeId();
    FakeRange range = ranges.get(rangeId);
    if (range == null || !range.holdsReplicaOn(nodeId)) {
      return error(
          callId,
          Error.newBuilder()
              .setRangeNotFound(RangeNotFoundError.newBuilder().setRangeId(rangeId))
              .build());
    }
    if (range.leader != nodeId) {
      NotLeaderError.Builder notLeader = NotLeaderError.newBuilder().setRangeId(rangeId);
      if (range.leader != 0) {
        notLeader.setLeaderHint(ReplicaDescriptor.newBuilder().setNodeId(range.leader));
        if (leaderAddressInNotLeader) {
          notLeader.setLeaderAddress(addresses.get(range.leader));
        }
      }
      return error(callId, Error.newBuilder().setNotLeader(notLeader).build());
    }
    ByteString outside = outsideKey(range.descriptor, request);
    if (outside != null) {
      KeyNotInRangeError.Builder notInRange = KeyNotInRangeError.newBuilder().setKey(outside);
      if (currentInKeyNotInRange) {
        notInRange.setCurrent(range.descriptor);
      }
      return error(callId, Error.newBuilder().setKeyNotInRange(notInRange).build());
    }
    ByteString requestId = request.getHeader().getRequestId();
    if (!requestId.isEmpty() && range.answered.containsKey(requestId)) {
      return range.answered.get(requestId).toBuilder().setCallId(callId).build();
    }
    KvResponse.Builder response = KvResponse.newBuilder().setCallId(callId);
    TreeMap<ByteString, ByteString> data = range.data;
    boolean write = true;
    switch (request.getRequestCase()) {
      case GET -> {
        write = false;
        ByteString value = data.get(request.getGet().getKey());
        GetResponse.Builder get = GetResponse.newBuilder().setFound(value != null);
        if (value != null) {
          get.setKv(
              io.basalt.api.KeyValue.newBuilder()
                  .setKey(request.getGet().getKey())
                  .setValue(value));
        }
        response.setGet(get);
      }
      case SCAN -> {
        write = false;
        response.setScan(scan(data, request.getScan()));
      }
      case PUT -> {
        data.put(request.getPut().getKey(), request.getPut().getValue());
        response.setPut(PutResponse.getDefaultInstance());
      }
      case DELETE ->
          response.setDelete(
              DeleteResponse.newBuilder()
                  .setExisted(data.remove(request.getDelete().getKey()) != null));
      case CONDITIONAL_PUT -> {
        ConditionalPutRequest cas = request.getConditionalPut();
        ByteString current = data.get(cas.getKey());
        boolean matches =
            cas.getExpectAbsent() ? current == null : cas.getExpectedValue().equals(current);
        if (matches) {
          data.put(cas.getKey(), cas.getValue());
        }
        ConditionalPutResponse.Builder answer =
            ConditionalPutResponse.newBuilder().setSucceeded(matches).setFound(current != null);
        if (!matches && current != null) {
          answer.setActualValue(current);
        }
        response.setConditionalPut(answer);
      }
      case WRITE_BATCH -> {
        for (io.basalt.api.Mutation mutation : request.getWriteBatch().getMutationsList()) {
          if (mutation.hasPut()) {
            data.put(mutation.getPut().getKey(), mutation.getPut().getValue());
          } else {
            data.remove(mutation.getDelete().getKey());
          }
        }
        response.setWriteBatch(WriteBatchResponse.getDefaultInstance());
      }
      default -> {
        return error(
            callId,
            Error.newBuilder()
                .setGeneric(
                    GenericError.newBuilder()
                        .setCode("INVALID_ARGUMENT")
                        .setMessage("unsupported request " + request.getRequestCase()))
                .build());
      }
    }
    KvResponse answer = response.build();
    if (write) {
      applications.merge(requestId, 1, Integer::sum);
      if (!requestId.isEmpty()) {
        range.answered.put(requestId, answer);
      }
    }
    return answer;
  }

  private static ScanResponse scan(TreeMap<ByteString, ByteString> data, ScanRequest scan) {
    NavigableMap<ByteString, ByteString> span =
        scan.getEndKey().isEmpty()
            ? data.tailMap(scan.getStartKey(), true)
            : data.subMap(scan.getStartKey(), true, scan.getEndKey(), false);
    ScanResponse.Builder out = ScanResponse.newBuilder();
    long bytes = 0;
    for (Map.Entry<ByteString, ByteString> entry : span.entrySet()) {
      boolean full =
          (scan.getLimit() > 0 && out.getKvsCount() >= scan.getLimit())
              || (scan.getMaxBytes() > 0 && out.getKvsCount() > 0 && bytes >= scan.getMaxBytes());
      if (full) {
        out.setResumeKey(entry.getKey());
        break;
      }
      out.addKvs(
          io.basalt.api.KeyValue.newBuilder().setKey(entry.getKey()).setValue(entry.getValue()));
      bytes += entry.getKey().size() + entry.getValue().size();
    }
    return out.build();
  }

  /** A key of {@code request} outside {@code range}, or null if it stays inside. */
  private static ByteString outsideKey(RangeDescriptor range, KvRequest request) {
    List<ByteString> keys = new ArrayList<>();
    switch (request.getRequestCase()) {
      case GET -> keys.add(request.getGet().getKey());
      case PUT -> keys.add(request.getPut().getKey());
      case DELETE -> keys.add(request.getDelete().getKey());
      case CONDITIONAL_PUT -> keys.add(request.getConditionalPut().getKey());
      case WRITE_BATCH -> {
        for (io.basalt.api.Mutation m : request.getWriteBatch().getMutationsList()) {
          keys.add(m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey());
        }
      }
      case SCAN -> {
        ScanRequest scan = request.getScan();
        keys.add(scan.getStartKey());
        byte[] rangeEnd = range.getEndKey().toByteArray();
        byte[] scanEnd = scan.getEndKey().toByteArray();
        if (rangeEnd.length > 0
            && (scanEnd.length == 0 || Arrays.compareUnsigned(scanEnd, rangeEnd) > 0)) {
          return scan.getEndKey().isEmpty() ? range.getEndKey() : scan.getEndKey();
        }
      }
      default -> {}
    }
    for (ByteString key : keys) {
      if (!KeySpace.contains(range, key.toByteArray())) {
        return key;
      }
    }
    return null;
  }

  private void rebuildDirectory() {
    FakeRange meta = ranges.get(KeySpace.META_RANGE_ID);
    if (meta == null) {
      return;
    }
    meta.data.clear();
    for (FakeRange range : ranges.values()) {
      if (range != meta) {
        meta.data.put(
            ByteString.copyFrom(
                KeySpace.rangeDescriptorKey(range.descriptor.getEndKey().toByteArray())),
            range.descriptor.toByteString());
      }
    }
  }

  private NodeDescriptor node(long nodeId) {
    return NodeDescriptor.newBuilder().setNodeId(nodeId).setAddress(addresses.get(nodeId)).build();
  }

  static RangeDescriptor descriptor(
      long id, byte[] start, byte[] end, long generation, long... replicaNodes) {
    RangeDescriptor.Builder descriptor =
        RangeDescriptor.newBuilder()
            .setRangeId(id)
            .setStartKey(ByteString.copyFrom(start))
            .setEndKey(ByteString.copyFrom(end))
            .setGeneration(generation);
    for (int i = 0; i < replicaNodes.length; i++) {
      descriptor.addReplicas(
          ReplicaDescriptor.newBuilder().setNodeId(replicaNodes[i]).setReplicaId(i + 1));
    }
    return descriptor.build();
  }

  private static byte[] bytes(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }

  static KvResponse error(long callId, Error error) {
    return KvResponse.newBuilder().setCallId(callId).setError(error).build();
  }

  static Error notLeaderWithoutHint(long rangeId) {
    return Error.newBuilder().setNotLeader(NotLeaderError.newBuilder().setRangeId(rangeId)).build();
  }

  static Error generic(String code, String message) {
    return Error.newBuilder()
        .setGeneric(GenericError.newBuilder().setCode(code).setMessage(message))
        .build();
  }

  static Error timeout() {
    return Error.newBuilder().setTimeout(TimeoutError.newBuilder().setMessage("slow")).build();
  }

  static Error unavailable() {
    return Error.newBuilder()
        .setUnavailable(UnavailableError.newBuilder().setMessage("no quorum"))
        .build();
  }

  // ---- the node's side of a connection ------------------------------------------------------

  private final class NodeHandler extends SimpleChannelInboundHandler<Frame> {
    private final long nodeId;
    private boolean greeted;

    NodeHandler(long nodeId) {
      this.nodeId = nodeId;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.writeAndFlush(
          Frame.newBuilder()
              .setHello(
                  Hello.newBuilder()
                      .setClusterId(CLUSTER_ID)
                      .setNodeId(nodeId)
                      .setProtocolVersion(1))
              .build());
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Frame frame) {
      if (!greeted) {
        if (!frame.hasHello() || frame.getHello().getProtocolVersion() != 1) {
          ctx.close();
          return;
        }
        synchronized (FakeCluster.this) {
          clientHellos.add(frame.getHello());
        }
        greeted = true;
        return;
      }
      if (!frame.hasKvRequest()) {
        ctx.close();
        return;
      }
      Outcome outcome = handle(nodeId, ctx.channel(), frame.getKvRequest());
      if (outcome.response() != null) {
        ctx.writeAndFlush(Frame.newBuilder().setKvResponse(outcome.response()).build());
      }
      if (outcome.close()) {
        ctx.close();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /** Reads a 4-byte big-endian length, then that many bytes as one frame. */
  private static final class FrameDecoder extends ByteToMessageDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out)
        throws IOException {
      if (in.readableBytes() < 4) {
        return;
      }
      int length = in.getInt(in.readerIndex());
      if (length < 0 || length > Framing.MAX_FRAME_BYTES) {
        throw new IOException("bad frame length " + length);
      }
      if (in.readableBytes() < 4 + length) {
        return;
      }
      in.skipBytes(4);
      try (ByteBufInputStream body = new ByteBufInputStream(in.readSlice(length))) {
        out.add(Frame.parseFrom(body));
      }
    }
  }

  /** Writes a 4-byte big-endian length, then the frame. */
  private static final class FrameEncoder extends MessageToByteEncoder<Frame> {
    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, ByteBuf out) {
      byte[] body = frame.toByteArray();
      out.writeInt(body.length);
      out.writeBytes(body);
    }
  }
}
