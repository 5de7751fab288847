package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static io.basalt.client.Fixtures.s;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.client.FakeCluster.Action;
import io.basalt.client.FakeCluster.Received;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Retries, deadlines, request ids, and when a write's outcome is ambiguous. */
class RetryTest {
  private static final Duration SHORT_TIMEOUT = Duration.ofMillis(300);

  private FakeCluster cluster;
  private BasaltClient client;

  @BeforeEach
  void setUp() throws Exception {
    cluster = FakeCluster.start(1).meta(1, 1).range(2, "", "", 1, 1);
  }

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    cluster.close();
  }

  private static boolean isPut(Received r) {
    return r.isData() && r.request().hasPut();
  }

  private static boolean isGet(Received r) {
    return r.isData() && r.request().hasGet();
  }

  /** Applies {@code action} to data requests of {@code kind}; everything else passes. */
  private void script(Predicate<KvRequest> kind, Action action) {
    cluster.script((node, request) ->
        request.getHeader().getRangeId() == 2 && kind.test(request) ? action : Action.PASS);
  }

  /** Applies {@code action} to the first data request of {@code kind} only. */
  private void scriptOnce(Predicate<KvRequest> kind, Action action) {
    AtomicBoolean done = new AtomicBoolean();
    cluster.script((node, request) ->
        request.getHeader().getRangeId() == 2 && kind.test(request) && !done.getAndSet(true)
            ? action
            : Action.PASS);
  }

  private List<ByteString> requestIds(Predicate<Received> filter) {
    return cluster.received(filter).stream()
        .map(r -> r.request().getHeader().getRequestId())
        .toList();
  }

  @Test
  void retriesAWriteWhoseAnswerWasLostUnderTheSameRequestIdAndItAppliesOnce() {
    client = clientOf(cluster).build();
    scriptOnce(KvRequest::hasPut, Action.APPLY_THEN_CLOSE);

    client.put(b("k"), b("v"));

    List<ByteString> ids = requestIds(RetryTest::isPut);
    assertThat(ids).hasSize(2);
    assertThat(ids.get(0).size()).isEqualTo(16);
    assertThat(ids.get(1)).isEqualTo(ids.get(0));
    assertThat(cluster.timesApplied(ids.get(0))).isEqualTo(1);
    assertThat(cluster.value(2, "k")).isEqualTo("v");
  }

  @Test
  void aRetriedCompareAndSetReportsTheOutcomeOfItsFirstApplication() {
    client = clientOf(cluster).build();
    scriptOnce(KvRequest::hasConditionalPut, Action.APPLY_THEN_CLOSE);

    // Applied by the first attempt; a retry evaluated afresh would fail the comparison.
    assertThat(client.compareAndSet(b("k"), null, b("v"))).isTrue();
    assertThat(cluster.received(r -> r.isData() && r.request().hasConditionalPut())).hasSize(2);
  }

  @Test
  void givesEveryWriteItsOwnRequestIdAndReadsNone() {
    client = clientOf(cluster).build();

    client.put(b("a"), b("1"));
    client.put(b("b"), b("2"));
    client.delete(b("a"));
    client.get(b("b"));

    List<ByteString> ids = requestIds(r -> r.isData() && !r.request().hasGet());
    assertThat(ids).hasSize(3).doesNotHaveDuplicates();
    assertThat(ids).allSatisfy(id -> assertThat(id.size()).isEqualTo(16));
    // One client: the first 8 bytes are the same, the sequence differs.
    assertThat(ids).extracting(id -> id.substring(0, 8)).containsOnly(ids.get(0).substring(0, 8));
    assertThat(requestIds(RetryTest::isGet)).containsExactly(ByteString.EMPTY);
  }

  @Test
  void retriesAReadWhoseConnectionBroke() {
    cluster.load(2, "k", "v");
    client = clientOf(cluster).build();
    scriptOnce(KvRequest::hasGet, Action.CLOSE);

    assertThat(s(client.get(b("k")))).isEqualTo("v");
    assertThat(cluster.received(RetryTest::isGet)).hasSize(2);
    assertThat(cluster.connectionsAccepted(1)).isEqualTo(2);
  }

  @Test
  void aReadWithoutAnAnswerFailsWithDeadlineExceededAtTheDeadline() {
    client = clientOf(cluster).callTimeout(SHORT_TIMEOUT).build();
    script(KvRequest::hasGet, Action.SILENCE);

    long start = System.nanoTime();
    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasMessageContaining("get did not complete within 300 ms");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(SHORT_TIMEOUT);
  }

  @Test
  void aReadOfAnUnavailableRangeIsRetriedUntilTheDeadline() {
    client = clientOf(cluster).callTimeout(SHORT_TIMEOUT).build();
    script(KvRequest::hasGet, new Action.Fail(FakeCluster.unavailable()));

    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(UnavailableException.class)
        .hasMessageContaining("no quorum");
    assertThat(cluster.received(RetryTest::isGet).size()).isGreaterThan(2);
  }

  @Test
  void aWriteWithoutAnAnswerBeforeTheDeadlineIsAmbiguous() {
    client = clientOf(cluster).callTimeout(SHORT_TIMEOUT).build();
    script(KvRequest::hasPut, Action.SILENCE);

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("put may or may not have been applied");
  }

  @Test
  void aWriteWhoseConnectionKeepsBreakingIsAmbiguous() {
    client = clientOf(cluster).callTimeout(SHORT_TIMEOUT).build();
    script(KvRequest::hasDelete, Action.CLOSE);

    // Not applied in fact, but the client cannot know that.
    assertThatThrownBy(() -> client.delete(b("k")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasCauseInstanceOf(UnavailableException.class);
    assertThat(cluster.received(r -> r.isData() && r.request().hasDelete()).size())
        .isGreaterThan(1);
  }

  @Test
  void aWriteThatKeepsTimingOutIsAmbiguousAndAppliedOnce() {
    client = clientOf(cluster).callTimeout(SHORT_TIMEOUT).build();
    script(KvRequest::hasPut, new Action.ApplyThenFail(FakeCluster.timeout()));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("timed out");

    List<ByteString> ids = requestIds(RetryTest::isPut);
    assertThat(ids.size()).isGreaterThan(1);
    assertThat(ids).containsOnly(ids.get(0));
    assertThat(cluster.timesApplied(ids.get(0))).isEqualTo(1);
    assertThat(cluster.value(2, "k")).isEqualTo("v");
  }

  /**
   * A client whose second retry wait always straddles the deadline: the first attempt is refused,
   * the second comes after 100–200 ms and is refused too, and the next wait (200–400 ms) is cut
   * short by the 300 ms deadline. So no attempt is in flight when the deadline passes, which would
   * make a write ambiguous for real.
   */
  private BasaltClient deadlinePassesDuringABackoff() {
    return clientOf(cluster)
        .callTimeout(SHORT_TIMEOUT)
        .initialRetryBackoff(Duration.ofMillis(200))
        .maxRetryBackoff(Duration.ofSeconds(10))
        .build();
  }

  @Test
  void aWriteRefusedBeforeEvaluationUntilTheDeadlineIsNotAmbiguous() {
    client = deadlinePassesDuringABackoff();
    script(KvRequest::hasPut, new Action.Fail(FakeCluster.unavailable()));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(UnavailableException.class);
    assertThat(cluster.received(RetryTest::isPut)).hasSize(2);
  }

  @Test
  void aWriteThatNeverFindsALeaderIsNotAmbiguous() {
    client = deadlinePassesDuringABackoff();
    script(KvRequest::hasPut, new Action.Fail(FakeCluster.notLeaderWithoutHint(2)));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(DeadlineExceededException.class)
        .cause()
        .isInstanceOfSatisfying(
            NotLeaderException.class,
            e -> {
              assertThat(e.rangeId()).isEqualTo(2);
              assertThat(e.leaderHint()).isZero();
            });
    assertThat(cluster.received(RetryTest::isPut)).hasSize(2);
  }

  @Test
  void invalidArgumentIsNotRetried() {
    client = clientOf(cluster).build();
    script(
        KvRequest::hasPut,
        new Action.Fail(FakeCluster.generic("INVALID_ARGUMENT", "value too large")));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(InvalidArgumentException.class)
        .hasMessageContaining("value too large")
        .extracting(e -> ((BasaltException) e).code())
        .isEqualTo("INVALID_ARGUMENT");
    assertThat(cluster.received(RetryTest::isPut)).hasSize(1);
  }

  @Test
  void anUnknownErrorCodeIsNotRetried() {
    client = clientOf(cluster).build();
    script(KvRequest::hasGet, new Action.Fail(FakeCluster.generic("INTERNAL", "disk on fire")));

    assertThatThrownBy(() -> client.get(b("k")))
        .isExactlyInstanceOf(BasaltException.class)
        .hasMessageContaining("disk on fire")
        .extracting(e -> ((BasaltException) e).code())
        .isEqualTo("INTERNAL");
    assertThat(cluster.received(RetryTest::isGet)).hasSize(1);
  }

  @Test
  void anUnreachableClusterFailsWithDeadlineExceeded() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    client =
        BasaltClient.builder()
            .seeds("127.0.0.1:" + closedPort)
            .callTimeout(SHORT_TIMEOUT)
            .maxRetryBackoff(Duration.ofMillis(40))
            .build();

    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(UnavailableException.class)
        .hasMessageContaining("127.0.0.1:" + closedPort);
  }

  @Test
  void closingTheClientEndsCallsInFlight() throws Exception {
    client = clientOf(cluster).callTimeout(Duration.ofSeconds(30)).build();
    script(request -> true, Action.SILENCE);
    CompletableFuture<byte[]> read = client.async().get(b("k"));
    CompletableFuture<Void> write = client.async().put(b("k"), b("v"));
    cluster.awaitReceived(r -> r.isData(), 2, Duration.ofSeconds(5));

    client.close();

    assertThatThrownBy(() -> read.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isExactlyInstanceOf(BasaltException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> write.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(AmbiguousResultException.class);
    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(BasaltException.class)
        .hasMessageContaining("closed");
  }
}
