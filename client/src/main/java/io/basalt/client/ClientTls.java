package io.basalt.client;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import javax.net.ssl.SSLException;

/**
 * The files a TLS connection to Basalt is made with, all PEM: the cluster's CA certificate (the
 * only one trusted), and this side's certificate and its PKCS#8 private key (nodes require one of
 * every client). {@code basalt cert create-client USER} writes them as {@code ca.crt}, {@code
 * client.USER.crt} and {@code client.USER.key}: see {@link #inCertsDir}.
 *
 * <p>Connections use TLS 1.3 and check the node's certificate against the address dialed (its
 * subject alternative names must hold the host name or address the client was given).
 */
public record ClientTls(Path caCert, Path cert, Path key) {
  public ClientTls {
    Objects.requireNonNull(caCert, "caCert");
    Objects.requireNonNull(cert, "cert");
    Objects.requireNonNull(key, "key");
  }

  /** The files of user {@code user} in a certificates directory as {@code basalt cert} writes. */
  public static ClientTls inCertsDir(Path dir, String user) {
    return new ClientTls(
        dir.resolve("ca.crt"),
        dir.resolve("client." + user + ".crt"),
        dir.resolve("client." + user + ".key"));
  }

  /**
   * The TLS engine: BoringSSL when its native library loads on this platform (fewer copies per
   * record than the JDK's), else the JDK's.
   */
  public static io.netty.handler.ssl.SslProvider provider() {
    return io.netty.handler.ssl.OpenSsl.isAvailable()
        ? io.netty.handler.ssl.SslProvider.OPENSSL
        : io.netty.handler.ssl.SslProvider.JDK;
  }

  /**
   * A Netty client context from the files as they are now (for tools that open their own
   * connections, such as the node's command line).
   *
   * @throws UncheckedIOException if a file is missing or unreadable
   */
  public SslContext newContext() {
    for (Path f : new Path[] {caCert, cert, key}) {
      if (!Files.isReadable(f)) {
        throw new UncheckedIOException(new IOException("TLS file not readable: " + f));
      }
    }
    try {
      return SslContextBuilder.forClient()
          .sslProvider(provider())
          .trustManager(caCert.toFile())
          .keyManager(cert.toFile(), key.toFile())
          .protocols("TLSv1.3")
          .endpointIdentificationAlgorithm("HTTPS")
          .build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new UncheckedIOException(
          new IOException("cannot use the TLS files " + this + ": " + e.getMessage(), e));
    }
  }
}
