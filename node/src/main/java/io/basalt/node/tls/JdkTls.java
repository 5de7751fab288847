package io.basalt.node.tls;

import io.basalt.client.ClientTls;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * JDK {@link SSLContext}s from the same PEM files as the Netty contexts, for what runs on the JDK's
 * own sockets: the node's blocking admin connections ({@code WireClient}) and its HTTPS endpoint.
 */
public final class JdkTls {
  private static final char[] NO_PASSWORD = new char[0];

  private JdkTls() {}

  /** A TLS 1.3 context presenting {@code files}' certificate and trusting only its CA. */
  public static SSLContext context(ClientTls files) throws IOException {
    return context(files.caCert(), files.cert(), files.key());
  }

  /** A TLS 1.3 context presenting {@code cert} (with {@code key}) and trusting only {@code ca}. */
  public static SSLContext context(Path ca, Path cert, Path key) throws IOException {
    X509Certificate own = Certificates.readCertificate(cert);
    PrivateKey ownKey = Certificates.readKey(key);
    X509Certificate authority = Certificates.readCertificate(ca);
    try {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("own", ownKey, NO_PASSWORD, new Certificate[] {own});
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, NO_PASSWORD);
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      trusted.setCertificateEntry("ca", authority);
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      SSLContext context = SSLContext.getInstance("TLSv1.3");
      context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException(
          "cannot use the TLS files " + cert + ", " + key + ": " + e.getMessage(), e);
    }
  }
}
