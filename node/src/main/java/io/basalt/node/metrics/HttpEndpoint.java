package io.basalt.node.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The node's HTTP port (decision 9), on the JDK's built-in server: {@code GET /metrics} (Prometheus
 * text), {@code /health} (200 while the process and its store work, 503 with the reason otherwise)
 * and {@code /ready} (200 while the node serves clients: initialized, clock within bounds; 503 with
 * the reason otherwise). Other paths are 404, other methods 405.
 *
 * <p>On a node with TLS it serves HTTPS with the node's certificate, and asks no certificate of its
 * callers: the metrics and probes say nothing a client certificate guards, and Prometheus and a
 * kubelet's probes reach it without one.
 */
public final class HttpEndpoint implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService executor;

  /**
   * @param unhealthy why the node is unhealthy, or empty
   * @param notReady why the node does not serve, or empty
   */
  public HttpEndpoint(
      InetSocketAddress address,
      Supplier<String> metrics,
      Supplier<Optional<String>> unhealthy,
      Supplier<Optional<String>> notReady)
      throws IOException {
    this(address, metrics, unhealthy, notReady, null);
  }

  /** As above, over HTTPS with {@code tls} (null: plain HTTP). */
  public HttpEndpoint(
      InetSocketAddress address,
      Supplier<String> metrics,
      Supplier<Optional<String>> unhealthy,
      Supplier<Optional<String>> notReady,
      javax.net.ssl.SSLContext tls)
      throws IOException {
    if (tls != null) {
      com.sun.net.httpserver.HttpsServer https =
          com.sun.net.httpserver.HttpsServer.create(address, 64);
      https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
      server = https;
    } else {
      server = HttpServer.create(address, 64);
    }
    executor =
        Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "http");
          t.setDaemon(true);
          return t;
        });
    server.setExecutor(executor);
    server.createContext(
        "/",
        ex -> {
          try (ex) {
            if (!ex.getRequestMethod().equals("GET")) {
              send(ex, 405, "only GET\n", "text/plain");
              return;
            }
            switch (ex.getRequestURI().getPath()) {
              case "/metrics" -> send(ex, 200, metrics.get(), "text/plain; version=0.0.4");
              case "/health" -> status(ex, unhealthy.get(), "ok");
              case "/ready" -> status(ex, notReady.get(), "ready");
              default -> send(ex, 404, "not found\n", "text/plain");
            }
          }
        });
  }

  /** Serves connections made from now on with {@code tls} (certificates reloaded); HTTPS only. */
  public void setTls(javax.net.ssl.SSLContext tls) {
    if (server instanceof com.sun.net.httpserver.HttpsServer https) {
      https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
    }
  }

  /** Starts serving; returns the bound address. */
  public InetSocketAddress start() {
    server.start();
    return server.getAddress();
  }

  private static void status(HttpExchange ex, Optional<String> problem, String ok)
      throws IOException {
    send(ex, problem.isPresent() ? 503 : 200, problem.orElse(ok) + "\n", "text/plain");
  }

  private static void send(HttpExchange ex, int code, String body, String type) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
