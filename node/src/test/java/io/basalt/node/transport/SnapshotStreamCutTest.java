package io.basalt.node.transport;

import static io.basalt.node.transport.NodeTransportTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.SnapshotChunk;
import io.basalt.node.store.ReplicaSnapshotsAccess;
import io.basalt.node.transport.LinkedStores.ObservedStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A snapshot stream whose connection fails under it, between real transports on loopback (three
 * stores, {@link LinkedStores}; the link between nodes 1 and 2 runs through a {@link LinkProxy}).
 *
 * <p>The follower misses 16 MiB of writes while its link is cut, so the leader sends it a snapshot
 * of them; when the link is back the proxy forwards the stream's first 4 chunks and then stops
 * reading, so the stream stops mid-way (16 MiB is far more than the held connection can buffer: a 2
 * MiB write-buffer high water mark and a socket send buffer of at most 4 MiB); then the link is cut
 * under it. The leader's Raft core gives up on a snapshot nobody reports on after 10 election
 * timeouts (100 ticks); a leader that is told of the failure probes the follower again at its next
 * heartbeat and sends a new snapshot within a few ticks, which is what the bounds below tell apart.
 * The same holds when the follower's side of the connection is lost but the leader's is not, and
 * the follower dials again.
 */
class SnapshotStreamCutTest {
  private static final int VALUES = 128;
  private static final int VALUE_BYTES = 128 * 1024;
  private static final int HELD_AFTER_CHUNKS = 4;

  /** Far below the 100 ticks after which the core resends a snapshot nobody reported on. */
  private static final int RETRY_WITHIN_TICKS = 30;

  private LinkedStores cluster;
  private List<String> keys;

  @BeforeEach
  void start() throws Exception {
    cluster = new LinkedStores();
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
    assertThat(cluster.inboundFailures).as("failures of stores handling what arrived").isEmpty();
  }

  /**
   * Node {@code leader} leads; node {@code follower}, cut off from it since before the election,
   * misses 16 MiB of writes; the link comes back, held {@code towardsFollower} after the first
   * chunks of the snapshot the leader then streams. Returns that stream, stopped mid-way.
   */
  private ObservedStream streamStoppedMidWay(
      int leader, int follower, LinkProxy.Direction towardsFollower) throws Exception {
    cluster.pingLinkOneTwo = false;
    cluster.link.cut();
    cluster.awaitDisconnected(1, 2);
    cluster.elect(leader);
    keys = cluster.write(leader, VALUES, VALUE_BYTES);
    CompletableFuture<Void> held =
        cluster.link.holdAfterSnapshotFrames(towardsFollower, HELD_AFTER_CHUNKS);
    cluster.link.restore();
    // The dialer comes back on its own (real-time) backoff, which grew while the link was cut;
    // ticks are not time, so they wait for the connection (CI once ran out of ticks before it).
    cluster.awaitConnected(1, 2);
    tickUntil(held::isDone, 300, "the proxy holds the snapshot stream after its first chunks");
    List<ObservedStream> streams = streamsTo(follower);
    assertThat(streams).as("snapshot streams to node %d", follower).hasSize(1);
    ObservedStream stream = streams.getFirst();
    assertThat(stream.lastPulled)
        .as("the stream stopped mid-way (it must be larger than a held connection buffers)")
        .isFalse();
    assertThat(cluster.engines[leader].openViews.get())
        .as("the stream holds its engine view")
        .isEqualTo(1);
    return stream;
  }

  private List<ObservedStream> streamsTo(long node) {
    return cluster.streams.stream().filter(s -> s.toNode == node).toList();
  }

  /** Ticks every node until {@code done} (at most {@code maxTicks}); returns the ticks taken. */
  private int tickUntil(BooleanSupplier done, int maxTicks, String what) throws Exception {
    for (int t = 0; t < maxTicks; t++) {
      if (done.getAsBoolean()) {
        return t;
      }
      cluster.tickAll();
    }
    if (done.getAsBoolean()) {
      return maxTicks;
    }
    throw new AssertionError(
        "not within " + maxTicks + " ticks: " + what + cluster.describeSnapshots());
  }

