package io.basalt.node.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's certificates are read again when their files change, and a change that cannot be used (a
 * half-written key, a key that is not the certificate's, a file gone) leaves the certificates in
 * use in place, until a usable change comes.
 */
class NodeTlsReloadTest {
  private static final Set<String> PEERS = Set.of(Certificates.NODE_COMMON_NAME);

  @Test
  void anUnusableChangeKeepsTheCertificatesInUseAndAUsableOneReplacesThem(@TempDir Path dir)
      throws Exception {
    Certificates.Issued ca = Certificates.newCa("Test CA", Duration.ofDays(1));
    Certificates.writeCertificate(dir.resolve(Certificates.CA_CERT), ca.certificate());
    Certificates.write(dir, Certificates.NODE_CERT, Certificates.NODE_KEY, node(ca));
    NodeTls tls = NodeTls.load(dir, PEERS);
    var inUse = tls.server();
    assertThat(tls.reloadIfChanged()).as("nothing changed").isFalse();

    // A half-written key.
    String key = Files.readString(dir.resolve(Certificates.NODE_KEY));
    Files.writeString(dir.resolve(Certificates.NODE_KEY), key.substring(0, key.length() / 2));
    touch(dir.resolve(Certificates.NODE_KEY), 1);
    assertThat(tls.reloadIfChanged()).isFalse();
    assertThat(tls.server()).isSameAs(inUse);

    // A whole key, but another certificate's.
    Certificates.writeKey(dir.resolve(Certificates.NODE_KEY), node(ca).key());
    touch(dir.resolve(Certificates.NODE_KEY), 2);
    assertThat(tls.reloadIfChanged()).isFalse();
    assertThat(tls.server()).isSameAs(inUse);

    // The certificate gone (a Secret being replaced).
    Files.delete(dir.resolve(Certificates.NODE_CERT));
    assertThat(tls.reloadIfChanged()).isFalse();
    assertThat(tls.server()).isSameAs(inUse);

    // A usable pair: taken.
    Certificates.write(dir, Certificates.NODE_CERT, Certificates.NODE_KEY, node(ca));
    touch(dir.resolve(Certificates.NODE_CERT), 3);
    touch(dir.resolve(Certificates.NODE_KEY), 3);
    assertThat(tls.reloadIfChanged()).isTrue();
    assertThat(tls.server()).isNotSameAs(inUse);
  }

  private static Certificates.Issued node(Certificates.Issued ca) {
    return Certificates.newNode(ca, List.of("127.0.0.1"), Duration.ofDays(1));
  }

  /** Distinct modification times, however fast the writes follow each other. */
  private static void touch(Path file, int step) throws Exception {
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(step)));
  }
}
