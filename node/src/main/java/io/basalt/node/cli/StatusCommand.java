package io.basalt.node.cli;

import com.google.protobuf.ByteString;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.ReplicaStatus;
import io.basalt.api.RequestHeader;
import io.basalt.api.ScanRequest;
import io.basalt.api.StatusRequest;
import io.basalt.api.StatusResponse;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code basalt status --host H}: the nodes (up or down, serving, decommissioning), where the
 * placement driver runs, and each range's span, leader, replicas, size, load and replica health,
 * with the ranges that are under-replicated or unavailable.
 */
@Command(
    name = "status",
    description =
        "Print nodes, ranges (size, load, leader), replica health and what placement is doing.")
final class StatusCommand implements Callable<Integer> {
  @Option(names = "--host", required = true, description = "HOST:PORT of any node.")
  String host;

  @picocli.CommandLine.Mixin ClientSecurity security;

  @Override
  public Integer call() {
    security.apply();
    StatusResponse first = status(host);
    if (first == null) {
      return BasaltCli.FAILED;
    }
    PrintStream out = System.out;
    out.println(
        "cluster " + (first.getClusterId().isEmpty() ? "(not initialized)" : first.getClusterId()));
    Map<Long, StatusResponse> byNode = new TreeMap<>();
    Map<Long, String> addresses = new TreeMap<>();
    for (NodeDescriptor n : first.getNodesList()) {
      addresses.put(n.getNodeId(), n.getAddress());
      StatusResponse s =
          n.getNodeId() == first.getNode().getNodeId() ? first : status(n.getAddress());
      if (s != null) {
        byNode.put(n.getNodeId(), s);
      }
    }
    Map<Long, ReplicaStatus> leaders = new TreeMap<>();
    Map<Long, RangeDescriptor> newest = new TreeMap<>();
    TreeMap<Long, List<String>> health = new TreeMap<>();
    TreeMap<Long, Long> term = new TreeMap<>();
    TreeMap<Long, Long> frozen = new TreeMap<>();
    byNode.forEach((node, s) -> {
      for (ReplicaStatus r : s.getReplicasList()) {
        long id = r.getRange().getRangeId();
        if (r.getFrozenMergeId() != 0) {
          frozen.put(id, r.getFrozenInto().getRangeId());
        }
        newest.merge(id, r.getRange(), (a, b) -> a.getGeneration() >= b.getGeneration() ? a : b);
        if (r.getRole().equals("LEADER")) {
          leaders.put(id, r.toBuilder().setLeaderNode(node).build());
        }
        term.merge(id, r.getTerm(), Math::max);
        health
            .computeIfAbsent(id, k -> new ArrayList<>())
            .add(node + ":" + r.getRole().charAt(0) + "@" + r.getApplied());
      }
    });
    ReplicaStatus meta = leaders.get(KeySpace.META_RANGE_ID);
    Map<Long, String> decommission =
        meta == null ? Map.of() : decommissionRecords(addresses.get(meta.getLeaderNode()));
    out.printf(
        "%-6s %-22s %-6s %-9s %-8s %-9s %s%n",
        "NODE", "ADDRESS", "UP", "REPLICAS", "LEADERS", "QUIESCED", "SERVING");
    addresses.forEach((id, address) -> {
      StatusResponse s = byNode.get(id);
      long led =
          s == null
              ? 0
              : s.getReplicasList().stream().filter(r -> r.getRole().equals("LEADER")).count();
      long quiesced =
          s == null ? 0 : s.getReplicasList().stream().filter(ReplicaStatus::getQuiesced).count();
      out.printf(
          "%-6d %-22s %-6s %-9s %-8s %-9s %s%n",
          id,
          address,
          s == null ? "down" : "up",
          s == null ? "-" : String.valueOf(s.getReplicasCount()),
          s == null ? "-" : String.valueOf(led),
          s == null ? "-" : String.valueOf(quiesced),
          (s == null ? "-" : s.getServing() ? "yes" : "no: " + s.getNotServingReason())
              + (decommission.containsKey(id) ? " (" + decommission.get(id) + ")" : ""));
    });
    List<Long> gone = new ArrayList<>();
    decommission.forEach((id, state) -> {
      if (state.equals(KeySpace.DECOMMISSIONED)) {
        gone.add(id);
      }
    });
    if (!gone.isEmpty()) {
      out.println("decommissioned nodes (refused for good): " + gone);
    }
    out.println();
    out.println(
        "placement driver: "
            + (meta == null
                ? "none (the meta range has no leader)"
                : "node " + meta.getLeaderNode() + " (it leads the meta range)"));
    out.println();
    out.printf(
        "%-6s %-26s %-8s %-10s %-10s %-9s %-8s %s%n",
        "RANGE", "SPAN", "LEADER", "REPLICAS", "SIZE", "REQ/S", "TERM", "REPLICA HEALTH");
    Set<Long> underReplicated = new TreeSet<>();
    Set<Long> unavailable = new TreeSet<>();
    newest.forEach((id, d) -> {
      ReplicaStatus leader = leaders.get(id);
      long voters =
          d.getReplicasList().stream()
              .filter(x -> x.getRole() == io.basalt.api.ReplicaRole.REPLICA_ROLE_VOTER)
              .count();
      long votersUp =
          d.getReplicasList().stream()
              .filter(x -> x.getRole() == io.basalt.api.ReplicaRole.REPLICA_ROLE_VOTER)
              .filter(x -> byNode.containsKey(x.getNodeId()))
              .count();
      if (votersUp < voters) {
        underReplicated.add(id);
      }
      if (leader == null || votersUp * 2 <= voters) {
        unavailable.add(id);
      }
      out.printf(
          "%-6d %-26s %-8s %-10s %-10s %-9s %-8d %s%n",
          id,
          span(d),
          leader == null ? "none" : String.valueOf(leader.getLeaderNode()),
          d.getReplicasList().stream()
              .map(x ->
                  x.getNodeId()
                      + (x.getRole() == io.basalt.api.ReplicaRole.REPLICA_ROLE_LEARNER ? "L" : ""))
              .reduce((a, b) -> a + "," + b)
              .orElse(""),
          leader == null ? "-" : bytes(leader.getApproximateBytes()),
          leader == null ? "-" : String.format("%.0f", leader.getRequestsPerSecond()),
          term.getOrDefault(id, 0L),
          String.join(" ", health.getOrDefault(id, List.of())));
    });
    out.println();
    out.println(
        "under-replicated ranges (a voter on a node that does not answer): " + underReplicated);
    out.println("unavailable ranges (no leader, or no live majority): " + unavailable);
    out.println("merges in flight (frozen range=range it merges into): " + frozen);
    return 0;
  }

