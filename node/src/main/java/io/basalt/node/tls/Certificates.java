package io.basalt.node.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The certificates a cluster runs with, as PEM files in one directory (the layout of {@code
 * --certs-dir}, as CockroachDB's):
 *
 * <ul>
 *   <li>{@code ca.crt}: the cluster's CA, which signs every other certificate; nodes and clients
 *       trust it alone. Its key, {@code ca.key}, is needed only to sign new certificates and
 *       belongs somewhere safer than a node's disk.
 *   <li>{@code node.crt}, {@code node.key}: a node's certificate (common name {@code node}, for
 *       server and client authentication), naming in its subject alternative names every host name
 *       and address peers and clients reach the node by.
 *   <li>{@code client.USER.crt}, {@code client.USER.key}: a client's certificate, common name
 *       {@code USER}, for client authentication only.
 * </ul>
 *
 * <p>Keys are ECDSA P-256, written unencrypted as PKCS#8 with owner-only permissions; certificates
 * are signed with SHA-256.
 */
public final class Certificates {
  public static final String CA_CERT = "ca.crt";
  public static final String CA_KEY = "ca.key";
  public static final String NODE_CERT = "node.crt";
  public static final String NODE_KEY = "node.key";

  /** The common name of every node's certificate (what peers are authorized by, by default). */
  public static final String NODE_COMMON_NAME = "node";

  private static final SecureRandom RANDOM = new SecureRandom();

  private Certificates() {}

  public static String clientCert(String user) {
    return "client." + user + ".crt";
  }

  public static String clientKey(String user) {
    return "client." + user + ".key";
  }

  /** A certificate and its key. */
  public record Issued(X509Certificate certificate, PrivateKey key) {}

  /**
   * Whether {@code key} is the private key of {@code cert}: a challenge signed with it verifies
   * with the certificate's public key.
   */
  static boolean isPair(X509Certificate cert, PrivateKey key) {
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      java.security.Signature sign = java.security.Signature.getInstance("SHA256withECDSA");
      sign.initSign(key);
      sign.update(challenge);
      byte[] signature = sign.sign();
      java.security.Signature verify = java.security.Signature.getInstance("SHA256withECDSA");
      verify.initVerify(cert.getPublicKey());
      verify.update(challenge);
      return verify.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** A new self-signed CA, valid from now for {@code lifetime}. */
  public static Issued newCa(String commonName, Duration lifetime) {
    KeyPair pair = newKeyPair();
    X500Name name = name(commonName);
    Instant now = Instant.now();
    return sign(
        name,
        pair.getPrivate(),
        name,
        pair,
        now.minus(BACKDATE),
        now.plus(lifetime),
        true,
        List.of(),
        List.of());
  }

  /**
   * A node certificate signed by {@code ca}: common name {@code node}, server and client
   * authentication, {@code hosts} (names or addresses) as subject alternative names.
   */
  public static Issued newNode(Issued ca, List<String> hosts, Instant notBefore, Instant notAfter) {
    if (hosts.isEmpty()) {
      throw new IllegalArgumentException("a node certificate needs at least one host");
    }
    return sign(
        name(NODE_COMMON_NAME),
        ca.key(),
        name(ca.certificate()),
        newKeyPair(),
        notBefore,
        notAfter,
        false,
        List.of(KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth),
        hosts);
  }

  /**
   * A node certificate valid from five minutes ago (room for clocks a little behind) for {@code
   * lifetime}.
   */
  public static Issued newNode(Issued ca, List<String> hosts, Duration lifetime) {
    Instant now = Instant.now();
    return newNode(ca, hosts, now.minus(BACKDATE), now.plus(lifetime));
  }

  /** A client certificate valid from five minutes ago for {@code lifetime}. */
  public static Issued newClient(Issued ca, String user, Duration lifetime) {
    Instant now = Instant.now();
    return newClient(ca, user, now.minus(BACKDATE), now.plus(lifetime));
  }

  /** How far before its making a certificate is valid from. */
  private static final Duration BACKDATE = Duration.ofMinutes(5);

  /** A client certificate for {@code user} signed by {@code ca}: client authentication only. */
  public static Issued newClient(Issued ca, String user, Instant notBefore, Instant notAfter) {
    if (!user.matches("[A-Za-z0-9_.-]+")) {
      throw new IllegalArgumentException(
          "a user name is letters, digits, '_', '.' and '-': " + user);
    }
    return sign(
        name(user),
        ca.key(),
        name(ca.certificate()),
        newKeyPair(),
        notBefore,
        notAfter,
        false,
        List.of(KeyPurposeId.id_kp_clientAuth),
        List.of());
  }

  /** The common name in {@code cert}'s subject, or null. */
  public static String commonName(X509Certificate cert) {
    var rdns =
        X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()).getRDNs(BCStyle.CN);
    return rdns.length == 0 ? null : rdns[0].getFirst().getValue().toString();
  }

