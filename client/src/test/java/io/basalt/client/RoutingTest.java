package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static io.basalt.client.Fixtures.s;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.client.FakeCluster.Action;
import io.basalt.client.FakeCluster.Received;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** How requests find their range and its leader: meta lookups, the cache, redirects. */
class RoutingTest {
  private FakeCluster cluster;
  private BasaltClient client;

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  /** (node, range) of every data request, in order. */
  private List<String> dataRoutes() {
    return cluster.received(Received::isData).stream()
        .map(r -> "n" + r.nodeId() + "/r" + r.rangeId())
        .toList();
  }

  private List<Long> metaLookupNodes() {
    return cluster.received(Received::isMetaLookup).stream().map(Received::nodeId).toList();
  }

  @Test
  void routesEachKeyToTheLeaderOfTheRangeHoldingIt() throws Exception {
    cluster =
        FakeCluster.start(3)
            .meta(1, 1)
            .range(2, "", "h", 1, 1)
            .range(3, "h", "p", 2, 2)
            .range(4, "p", "", 3, 3);
    client = clientOf(cluster).build();

    client.put(b("apple"), b("1"));
    client.put(b("mango"), b("2"));
    client.put(b("zebra"), b("3"));

    assertThat(cluster.value(2, "apple")).isEqualTo("1");
    assertThat(cluster.value(3, "mango")).isEqualTo("2");
    assertThat(cluster.value(4, "zebra")).isEqualTo("3");
    assertThat(dataRoutes()).containsExactly("n1/r2", "n2/r3", "n3/r4");
    assertThat(s(client.get(b("mango")))).isEqualTo("2");
    assertThat(client.get(b("kiwi"))).isNull();
  }

  @Test
  void looksEachRangeUpOnceThenRoutesFromTheCache() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "m", 1, 1).range(3, "m", "", 2, 2);
    client = clientOf(cluster).build();

    for (int round = 0; round < 3; round++) {
      client.put(b("a" + round), b("x"));
      client.put(b("z" + round), b("y"));
      client.get(b("b" + round));
    }

    assertThat(cluster.received(Received::isMetaLookup)).hasSize(2);
    assertThat(cluster.received(Received::isData)).hasSize(9);
  }

  @Test
  void learnsTheAddressesOfNodesBeyondTheSeedsFromNodeInfo() throws Exception {
    cluster = FakeCluster.start(3).meta(1, 1).range(2, "", "", 3, 3);
    client = clientOf(cluster, 1).build();

    client.put(b("k"), b("v"));

    assertThat(cluster.received(r -> r.request().hasNodeInfo()))
        .extracting(Received::nodeId)
        .containsExactly(1L);
    assertThat(dataRoutes()).containsExactly("n3/r2");
    assertThat(cluster.value(2, "k")).isEqualTo("v");
  }

  @Test
  void findsTheMetaRangeLeaderFromANodeWithoutAMetaReplica() throws Exception {
    // Node 1 has no meta replica (RangeNotFound), node 2 is a follower (NotLeader → 3).
    cluster = FakeCluster.start(3).meta(3, 2, 3).range(2, "", "m", 1, 1).range(3, "m", "", 2, 2);
    client = clientOf(cluster, 1).build();

    client.put(b("a"), b("1"));
    assertThat(metaLookupNodes()).containsExactly(1L, 2L, 3L);

    client.put(b("z"), b("2"));
    assertThat(metaLookupNodes()).containsExactly(1L, 2L, 3L, 3L);
    assertThat(cluster.value(3, "z")).isEqualTo("2");
  }

  @Test
  void followsTheNotLeaderHintToTheLeaderAndRemembersIt() throws Exception {
    cluster = FakeCluster.start(3).meta(1, 1).range(2, "", "", 3, 1, 2, 3);
    client = clientOf(cluster).build();

    client.put(b("k"), b("v"));
    assertThat(dataRoutes()).containsExactly("n1/r2", "n3/r2");

    assertThat(s(client.get(b("k")))).isEqualTo("v");
    assertThat(dataRoutes()).containsExactly("n1/r2", "n3/r2", "n3/r2");
  }

  @Test
  void triesTheNextReplicaWhenNotLeaderNamesNoLeader() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "", 2, 1, 2);
    cluster.script((node, request) ->
        node == 1 && request.getHeader().getRangeId() == 2
            ? new Action.Fail(FakeCluster.notLeaderWithoutHint(2))
            : Action.PASS);
    client = clientOf(cluster).build();

    client.put(b("k"), b("v"));

    assertThat(dataRoutes()).containsExactly("n1/r2", "n2/r2");
    assertThat(cluster.value(2, "k")).isEqualTo("v");
  }

  @Test
  void looksTheRangeUpAgainWhenTheCachedLeaderNoLongerHasAReplica() throws Exception {
    cluster = FakeCluster.start(3).meta(1, 1).range(2, "", "", 1, 1);
    client = clientOf(cluster).build();
    client.put(b("k"), b("v1"));

    cluster.move(2, 3, 2, 3);
    client.put(b("k"), b("v2"));

    // Cached leader 1 → RangeNotFound; fresh descriptor → 2 (follower) → hint → 3.
    assertThat(dataRoutes()).containsExactly("n1/r2", "n1/r2", "n2/r2", "n3/r2");
    assertThat(cluster.received(Received::isMetaLookup)).hasSize(2);
    assertThat(cluster.value(2, "k")).isEqualTo("v2");
  }

  @Test
  void takesTheCurrentDescriptorFromKeyNotInRangeAfterASplit() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "", 1, 1);
    client = clientOf(cluster).build();
    client.put(b("b"), b("1"));

    cluster.split(2, "m", 5, 2, 2);
    client.put(b("x"), b("2"));

    assertThat(dataRoutes()).containsExactly("n1/r2", "n1/r2", "n2/r5");
    assertThat(cluster.value(5, "x")).isEqualTo("2");
    assertThat(cluster.value(2, "x")).isNull();

    // Range 2's new span came with the error: no lookup needed for it.
    assertThat(s(client.get(b("b")))).isEqualTo("1");
    assertThat(cluster.received(Received::isMetaLookup)).hasSize(2);
  }

  @Test
  void looksTheRangeUpAgainWhenKeyNotInRangeCarriesNoDescriptor() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "", 1, 1);
    cluster.currentInKeyNotInRange(false);
    client = clientOf(cluster).build();
    client.put(b("b"), b("1"));

    cluster.split(2, "m", 5, 2, 2);
    client.put(b("x"), b("2"));
    assertThat(s(client.get(b("b")))).isEqualTo("1");

    assertThat(dataRoutes()).containsExactly("n1/r2", "n1/r2", "n2/r5", "n1/r2");
    assertThat(cluster.received(Received::isMetaLookup)).hasSize(3);
    assertThat(cluster.value(5, "x")).isEqualTo("2");
  }

  @Test
  void skipsANodeThatIsNotServing() throws Exception {
    cluster = FakeCluster.start(2).meta(1, 1).range(2, "", "", 1, 1, 2);
    client = clientOf(cluster).build();
    client.put(b("a"), b("1"));

    cluster.setLeader(2, 2);
    cluster.script((node, request) ->
        node == 1 && request.getHeader().getRangeId() == 2
            ? new Action.Fail(FakeCluster.generic("NOT_SERVING", "clock offset too large"))
            : Action.PASS);
    client.put(b("b"), b("2"));
    client.put(b("c"), b("3"));

    assertThat(dataRoutes()).containsExactly("n1/r2", "n1/r2", "n2/r2", "n2/r2");
    assertThat(cluster.value(2, "c")).isEqualTo("3");
  }
}
