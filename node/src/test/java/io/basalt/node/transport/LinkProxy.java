package io.basalt.node.transport;

import io.basalt.api.Frame;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A user-space TCP proxy on loopback for the link between two nodes, for faults a closed socket
 * alone cannot make (VERIFICATION.md names a user-space proxy for those). The lower-id node dials
 * the proxy, which dials the other node and forwards whole frames both ways. The test can hold one
 * direction after a number of frames that carry snapshot chunks (the proxy stops reading it, so the
 * sender's buffers fill and its stream stops mid-way, as behind a congested or dead path), cut the
 * link (both nodes see their connection close, and new connections are refused until it is
 * restored), or drop only the dialer's side (the dialer sees the close and dials again; the
 * accepting node is not told, as after the dialer's machine restarted or a partition ate the FIN).
 *
 * <p>The proxy's sockets read through a small receive buffer, so that what a held direction can
 * absorb is bounded by the sender's own buffers.
 */
final class LinkProxy implements AutoCloseable {
  /** Which way a hold applies. */
  enum Direction {
    DIALER_TO_ACCEPTOR,
    ACCEPTOR_TO_DIALER
  }

  private static final int RECEIVE_BUFFER_BYTES = 64 * 1024;

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final List<Connection> connections = new CopyOnWriteArrayList<>();
  private final AtomicInteger accepted = new AtomicInteger();

  /** Sockets the test closed: a pump that finds one of them closed passes nothing on. */
  private final Set<Socket> closedHere = ConcurrentHashMap.newKeySet();

  private volatile boolean refusing;
  private volatile boolean closed;
  private volatile Hold hold;

  private record Hold(Direction direction, int snapshotFrames, CompletableFuture<Void> reached) {}

  /** One proxied connection; a held pump waits on {@code released} (the link is cut or closed). */
  private record Connection(Socket dialerSide, Socket acceptorSide, CountDownLatch released) {}

  /** Proxies the connections made to {@link #address} to {@code target}. */
  LinkProxy(InetSocketAddress target) throws IOException {
    this.target = target;
    this.server = new ServerSocket();
    server.setReceiveBufferSize(RECEIVE_BUFFER_BYTES);
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    Thread.ofPlatform().daemon().name("link-proxy-accept").start(this::acceptLoop);
  }

  InetSocketAddress address() {
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  /** Connections accepted and forwarded so far. */
  int connectionsAccepted() {
    return accepted.get();
  }

  /**
   * On connections accepted from now on, stops reading {@code direction} once it has forwarded
   * {@code snapshotFrames} frames that carry snapshot chunks. The future completes when a
   * connection stops reading there.
   */
  CompletableFuture<Void> holdAfterSnapshotFrames(Direction direction, int snapshotFrames) {
    Hold h = new Hold(direction, snapshotFrames, new CompletableFuture<>());
    hold = h;
    return h.reached();
  }

  /**
   * Closes every connection, both sides, and refuses new ones until {@link #restore}; clears the
   * hold.
   */
  void cut() {
    refusing = true;
    hold = null;
    for (Connection c : connections) {
      closeHere(c.dialerSide());
      closeHere(c.acceptorSide());
      c.released().countDown();
    }
    connections.clear();
  }

  /** Accepts and forwards new connections again (held as {@link #holdAfterSnapshotFrames} says). */
  void restore() {
    refusing = false;
  }

  /**
   * Closes the dialer's side of every connection and nothing else: the accepting node's socket
   * stays open, unread; new connections are accepted (without a hold).
   */
  void dropDialerSide() {
    hold = null;
    refusing = false;
    for (Connection c : connections) {
      closeHere(c.dialerSide());
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket dialer;
      try {
        dialer = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      if (refusing) {
        closeQuietly(dialer);
        continue;
      }
      try {
        Socket acceptor = new Socket();
        acceptor.setReceiveBufferSize(RECEIVE_BUFFER_BYTES);
        acceptor.connect(target);
        Connection c = new Connection(dialer, acceptor, new CountDownLatch(1));
        connections.add(c);
        accepted.incrementAndGet();
        Hold h = hold;
        start(c, dialer, acceptor, h, Direction.DIALER_TO_ACCEPTOR);
        start(c, acceptor, dialer, h, Direction.ACCEPTOR_TO_DIALER);
      } catch (IOException e) {
        closeQuietly(dialer);
      }
    }
  }

  private void start(Connection c, Socket from, Socket to, Hold h, Direction direction) {
    int holdAfter = h != null && h.direction() == direction ? h.snapshotFrames() : -1;
    Thread.ofPlatform()
        .daemon()
        .name("link-proxy-" + direction)
        .start(() -> pump(c, from, to, holdAfter, h));
  }

  /** Forwards whole frames from {@code from} to {@code to} until either side closes. */
  private void pump(Connection c, Socket from, Socket to, int holdAfter, Hold h) {
    try {
      DataInputStream in = new DataInputStream(new BufferedInputStream(from.getInputStream()));
      DataOutputStream out = new DataOutputStream(to.getOutputStream());
      int snapshotFrames = 0;
      while (true) {
        if (holdAfter >= 0 && snapshotFrames >= holdAfter) {
          h.reached().complete(null);
          c.released().await();
          return;
        }
        int length = in.readInt();
        byte[] body = new byte[length];
        in.readFully(body);
        Frame frame = Frame.parseFrom(body);
        out.writeInt(length);
        out.write(body);
        out.flush();
        if (frame.hasRaftBatch() && frame.getRaftBatch().getSnapshotChunksCount() > 0) {
          snapshotFrames++;
        }
      }
    } catch (EOFException e) {
      if (!closedHere.contains(from)) {
        // The sending node closed its connection: pass the close on, as the network would.
        closeQuietly(to);
      }
    } catch (IOException e) {
      // This side was closed by the test (cut, dropDialerSide, close).
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void closeHere(Socket s) {
    closedHere.add(s);
    closeQuietly(s);
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Closing a socket twice, or one the peer reset, is not a failure of the test.
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    cut();
  }
}
