package io.basalt.node.tls;

import io.basalt.client.ClientTls;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's TLS (DESIGN.md, "Transport security"): mutual TLS 1.3 on its one port, for peers and
 * clients alike, from the PEM files of its certificates directory ({@link Certificates}: {@code
 * ca.crt}, {@code node.crt}, {@code node.key}).
 *
 * <ul>
 *   <li>Every connection must present a certificate signed by the cluster's CA (the only one
 *       trusted); a plaintext connection, a missing certificate, one of another CA or an expired
 *       one fails the handshake, and the node logs why.
 *   <li>A connection that says it is a node (a Hello with a node id) must also present a
 *       certificate whose common name is in the allowed list ({@code --cert-allowed-cn}, by default
 *       {@code node}): a client's certificate cannot carry Raft traffic.
 *   <li>The node dials its peers with its own certificate, checking theirs against the address
 *       dialed.
 *   <li>{@link #reloadIfChanged} reads the files again when one changed: connections made after use
 *       the new certificates, those open stay as they are.
 * </ul>
 */
public final class NodeTls {
  private static final Logger log = LoggerFactory.getLogger(NodeTls.class);

  private final Path dir;
  private final Set<String> allowedPeerNames;
  private volatile SslContext server;
  private volatile SslContext peerClient;
  private volatile javax.net.ssl.SSLContext jdk;
  private List<FileTime> loadedVersions;

  private NodeTls(Path dir, Set<String> allowedPeerNames) {
    this.dir = dir;
    this.allowedPeerNames = Set.copyOf(allowedPeerNames);
  }

  /**
   * The TLS of a node whose certificates are in {@code dir}, accepting as peers the certificates
   * whose common name is in {@code allowedPeerNames}.
   *
   * @throws IOException if a file is missing or unusable (the message names it)
   */
  public static NodeTls load(Path dir, Set<String> allowedPeerNames) throws IOException {
    if (allowedPeerNames.isEmpty()) {
      throw new IllegalArgumentException("at least one allowed peer common name is required");
    }
    NodeTls tls = new NodeTls(dir, allowedPeerNames);
    tls.reload();
    return tls;
  }

  /** The context connections to this node are accepted with. */
  public SslContext server() {
    return server;
  }

  /** The context this node dials its peers with. */
  public SslContext peerClient() {
    return peerClient;
  }

  /**
   * A JDK context with the same files, for what runs on the JDK's sockets: the node's admin
   * connections and its HTTPS endpoint.
   */
  public javax.net.ssl.SSLContext jdk() {
    return jdk;
  }

  /** The files this node presents to clients as a client: for the node's own tools. */
  public static ClientTls asClient(Path dir) {
    return new ClientTls(
        dir.resolve(Certificates.CA_CERT),
        dir.resolve(Certificates.NODE_CERT),
        dir.resolve(Certificates.NODE_KEY));
  }

  /**
   * Reads the files again if one changed since they were last read; whether it did. A change that
   * cannot be used (a half-written file, a key that does not match) is logged and the certificates
   * in use stay.
   */
  public synchronized boolean reloadIfChanged() {
    try {
      if (versions().equals(loadedVersions)) {
        return false;
      }
      reload();
      log.info("TLS certificates in {} reloaded: new connections use them", dir);
      return true;
    } catch (IOException | RuntimeException e) {
      log.warn(
          "TLS certificates in {} changed but cannot be used (still using the old): {}",
          dir,
          e.getMessage());
      return false;
    }
  }

  private synchronized void reload() throws IOException {
    List<FileTime> versions = versions();
    Path ca = dir.resolve(Certificates.CA_CERT);
    Path cert = dir.resolve(Certificates.NODE_CERT);
    Path key = dir.resolve(Certificates.NODE_KEY);
    X509Certificate own = Certificates.readCertificate(cert);
    if (!Certificates.isPair(own, Certificates.readKey(key))) {
      throw new IOException(
          key + " is not the key of " + cert + " (one of them is another certificate's)");
    }
    Certificates.readCertificate(ca);
    String cn = Certificates.commonName(own);
    if (!allowedPeerNames.contains(cn)) {
      log.warn(
          "this node's certificate {} has common name '{}', not one its peers allow by default ({})",
          cert,
          cn,
          allowedPeerNames);
    }
    try {
      SslContext s =
          SslContextBuilder.forServer(cert.toFile(), key.toFile())
              .sslProvider(ClientTls.provider())
              .trustManager(ca.toFile())
              .clientAuth(ClientAuth.REQUIRE)
              .protocols("TLSv1.3")
              .build();
      SslContext c = asClient(dir).newContext();
      javax.net.ssl.SSLContext j = JdkTls.context(asClient(dir));
      server = s;
      peerClient = c;
      jdk = j;
      loadedVersions = versions;
    } catch (SSLException | IllegalArgumentException | UncheckedIOException e) {
      throw new IOException("cannot use the TLS files in " + dir + ": " + e.getMessage(), e);
    }
  }

  private List<FileTime> versions() throws IOException {
    return List.of(
        Files.getLastModifiedTime(dir.resolve(Certificates.CA_CERT)),
        Files.getLastModifiedTime(dir.resolve(Certificates.NODE_CERT)),
        Files.getLastModifiedTime(dir.resolve(Certificates.NODE_KEY)));
  }

  /**
   * Why {@code channel}'s remote end may not act as node {@code nodeId}, or null if it may: its
   * certificate's common name must be one of the allowed peer names. Null on a channel without TLS.
   */
  public String refusePeer(Channel channel, long nodeId) {
    SslHandler ssl = channel.pipeline().get(SslHandler.class);
    if (ssl == null) {
      return null;
    }
    try {
      Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
      String cn = Certificates.commonName((X509Certificate) chain[0]);
      if (!allowedPeerNames.contains(cn)) {
        return "node "
            + nodeId
            + " connected with a certificate for '"
            + cn
            + "', which is not an allowed peer name "
            + allowedPeerNames;
      }
      return null;
    } catch (SSLPeerUnverifiedException e) {
      return "node " + nodeId + " connected without a verified certificate";
    }
  }
}
