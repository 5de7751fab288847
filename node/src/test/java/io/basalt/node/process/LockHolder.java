package io.basalt.node.process;

import io.basalt.client.BasaltClient;
import io.basalt.client.Txn;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * A client process for {@link TxnProcessTest}: begins a transaction, locks the keys it is given
 * (locking reads) and buffers writes to them, prints {@code LOCKED}, and then holds them (its
 * heartbeats keep the transaction alive) until it is killed.
 *
 * <p>Arguments: a node's address, then keys.
 */
public final class LockHolder {
  private LockHolder() {}

  public static void main(String[] args) {
    BasaltClient client =
        BasaltClient.builder()
            .seeds(args[0])
            .tls(
                io.basalt.client.ClientTls.inCertsDir(
                    java.nio.file.Path.of(System.getProperty("basalt.test.certs")), "root"))
            .callTimeout(Duration.ofSeconds(10))
            .build();
    Txn tx = client.begin();
    for (int i = 1; i < args.length; i++) {
      byte[] key = args[i].getBytes(StandardCharsets.UTF_8);
      tx.getForUpdate(key);
      tx.put(key, "from-the-killed-client".getBytes(StandardCharsets.UTF_8));
    }
    System.out.println("LOCKED");
    System.out.flush();
    while (true) {
      LockSupport.park();
    }
  }
}
