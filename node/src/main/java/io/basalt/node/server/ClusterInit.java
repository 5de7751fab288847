package io.basalt.node.server;

import io.basalt.api.BootstrapRequest;
import io.basalt.api.Errors;
import io.basalt.api.InitClusterRequest;
import io.basalt.api.InitClusterResponse;
import io.basalt.api.InitialLeaders;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.NodeInfoRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.node.cli.WireClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Initializes a new cluster from the node that received {@code init}: chooses the replication
 * factor's lowest-numbered known nodes, checks that every chosen node answers and belongs to no
 * cluster yet (before any is bootstrapped, so a refusal leaves nothing half made), then bootstraps
 * each with the same cluster id, initial ranges and node list.
 */
final class ClusterInit {
  private static final Logger log = LoggerFactory.getLogger(ClusterInit.class);

  private ClusterInit() {}

  /**
   * @param self this node's id
   * @param nodes every node this node knows of, by id, with its address (itself included)
   * @param localBootstrap bootstraps this node
   */
  static KvResponse run(
      InitClusterRequest request,
      long self,
      TreeMap<Long, String> nodes,
      Function<BootstrapRequest, KvResponse> localBootstrap) {
    int dataRanges = request.getDataRanges() == 0 ? 8 : request.getDataRanges();
    int replication = request.getReplication() == 0 ? 3 : request.getReplication();
    if (dataRanges > 4096) {
      return Errors.invalid("at most 4096 initial data ranges, got " + dataRanges);
    }
    if (nodes.size() < replication) {
      return Errors.generic(
          Errors.NOT_INITIALIZED,
          "init needs "
              + replication
              + " nodes for "
              + replication
              + " replicas but this node knows of "
              + nodes.size()
              + " "
              + nodes.keySet()
              + "; start the others with --join, or wait for discovery");
    }
    List<Long> chosen = new ArrayList<>(nodes.keySet()).subList(0, replication);
    String newCluster = UUID.randomUUID().toString();
    List<RangeDescriptor> ranges = InitialRanges.of(dataRanges, chosen);
    BootstrapRequest.Builder boot = BootstrapRequest.newBuilder().setClusterId(newCluster);
    boot.addAllRanges(ranges);
    nodes.forEach(
        (id, addr) -> boot.addNodes(NodeDescriptor.newBuilder().setNodeId(id).setAddress(addr)));
    // Every chosen node must answer, uninitialized, before any is bootstrapped.
    for (long id : chosen) {
      if (id == self) {
        continue;
      }
      try (WireClient c = WireClient.connect(nodes.get(id), Duration.ofSeconds(5))) {
        String theirs =
            c.call(KvRequest.newBuilder().setNodeInfo(NodeInfoRequest.getDefaultInstance()).build())
                .getNodeInfo()
                .getClusterId();
        if (!theirs.isEmpty()) {
          return Errors.generic(
              Errors.ALREADY_INITIALIZED, "node " + id + " belongs to cluster " + theirs);
        }
      } catch (RuntimeException e) {
        return Errors.unavailable(
            "node " + id + " at " + nodes.get(id) + " does not answer: " + e.getMessage());
      }
    }
    KvRequest req = KvRequest.newBuilder().setBootstrap(boot).build();
    for (long id : chosen) {
      KvResponse r = null;
      // Bootstrap is idempotent: a call whose answer was lost is simply made again.
      for (int attempt = 0; attempt < 5 && (r == null || r.hasError()); attempt++) {
        if (id == self) {
          r = localBootstrap.apply(boot.build());
        } else {
          try (WireClient c = WireClient.connect(nodes.get(id), Duration.ofSeconds(10))) {
            r = c.call(req);
          } catch (RuntimeException e) {
            r = Errors.unavailable("bootstrap of node " + id + " failed: " + e.getMessage());
          }
        }
        if (r.hasError() && r.getError().hasGeneric()) {
          break; // refused (another cluster): retrying cannot help
        }
      }
      if (r.hasError()) {
        log.error(
            "init of cluster {} is incomplete: node {} was not bootstrapped ({})",
            newCluster,
            id,
            r.getError());
        return r;
      }
    }
    // Every first node holds its replicas now: the initial leaders can be spread over them.
    for (InitialLeaders round :
        List.of(InitialLeaders.INITIAL_LEADERS_VOTE, InitialLeaders.INITIAL_LEADERS_ELECT)) {
      BootstrapRequest spread = boot.setInitialLeaders(round).build();
      for (long id : chosen) {
        try {
          if (id == self) {
            localBootstrap.apply(spread);
          } else {
            try (WireClient c = WireClient.connect(nodes.get(id), Duration.ofSeconds(10))) {
              c.call(KvRequest.newBuilder().setBootstrap(spread).build());
            }
          }
        } catch (RuntimeException e) {
          // (best effort: the placement driver balances leaders too, only more slowly)
          log.warn("node {} did not help spread the initial leaders: {}", id, e.toString());
        }
      }
    }
    log.info(
        "initialized cluster {}: meta range and {} data ranges on nodes {}",
        newCluster,
        dataRanges,
        chosen);
    return KvResponse.newBuilder()
        .setInitCluster(
            InitClusterResponse.newBuilder().setClusterId(newCluster).addAllRanges(ranges))
        .build();
  }
}
