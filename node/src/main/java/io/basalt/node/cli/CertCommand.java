package io.basalt.node.cli;

import io.basalt.node.tls.Certificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code basalt cert create-ca | create-node HOST... | create-client USER}: the certificates a
 * cluster runs with (layout in {@link Certificates}). Each writes into {@code --certs-dir}; the CA
 * key is read from (and written to) {@code --ca-key}, which belongs outside any node's directory.
 */
@Command(
    name = "cert",
    description = "Create the CA, node and client certificates of a cluster with TLS.",
    subcommands = {
      CertCommand.CreateCa.class,
      CertCommand.CreateNode.class,
      CertCommand.CreateClient.class
    })
final class CertCommand {
  abstract static class Common {
    @Option(
        names = "--certs-dir",
        required = true,
        description = "Directory to write the certificates in.")
    Path certsDir;

    @Option(
        names = "--ca-key",
        required = true,
        description = "The CA's private key (PEM): written by create-ca, read by the others.")
    Path caKey;

    @Option(
        names = "--lifetime-days",
        description = "How long the certificate is valid (default: ${DEFAULT-VALUE}).")
    int lifetimeDays = defaultLifetimeDays();

    @Option(names = "--overwrite", description = "Replace files that exist.")
    boolean overwrite;

    abstract int defaultLifetimeDays();

    /** Refuses to replace {@code files} unless --overwrite was given; whether all is well. */
    boolean mayWrite(Path... files) {
      for (Path f : files) {
        if (Files.exists(f) && !overwrite) {
          System.err.println("basalt cert: " + f + " exists (say --overwrite to replace it)");
          return false;
        }
      }
      if (lifetimeDays <= 0) {
        System.err.println("basalt cert: --lifetime-days must be positive");
        return false;
      }
      return true;
    }

    Certificates.Issued ca() throws java.io.IOException {
      return new Certificates.Issued(
          Certificates.readCertificate(certsDir.resolve(Certificates.CA_CERT)),
          Certificates.readKey(caKey));
    }
  }

  @Command(
      name = "create-ca",
      description = "Create the cluster's CA: ca.crt, and its key at --ca-key.")
  static final class CreateCa extends Common implements Callable<Integer> {
    @Override
    int defaultLifetimeDays() {
      return 3650;
    }

    @Override
    public Integer call() throws Exception {
      Path cert = certsDir.resolve(Certificates.CA_CERT);
      if (!mayWrite(cert, caKey)) {
        return BasaltCli.FAILED;
      }
      Certificates.Issued ca = Certificates.newCa("Basalt CA", Duration.ofDays(lifetimeDays));
      Certificates.writeKey(caKey, ca.key());
      Certificates.writeCertificate(cert, ca.certificate());
      System.out.println("wrote " + cert + " and " + caKey);
      return 0;
    }
  }

  @Command(
      name = "create-node",
      description =
          "Create node.crt and node.key, signed by the CA, for every HOST (name or address) the"
              + " node is reached by.")
  static final class CreateNode extends Common implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "HOST", description = "Host names and addresses.")
    List<String> hosts = new ArrayList<>();

    @Override
    int defaultLifetimeDays() {
      return 1825;
    }

    @Override
    public Integer call() throws Exception {
      Path cert = certsDir.resolve(Certificates.NODE_CERT);
      Path key = certsDir.resolve(Certificates.NODE_KEY);
      if (!mayWrite(cert, key)) {
        return BasaltCli.FAILED;
      }
      Certificates.write(
          certsDir,
          Certificates.NODE_CERT,
          Certificates.NODE_KEY,
          Certificates.newNode(ca(), hosts, Duration.ofDays(lifetimeDays)));
      System.out.println("wrote " + cert + " and " + key + " for " + hosts);
      return 0;
    }
  }

  @Command(
      name = "create-client",
      description = "Create client.USER.crt and .key, signed by the CA.")
  static final class CreateClient extends Common implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "USER", description = "The user, e.g. root.")
    String user;

    @Override
    int defaultLifetimeDays() {
      return 1825;
    }

    @Override
    public Integer call() throws Exception {
      Path cert = certsDir.resolve(Certificates.clientCert(user));
      Path key = certsDir.resolve(Certificates.clientKey(user));
      if (!mayWrite(cert, key)) {
        return BasaltCli.FAILED;
      }
      Certificates.write(
          certsDir,
          Certificates.clientCert(user),
          Certificates.clientKey(user),
          Certificates.newClient(ca(), user, Duration.ofDays(lifetimeDays)));
      System.out.println("wrote " + cert + " and " + key);
      return 0;
    }
  }
}
