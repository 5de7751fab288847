package io.basalt.client;

import static io.basalt.client.Fixtures.b;
import static io.basalt.client.Fixtures.clientOf;
import static io.basalt.client.Fixtures.s;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Scans page through each range and go on across range boundaries. */
class ScanTest {
  private FakeCluster cluster;
  private BasaltClient client;

  /** Keys "a1", "a2", "b1", … "z2", loaded into ranges 2 [.., h), 3 [h, p), 4 [p, ..). */
  private final List<String> allKeys = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    cluster =
        FakeCluster.start(3)
            .meta(1, 1)
            .range(2, "", "h", 1, 1)
            .range(3, "h", "p", 2, 2)
            .range(4, "p", "", 3, 3);
    client = clientOf(cluster).scanPageSize(3).build();
  }

  private void loadAll() {
    for (char c = 'a'; c <= 'z'; c++) {
      for (int i = 1; i <= 2; i++) {
        String key = "" + c + i;
        allKeys.add(key);
        cluster.load(c < 'h' ? 2 : c < 'p' ? 3 : 4, key, "v" + key);
      }
    }
  }

  @AfterEach
  void tearDown() {
    client.close();
    cluster.close();
  }

  private static List<String> keys(Iterable<KeyValue> kvs) {
    List<String> keys = new ArrayList<>();
    for (KeyValue kv : kvs) {
      assertThat(s(kv.value())).isEqualTo("v" + s(kv.key()));
      keys.add(s(kv.key()));
    }
    return keys;
  }

  private long scanRequestsTo(long rangeId) {
    return cluster
        .received(r -> r.isData() && r.rangeId() == rangeId && r.request().hasScan())
        .size();
  }

  @Test
  void returnsEveryKeyInOrderAcrossRangesOnePageAtATime() {
    loadAll();

    assertThat(keys(client.scan(new byte[0], new byte[0]))).isEqualTo(allKeys);

    // 14, 16 and 22 keys in pages of 3: 5, 6 and 8 requests; no page re-read.
    assertThat(scanRequestsTo(2)).isEqualTo(5);
    assertThat(scanRequestsTo(3)).isEqualTo(6);
    assertThat(scanRequestsTo(4)).isEqualTo(8);
    assertThat(cluster.received(r -> r.isData() && r.request().hasScan()))
        .allSatisfy(r -> assertThat(r.request().getScan().getLimit()).isEqualTo(3));
  }

  @Test
  void startsAtTheStartKeyAndStopsBeforeTheEndKey() {
    loadAll();

    List<String> expected = allKeys.subList(allKeys.indexOf("c2"), allKeys.indexOf("q1"));
    assertThat(keys(client.scan(b("c2"), b("q1")))).isEqualTo(expected);
    assertThat(keys(client.scan(b("c2"), b("c2")))).isEmpty();
  }

  @Test
  void crossesRangesThatHoldNoKeys() {
    cluster.load(2, "a", "va");
    cluster.load(4, "z", "vz");

    assertThat(keys(client.scan(new byte[0], new byte[0]))).containsExactly("a", "z");
    assertThat(scanRequestsTo(3)).isEqualTo(1);
  }

  @Test
  void returnsAtMostTheLimit() {
    loadAll();

    assertThat(keys(client.scan(new byte[0], new byte[0], 7))).isEqualTo(allKeys.subList(0, 7));
    assertThat(keys(client.scan(b("g1"), new byte[0], 1000))).isEqualTo(allKeys.subList(12, 52));
  }

  @Test
  void asyncScanCollectsAcrossRanges() throws Exception {
    loadAll();

    List<KeyValue> kvs = client.async().scan(b("f"), b("r"), 100).get(5, TimeUnit.SECONDS);

    assertThat(keys(kvs)).isEqualTo(allKeys.subList(allKeys.indexOf("f1"), allKeys.indexOf("r1")));
  }

  @Test
  void goesOnAcrossASplitThatHappensMidScan() {
    loadAll();
    Iterator<KeyValue> scan = client.scan(new byte[0], new byte[0]).iterator();
    List<String> seen = new ArrayList<>();
    while (!seen.contains("h1")) {
      seen.add(s(scan.next().key()));
    }

    cluster.split(3, "l", 5, 2, 2);
    scan.forEachRemaining(kv -> seen.add(s(kv.key())));

    assertThat(seen).isEqualTo(allKeys);
    assertThat(scanRequestsTo(5)).isPositive();
  }

  @Test
  void rejectsAStartAfterTheEnd() {
    assertThatThrownBy(() -> client.scan(b("b"), b("a")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("start \"b\" is after end \"a\"");
    assertThat(cluster.connectionsAccepted()).isZero();
  }

  @Test
  void clipsEachPageToItsRange() {
    loadAll();
    keys(client.scan(b("a"), b("y")));

    assertThat(cluster.received(r -> r.isData() && r.rangeId() == 2))
        .allSatisfy(
            r -> assertThat(r.request().getScan().getEndKey().toStringUtf8()).isEqualTo("h"));
    assertThat(cluster.received(r -> r.isData() && r.rangeId() == 3))
        .allSatisfy(
            r -> assertThat(r.request().getScan().getEndKey().toStringUtf8()).isEqualTo("p"));
    assertThat(cluster.received(r -> r.isData() && r.rangeId() == 4))
        .allSatisfy(
            r -> assertThat(r.request().getScan().getEndKey().toStringUtf8()).isEqualTo("y"));
  }
}
