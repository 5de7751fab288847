package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.RaftBatch;
import io.basalt.api.RaftMessage;
import io.basalt.node.cli.WireClient;
import io.basalt.node.transport.Handshake;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input on a real node (DESIGN.md decision 10): garbage, an oversize frame, a truncated frame,
 * a frame for a range the node does not have, a peer of another cluster. Each bad connection is
 * closed (or the request refused) with a logged reason, and the node keeps serving a well-behaved
 * client throughout.
 */
class BadInputTest {
  private static ProcessCluster cluster;
  private static WireClient good;
  private static long range;

  @BeforeAll
  static void startNode() throws Exception {
    // Plaintext: what is under test is the frame layer and the handshake (with TLS on, garbage
    // bytes are refused by TLS first: TlsProcessTest).
    cluster = new ProcessCluster("badinput", 1, 50).insecure();
    cluster.startAll();
    cluster.init(2, 1);
    cluster.awaitConverged(Duration.ofSeconds(60));
    good = WireClient.connect(cluster.address(1), Duration.ofSeconds(10));
    range = 2; // the first data range, [0x01, 0x80)
    assertGoodClientServed("before");
  }

  @AfterAll
  static void stopNode() {
    if (good != null) {
      good.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static void assertGoodClientServed(String when) {
    KvResponse put = good.call(Kv.putRequest(range, "good", when, when.hashCode()));
    assertThat(put.hasError()).as("put %s: %s", when, put).isFalse();
    KvResponse get = good.call(Kv.getRequest(range, "good"));
    assertThat(get.getGet().getKv().getValue().toStringUtf8()).isEqualTo(when);
  }

  private static Socket raw() throws IOException {
    String[] hp = cluster.address(1).split(":");
    Socket s = new Socket(hp[0], Integer.parseInt(hp[1]));
    s.setSoTimeout(10_000);
    return s;
  }

  /** Reads until the server closes the connection; fails if it stays open for 10 s. */
  private static void assertClosedByServer(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    byte[] buf = new byte[4096];
    try {
      while (in.read(buf) >= 0) {
        // drain the server's hello and anything else until EOF
      }
    } catch (java.net.SocketException e) {
      // "Connection reset": the server closed with our unread bytes pending, which also counts
      assertThat(e.getMessage()).contains("reset");
    }
  }

  private static void writeFrame(DataOutputStream out, Frame f) throws IOException {
    byte[] body = f.toByteArray();
    out.writeInt(body.length);
    out.write(body);
    out.flush();
  }

  private static String log() throws IOException {
    return Files.readString(cluster.log(1));
  }

  private static void awaitLog(String text) {
    ProcessCluster.await(
        () -> {
          try {
            return log().contains(text);
          } catch (IOException e) {
            return false;
          }
        },
        "the node logs '" + text + "'",
        Duration.ofSeconds(10));
  }

  @Test
  void garbageBytesCloseTheConnection() throws Exception {
    try (Socket s = raw()) {
      byte[] garbage = new byte[4096];
      new SplittableRandom(7).nextBytes(garbage);
      garbage[0] = 0; // a plausible length prefix, so the garbage reaches the parser
      garbage[1] = 0;
      garbage[2] = 1;
      garbage[3] = 0;
      s.getOutputStream().write(garbage);
      assertClosedByServer(s);
    }
    awaitLog("malformed frame");
    assertGoodClientServed("after garbage");
  }

  @Test
  void anOversizeFrameClosesTheConnection() throws Exception {
    try (Socket s = raw()) {
      new DataOutputStream(s.getOutputStream()).writeInt(100 << 20);
      assertClosedByServer(s);
    }
    awaitLog("oversize frame");
    assertGoodClientServed("after oversize");
  }

  @Test
  void aTruncatedFrameIsReportedWhenTheConnectionEnds() throws Exception {
    try (Socket s = raw()) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      writeFrame(out, hello("", 0));
      out.writeInt(1000);
      out.write(new byte[10]);
      out.flush();
      s.shutdownOutput();
      assertClosedByServer(s);
    }
    awaitLog("connection ended in the middle of a frame");
    assertGoodClientServed("after truncated");
  }

  @Test
  void aRequestForAnUnknownRangeIsRefusedAndTheConnectionServesOn() throws Exception {
    KvResponse r = good.call(Kv.getRequest(999, "x"));
    assertThat(r.getError().hasRangeNotFound()).as("%s", r).isTrue();
    assertThat(r.getError().getRangeNotFound().getRangeId()).isEqualTo(999);
    assertGoodClientServed("after unknown range");
  }

  @Test
  void raftTrafficForAnUnknownRangeIsDroppedWithALogLine() throws Exception {
    String clusterId = good.clusterId();
    try (Socket s = raw()) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] hello = new byte[in.readInt()];
      in.readFully(hello);
      Hello theirs = Frame.parseFrom(hello).getHello();
      assertThat(theirs.hasLeaseTiming()).as("a node announces its lease timing").isTrue();
      // A peer with the same lease timing (a different one is refused: see below).
      Frame ours = hello(clusterId, 77);
      writeFrame(
          out,
          ours.toBuilder()
              .setHello(ours.getHello().toBuilder().setLeaseTiming(theirs.getLeaseTiming()))
              .build());
      writeFrame(
          out,
          Frame.newBuilder()
              .setRaftBatch(
                  RaftBatch.newBuilder()
                      .setClusterId(clusterId)
                      .setFromNode(77)
                      .setToNode(1)
                      .addMessages(
                          RaftMessage.newBuilder()
                              .setRangeId(4242)
                              .setType(MessageType.MESSAGE_TYPE_APPEND)
                              .setFrom(77)
                              .setTo(1)
                              .setTerm(99)
                              .setContext(ByteString.copyFromUtf8("x"))))
              .build());
      awaitLog("for range 4242: no replica of this range here");
    }
    assertGoodClientServed("after unknown raft range");
  }

  @Test
  void aPeerTickingAtAnotherRateIsRefusedWithTheReason() throws Exception {
    try (Socket s = raw()) {
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] hello = new byte[in.readInt()];
      in.readFully(hello);
      Hello theirs = Frame.parseFrom(hello).getHello();
      Frame ours = hello(good.clusterId(), 78);
      writeFrame(
          new DataOutputStream(s.getOutputStream()),
          ours.toBuilder()
              .setHello(
                  ours.getHello().toBuilder()
                      .setLeaseTiming(
                          theirs.getLeaseTiming().toBuilder()
                              .setTickMs(theirs.getLeaseTiming().getTickMs() / 2)))
              .build());
      assertClosedByServer(s);
    }
    awaitLog("node 78 runs with lease timing tick");
    assertGoodClientServed("after a peer with other lease timing");
  }

  @Test
  void aPeerOfAnotherClusterIsRefused() throws Exception {
    try (Socket s = raw()) {
      writeFrame(new DataOutputStream(s.getOutputStream()), hello("some-other-cluster", 5));
      assertClosedByServer(s);
    }
    awaitLog("peer belongs to cluster 'some-other-cluster'");
    assertGoodClientServed("after wrong cluster");
  }

  private static Frame hello(String clusterId, long nodeId) {
    return Frame.newBuilder()
        .setHello(
            Hello.newBuilder()
                .setClusterId(clusterId)
                .setNodeId(nodeId)
                .setProtocolVersion(Handshake.PROTOCOL_VERSION))
        .build();
  }
}
