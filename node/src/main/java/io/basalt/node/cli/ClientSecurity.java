package io.basalt.node.cli;

import io.basalt.client.ClientTls;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * How a command line tool connects to nodes: with TLS from a certificates directory (the CA and the
 * client certificate of {@code --user}, as {@code basalt cert create-client} writes them), or in
 * plaintext, which only nodes started with {@code --insecure} accept.
 */
final class ClientSecurity {
  @Option(
      names = "--certs-dir",
      scope = ScopeType.INHERIT,
      description =
          "Directory of ca.crt and client.USER.crt/.key (see basalt cert): connect with TLS."
              + " Without it, connections are plaintext (nodes started with --insecure).")
  Path certsDir;

  @Option(
      names = "--user",
      scope = ScopeType.INHERIT,
      defaultValue = "root",
      description = "Whose client certificate to present (default: ${DEFAULT-VALUE}).")
  String user;

  @Option(
      names = "--insecure",
      scope = ScopeType.INHERIT,
      description = "Connect in plaintext (the default without --certs-dir).")
  boolean insecure;

  /**
   * Sets this process's connections to match, and returns the client's TLS files (null: plaintext).
   */
  ClientTls apply() {
    if (certsDir != null && insecure) {
      throw new IllegalArgumentException("--certs-dir and --insecure exclude each other");
    }
    ClientTls tls = certsDir == null ? null : ClientTls.inCertsDir(certsDir, user);
    WireClient.useTls(tls);
    return tls;
  }
}
