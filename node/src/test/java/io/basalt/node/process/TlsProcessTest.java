package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.api.Frame;
import io.basalt.api.Hello;
import io.basalt.client.BasaltClient;
import io.basalt.client.ClientTls;
import io.basalt.node.local.LocalCluster;
import io.basalt.node.tls.Certificates;
import io.basalt.node.tls.JdkTls;
import io.basalt.node.transport.Handshake;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/**
 * Three node processes with mutual TLS ({@code --certs-dir}), a client of the cluster's CA writing
 * all along, and connections that must each be refused with a reason in the nodes' logs: a
 * plaintext client, a client without a certificate, one whose certificate another CA signed, one
 * whose certificate expired, a connection that presents a client's certificate and says it is a
 * node, and one that presents a node certificate of another CA. Then the nodes' certificates are
 * replaced under the running workload: the nodes read them again, a new client connects, and no
 * write is lost or failed.
 */
class TlsProcessTest {
  @Test
  void onlyTheClustersCertificatesAreServedAndRotationLosesNoRequest() throws Exception {
    try (LocalCluster cluster = LocalCluster.start(3, List.of("-Xmx256m"), List.of(), true)) {
      String clusterId = cluster.init(2, 3, Duration.ofSeconds(60));
      cluster.awaitLeaders(Duration.ofSeconds(60));
      Path certs = cluster.certsDir();
      Certificates.Issued ca =
          new Certificates.Issued(
              Certificates.readCertificate(certs.resolve(Certificates.CA_CERT)),
              Certificates.readKey(cluster.dir().resolve(Certificates.CA_KEY)));
      Instant now = Instant.now();

      AtomicBoolean running = new AtomicBoolean(true);
      AtomicLong failures = new AtomicLong();
      ConcurrentLinkedQueue<Integer> acknowledged = new ConcurrentLinkedQueue<>();
      try (BasaltClient good = client(cluster, cluster.clientTls())) {
        Thread writer =
            new Thread(() -> {
              for (int i = 0; running.get(); i++) {
                try {
                  good.put(key(i), key(i));
                  acknowledged.add(i);
                } catch (RuntimeException e) {
                  failures.incrementAndGet();
                }
              }
            });
        writer.start();

        // A plaintext client.
        try (BasaltClient plain = client(cluster, null)) {
          assertThatThrownBy(() -> plain.put(key(-1), key(-1)))
              .isInstanceOf(RuntimeException.class);
        }
        awaitLogged(cluster, "not TLS");

        // A client without a certificate (it trusts the CA, but presents nothing).
        assertThatThrownBy(() -> handshake(cluster, trustOnly(certs.resolve(Certificates.CA_CERT))))
            .isInstanceOf(IOException.class);
        awaitLogged(cluster, "presented no certificate");

        // A client whose certificate another CA signed.
        Path other = cluster.dir().resolve("other-ca");
        Certificates.Issued otherCa = Certificates.newCa("Another CA", Duration.ofDays(1));
        Certificates.write(
            other,
            Certificates.clientCert("root"),
            Certificates.clientKey("root"),
            Certificates.newClient(otherCa, "root", now.minusSeconds(300), now.plusSeconds(3600)));
        ClientTls foreign =
            new ClientTls(
                certs.resolve(Certificates.CA_CERT),
                other.resolve(Certificates.clientCert("root")),
                other.resolve(Certificates.clientKey("root")));
        // (Its key manager finds no certificate of an issuer the node accepts: it sends none.)
        long noCertificate = countLogged(cluster, "presented no certificate");
        try (BasaltClient c = client(cluster, foreign)) {
          assertThatThrownBy(() -> c.put(key(-2), key(-2))).isInstanceOf(RuntimeException.class);
        }
        awaitMoreLogged(cluster, "presented no certificate", noCertificate);

        // A client whose certificate, from the cluster's CA, expired.
        Path expiredDir = cluster.dir().resolve("expired");
        Certificates.write(
            expiredDir,
            Certificates.clientCert("root"),
            Certificates.clientKey("root"),
            Certificates.newClient(
                ca, "root", now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))));
        ClientTls expired =
            new ClientTls(
                certs.resolve(Certificates.CA_CERT),
                expiredDir.resolve(Certificates.clientCert("root")),
                expiredDir.resolve(Certificates.clientKey("root")));
        try (BasaltClient c = client(cluster, expired)) {
          assertThatThrownBy(() -> c.put(key(-3), key(-3))).isInstanceOf(RuntimeException.class);
        }
        awaitLogged(cluster, "certificate expired");

        // A client's certificate (good for clients) used to act as node 9.
        SSLContext clientContext = JdkTls.context(cluster.clientTls());
        try (SSLSocket s = handshake(cluster, clientContext)) {
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          byte[] hello =
              Frame.newBuilder()
                  .setHello(
                      Hello.newBuilder()
                          .setClusterId(clusterId)
                          .setNodeId(9)
                          .setProtocolVersion(Handshake.PROTOCOL_VERSION))
                  .build()
                  .toByteArray();
          out.writeInt(hello.length);
          out.write(hello);
          out.flush();
          assertThat(readsUntilClosed(s)).as("the node closes the connection").isTrue();
        }
        awaitLogged(cluster, "not an allowed peer name");

        // A node whose certificate another CA signed, presented whatever issuers the node names.
        Certificates.Issued foreignNode =
            Certificates.newNode(
                otherCa,
                List.of("127.0.0.1", "localhost"),
                now.minusSeconds(300),
                now.plusSeconds(3600));
        assertThatThrownBy(() ->
                handshake(cluster, presenting(certs.resolve(Certificates.CA_CERT), foreignNode)))
            .isInstanceOf(IOException.class);
        awaitLogged(cluster, "not signed by this cluster's CA");

        // Rotation: new node certificates from the same CA, under the running workload.
        long before = acknowledged.size();
        Certificates.write(
            certs,
            Certificates.NODE_CERT,
            Certificates.NODE_KEY,
            Certificates.newNode(
                ca,
                List.of("127.0.0.1", "localhost"),
                now.minusSeconds(300),
                now.plus(Duration.ofDays(2))));
        ProcessCluster.await(
            () -> countLogged(cluster, "TLS certificates in") >= 3,
            "every node reads its new certificate",
            Duration.ofSeconds(30));
        try (BasaltClient fresh = client(cluster, cluster.clientTls())) {
          fresh.put(key(-4), key(-4));
          assertThat(fresh.get(key(-4))).isEqualTo(key(-4));
        }
        ProcessCluster.await(
            () -> acknowledged.size() > before + 100,
            "the workload goes on after the rotation",
            Duration.ofSeconds(30));
        running.set(false);
        writer.join();
        assertThat(failures.get()).as("writes of the cluster's client that failed").isZero();
        for (int i : acknowledged) {
          assertThat(good.get(key(i))).as("acknowledged write %d", i).isEqualTo(key(i));
        }
        printRefusals(cluster);
        System.out.printf(
            "TLS: %d writes acknowledged while six kinds of connection were refused and the"
                + " certificates rotated, none failed%n",
            acknowledged.size());
      } finally {
        running.set(false);
      }
    }
  }

  private static byte[] key(int i) {
    return ("tls/" + i).getBytes(StandardCharsets.UTF_8);
  }

  private static BasaltClient client(LocalCluster cluster, ClientTls tls) {
    BasaltClient.Builder b =
        BasaltClient.builder()
            .seeds(cluster.addresses().toArray(String[]::new))
            .callTimeout(Duration.ofSeconds(3));
    if (tls != null) {
      b.tls(tls);
    }
    return b.build();
  }

  /**
   * A context that trusts {@code ca} and presents {@code identity} to any server, whatever issuers
   * it asks for (a standard key manager would send nothing when the issuer is not among them).
   */
  private static SSLContext presenting(Path ca, Certificates.Issued identity) throws Exception {
    javax.net.ssl.X509ExtendedKeyManager forced =
        new javax.net.ssl.X509ExtendedKeyManager() {
          @Override
          public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
            return new String[] {"forced"};
          }

          @Override
          public String chooseClientAlias(
              String[] keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return "forced";
          }

          @Override
          public String chooseEngineClientAlias(
              String[] keyType, java.security.Principal[] issuers, javax.net.ssl.SSLEngine e) {
            return "forced";
          }

          @Override
          public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
            return null;
          }

          @Override
          public String chooseServerAlias(
              String keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return null;
          }

          @Override
          public java.security.cert.X509Certificate[] getCertificateChain(String alias) {
            return new java.security.cert.X509Certificate[] {identity.certificate()};
          }

          @Override
          public java.security.PrivateKey getPrivateKey(String alias) {
            return identity.key();
          }
        };
    SSLContext context = SSLContext.getInstance("TLSv1.3");
    context.init(new javax.net.ssl.KeyManager[] {forced}, trusting(ca), null);
    return context;
  }

  /** A context that trusts {@code ca} and has no certificate of its own. */
  private static SSLContext trustOnly(Path ca) throws Exception {
    SSLContext context = SSLContext.getInstance("TLSv1.3");
    context.init(null, trusting(ca), null);
    return context;
  }

  private static javax.net.ssl.TrustManager[] trusting(Path ca) throws Exception {
    java.security.KeyStore trusted = java.security.KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    trusted.setCertificateEntry("ca", Certificates.readCertificate(ca));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    return tmf.getTrustManagers();
  }

  /** A TLS connection to node 1, its handshake done and a first read attempted. */
  private static SSLSocket handshake(LocalCluster cluster, SSLContext context) throws IOException {
    String[] hostPort = cluster.address(1).split(":");
    SSLSocket s =
        (SSLSocket)
            context.getSocketFactory().createSocket(hostPort[0], Integer.parseInt(hostPort[1]));
    s.setSoTimeout(10_000);
    s.startHandshake();
    // TLS 1.3: the server checks the client's certificate after the client's handshake ends; a
    // refusal arrives as an alert on the first read.
    s.getInputStream();
    if (readsUntilClosedOrHello(s) == ReadResult.FAILED) {
      s.close();
      throw new IOException("the node refused the connection");
    }
    return s;
  }

  private enum ReadResult {
    HELLO,
    FAILED
  }

  /** Reads the node's first frame (its hello): whether it came. */
  private static ReadResult readsUntilClosedOrHello(SSLSocket s) {
    try {
      DataInputStream in = new DataInputStream(s.getInputStream());
      int length = in.readInt();
      in.readFully(new byte[length]);
      return ReadResult.HELLO;
    } catch (IOException e) {
      return ReadResult.FAILED;
    }
  }

  /** Reads until the node closes the connection; true if it did within the socket's timeout. */
  private static boolean readsUntilClosed(SSLSocket s) {
    try {
      while (s.getInputStream().read() >= 0) {
        // (its frames, until it closes)
      }
      return true;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // closed with an alert or a reset
    }
  }

  private static long countLogged(LocalCluster cluster, String text) {
    long n = 0;
    for (int id = 1; id <= cluster.size(); id++) {
      try {
        n += Files.readAllLines(cluster.log(id)).stream().filter(l -> l.contains(text)).count();
      } catch (IOException e) {
        // not written yet
      }
    }
    return n;
  }

  private static void awaitLogged(LocalCluster cluster, String text) {
    awaitMoreLogged(cluster, text, 0);
  }

  private static void awaitMoreLogged(LocalCluster cluster, String text, long than) {
    try {
      ProcessCluster.await(
          () -> countLogged(cluster, text) > than,
          "a node logs '" + text + "'",
          Duration.ofSeconds(20));
    } catch (AssertionError e) {
      printRefusals(cluster);
      throw e;
    }
  }

  private static void printRefusals(LocalCluster cluster) {
    for (int id = 1; id <= cluster.size(); id++) {
      try {
        Files.readAllLines(cluster.log(id)).stream()
            .filter(l -> l.contains("closing connection") || l.contains("TLS certificates in"))
            .forEach(System.out::println);
      } catch (IOException e) {
        System.out.println("node " + id + ": no log: " + e);
      }
    }
  }
}
