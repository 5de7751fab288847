package io.basalt.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.node.tls.Certificates;
import io.basalt.node.tls.JdkTls;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node with TLS serves /metrics, /health and /ready over HTTPS with its certificate, to callers
 * that present none (Prometheus, probes); a plain HTTP request gets no answer.
 */
class HttpsEndpointTest {
  @TempDir Path dir;

  @Test
  void probesAndMetricsAreServedOverHttpsWithoutAClientCertificate() throws Exception {
    Certificates.Issued ca = Certificates.newCa("test CA", Duration.ofDays(1));
    Certificates.writeCertificate(dir.resolve(Certificates.CA_CERT), ca.certificate());
    Instant now = Instant.now();
    Certificates.write(
        dir,
        Certificates.NODE_CERT,
        Certificates.NODE_KEY,
        Certificates.newNode(
            ca, List.of("127.0.0.1"), now.minusSeconds(60), now.plusSeconds(3600)));
    SSLContext server =
        JdkTls.context(
            dir.resolve(Certificates.CA_CERT),
            dir.resolve(Certificates.NODE_CERT),
            dir.resolve(Certificates.NODE_KEY));
    HttpEndpoint http =
        new HttpEndpoint(
            new InetSocketAddress("127.0.0.1", 0),
            () -> "basalt_up 1\n",
            Optional::empty,
            () -> Optional.of("not initialized"),
            server);
    InetSocketAddress bound = http.start();
    try {
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      trusted.setCertificateEntry("ca", ca.certificate());
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      SSLContext trustOnly = SSLContext.getInstance("TLSv1.3");
      trustOnly.init(null, tmf.getTrustManagers(), null);
      HttpClient client = HttpClient.newBuilder().sslContext(trustOnly).build();
      String base = "https://127.0.0.1:" + bound.getPort();
      assertThat(get(client, base + "/health")).isEqualTo("200 ok\n");
      assertThat(get(client, base + "/ready")).isEqualTo("503 not initialized\n");
      assertThat(get(client, base + "/metrics")).isEqualTo("200 basalt_up 1\n");
      HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      assertThatThrownBy(() ->
              plain.send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + bound.getPort() + "/health"))
                      .timeout(Duration.ofSeconds(2))
                      .build(),
                  HttpResponse.BodyHandlers.ofString()))
          .as("plain HTTP on the HTTPS port")
          .isInstanceOf(java.io.IOException.class);
    } finally {
      http.close();
    }
  }

  private static String get(HttpClient client, String url) throws Exception {
    HttpResponse<String> r =
        client.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }
}
