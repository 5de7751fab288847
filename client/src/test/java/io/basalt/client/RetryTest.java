package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static io.basalt.client.Fixtures.s;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.client.FakeCluster.Action;
import io.basalt.client.FakeCluster.Received;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retries, deadlines, request ids, and when a write's outcome is ambiguous.
 *
 * <p>Tests that count attempts until a deadline run the client on a {@link FakeTicker} that only
 * the fake nodes move ({@link #scriptTaking}), so the count does not depend on how fast the machine
 * is.
 */
class RetryTest {
  private static final Duration SHORT_TIMEOUT = Duration.ofMillis(300);

  /**
   * How far the fake clock moves per scripted attempt: a call with {@link #SHORT_TIMEOUT} makes
   * exactly three such attempts (at 0, 100 and 200 ms), the third using up its time.
   */
  private static final Duration STEP = Duration.ofMillis(100);

  private final FakeTicker ticker = new FakeTicker();
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
    scriptNth(kind, n -> action);
  }

  /** Applies {@code nth.apply(n)} to the n-th data request of {@code kind} (from 1). */
  private void scriptNth(Predicate<KvRequest> kind, IntFunction<Action> nth) {
    AtomicInteger seen = new AtomicInteger();
    cluster.script((node, request) ->
        request.getHeader().getRangeId() == 2 && kind.test(request)
            ? nth.apply(seen.incrementAndGet())
            : Action.PASS);
  }

  /**
   * Each data request of {@code kind} moves the fake clock on by {@link #STEP}, then gets {@code
   * action}: as if each took that long.
   */
  private void scriptTaking(Predicate<KvRequest> kind, Action action) {
    scriptNth(
        kind,
        n -> {
          ticker.advance(STEP);
          return action;
        });
  }

  /** A client on the fake clock, with {@link #SHORT_TIMEOUT} as its call timeout. */
  private BasaltClient.Builder onFakeClock() {
    return clientOf(cluster).ticker(ticker).callTimeout(SHORT_TIMEOUT);
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
    client = onFakeClock().build();
    // The answer's wait was set when the request went out; the deadline has passed when it ends.
    scriptNth(
        KvRequest::hasGet,
        n -> {
          ticker.advance(SHORT_TIMEOUT);
          return Action.SILENCE;
        });

    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasMessageContaining("get did not complete within 300 ms (1 attempts)");
    assertThat(cluster.received(RetryTest::isGet)).hasSize(1);
  }

  @Test
  void aReadOfAnUnavailableRangeIsRetriedUntilTheDeadline() {
    client = onFakeClock().build();
    scriptTaking(KvRequest::hasGet, new Action.Fail(FakeCluster.unavailable()));

    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(UnavailableException.class)
        .hasMessageContaining("no quorum");
    assertThat(cluster.received(RetryTest::isGet)).hasSize(3);
  }

  @Test
  void aWriteWithoutAnAnswerBeforeTheDeadlineIsAmbiguous() {
    client = onFakeClock().build();
    scriptNth(
        KvRequest::hasPut,
        n -> {
          ticker.advance(SHORT_TIMEOUT);
          return Action.SILENCE;
        });

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("put may or may not have been applied");
    assertThat(cluster.received(RetryTest::isPut)).hasSize(1);
  }

  @Test
  void aWriteWhoseConnectionKeepsBreakingIsAmbiguous() {
    client = onFakeClock().build();
    scriptTaking(KvRequest::hasDelete, Action.CLOSE);

    // Not applied in fact, but the client cannot know that.
    assertThatThrownBy(() -> client.delete(b("k")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasCauseInstanceOf(UnavailableException.class);
    assertThat(cluster.received(r -> r.isData() && r.request().hasDelete())).hasSize(3);
  }

  @Test
  void aWriteThatKeepsTimingOutIsAmbiguousAndAppliedOnce() {
    client = onFakeClock().build();
    scriptTaking(KvRequest::hasPut, new Action.ApplyThenFail(FakeCluster.timeout()));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("timed out");

    List<ByteString> ids = requestIds(RetryTest::isPut);
    assertThat(ids).hasSize(3).containsOnly(ids.get(0));
    assertThat(cluster.timesApplied(ids.get(0))).isEqualTo(1);
    assertThat(cluster.value(2, "k")).isEqualTo("v");
  }

  @Test
  void aWriteRefusedBeforeEvaluationUntilTheDeadlineIsNotAmbiguous() {
    client = onFakeClock().build();
    scriptTaking(KvRequest::hasPut, new Action.Fail(FakeCluster.unavailable()));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(UnavailableException.class);
    assertThat(cluster.received(RetryTest::isPut)).hasSize(3);
  }

  @Test
  void aWriteThatNeverFindsALeaderIsNotAmbiguous() {
    client = onFakeClock().build();
    scriptTaking(KvRequest::hasPut, new Action.Fail(FakeCluster.notLeaderWithoutHint(2)));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(DeadlineExceededException.class)
        .cause()
        .isInstanceOfSatisfying(
            NotLeaderException.class,
            e -> {
              assertThat(e.rangeId()).isEqualTo(2);
              assertThat(e.leaderHint()).isZero();
            });
    assertThat(cluster.received(RetryTest::isPut)).hasSize(3);
  }

  // ---- a write's outcome, once unknown, stays unknown -----------------------------------------

  @Test
  void aWriteWhoseFirstAttemptWentUnansweredStaysAmbiguousThoughEveryLaterOneIsRefused() {
    client = onFakeClock().attemptTimeout(Duration.ofMillis(50)).build();
    // The first attempt's answer never comes (it may have been applied); the three after it are
    // refused before evaluation until the deadline passes.
    scriptNth(
        KvRequest::hasPut,
        n -> {
          if (n == 1) {
            return Action.SILENCE;
          }
          ticker.advance(STEP);
          return new Action.Fail(FakeCluster.notLeaderWithoutHint(2));
        });

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("put may or may not have been applied")
        .hasCauseInstanceOf(NotLeaderException.class);
    assertThat(cluster.received(RetryTest::isPut)).hasSize(4);
  }

  @Test
  void aReadWhoseFirstAttemptWentUnansweredFailsWithDeadlineExceeded() {
    client = onFakeClock().attemptTimeout(Duration.ofMillis(50)).build();
    scriptNth(
        KvRequest::hasGet,
        n -> {
          if (n == 1) {
            return Action.SILENCE;
          }
          ticker.advance(STEP);
          return new Action.Fail(FakeCluster.notLeaderWithoutHint(2));
        });

    assertThatThrownBy(() -> client.get(b("k")))
        .isInstanceOf(DeadlineExceededException.class)
        .hasCauseInstanceOf(NotLeaderException.class);
    assertThat(cluster.received(RetryTest::isGet)).hasSize(4);
  }

  @Test
  void invalidArgumentAfterAnUnansweredAttemptIsAmbiguous() {
    client = onFakeClock().attemptTimeout(Duration.ofMillis(50)).build();
    scriptNth(
        KvRequest::hasPut,
        n ->
            n == 1
                ? Action.SILENCE
                : new Action.Fail(FakeCluster.generic("INVALID_ARGUMENT", "value too large")));

    // The refusal speaks for the second attempt only: the first may have been applied.
    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasCauseInstanceOf(InvalidArgumentException.class)
        .hasMessageContaining("value too large");
    assertThat(cluster.received(RetryTest::isPut)).hasSize(2);
  }

  @Test
  void aWriteAnsweredWithAnUnknownErrorCodeIsAmbiguous() {
    client = clientOf(cluster).build();
    // What a node answers when it cannot read the result it recorded for the request id: the
    // write was applied.
    script(
        KvRequest::hasPut,
        new Action.ApplyThenFail(
            FakeCluster.generic("INTERNAL", "stored result of range 2 unreadable")));

    assertThatThrownBy(() -> client.put(b("k"), b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("unreadable")
        .cause()
        .isExactlyInstanceOf(BasaltException.class)
        .extracting(e -> ((BasaltException) e).code())
        .isEqualTo("INTERNAL");
    List<ByteString> ids = requestIds(RetryTest::isPut);
    assertThat(ids).hasSize(1);
    assertThat(cluster.timesApplied(ids.get(0))).isEqualTo(1);
  }

  @Test
  void aWriteAnsweredWithAnErrorOfUnknownKindIsAmbiguous() {
    client = clientOf(cluster).build();
    // A newer node's error kind reaches this client as an error without detail.
    script(
        KvRequest::hasDelete, new Action.ApplyThenFail(io.basalt.api.Error.getDefaultInstance()));

    assertThatThrownBy(() -> client.delete(b("k")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("without detail");
    assertThat(cluster.received(r -> r.isData() && r.request().hasDelete())).hasSize(1);
  }

  @Test
  void aWriteAnsweredWithSomethingElseThanItsAnswerIsAmbiguous() {
    client = clientOf(cluster).build();
    script(
        request -> request.hasConditionalPut() || request.hasWriteBatch(),
        new Action.ApplyThenAnswer(KvResponse.getDefaultInstance()));

    assertThatThrownBy(() -> client.compareAndSet(b("k"), null, b("v")))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("compare_and_set may or may not have been applied")
        .hasMessageContaining("with RESPONSE_NOT_SET");
    assertThatThrownBy(() -> client.writeBatch(List.of(Mutation.put(b("a"), b("1")))))
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("write_batch may or may not have been applied");
  }

  @Test
  void aReadAnsweredWithSomethingElseThanItsAnswerFailsPlainly() {
    client = clientOf(cluster).build();
    script(KvRequest::hasGet, new Action.ApplyThenAnswer(KvResponse.getDefaultInstance()));

    assertThatThrownBy(() -> client.get(b("k")))
        .isExactlyInstanceOf(BasaltException.class)
        .hasMessageContaining("answered GET for range 2 with RESPONSE_NOT_SET");
    assertThat(cluster.received(RetryTest::isGet)).hasSize(1);
  }

  @Test
  void interruptingAThreadThatWaitsForAWriteIsAmbiguous() throws Exception {
    client = clientOf(cluster).callTimeout(Duration.ofSeconds(30)).build();
    script(KvRequest::hasPut, Action.SILENCE);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean stillInterrupted = new AtomicBoolean();
    Thread writer =
        new Thread(() -> {
          try {
            client.put(b("k"), b("v"));
          } catch (RuntimeException e) {
            thrown.set(e);
            stillInterrupted.set(Thread.currentThread().isInterrupted());
          }
        });
    writer.start();
    cluster.awaitReceived(RetryTest::isPut, 1, Duration.ofSeconds(5));

    writer.interrupt();
    writer.join();

    assertThat(thrown.get())
        .isInstanceOf(AmbiguousResultException.class)
        .hasMessageContaining("put may or may not have been applied: interrupted")
        .hasCauseInstanceOf(InterruptedException.class);
    assertThat(stillInterrupted).isTrue();
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
