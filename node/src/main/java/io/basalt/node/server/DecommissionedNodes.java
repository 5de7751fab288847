package io.basalt.node.server;

import io.basalt.node.store.Store;
import io.basalt.node.transport.NodeTransport;
import io.basalt.range.storage.Engine;
import java.util.Collection;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes this node knows to be decommissioned: their decommission finished (the placement driver
 * found they hold no replica and marked their meta record so), and the cluster refuses them for
 * good. Learned from the driver that finished it and from other nodes (every node tells the ones it
 * knows in its node info, so the news spreads with discovery), recorded in the store (a restart
 * keeps refusing them), and handed to the transport, which closes their connections and refuses new
 * ones. A node that learns that it is itself decommissioned refuses every other node and stops
 * serving.
 */
final class DecommissionedNodes {
  private static final Logger log = LoggerFactory.getLogger(DecommissionedNodes.class);

  private final long selfId;
  private final Engine engine;
  private final NodeTransport transport;
  private final Set<Long> nodes = ConcurrentHashMap.newKeySet();

  DecommissionedNodes(long selfId, Engine engine, NodeTransport transport) {
    this.selfId = selfId;
    this.engine = engine;
    this.transport = transport;
    for (long id : Store.decommissionedNodes(engine)) {
      nodes.add(id);
      refuse(id);
    }
  }

  private void refuse(long id) {
    if (id == selfId) {
      transport.refuseEveryNode("this node, " + id + ", is decommissioned");
    } else {
      transport.refuse(id, reason(id));
    }
  }

  private static String reason(long id) {
    return "node " + id + " is decommissioned: the cluster refuses it for good";
  }

  /** Takes {@code ids} as decommissioned (those already known change nothing). */
  synchronized void learn(Collection<Long> ids) {
    for (long id : ids) {
      if (id <= 0 || nodes.contains(id)) {
        continue;
      }
      Store.recordDecommissioned(engine, id);
      nodes.add(id);
      if (id == selfId) {
        log.warn(
            "node {} is decommissioned: it talks to the other nodes no more (they refuse it too)"
                + " and serves nothing; stop it",
            id);
      } else {
        log.info("node {} refuses node {} from now on: it is decommissioned", selfId, id);
      }
      refuse(id);
    }
  }

  boolean contains(long id) {
    return nodes.contains(id);
  }

  /** Every node known to be decommissioned, in order. */
  Set<Long> all() {
    return new TreeSet<>(nodes);
  }

  /** Why this node does not serve, if it is itself decommissioned. */
  Optional<String> selfReason() {
    return nodes.contains(selfId)
        ? Optional.of("this node is decommissioned: the cluster refuses it")
        : Optional.empty();
  }
}
