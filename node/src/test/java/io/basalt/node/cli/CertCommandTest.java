package io.basalt.node.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.node.tls.Certificates;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code basalt cert} writes a CA and certificates that chain to it, and what {@code start} asks.
 */
class CertCommandTest {
  @TempDir Path dir;

  private int run(String... args) {
    return new CommandLine(new BasaltCli())
        .setErr(new PrintWriter(new StringWriter()))
        .execute(args);
  }

  @Test
  void theCaSignsNodeAndClientCertificatesThatValidateAgainstItAlone() throws Exception {
    Path certs = dir.resolve("certs");
    Path caKey = dir.resolve("safe/ca.key");
    String[] common = {"--certs-dir=" + certs, "--ca-key=" + caKey};
    assertThat(run("cert", "create-ca", common[0], common[1])).isZero();
    assertThat(run("cert", "create-node", common[0], common[1], "n1", "10.77.0.11", "localhost"))
        .isZero();
    assertThat(run("cert", "create-client", common[0], common[1], "root")).isZero();

    X509Certificate ca = Certificates.readCertificate(certs.resolve("ca.crt"));
    X509Certificate node = Certificates.readCertificate(certs.resolve("node.crt"));
    X509Certificate client = Certificates.readCertificate(certs.resolve("client.root.crt"));
    validate(node, ca);
    validate(client, ca);
    assertThat(Certificates.commonName(node)).isEqualTo("node");
    assertThat(Certificates.commonName(client)).isEqualTo("root");
    List<String> names =
        node.getSubjectAlternativeNames().stream().map(n -> String.valueOf(n.get(1))).toList();
    assertThat(names).containsExactlyInAnyOrder("n1", "10.77.0.11", "localhost");
    assertThat(node.getExtendedKeyUsage())
        .containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    assertThat(client.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
    assertThat(ca.getBasicConstraints()).as("a CA").isGreaterThanOrEqualTo(0);
    assertThat(node.getBasicConstraints()).as("not a CA").isEqualTo(-1);
    assertThat(Files.getPosixFilePermissions(certs.resolve("node.key")))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(Files.exists(certs.resolve("ca.key")))
        .as("the CA key stays out of the dir")
        .isFalse();
    Certificates.readKey(certs.resolve("node.key")); // a PKCS#8 key the node can load

    // Another CA's certificates do not validate against this one.
    Path other = dir.resolve("other");
    assertThat(run("cert", "create-ca", "--certs-dir=" + other, "--ca-key=" + other.resolve("k")))
        .isZero();
    X509Certificate otherCa = Certificates.readCertificate(other.resolve("ca.crt"));
    assertThatThrownBy(() -> validate(node, otherCa))
        .isInstanceOf(java.security.cert.CertPathValidatorException.class);
  }

  @Test
  void existingFilesAreKeptUnlessOverwriteIsSaid() throws Exception {
    Path certs = dir.resolve("certs");
    String key = "--ca-key=" + dir.resolve("ca.key");
    assertThat(run("cert", "create-ca", "--certs-dir=" + certs, key)).isZero();
    byte[] first = Files.readAllBytes(certs.resolve("ca.crt"));
    assertThat(run("cert", "create-ca", "--certs-dir=" + certs, key)).isEqualTo(BasaltCli.FAILED);
    assertThat(Files.readAllBytes(certs.resolve("ca.crt"))).isEqualTo(first);
    assertThat(run("cert", "create-ca", "--certs-dir=" + certs, key, "--overwrite")).isZero();
    assertThat(Files.readAllBytes(certs.resolve("ca.crt"))).isNotEqualTo(first);
  }

  @Test
  void aNodeStartsOnlyWithCertificatesOrWithInsecureSaid() {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream saved = System.err;
    int code;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      code =
          new CommandLine(new BasaltCli())
              .execute("start", "--id=1", "--store=" + dir.resolve("s"));
    } finally {
      System.setErr(saved);
    }
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
        .contains("--certs-dir DIR")
        .contains("--insecure");
    assertThat(Files.exists(dir.resolve("s"))).as("no store made").isFalse();
  }

  private static void validate(X509Certificate cert, X509Certificate ca) throws Exception {
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX")
        .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(cert)), params);
  }
}