  // ---------------------------------------------------------------------------------------------
  // PEM files

  /** Writes {@code issued} as {@code certFile} and {@code keyFile} in {@code dir}. */
  public static void write(Path dir, String certFile, String keyFile, Issued issued)
      throws IOException {
    writeCertificate(dir.resolve(certFile), issued.certificate());
    writeKey(dir.resolve(keyFile), issued.key());
  }

  /** Writes {@code cert} as PEM (replacing {@code file} at once). */
  public static void writeCertificate(Path file, X509Certificate cert) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    writeAtomically(file, pem("CERTIFICATE", encoded(cert)));
  }

  /** Writes {@code key} as PKCS#8 PEM, readable by its owner only. */
  public static void writeKey(Path file, PrivateKey key) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    writeAtomically(file, pem("PRIVATE KEY", key.getEncoded()));
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // (not a POSIX file system)
    }
  }

  /** Reads the certificate and key written by {@link #write}. */
  public static Issued read(Path dir, String certFile, String keyFile) throws IOException {
    return new Issued(readCertificate(dir.resolve(certFile)), readKey(dir.resolve(keyFile)));
  }

  public static X509Certificate readCertificate(Path file) throws IOException {
    try (var in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    } catch (GeneralSecurityException e) {
      throw new IOException(file + " holds no readable certificate: " + e.getMessage(), e);
    }
  }

  public static PrivateKey readKey(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.US_ASCII);
    int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = text.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IOException(file + " holds no PKCS#8 private key (BEGIN PRIVATE KEY)");
    }
    String body = text.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end);
    try {
      byte[] der = Base64.getMimeDecoder().decode(body);
      return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException(file + " holds no readable EC private key: " + e.getMessage(), e);
    }
  }

  private static void writeAtomically(Path file, String content) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, content, StandardCharsets.US_ASCII);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static byte[] encoded(X509Certificate cert) {
    try {
      return cert.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make P-256 keys", e);
    }
  }

  private static X500Name name(String commonName) {
    return new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "Basalt")
        .addRDN(BCStyle.CN, commonName)
        .build();
  }

  private static X500Name name(X509Certificate cert) {
    return X500Name.getInstance(cert.getSubjectX500Principal().getEncoded());
  }

  private static Issued sign(
      X500Name subject,
      PrivateKey issuerKey,
      X500Name issuer,
      KeyPair pair,
      Instant notBefore,
      Instant notAfter,
      boolean ca,
      List<KeyPurposeId> purposes,
      List<String> hosts) {
    try {
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              issuer,
              new BigInteger(127, RANDOM).add(BigInteger.ONE),
              Date.from(notBefore),
              Date.from(notAfter),
              subject,
              pair.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(
              ca
                  ? KeyUsage.keyCertSign | KeyUsage.cRLSign
                  : KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(
          Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
      if (!purposes.isEmpty()) {
        b.addExtension(
            Extension.extendedKeyUsage,
            false,
            new ExtendedKeyUsage(purposes.toArray(KeyPurposeId[]::new)));
      }
      if (!hosts.isEmpty()) {
        List<GeneralName> names = new ArrayList<>();
        for (String h : hosts) {
          names.add(
              isAddress(h)
                  ? new GeneralName(GeneralName.iPAddress, h)
                  : new GeneralName(GeneralName.dNSName, h));
        }
        b.addExtension(
            Extension.subjectAlternativeName,
            false,
            new GeneralNames(names.toArray(GeneralName[]::new)));
      }
      X509Certificate cert =
          new JcaX509CertificateConverter()
              .getCertificate(
                  b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
      return new Issued(cert, pair.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot make a certificate: " + e.getMessage(), e);
    }
  }

  /** Whether {@code host} is an IPv4 or IPv6 literal (never a name lookup). */
  static boolean isAddress(String host) {
    if (host.matches("\\d{1,3}(\\.\\d{1,3}){3}") || host.contains(":")) {
      try {
        InetAddress.getByName(host); // a literal: parsed, not looked up
        return true;
      } catch (IOException e) {
        return false;
      }
    }
    return false;
  }
}
