package io.basalt.client;

import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.NodeInfoRequest;
import io.basalt.api.NodeInfoResponse;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Where the nodes are: node id to address, learned from {@code NodeInfo} answers (asked of the
 * seeds, then of any node known) and from the leader addresses in NotLeader errors. Also holds the
 * cluster id once a node told it. Refreshes are single-flight: concurrent requests that meet an
 * unknown node share one round of questions.
 */
final class NodeDirectory {
  private final List<String> seeds;
  private final Map<Long, String> addresses = new ConcurrentHashMap<>();
  private volatile String clusterId = "";
  private CompletableFuture<Void> refreshing; // guarded by this

  NodeDirectory(List<String> seeds) {
    this.seeds = List.copyOf(seeds);
  }

  /** The address of {@code nodeId}, or null if unknown. */
  String address(long nodeId) {
    return addresses.get(nodeId);
  }

  /** Every known node id, ascending. */
  List<Long> nodeIds() {
    List<Long> ids = new ArrayList<>(addresses.keySet());
    ids.sort(null);
    return ids;
  }

  /** The cluster id a node told us, or "" before any did. */
  String clusterId() {
    return clusterId;
  }

  /** Records the cluster id a node announced, unless one is known already. */
  void learnClusterId(String id) {
    if (!id.isEmpty() && clusterId.isEmpty()) {
      synchronized (this) {
        if (clusterId.isEmpty()) {
          clusterId = id;
        }
      }
    }
  }

  /** Records that {@code nodeId} listens at {@code address}. */
  void learn(long nodeId, String address) {
    if (nodeId != 0 && !address.isEmpty()) {
      addresses.put(nodeId, address);
    }
  }

  /**
   * Asks the seeds, then the known nodes, one at a time, for the node list, until one that belongs
   * to an initialized cluster answers. Fails with an {@link UnavailableException} that lists each
   * address's failure when none does.
   *
   * @param ask sends a NodeInfo request to an address
   */
  CompletableFuture<Void> refresh(Function<String, CompletableFuture<NodeInfoResponse>> ask) {
    CompletableFuture<Void> done;
    synchronized (this) {
      if (refreshing != null) {
        return refreshing;
      }
      done = new CompletableFuture<>();
      refreshing = done;
    }
    Set<String> candidates = new LinkedHashSet<>(seeds);
    candidates.addAll(addresses.values());
    askNext(new ArrayList<>(candidates), 0, ask, new StringBuilder(), done);
    return done.whenComplete((ok, failure) -> {
      synchronized (this) {
        refreshing = null;
      }
    });
  }

  private void askNext(
      List<String> candidates,
      int next,
      Function<String, CompletableFuture<NodeInfoResponse>> ask,
      StringBuilder failures,
      CompletableFuture<Void> done) {
    if (next == candidates.size()) {
      done.completeExceptionally(
          new UnavailableException("no node told the cluster's node list: " + failures));
      return;
    }
    String address = candidates.get(next);
    ask.apply(address)
        .whenComplete((info, failure) -> {
          String refusal = failure == null ? refusal(info) : Failures.describe(failure);
          if (refusal == null) {
            apply(info);
            done.complete(null);
            return;
          }
          if (!failures.isEmpty()) {
            failures.append("; ");
          }
          failures.append(address).append(": ").append(refusal);
          askNext(candidates, next + 1, ask, failures, done);
        });
  }

  /** Why {@code info} cannot be used, or null if it can. */
  private String refusal(NodeInfoResponse info) {
    String known = clusterId;
    if (info.getClusterId().isEmpty()) {
      return "the node is not part of an initialized cluster";
    }
    if (!known.isEmpty() && !known.equals(info.getClusterId())) {
      return "the node belongs to cluster '"
          + info.getClusterId()
          + "', the client talks to '"
          + known
          + "'";
    }
    return null;
  }

  private void apply(NodeInfoResponse info) {
    learnClusterId(info.getClusterId());
    learn(info.getNode().getNodeId(), info.getNode().getAddress());
    for (NodeDescriptor node : info.getNodesList()) {
      learn(node.getNodeId(), node.getAddress());
    }
  }

  /** Asks the node at {@code address} for its node list (a NodeInfo request). */
  static CompletableFuture<NodeInfoResponse> ask(
      ClientRuntime runtime, String address, long deadlineNanos) {
    KvRequest request =
        KvRequest.newBuilder().setNodeInfo(NodeInfoRequest.getDefaultInstance()).build();
    CompletableFuture<KvResponse> answer;
    try {
      answer = runtime.call(address, request, deadlineNanos);
    } catch (IllegalStateException e) {
      return CompletableFuture.failedFuture(new BasaltException("the client is closed"));
    }
    return answer.thenApply(response -> {
      if (response.hasNodeInfo()) {
        return response.getNodeInfo();
      }
      throw new BasaltException(
          response.hasError()
              ? Failures.describe(response.getError())
              : "answered NodeInfo with " + response.getResponseCase());
    });
  }
}
