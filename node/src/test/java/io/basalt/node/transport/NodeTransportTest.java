package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Real connections on loopback between transports (STYLE.md: network tests use real sockets). */
class NodeTransportTest {
  private static final InetSocketAddress ANY = new InetSocketAddress("127.0.0.1", 0);
  private final List<AutoCloseable> toClose = new ArrayList<>();

  record Received(long from, RaftBatch batch) {}

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  private NodeTransport transport(
      String cluster, long id, List<Received> sink, long maxQueuedBytes) {
    return transport(cluster, id, sink, maxQueuedBytes, 2);
  }

  private NodeTransport transport(
      String cluster, long id, List<Received> sink, long maxQueuedBytes, int ioThreads) {
    TransportOptions options =
        new TransportOptions(cluster, id, 64 * 1024, maxQueuedBytes, 10, 200, ioThreads);
    NodeTransport t =
        new NodeTransport(
            options, (from, batch) -> sink.add(new Received(from, batch)), new ConnectionGuard());
    toClose.add(t);
    return t;
  }

  static RaftMessage message(long range, long index) {
    return RaftMessage.newBuilder().setRangeId(range).setIndex(index).setTerm(1).build();
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      synchronized (condition) {
        condition.wait(5);
      }
    }
  }

  static List<RaftMessage> messages(List<Received> received) {
    List<RaftMessage> out = new ArrayList<>();
    for (Received r : received) {
      out.addAll(r.batch().getMessagesList());
    }
    return out;
  }

  @Test
  void messagesOfManyRangesTravelInOrderInFewerFrames() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20);
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    InetSocketAddress twoAddress = two.start(ANY);
    one.start(ANY);
    one.addPeer(2, twoAddress);
    await(() -> one.connected(2), "node 1 is connected to node 2");
    List<RaftMessage> sent = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      RaftMessage m = message(1 + i % 50, i);
      sent.add(m);
      assertThat(one.send(2, m)).isTrue();
    }
    await(() -> messages(atTwo).size() == sent.size(), "all messages arrived");
    assertThat(messages(atTwo)).containsExactlyElementsOf(sent);
    assertThat(atTwo).allSatisfy(r -> assertThat(r.from()).isEqualTo(1));
    assertThat(one.framesSent(2)).isLessThan(sent.size());
  }

  @Test
  void whatTheDeferringThreadQueuesLeavesAtItsFlushInOneFrame() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20);
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    InetSocketAddress twoAddress = two.start(ANY);
    one.start(ANY);
    one.addPeer(2, twoAddress);
    await(() -> one.connected(2), "node 1 is connected to node 2");
    one.deferFlushesOn(Thread.currentThread());
    for (int i = 1; i <= 10; i++) {
      assertThat(one.send(2, message(1, i))).isTrue();
    }
    assertThat(one.deferredFlushes()).as("held until the flush, one hand-off").isEqualTo(1);
    assertThat(one.framesSent(2)).isZero();
    one.flushDeferred();
    assertThat(one.deferredFlushes()).isZero();
    await(() -> messages(atTwo).size() == 10, "the messages arrive after the flush");
    assertThat(one.framesSent(2)).isEqualTo(1);
    // Another thread's sends are not held.
    Thread other = new Thread(() -> one.send(2, message(1, 11)));
    other.start();
    other.join();
    assertThat(one.deferredFlushes()).isZero();
    await(() -> messages(atTwo).size() == 11, "another thread's message arrives unflushed");
  }

  /**
   * The store runs on the event loop (StoreLoop): its round flushes the appends to followers and
   * then fsyncs on that same thread. The flush must write them there and then, not as a task that
   * would run only after the fsync.
   */
  @Test
  void onTheStoresEventLoopTheFlushWritesBeforeItReturns() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    // One I/O thread, as a node has by default: every connection is on the store's event loop.
    NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20, 1);
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    InetSocketAddress twoAddress = two.start(ANY);
    one.start(ANY);
    one.addPeer(2, twoAddress);
    await(() -> one.connected(2), "node 1 is connected to node 2");
    long[] framesWhenFlushReturned = new long[1];
    one.storeExecutor()
        .submit(() -> {
          one.deferFlushesOn(Thread.currentThread());
          for (int i = 1; i <= 5; i++) {
            assertThat(one.send(2, message(1, i))).isTrue();
          }
          assertThat(one.framesSent(2)).as("held until the flush").isZero();
          one.flushDeferred();
          framesWhenFlushReturned[0] = one.framesSent(2);
          // Between rounds nothing is deferred: what the loop sends by itself leaves at once.
          one.deferFlushesOn(null);
          assertThat(one.send(2, message(1, 6))).isTrue();
          assertThat(one.framesSent(2)).as("not held outside a round").isEqualTo(2);
        })
        .get(10, TimeUnit.SECONDS);
    assertThat(framesWhenFlushReturned[0]).as("written within flushDeferred").isEqualTo(1);
    await(() -> messages(atTwo).size() == 6, "the messages arrive");
  }

  /** A deferred write that fails is logged; the others still leave (the round goes on). */
  @Test
  void aFailingDeferredWriteDoesNotStopTheOthers() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    List<Received> atThree = new CopyOnWriteArrayList<>();
    NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20, 1);
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    NodeTransport three = transport("c", 3, atThree, 1 << 20);
    one.addPeer(2, two.start(ANY));
    one.addPeer(3, three.start(ANY));
    await(() -> one.connected(2) && one.connected(3), "node 1 is connected to nodes 2 and 3");
    java.util.concurrent.atomic.AtomicInteger stamps =
        new java.util.concurrent.atomic.AtomicInteger();
    one.setClock(() -> {
      if (stamps.getAndIncrement() == 0) {
        throw new IllegalStateException("clock broke once");
      }
      return io.basalt.api.Timestamp.getDefaultInstance();
    });
    one.storeExecutor()
        .submit(() -> {
          one.deferFlushesOn(Thread.currentThread());
          assertThat(one.send(2, message(1, 1))).isTrue();
          assertThat(one.send(3, message(1, 2))).isTrue();
          one.flushDeferred(); // must not throw
          one.deferFlushesOn(null);
        })
        .get(10, TimeUnit.SECONDS);
    await(() -> messages(atThree).size() == 1, "the other peer's message leaves");
    assertThat(one.deferredFlushes()).isZero();
  }

  @Test
  void theAcceptingSideSendsOnTheSameConnection() throws Exception {
    List<Received> atOne = new CopyOnWriteArrayList<>();
    NodeTransport one = transport("c", 1, atOne, 1 << 20);
    NodeTransport two = transport("c", 2, new CopyOnWriteArrayList<>(), 1 << 20);
    InetSocketAddress oneAddress = one.start(ANY);
    InetSocketAddress twoAddress = two.start(ANY);
    one.addPeer(2, twoAddress);
    two.addPeer(1, oneAddress); // node 2 does not dial node 1: it answers on node 1's connection
    await(() -> two.connected(1), "node 2 has a connection to node 1");
    assertThat(two.send(1, message(9, 1))).isTrue();
    await(() -> messages(atOne).size() == 1, "node 1 received the message");
  }

  @Test
  void theDialerReconnectsAfterThePeerRestarts() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20);
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    InetSocketAddress twoAddress = two.start(ANY);
    one.addPeer(2, twoAddress);
    await(() -> one.connected(2), "connected");
    two.close();
    await(() -> !one.connected(2), "the connection loss is noticed");
    NodeTransport twoAgain = transport("c", 2, atTwo, 1 << 20);
    twoAgain.start(twoAddress);
    await(() -> one.connected(2), "reconnected");
    assertThat(one.send(2, message(1, 42))).isTrue();
    await(() -> messages(atTwo).contains(message(1, 42)), "a message arrives after reconnecting");
  }

  @Test
  void aPeerFromAnotherClusterIsRefusedAndOthersAreServed() throws Exception {
    List<Received> atTwo = new CopyOnWriteArrayList<>();
    NodeTransport two = transport("c", 2, atTwo, 1 << 20);
    InetSocketAddress twoAddress = two.start(ANY);
    NodeTransport stranger = transport("other", 1, new CopyOnWriteArrayList<>(), 1 << 20);
    stranger.addPeer(2, twoAddress);
    NodeTransport friend = transport("c", 1, new CopyOnWriteArrayList<>(), 1 << 20);
    friend.addPeer(2, twoAddress);
    await(() -> friend.connected(2), "the node of the same cluster connects");
    assertThat(friend.send(2, message(1, 1))).isTrue();
    await(() -> messages(atTwo).size() == 1, "its message arrives");
    assertThat(stranger.connected(2)).isFalse();
  }

  /**
   * A peer that completes the handshake and then never reads: the sender's queue and connection
   * buffers fill to their bounds, after which sends are refused instead of piling up on the heap.
   */
  @Test
  void aStalledPeerCannotExhaustTheSendersMemory() throws Exception {
    try (ServerSocket stalled = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Thread acceptor =
          Thread.ofPlatform()
              .start(() -> {
                try {
                  Socket socket = stalled.accept();
                  socket.setReceiveBufferSize(4096);
                  byte[] hello =
                      Frame.newBuilder()
                          .setHello(
                              Hello.newBuilder()
                                  .setClusterId("c")
                                  .setNodeId(2)
                                  .setProtocolVersion(Handshake.PROTOCOL_VERSION))
                          .build()
                          .toByteArray();
                  DataOutputStream out = new DataOutputStream(socket.getOutputStream());
                  out.writeInt(hello.length);
                  out.write(hello);
                  out.flush();
                  toClose.add(socket); // never read from it
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      long maxQueued = 256 * 1024;
      NodeTransport one = transport("c", 1, new CopyOnWriteArrayList<>(), maxQueued);
      one.addPeer(2, (InetSocketAddress) stalled.getLocalSocketAddress());
      await(() -> one.connected(2), "connected to the stalled peer");
      acceptor.join();
      RaftMessage big =
          RaftMessage.newBuilder()
              .setRangeId(1)
              .setContext(com.google.protobuf.ByteString.copyFrom(new byte[1000]))
              .build();
      long accepted = 0;
      long refused = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (refused < 1000 && System.nanoTime() < deadline) {
        if (one.send(2, big)) {
          accepted++;
        } else {
          refused++;
        }
      }
      assertThat(refused).as("sends are refused once the peer stops reading").isEqualTo(1000);
      assertThat(one.queuedBytes(2)).isLessThanOrEqualTo(maxQueued);
      // What was accepted is bounded by the queue plus the socket and channel buffers, far below
      // what an unbounded sender would have piled up.
      assertThat(accepted * big.getSerializedSize()).isLessThan(64L << 20);
    }
  }
}
