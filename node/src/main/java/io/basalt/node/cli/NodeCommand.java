package io.basalt.node.cli;

import io.basalt.api.DecommissionNodeRequest;
import io.basalt.api.DecommissionNodeResponse;
import io.basalt.api.DrainNodeRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.StatusResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code basalt node decommission|recommission|drain N --host H}: operator commands on a node. */
@Command(
    name = "node",
    description = "Operate on one node of the cluster.",
    subcommands = {
      NodeCommand.Decommission.class,
      NodeCommand.Recommission.class,
      NodeCommand.Drain.class
    })
final class NodeCommand {
  private NodeCommand() {}

  @Command(
      name = "decommission",
      description =
          "Move every replica off node NODE (its leaderships first) and nothing onto it, showing"
              + " progress until it holds none; the node can then be stopped for good.")
  static final class Decommission implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE", description = "The node's id.")
    long node;

    @Option(names = "--host", required = true, description = "HOST:PORT of any node.")
    String host;

    @picocli.CommandLine.Mixin ClientSecurity security;

    @Option(
        names = "--wait-seconds",
        defaultValue = "600",
        description =
            "How long to show progress before giving up waiting (the decommission goes on)"
                + " (default: ${DEFAULT-VALUE}; 0: do not wait).")
    long waitSeconds;

