package io.basalt.node.cli;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.node.transport.Handshake;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * A minimal blocking connection speaking the node protocol, one call at a time: for the operator
 * CLI and a node's own admin calls (discovery, bootstrap). Applications use the {@code client}
 * module, which pipelines and routes.
 */
public final class WireClient implements AutoCloseable {
  private static final int MAX_FRAME = 16 << 20;

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final String address;
  private final String clusterId;
  private long nextCall = 1;

  private WireClient(Socket socket, String address) throws IOException {
    this.socket = socket;
    this.address = address;
    this.in = new DataInputStream(socket.getInputStream());
    this.out = new DataOutputStream(socket.getOutputStream());
    write(
        Frame.newBuilder()
            .setHello(
                Hello.newBuilder().setNodeId(0).setProtocolVersion(Handshake.PROTOCOL_VERSION))
            .build());
    Frame hello = read();
    if (!hello.hasHello()) {
      throw new IOException(address + " did not answer with a hello");
    }
    this.clusterId = hello.getHello().getClusterId();
  }

  /**
   * Connects to {@code hostPort} ("host:port").
   *
   * @throws UncheckedIOException if the node cannot be reached in time
   */
  public static WireClient connect(String hostPort, Duration timeout) {
    InetSocketAddress addr = parse(hostPort);
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(addr, (int) timeout.toMillis());
      socket.setSoTimeout((int) timeout.toMillis());
      javax.net.ssl.SSLContext context = tls;
      if (context != null) {
        javax.net.ssl.SSLSocket secured =
            (javax.net.ssl.SSLSocket)
                context
                    .getSocketFactory()
                    .createSocket(socket, addr.getHostString(), addr.getPort(), true);
        javax.net.ssl.SSLParameters params = secured.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS"); // the node's certificate names it
        secured.setSSLParameters(params);
        secured.startHandshake();
        socket = secured;
      }
      return new WireClient(socket, hostPort);
    } catch (IOException e) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // already failing
      }
      throw new UncheckedIOException("cannot reach " + hostPort + ": " + e.getMessage(), e);
    }
  }

  private static volatile javax.net.ssl.SSLContext tls;

  /**
   * Connections made from now on in this process use TLS with {@code files} (its one identity: a
   * node's own certificate, or the command line's {@code --certs-dir}); null: plaintext.
   *
   * @throws UncheckedIOException if the files cannot be used
   */
  public static void useTls(io.basalt.client.ClientTls files) {
    try {
      useTlsContext(files == null ? null : io.basalt.node.tls.JdkTls.context(files));
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /** As above, with a context already made (null: plaintext). */
  public static void useTlsContext(javax.net.ssl.SSLContext context) {
    tls = context;
  }

  /** Parses "host:port". */
  public static InetSocketAddress parse(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException("expected HOST:PORT, got '" + hostPort + "'");
    }
    try {
      int port = Integer.parseInt(hostPort.substring(colon + 1));
      return new InetSocketAddress(hostPort.substring(0, colon), port);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("expected HOST:PORT, got '" + hostPort + "'", e);
    }
  }

  /** The cluster id the node announced (empty if it is not initialized). */
  public String clusterId() {
    return clusterId;
  }

  public String address() {
    return address;
  }

  /**
   * Sends {@code request} and waits for its answer.
   *
   * @throws UncheckedIOException if the connection fails or times out
   */
  public KvResponse call(KvRequest request) {
    long id = nextCall++;
    try {
      write(Frame.newBuilder().setKvRequest(request.toBuilder().setCallId(id)).build());
      while (true) {
        Frame f = read();
        if (f.hasKvResponse() && f.getKvResponse().getCallId() == id) {
          return f.getKvResponse();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("call to " + address + " failed: " + e.getMessage(), e);
    }
  }

  private void write(Frame frame) throws IOException {
    byte[] body = frame.toByteArray();
    out.writeInt(body.length);
    out.write(body);
    out.flush();
  }

  private Frame read() throws IOException {
    int length;
    try {
      length = in.readInt();
    } catch (EOFException e) {
      throw new IOException(address + " closed the connection", e);
    }
    if (length < 0 || length > MAX_FRAME) {
      throw new IOException(address + " sent a frame of " + length + " bytes");
    }
    byte[] body = new byte[length];
    in.readFully(body);
    return Frame.parseFrom(body);
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }
}
