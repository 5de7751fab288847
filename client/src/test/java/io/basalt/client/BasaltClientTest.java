package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static io.basalt.client.Fixtures.s;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.basalt.api.Hello;
import io.basalt.api.KeySpace;
import io.basalt.client.FakeCluster.Action;
import io.basalt.client.FakeCluster.Received;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The operations' semantics, argument checks, pipelining, the handshake and metrics. */
class BasaltClientTest {
  private FakeCluster cluster;
  private BasaltClient client;

  @BeforeEach
  void setUp() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "m", 1, 1).range(3, "m", "", 2, 2);
  }

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    cluster.close();
  }

  @Test
  void getReturnsWhatPutWroteAndNullForAnAbsentKey() {
    client = clientOf(cluster).build();

    client.put(b("k"), b("v"));

    assertThat(s(client.get(b("k")))).isEqualTo("v");
    assertThat(client.get(b("absent"))).isNull();
  }

  @Test
  void deleteReportsWhetherTheKeyHadAValue() {
    client = clientOf(cluster).build();
    client.put(b("k"), b("v"));

    assertThat(client.delete(b("k"))).isTrue();
    assertThat(client.delete(b("k"))).isFalse();
    assertThat(client.get(b("k"))).isNull();
  }

  @Test
  void compareAndSetWritesOnlyWhenTheValueIsAsExpected() {
    client = clientOf(cluster).build();

    assertThat(client.compareAndSet(b("k"), null, b("1"))).isTrue();
    assertThat(client.compareAndSet(b("k"), null, b("2"))).isFalse();
    assertThat(client.compareAndSet(b("k"), b("0"), b("2"))).isFalse();
    assertThat(s(client.get(b("k")))).isEqualTo("1");
    assertThat(client.compareAndSet(b("k"), b("1"), b("2"))).isTrue();
    assertThat(s(client.get(b("k")))).isEqualTo("2");
  }

  @Test
  void writeBatchAppliesEveryMutationInOneRequest() {
    cluster.load(2, "b", "old");
    client = clientOf(cluster).build();

    client.writeBatch(
        List.of(
            Mutation.put(b("a"), b("1")), Mutation.delete(b("b")), Mutation.put(b("c"), b("3"))));

    assertThat(cluster.value(2, "a")).isEqualTo("1");
    assertThat(cluster.value(2, "b")).isNull();
    assertThat(cluster.value(2, "c")).isEqualTo("3");
    assertThat(cluster.received(r -> r.isData() && r.request().hasWriteBatch())).hasSize(1);
    assertThat(cluster.received(Received::isMetaLookup)).hasSize(1);
  }

  @Test
  void writeBatchAcrossRangesIsRejectedNamingTheRanges() {
    client = clientOf(cluster).build();

    assertThatThrownBy(() ->
            client.writeBatch(
                List.of(
                    Mutation.put(b("a"), b("1")),
                    Mutation.put(b("x"), b("2")),
                    Mutation.delete(b("b")))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("range 2 [0x01, \"m\") generation 1 holds \"a\", \"b\"")
        .hasMessageContaining("range 3 [\"m\", end) generation 1 holds \"x\"");
    assertThat(cluster.received(r -> r.isData() && r.request().hasWriteBatch())).isEmpty();
    assertThat(cluster.value(2, "a")).isNull();
  }

  @Test
  void writeBatchOfNothingSendsNothing() {
    client = clientOf(cluster).build();

    client.writeBatch(List.of());

    assertThat(cluster.connectionsAccepted()).isZero();
  }

  @Test
  void rejectsInvalidKeysBeforeAnyNetworkCall() {
    client = clientOf(cluster).build();
    byte[] empty = new byte[0];
    byte[] system = {0x00, 'a'};
    byte[] tooLong = new byte[KeySpace.MAX_KEY_BYTES + 1];
    java.util.Arrays.fill(tooLong, (byte) 'k');
    List<ThrowingCallable> calls = new ArrayList<>();
    for (byte[] key : List.of(empty, system, tooLong)) {
      calls.add(() -> client.get(key));
      calls.add(() -> client.put(key, b("v")));
      calls.add(() -> client.delete(key));
      calls.add(() -> client.compareAndSet(key, null, b("v")));
      calls.add(
          () -> client.writeBatch(List.of(Mutation.put(b("ok"), b("v")), Mutation.delete(key))));
      calls.add(() -> client.async().get(key));
    }
    calls.add(() -> client.scan(system, new byte[0]));
    calls.add(() -> client.scan(new byte[0], system));

    for (ThrowingCallable call : calls) {
      assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> client.get(empty))
        .hasMessage("key \"\" is invalid: keys must not be empty");
    assertThatThrownBy(() -> client.put(system, b("v")))
        .hasMessageContaining("reserved for the system");
    assertThatThrownBy(() -> client.get(tooLong))
        .hasMessageContaining("8193 bytes, the maximum is 8192");
    assertThatThrownBy(() -> client.get(null)).isInstanceOf(NullPointerException.class);
    assertThat(cluster.connectionsAccepted()).isZero();
  }

  @Test
  void rejectsAValueThatCannotFitInOneFrame() {
    client = clientOf(cluster).build();

    assertThatThrownBy(() -> client.put(b("k"), new byte[16 << 20]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a request carries at most");
    assertThat(cluster.connectionsAccepted()).isZero();
  }

  @Test
  void builderRejectsBadSettings() {
    assertThatThrownBy(() -> BasaltClient.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one seed");
    assertThatThrownBy(() -> BasaltClient.connect("localhost"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'localhost' is not host:port");
    assertThatThrownBy(() -> BasaltClient.connect("localhost:http"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no numeric port");
    assertThatThrownBy(() -> BasaltClient.builder().callTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("callTimeout must be positive");
    assertThatThrownBy(() -> BasaltClient.builder().callTimeout(Duration.ofMinutes(6)))
        .as("a call must end well within the 10 minutes a node remembers its request id")
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("callTimeout must be at most PT5M");
    BasaltClient.builder().callTimeout(BasaltClient.Builder.MAX_CALL_TIMEOUT);
    assertThatThrownBy(() -> BasaltClient.builder().scanPageSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("scanPageSize must be positive");
  }

  @Test
  void pipelinesCallsOnOneConnectionAndMatchesAnswersInAnyOrder() throws Exception {
    for (int i = 0; i < 20; i++) {
      cluster.load(2, "k" + i, "v" + i);
    }
    client = clientOf(cluster).build();
    client.get(b("k0")); // warm the cache: the gets below go straight to node 1
    cluster.script((node, request) -> request.hasGet() ? Action.HOLD : Action.PASS);

    List<CompletableFuture<byte[]>> reads = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      reads.add(client.async().get(b("k" + i)));
    }
    cluster.awaitReceived(r -> r.isData() && r.request().hasGet(), 21, Duration.ofSeconds(5));
    assertThat(reads).noneMatch(CompletableFuture::isDone);
    cluster.releaseHeld(); // newest first

    for (int i = 0; i < 20; i++) {
      assertThat(s(reads.get(i).get(5, TimeUnit.SECONDS))).isEqualTo("v" + i);
    }
    assertThat(cluster.connectionsAccepted(1)).isEqualTo(1);
    assertThat(cluster.received(r -> r.isData() && r.request().hasGet()))
        .extracting(r -> r.request().getCallId())
        .doesNotHaveDuplicates();
  }

  @Test
  void greetsAsAClientAndThenNamesTheClusterItLearned() {
    client = clientOf(cluster, 1).build();

    client.put(b("x"), b("1")); // range 3, on node 2: a second connection

    List<Hello> hellos = cluster.clientHellos();
    assertThat(hellos).hasSize(2);
    assertThat(hellos).allSatisfy(h -> assertThat(h.getNodeId()).isZero());
    assertThat(hellos).allSatisfy(h -> assertThat(h.getProtocolVersion()).isEqualTo(1));
    assertThat(hellos.get(0).getClusterId()).isEmpty();
    assertThat(hellos.get(1).getClusterId()).isEqualTo(FakeCluster.CLUSTER_ID);
  }

  @Test
  void recordsLatencyRetriesAndCacheUseWhenGivenARegistry() throws Exception {
    cluster.close();
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "", 2, 1, 2);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    client = clientOf(cluster).meterRegistry(registry).build();

    client.put(b("k"), b("v")); // miss, lookup, NotLeader from node 1, then node 2
    client.get(b("k")); // hit

    assertThat(
            registry
                .get("basalt_client_request_seconds")
                .tags("method", "put", "outcome", "success")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get("basalt_client_request_seconds")
                .tags("method", "get", "outcome", "success")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get("basalt_client_retries_total")
                .tags("reason", "not_leader")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(registry.get("basalt_client_range_cache_misses_total").counter().count())
        .isEqualTo(1);
    assertThat(registry.get("basalt_client_range_cache_hits_total").counter().count()).isEqualTo(2);
    assertThat(cluster.received(Received::isData)).hasSize(3);
  }
}