    @Override
    public Integer call() throws InterruptedException {
      security.apply();
      StatusResponse first = StatusCommand.status(host);
      if (first == null || first.getNodesList().stream().noneMatch(n -> n.getNodeId() == node)) {
        System.err.println(
            "basalt: " + (first == null ? host + " does not answer" : "no node " + node + " here"));
        return BasaltCli.FAILED;
      }
      if (record(host, node, false) == null) {
        return BasaltCli.FAILED;
      }
      System.out.println("node " + node + " is being decommissioned");
      long deadline = System.nanoTime() + Duration.ofSeconds(waitSeconds).toNanos();
      String last = "";
      while (true) {
        long[] left = replicasAndLeaderships(host, node);
        boolean empty = left != null && left[0] == 0 && left[2] == 0;
        // Asked again, the meta range says whether the driver finished the decommission.
        DecommissionNodeResponse state = empty ? record(host, node, false) : null;
        if (state != null && state.getDecommissioned()) {
          System.out.println(
              "node "
                  + node
                  + " is decommissioned: it holds no replica, and the cluster refuses it from now"
                  + " on; stop it");
          return 0;
        }
        String progress =
            left == null
                ? "node " + node + ": the cluster does not answer"
                : empty
                    ? "node " + node + " holds no replica; the placement driver finishes it"
                    : "node "
                        + node
                        + ": "
                        + left[0]
                        + " replicas, "
                        + left[1]
                        + " leaderships left"
                        + (left[2] > 0 ? " (" + left[2] + " other nodes do not answer)" : "")
                        + " (a range needs a node without a replica of it to move to)";
        if (!progress.equals(last)) {
          System.out.println(progress);
          last = progress;
        }
        if (System.nanoTime() >= deadline) {
          System.out.println(
              "still decommissioning node " + node + " (see `basalt status`); it goes on");
          return waitSeconds == 0 ? 0 : BasaltCli.FAILED;
        }
        Thread.sleep(1000); // (an operator's progress line, once a second)
      }
    }
  }

  @Command(
      name = "recommission",
      description =
          "Stop decommissioning node NODE: replicas and leaderships may move to it again.")
  static final class Recommission implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE", description = "The node's id.")
    long node;

    @Option(names = "--host", required = true, description = "HOST:PORT of any node.")
    String host;

    @picocli.CommandLine.Mixin ClientSecurity security;

    @Override
    public Integer call() {
      security.apply();
      if (record(host, node, true) == null) {
        return BasaltCli.FAILED;
      }
      System.out.println("node " + node + " is no longer being decommissioned");
      return 0;
    }
  }

  @Command(
      name = "drain",
      description =
          "Drain node NODE before it is stopped: it refuses clients (who retry elsewhere) and"
              + " hands every leadership it holds to a follower; returns once it leads none.")
  static final class Drain implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE", description = "The node's id.")
    long node;

    @Option(names = "--host", required = true, description = "HOST:PORT of any node.")
    String host;

    @picocli.CommandLine.Mixin ClientSecurity security;

    @Option(
        names = "--timeout-seconds",
        defaultValue = "30",
        description =
            "How long the node may take to hand its leaderships over"
                + " (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() {
      security.apply();
      StatusResponse first = StatusCommand.status(host);
      String address = null;
      if (first != null) {
        for (NodeDescriptor n : first.getNodesList()) {
          if (n.getNodeId() == node) {
            address = n.getAddress();
          }
        }
      }
      if (address == null) {
        System.err.println("basalt: " + host + " knows no node " + node);
        return BasaltCli.FAILED;
      }
      KvResponse r;
      try (WireClient c = WireClient.connect(address, Duration.ofSeconds(timeoutSeconds + 5L))) {
        r =
            c.call(
                KvRequest.newBuilder()
                    .setDrainNode(DrainNodeRequest.newBuilder().setTimeoutSeconds(timeoutSeconds))
                    .build());
      } catch (RuntimeException e) {
        System.err.println("basalt: node " + node + " does not answer: " + e.getMessage());
        return BasaltCli.FAILED;
      }
      if (r.hasDrainNode() && r.getDrainNode().getDrained()) {
        System.out.println(
            "node " + node + " is drained: it leads no range and serves no client; stop it now");
        return 0;
      }
      System.out.println(
          "node "
              + node
              + " serves no client but still leads ranges"
              + (r.hasError() ? ": " + r.getError().toString().replace('\n', ' ') : "")
              + " (no peer to hand them to, or they did not move in time)");
      return BasaltCli.FAILED;
    }
  }

  /**
   * Records the decommission (or its end) in the meta range, through its leader; the answer says
   * whether the decommission finished. Null (the reason printed) if it was refused or not answered.
   */
  private static DecommissionNodeResponse record(String host, long node, boolean recommission) {
    KvRequest request =
        KvRequest.newBuilder()
            .setHeader(RequestHeader.newBuilder().setRangeId(KeySpace.META_RANGE_ID))
            .setDecommissionNode(
                DecommissionNodeRequest.newBuilder().setNodeId(node).setRecommission(recommission))
            .build();
    String target = host;
    for (int attempt = 0; attempt < 10; attempt++) {
      KvResponse r;
      try (WireClient c = WireClient.connect(target, Duration.ofSeconds(5))) {
        r = c.call(request);
      } catch (RuntimeException e) {
        System.err.println("basalt: " + target + " does not answer: " + e.getMessage());
        return null;
      }
      if (!r.hasError()) {
        return r.getDecommissionNode();
      }
      if (r.getError().hasNotLeader()
          && !r.getError().getNotLeader().getLeaderAddress().isEmpty()) {
        target = r.getError().getNotLeader().getLeaderAddress(); // the meta range's leader
        continue;
      }
      System.err.println("basalt: " + r.getError().toString().replace('\n', ' '));
      return null;
    }
    System.err.println("basalt: the meta range's leader could not be reached");
    return null;
  }

  /**
   * How many ranges' newest descriptors, as the cluster's nodes report them, name node {@code
   * node}, how many ranges it leads, and how many other nodes did not answer (their view is
   * missing, so the count is not final); null if {@code host} does not answer.
   */
  static long[] replicasAndLeaderships(String host, long node) {
    StatusResponse first = StatusCommand.status(host);
    if (first == null) {
      return null;
    }
    Map<Long, RangeDescriptor> newest = new HashMap<>();
    long leaderships = 0;
    long silent = 0;
    for (NodeDescriptor n : first.getNodesList()) {
      StatusResponse s =
          n.getNodeId() == first.getNode().getNodeId()
              ? first
              : StatusCommand.status(n.getAddress());
      if (s == null) {
        silent += n.getNodeId() == node ? 0 : 1;
        continue;
      }
      for (ReplicaStatus r : s.getReplicasList()) {
        newest.merge(
            r.getRange().getRangeId(),
            r.getRange(),
            (a, b) -> a.getGeneration() >= b.getGeneration() ? a : b);
        if (n.getNodeId() == node && r.getRole().equals("LEADER")) {
          leaderships++;
        }
      }
    }
    long replicas =
        newest.values().stream()
            .filter(d -> d.getReplicasList().stream().anyMatch(x -> x.getNodeId() == node))
            .count();
    return new long[] {replicas, leaderships, silent};
  }
}
