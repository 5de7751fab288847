package io.basalt.node.cli;

import com.sun.net.httpserver.HttpServer;
import io.basalt.node.server.Node;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/** Starts the node's HTTP endpoint (/health, /ready). */
final class HttpServerHook {
  private HttpServerHook() {}

  static HttpServer start(Node node, InetSocketAddress address) throws IOException {
    HttpServer server = HttpServer.create(address, 16);
    server.setExecutor(Executors.newSingleThreadExecutor());
    server.createContext("/health", ex -> answer(ex, node::unhealthyReason, "ok"));
    server.createContext("/ready", ex -> answer(ex, node::notReadyReason, "ready"));
    server.start();
    return server;
  }

  private static void answer(
      com.sun.net.httpserver.HttpExchange ex, Supplier<Optional<String>> problem, String ok)
      throws IOException {
    Optional<String> p = problem.get();
    byte[] body = (p.orElse(ok) + "\n").getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(p.isPresent() ? 503 : 200, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }
}