  /**
   * Ticks every node until {@code follower} applied what {@code leader} has (at most {@link
   * #RETRY_WITHIN_TICKS}); returns the ticks taken.
   */
  private int tickUntilCaughtUp(int follower, int leader) throws Exception {
    long target = cluster.applied(leader);
    return tickUntil(
        () -> {
          try {
            return cluster.applied(follower) >= target;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        },
        RETRY_WITHIN_TICKS,
        "node " + follower + " applies what node " + leader + " applied (" + target + ")");
  }

  /** Cuts the link under a stopped stream and waits until the leader's transport aborted it. */
  private void cutUnder(ObservedStream stream) throws Exception {
    cluster.link.cut();
    cluster.awaitDisconnected(1, 2);
    await(() -> stream.abortReason != null, "the leader's transport aborts the stream");
  }

  /** Restores the link and waits until both nodes use it. */
  private void restoreLink() throws Exception {
    cluster.link.restore();
    cluster.awaitConnected(1, 2);
    cluster.pingLinkOneTwo = true;
  }

  @Test
  void aStreamWhoseConnectionIsLostIsAbortedAndReleasesItsView() throws Exception {
    ObservedStream stream = streamStoppedMidWay(1, 2, LinkProxy.Direction.DIALER_TO_ACCEPTOR);
    cutUnder(stream);
    assertThat(stream.abortReason).isEqualTo("connection to node 2 lost");
    assertThat(cluster.engines[1].openViews.get()).as("engine views still open").isZero();
    assertThat(stream.next()).as("an aborted stream has no more chunks").isNull();
  }

  @Test
  void aStreamThatAnOpenConnectionNeverTakesIsGivenUp() throws Exception {
    // The connection stays open and is simply never read again: no disconnect will come. (The
    // store aborts the stream itself, not through the transport, so the observer does not see it.)
    streamStoppedMidWay(1, 2, LinkProxy.Direction.DIALER_TO_ACCEPTOR);
    int stallTicks = (int) (ReplicaSnapshotsAccess.STREAM_STALL_NANOS / LinkedStores.TICK_NANOS);
    int ticks =
        tickUntil(
            () ->
                cluster.snapshotEvents.get(1).stream()
                    .anyMatch(ev -> ev.startsWith("not sent to 2: no chunk taken")),
            stallTicks + 20,
            "node 1's store gives the stream up");
    // Counted from when the hold was seen; the last chunk was taken a few ticks before that.
    assertThat(ticks)
        .as("not given up long before the stall allowance")
        .isGreaterThanOrEqualTo(stallTicks / 2);
    assertThat(cluster.engines[1].openViews.get()).as("engine views still open").isZero();
  }

  @Test
  void theLeaderIsToldOfTheLostStreamAndSendsAnotherOnceTheLinkIsBack() throws Exception {
    ObservedStream cut = streamStoppedMidWay(1, 2, LinkProxy.Direction.DIALER_TO_ACCEPTOR);
    cutUnder(cut);
    cluster.tick(1);
    assertThat(cluster.snapshotEvents.get(1))
        .as("what node 1's store reported")
        .containsExactly("not sent to 2: connection to node 2 lost");
    restoreLink();
    int ticks =
        tickUntil(
            () -> streamsTo(2).size() == 2 && streamsTo(2).get(1).lastPulled,
            RETRY_WITHIN_TICKS,
            "node 1 streams node 2 a whole new snapshot");
    System.out.printf("new snapshot streamed %d ticks after the link came back%n", ticks);
    assertThat(streamsTo(2).get(1).abortReason).isNull();
  }

  @Test
  void theMetersCountTheLostStreamAsFailedAndTheWholeOneWithTheBytesThatArrived() throws Exception {
    ObservedStream cut = streamStoppedMidWay(1, 2, LinkProxy.Direction.DIALER_TO_ACCEPTOR);
    cutUnder(cut);
    cluster.tick(1);
    assertThat(cluster.counter(1, "basalt_raft_snapshots_failed_total"))
        .as("basalt_raft_snapshots_failed_total")
        .isEqualTo(1);
    assertThat(cluster.counter(1, "basalt_raft_snapshots_sent_total"))
        .as("basalt_raft_snapshots_sent_total")
        .isZero();
    assertThat(cluster.counter(1, "basalt_raft_snapshot_sent_bytes_total"))
        .as("basalt_raft_snapshot_sent_bytes_total")
        .isZero();
    restoreLink();
    tickUntil(
        () -> cluster.snapshotEvents.get(1).size() == 2,
        RETRY_WITHIN_TICKS,
        "node 1 reports a second snapshot stream");
    // What node 2 received of the stream that ended with a last chunk.
    List<SnapshotChunk> received = cluster.chunksReceived.get(2);
    long completeId =
        received.stream().filter(SnapshotChunk::getLast).findFirst().orElseThrow().getSnapshotId();
    long bytesArrived =
        received.stream()
            .filter(c -> c.getSnapshotId() == completeId)
            .mapToLong(c -> c.getData().size())
            .sum();
    assertThat(bytesArrived)
        .as("the snapshot holds the writes")
        .isGreaterThan((long) VALUES * VALUE_BYTES);
    assertThat(cluster.counter(1, "basalt_raft_snapshots_failed_total"))
        .as("basalt_raft_snapshots_failed_total")
        .isEqualTo(1);
    assertThat(cluster.counter(1, "basalt_raft_snapshots_sent_total"))
        .as("basalt_raft_snapshots_sent_total")
        .isEqualTo(1);
    assertThat(cluster.counter(1, "basalt_raft_snapshot_sent_bytes_total"))
        .as("basalt_raft_snapshot_sent_bytes_total")
        .isEqualTo((double) bytesArrived);
  }

  @Test
  void aFollowerWhoseStreamWasCutCatchesUpOnceTheLinkIsBack() throws Exception {
    ObservedStream cut = streamStoppedMidWay(1, 2, LinkProxy.Direction.DIALER_TO_ACCEPTOR);
    long partial = cluster.chunksReceived.get(2).size();
    cutUnder(cut);
    restoreLink();
    int ticks = tickUntilCaughtUp(2, 1);
    System.out.printf(
        "node 2 caught up %d ticks after the link came back (%d chunks arrived before the cut)%n",
        ticks, partial);
    assertThat(partial).as("chunks of the cut stream that reached node 2").isPositive();
    assertThat(cluster.snapshotEvents.get(2)).singleElement().asString().startsWith("installed");
    for (int k = 0; k < keys.size(); k++) {
      assertThat(cluster.readLocal(2, keys.get(k)))
          .as("node 2's %s", keys.get(k))
          .isEqualTo(LinkedStores.value(k, VALUE_BYTES));
    }
  }

  /**
   * The accepting node's connection can be replaced while it is still open: the dialer lost its
   * side (it restarted, or a partition ate the close) and dialed again. What the accepting leader
   * wrote of a stream into the old connection is lost with it; the stream must not go on in the new
   * connection from where it was (the follower drops a stream with a gap, and the leader, believing
   * it sent, would wait for its core's timeout).
   */
  @Test
  void aStreamIsAbortedWhenThePeerReplacesItsConnection() throws Exception {
    ObservedStream stream = streamStoppedMidWay(2, 1, LinkProxy.Direction.ACCEPTOR_TO_DIALER);
    int connections = cluster.link.connectionsAccepted();
    cluster.link.dropDialerSide();
    await(
        () ->
            cluster.link.connectionsAccepted() == connections + 1
                && cluster.transports[1].connected(2),
        "node 1 dials node 2 again");
    // Node 2 answers node 1's ping on the connection it received it on: the new one.
    cluster.ping(1, 2).get(20, TimeUnit.SECONDS);
    cluster.pingLinkOneTwo = true;
    int ticks = tickUntilCaughtUp(1, 2);
    System.out.printf("node 1 caught up %d ticks after it dialed again%n", ticks);
    assertThat(stream.abortReason).isEqualTo("connection to node 1 replaced");
    cluster.tick(2); // its store reports the streams that ended at its ticks
    assertThat(cluster.counter(2, "basalt_raft_snapshots_failed_total"))
        .as("basalt_raft_snapshots_failed_total")
        .isEqualTo(1);
    assertThat(cluster.counter(2, "basalt_raft_snapshots_sent_total"))
        .as("basalt_raft_snapshots_sent_total")
        .isEqualTo(1);
  }
}
