package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.StatusResponse;
import io.basalt.client.AmbiguousResultException;
import io.basalt.client.BasaltClient;
import io.basalt.client.DeadlineExceededException;
import io.basalt.client.KeyValue;
import io.basalt.client.Mutation;
import io.basalt.node.cli.WireClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** The Java client against a real 3-node cluster (the client issue's cluster tests). */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClientClusterTest {
  private static ProcessCluster cluster;
  private static BasaltClient client;

  @BeforeAll
  static void start() throws Exception {
    cluster = new ProcessCluster("client", 3, 50);
    cluster.startAll();
    cluster.init(8);
    cluster.awaitConverged(Duration.ofSeconds(60));
    client = clientOfCluster().callTimeout(Duration.ofSeconds(10)).build();
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A client builder seeded with every node of the cluster. */
  private static BasaltClient.Builder clientOfCluster() {
    return cluster.clientBuilder().seeds(cluster.addresses().toArray(String[]::new));
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String s(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  @Test
  @Order(1)
  void readsWritesCasBatchesAndScansAcrossRangeBoundaries() {
    // Keys whose first bytes fall in different pre-split ranges.
    List<String> keys = new ArrayList<>();
    for (char c : new char[] {'!', '0', 'A', 'M', 'a', 'm', 'z', '~'}) {
      for (int i = 0; i < 5; i++) {
        keys.add(c + "-" + i);
      }
    }
    for (String k : keys) {
      client.put(b(k), b("v:" + k));
    }
    assertThat(s(client.get(b("A-3")))).isEqualTo("v:A-3");
    assertThat(client.compareAndSet(b("A-3"), b("wrong"), b("x"))).isFalse();
    assertThat(client.compareAndSet(b("A-3"), b("v:A-3"), b("cas"))).isTrue();
    assertThat(s(client.get(b("A-3")))).isEqualTo("cas");
    assertThat(client.compareAndSet(b("new-key"), null, b("fresh"))).isTrue();
    assertThat(client.delete(b("new-key"))).isTrue();
    assertThat(client.get(b("new-key"))).isNull();
    client.writeBatch(List.of(Mutation.put(b("a-0"), b("batched")), Mutation.delete(b("a-1"))));
    assertThat(s(client.get(b("a-0")))).isEqualTo("batched");
    assertThat(client.get(b("a-1"))).isNull();

    List<String> scanned = new ArrayList<>();
    for (KeyValue kv : client.scan(b("!"), new byte[0])) {
      scanned.add(s(kv.key()));
    }
    List<String> expected = new ArrayList<>(keys);
    expected.remove("a-1");
    expected.sort(String::compareTo);
    assertThat(scanned).containsExactlyElementsOf(expected);
  }

  @Test
  @Order(2)
  void aRetriedRequestIdIsAppliedOnceAndAnswersWithItsFirstResult() {
    long range = rangeOf("Q-dedupe");
    try (WireClient c = WireClient.connect(leaderAddress(range), Duration.ofSeconds(5))) {
      ByteString id = ByteString.copyFrom(b("retry-0000000001"));
      KvRequest put1 =
          KvRequest.newBuilder()
              .setHeader(RequestHeader.newBuilder().setRangeId(range).setRequestId(id))
              .setPut(
                  io.basalt.api.PutRequest.newBuilder()
                      .setKey(ByteString.copyFrom(b("Q-dedupe")))
                      .setValue(ByteString.copyFrom(b("first"))))
              .build();
      assertThat(c.call(put1).hasError()).isFalse();
      client.put(b("Q-dedupe"), b("second"));
      // The same request id again (a retry whose first answer was lost): applied once, so the
      // later write stays.
      assertThat(c.call(put1).hasError()).isFalse();
      assertThat(s(client.get(b("Q-dedupe")))).isEqualTo("second");

      ByteString casId = ByteString.copyFrom(b("retry-0000000002"));
      KvRequest cas =
          KvRequest.newBuilder()
              .setHeader(RequestHeader.newBuilder().setRangeId(range).setRequestId(casId))
              .setConditionalPut(
                  ConditionalPutRequest.newBuilder()
                      .setKey(ByteString.copyFrom(b("Q-dedupe")))
                      .setExpectedValue(ByteString.copyFrom(b("second")))
                      .setValue(ByteString.copyFrom(b("third"))))
              .build();
      KvResponse first = c.call(cas);
      assertThat(first.getConditionalPut().getSucceeded()).isTrue();
      // Retried after it took effect: the recorded answer, not a fresh (failed) comparison.
      KvResponse retried = c.call(cas);
      assertThat(retried.getConditionalPut().getSucceeded()).isTrue();
      assertThat(s(client.get(b("Q-dedupe")))).isEqualTo("third");
    }
  }

  @Test
  @Order(3)
  void theClientFollowsTheLeaderWhenItDiesAndRefreshesItsCache() throws Exception {
    client.put(b("m-failover"), b("before"));
    long range = rangeOf("m-failover");
    int leader = cluster.awaitLeader(range);
    cluster.kill(leader);
    // The cached leader is dead: the client finds the new one and goes on.
    client.put(b("m-failover"), b("after"));
    assertThat(s(client.get(b("m-failover")))).isEqualTo("after");
    int newLeader = cluster.awaitLeader(range);
    assertThat(newLeader).isNotEqualTo(leader);
    cluster.start(leader);
    cluster.awaitConverged(Duration.ofSeconds(60));
    assertThat(s(client.get(b("m-failover")))).isEqualTo("after");
  }

  @Test
  @Order(4)
  void deadlinesAndAmbiguousResultsWhenNoNodeAnswers() throws Exception {
    try (BasaltClient shortDeadline =
        clientOfCluster().callTimeout(Duration.ofSeconds(1)).build()) {
      shortDeadline.put(b("z-deadline"), b("ok"));
      for (int n = 1; n <= 3; n++) {
        cluster.signal(n, "STOP");
      }
      try {
        // A read that no node answers fails with the deadline; a write that reached a node
        // that never answered may or may not have been applied: ambiguous, never a plain error.
        assertThatThrownBy(() -> shortDeadline.get(b("z-deadline")))
            .isInstanceOf(DeadlineExceededException.class);
        assertThatThrownBy(() -> shortDeadline.put(b("z-deadline"), b("maybe")))
            .isInstanceOf(AmbiguousResultException.class);
      } finally {
        for (int n = 1; n <= 3; n++) {
          cluster.signal(n, "CONT");
        }
      }
      cluster.awaitConverged(Duration.ofSeconds(60));
      assertThat(s(client.get(b("z-deadline")))).isIn("ok", "maybe");
    }
  }

  @Test
  @Order(5)
  void aStalledLeaderCostsOneAttemptNotTheWholeCall() throws Exception {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (BasaltClient patient =
        clientOfCluster()
            .callTimeout(Duration.ofSeconds(20))
            .attemptTimeout(Duration.ofSeconds(1))
            .meterRegistry(meters)
            .build()) {
      patient.put(b("s-stall"), b("before"));
      long range = rangeOf("s-stall");
      int leader = cluster.awaitLeader(range);
      cluster.signal(leader, "STOP");
      try {
        // The others elect a new leader; the client still has the stalled one cached.
        awaitLeaderAmongAllBut(range, leader);
        double unansweredBefore = attemptsCutOff(meters);
        // The cached leader never answers: the client gives up on it after one attempt (not at
        // the call's deadline, which would fail the write), asks the others, and the write goes
        // through at the new leader.
        patient.put(b("s-stall"), b("after"));
        assertThat(attemptsCutOff(meters) - unansweredBefore).isEqualTo(1.0);
        assertThat(s(patient.get(b("s-stall")))).isEqualTo("after");
      } finally {
        cluster.signal(leader, "CONT");
      }
      cluster.awaitConverged(Duration.ofSeconds(60));
      assertThat(s(client.get(b("s-stall")))).isEqualTo("after");
    }
  }

  /** The attempts the client cut off at its attempt timeout and retried, so far. */
  private static double attemptsCutOff(SimpleMeterRegistry meters) {
    Counter retried =
        meters.find("basalt_client_retries_total").tag("reason", "attempt_timeout").counter();
    return retried == null ? 0 : retried.count();
  }

  /**
   * Waits until the nodes other than {@code excluded} all name one of them as the leader of {@code
   * range}, and that node leads it.
   */
  private static void awaitLeaderAmongAllBut(long range, int excluded) {
    ProcessCluster.await(
        () -> {
          Set<Long> named = new HashSet<>();
          long leaderId = 0;
          for (int n = 1; n <= 3; n++) {
            if (n == excluded) {
              continue;
            }
            Optional<StatusResponse> status = cluster.status(n);
            if (status.isEmpty()) {
              return false;
            }
            Optional<ReplicaStatus> replica =
                status.get().getReplicasList().stream()
                    .filter(r -> r.getRange().getRangeId() == range)
                    .findFirst();
            if (replica.isEmpty()) {
              return false;
            }
            if (replica.get().getRole().equals("LEADER")) {
              leaderId = status.get().getNode().getNodeId();
            }
            named.add(replica.get().getLeaderNode());
          }
          return leaderId != 0 && named.equals(Set.of(leaderId));
        },
        "the nodes but " + excluded + " agree on a new leader of range " + range,
        Duration.ofSeconds(30));
  }

  private static long rangeOf(String key) {
    byte[] k = b(key);
    for (var d : cluster.status(firstAlive()).orElseThrow().getReplicasList()) {
      if (d.getRange().getRangeId() != 1 && io.basalt.api.KeySpace.contains(d.getRange(), k)) {
        return d.getRange().getRangeId();
      }
    }
    throw new AssertionError("no range for " + key);
  }

  private static int firstAlive() {
    for (int n = 1; n <= 3; n++) {
      if (cluster.alive(n)) {
        return n;
      }
    }
    throw new AssertionError("no node alive");
  }

  private static String leaderAddress(long range) {
    return cluster.address(cluster.awaitLeader(range));
  }
}
