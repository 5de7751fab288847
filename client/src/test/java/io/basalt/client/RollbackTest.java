package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A rollback is best effort and never replaces the failure that caused it: when it cannot even find
 * the ranges of the keys it must release (the meta range does not answer), it gives up like any
 * other unanswered rollback (whoever meets the intents resolves them by the record) and the caller
 * sees its own exception. Found by the transaction simulation's slow links.
 */
class RollbackTest {
  private FakeCluster cluster;
  private BasaltClient client;

  @BeforeEach
  void setUp() throws Exception {
    // "a" in range 2 on node 1; "z" in range 3 on node 2.
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "m", 1, 1).range(3, "m", "", 2, 2);
    client =
        clientOf(cluster)
            .callTimeout(Duration.ofMillis(400))
            .attemptTimeout(Duration.ofMillis(100))
            .build();
  }

  @AfterEach
  void tearDown() {
    client.close();
    cluster.close();
  }

  @Test
  void aRollbackThatCannotLookUpItsRangesLeavesTheCallersFailure() {
    AtomicInteger metaLookups = new AtomicInteger();
    cluster.script((node, request) ->
        request.getHeader().getRangeId() == io.basalt.api.KeySpace.META_RANGE_ID
                && !request.hasNodeInfo()
                && metaLookups.incrementAndGet() > 1
            ? FakeCluster.Action.SILENCE // the meta range stops answering after "a"'s lookup
            : FakeCluster.Action.PASS);
    assertThatThrownBy(() ->
            client.txn(tx -> {
              tx.getForUpdate(b("a")); // locks "a": the rollback must release it
              tx.put(b("z"), b("v")); // buffered: its range not looked up yet
              throw new IllegalStateException("the caller's own failure");
            }))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the caller's own failure");
  }
}
