package io.basalt.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class NodeMetricsTest {

  @Test
  void scrapeHasTheNamedMetricsAfterRecording() {
    NodeMetrics m = new NodeMetrics(3);
    m.proposed(2);
    m.applied(5, 40_000);
    m.raftStateWritten(2_000_000, 17, true);
    m.requestDone("put", 3_000_000, true);
    m.requestDone("get", 1_000_000, false);
    m.peer(2).bytesSent().increment(100);
    m.peer(2).messagesReceived().increment();
    m.recordClockOffset(2, -1_500_000);
    m.setCounts(1001, 400);
    m.setServing(true);
    // The simpleclient format ends label sets with a comma: {node="3",}
    String text = m.scrape().replace(",}", "}");
    assertThat(text)
        .contains("basalt_raft_proposals_total{node=\"3\"} 2.0")
        .contains("basalt_raft_applied_entries_total{node=\"3\"} 5.0")
        .contains("basalt_raft_apply_seconds_count{node=\"3\"} 1")
        .contains("basalt_storage_fsync_seconds_bucket{node=\"3\",le=")
        .contains("basalt_storage_group_commit_ranges_sum{node=\"3\"} 17.0")
        .contains("basalt_kv_request_seconds_count{method=\"put\",node=\"3\",outcome=\"ok\"} 1")
        .contains("basalt_kv_request_seconds_count{method=\"get\",node=\"3\",outcome=\"error\"} 1")
        .contains("basalt_transport_bytes_sent_total{node=\"3\",peer=\"2\"} 100.0")
        .contains("basalt_transport_messages_received_total{node=\"3\",peer=\"2\"} 1.0")
        .contains("basalt_clock_offset_seconds{node=\"3\",peer=\"2\"} -0.0015")
        .contains("basalt_ranges_replicas{node=\"3\"} 1001.0")
        .contains("basalt_ranges_leader{node=\"3\"} 400.0")
        .contains("basalt_node_serving{node=\"3\"} 1.0");
  }

  @Test
  void httpEndpointServesMetricsHealthAndReadiness() throws Exception {
    NodeMetrics m = new NodeMetrics(1);
    AtomicReference<Optional<String>> notReady =
        new AtomicReference<>(Optional.of("not initialized"));
    try (HttpEndpoint http =
        new HttpEndpoint(
            new InetSocketAddress("127.0.0.1", 0), m::scrape, Optional::empty, notReady::get)) {
      InetSocketAddress at = http.start();
      HttpClient client = HttpClient.newHttpClient();
      assertThat(get(client, at, "/metrics").body()).contains("basalt_node_serving");
      assertThat(get(client, at, "/health").statusCode()).isEqualTo(200);
      HttpResponse<String> ready = get(client, at, "/ready");
      assertThat(ready.statusCode()).isEqualTo(503);
      assertThat(ready.body()).contains("not initialized");
      notReady.set(Optional.empty());
      assertThat(get(client, at, "/ready").statusCode()).isEqualTo(200);
      assertThat(get(client, at, "/nope").statusCode()).isEqualTo(404);
      HttpResponse<String> post =
          client.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + at.getPort() + "/metrics"))
                  .POST(HttpRequest.BodyPublishers.ofString("x"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).isEqualTo(405);
      // Garbage on the socket does not stop the server.
      try (Socket s = new Socket(at.getAddress(), at.getPort())) {
        OutputStream out = s.getOutputStream();
        out.write("\u0000\u0001 not http at all\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      }
      assertThat(get(client, at, "/health").statusCode()).isEqualTo(200);
    }
  }

  private static HttpResponse<String> get(HttpClient client, InetSocketAddress at, String path)
      throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + at.getPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