  /**
   * The meta range's decommission records (asked at its leader): each node's state, {@link
   * KeySpace#DECOMMISSIONING} or {@link KeySpace#DECOMMISSIONED}; empty if it does not answer.
   */
  static Map<Long, String> decommissionRecords(String metaLeader) {
    Map<Long, String> out = new TreeMap<>();
    try (WireClient c = WireClient.connect(metaLeader, Duration.ofSeconds(5))) {
      KvResponse r =
          c.call(
              KvRequest.newBuilder()
                  .setHeader(RequestHeader.newBuilder().setRangeId(KeySpace.META_RANGE_ID))
                  .setScan(
                      ScanRequest.newBuilder()
                          .setStartKey(ByteString.copyFrom(KeySpace.decommissionStart()))
                          .setEndKey(ByteString.copyFrom(KeySpace.decommissionEnd())))
                  .build());
      if (r.hasScan()) {
        r.getScan()
            .getKvsList()
            .forEach(kv ->
                out.put(
                    KeySpace.decommissionedNode(kv.getKey().toByteArray()),
                    kv.getValue().toStringUtf8()));
      }
    } catch (RuntimeException e) {
      // Not known: shown as none.
    }
    return out;
  }

  static StatusResponse status(String host) {
    try (WireClient c = WireClient.connect(host, Duration.ofSeconds(5))) {
      KvResponse r =
          c.call(KvRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
      return r.hasStatus() ? r.getStatus() : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String bytes(long n) {
    return n >= 10L << 20 ? (n >> 20) + " MiB" : n >= 10L << 10 ? (n >> 10) + " KiB" : n + " B";
  }

  private static String span(RangeDescriptor d) {
    return "["
        + BasaltCli.printable(d.getStartKey())
        + ", "
        + (d.getEndKey().isEmpty() ? "end" : BasaltCli.printable(d.getEndKey()))
        + ")";
  }
}
