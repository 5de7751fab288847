package io.basalt.range.check;

import io.basalt.range.check.AppendObservations.MissedAppend;
import io.basalt.range.check.AppendObservations.Read;
import io.basalt.range.check.ListAppendChecker.Anomaly;
import io.basalt.range.check.ListAppendChecker.Outcome;
import io.basalt.range.check.ListAppendChecker.Txn;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The dependency graph of {@link ListAppendChecker} between committed transactions (named by their
 * index in the history), and the search for its cycles. The class Javadoc of {@link
 * ListAppendChecker} states which edges there are and why each is sound.
 */
final class DependencyGraph {
  /**
   * The rw edges to appends no read observed join every full reader to every such writer of a key,
   * which can be quadratic (a store that loses every append). Once this many plus four per
   * transaction have been added, further keys link each such writer only from the full reader
   * invoked last: enough for the real-time check, and memory stays linear.
   */
  static final int MISSED_READ_EDGES_BASE = 100_000;

  enum Dep {
    WW,
    WR,
    RW,
    RT;

    int bit() {
      return 1 << ordinal();
    }
  }

  private static final int WW = Dep.WW.bit();
  private static final int WR = Dep.WR.bit();
  private static final int RW = Dep.RW.bit();
  private static final int RT = Dep.RT.bit();

  /**
   * One edge, with what explains it: the key and two values (ww: the earlier and the later append;
   * wr: the value read; rw: the last value read, if {@code hasBefore}, and the value missed), or,
   * for rt, the completion and invocation times. {@code missed}: the later value is in no read.
   */
  private record Edge(
      int from,
      int to,
      Dep dep,
      String key,
      boolean hasBefore,
      long before,
      long after,
      boolean missed) {}

  private record EdgeKey(int from, int to, Dep dep) {}

  private final AppendObservations observations;
  private final boolean strict;
  private final int n;
  private final List<List<Edge>> out;
  private final Set<EdgeKey> present = new HashSet<>();
  private long missedReadEdgeBudget;

  // Scratch space for the searches, indexed by transaction. A node is in the current set when
  // member[v] == memberStamp; a search has visited it when visited[v] == visitStamp.
  private final int[] member;
  private int memberStamp;
  private final int[] visited;
  private int visitStamp;
  private final int[] tarjanIndex;
  private final int[] tarjanLow;
  private final boolean[] onStack;
  private final int[] stack;
  private final int[] frameNode;
  private final int[] frameEdge;
  private final int[] subComponent;
  private final Edge[] parent;

  DependencyGraph(List<Txn> txns, AppendObservations observations, boolean strict) {
    this.observations = observations;
    this.strict = strict;
    this.n = txns.size();
    out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(new ArrayList<>());
    }
    member = new int[n];
    visited = new int[n];
    tarjanIndex = new int[n];
    tarjanLow = new int[n];
    onStack = new boolean[n];
    stack = new int[n];
    frameNode = new int[n];
    frameEdge = new int[n];
    subComponent = new int[n];
    parent = new Edge[n];
    missedReadEdgeBudget = MISSED_READ_EDGES_BASE + 4L * n;
    observations.versionOrders().forEach(this::addKeyEdges);
    if (strict) {
      addRealTimeEdges(txns);
    }
  }

  private void addEdge(Edge edge) {
    if (edge.from() != edge.to()
        && observations.committed(edge.from())
        && observations.committed(edge.to())
        && present.add(new EdgeKey(edge.from(), edge.to(), edge.dep()))) {
      out.get(edge.from()).add(edge);
    }
  }

  private void addKeyEdges(String key, List<Long> order) {
    int[] writers = new int[order.size()];
    for (int i = 0; i < order.size(); i++) {
      writers[i] = observations.writer(key, order.get(i));
    }
    for (int i = 0; i + 1 < order.size(); i++) {
      if (writers[i] >= 0 && writers[i + 1] >= 0) {
        addEdge(
            new Edge(
                writers[i],
                writers[i + 1],
                Dep.WW,
                key,
                true,
                order.get(i),
                order.get(i + 1),
                false));
      }
    }
    Set<Integer> fullReaders = new LinkedHashSet<>();
    for (Read read : observations.reads(key)) {
      List<Long> values = read.values();
      int reader = read.txn();
      int last = values.size() - 1;
      int j = last;
      while (j >= 0 && writers[j] == reader) {
        j--;
      }
      if (j >= 0 && writers[j] >= 0) {
        addEdge(new Edge(writers[j], reader, Dep.WR, key, false, 0, values.get(j), false));
      }
      if (values.size() < order.size()) {
        int next = writers[values.size()];
        if (next >= 0) {
          addEdge(
              new Edge(
                  reader,
                  next,
                  Dep.RW,
                  key,
                  last >= 0,
                  last >= 0 ? values.get(last) : 0,
                  order.get(values.size()),
                  false));
        }
      } else {
        fullReaders.add(reader);
      }
    }
    List<MissedAppend> missed = observations.missedAppends(key);
    if (missed.isEmpty()) {
      return;
    }
    boolean hasLast = !order.isEmpty();
    long lastValue = hasLast ? order.get(order.size() - 1) : 0;
    for (MissedAppend append : missed) {
      if (hasLast && writers[order.size() - 1] >= 0) {
        addEdge(
            new Edge(
                writers[order.size() - 1],
                append.writer(),
                Dep.WW,
                key,
                true,
                lastValue,
                append.value(),
                true));
      }
    }
    List<Integer> readers = new ArrayList<>(fullReaders);
    if (readers.size() > 1 && (long) readers.size() * missed.size() > missedReadEdgeBudget) {
      readers =
          List.of(
              Collections.max(
                  readers,
                  Comparator.comparingLong((Integer r) -> observations.txn(r).invokeNanos())));
    }
    missedReadEdgeBudget -= (long) readers.size() * missed.size();
    for (int reader : readers) {
      for (MissedAppend append : missed) {
        addEdge(
            new Edge(
                reader, append.writer(), Dep.RW, key, hasLast, lastValue, append.value(), true));
      }
    }
  }

  /**
   * A before B whenever OK transaction A completed before B was invoked, reduced: when B is invoked
   * it gets an edge from each transaction of the frontier (completed, and no successor of it has
   * completed yet); when B completes, it replaces its predecessors in the frontier, since any later
   * transaction reaches them through B.
   */
  private void addRealTimeEdges(List<Txn> txns) {
    List<long[]> events = new ArrayList<>(); // {time, 0 = invoke or 1 = complete, txn}
    for (int i = 0; i < n; i++) {
      if (!observations.committed(i)) {
        continue;
      }
      events.add(new long[] {txns.get(i).invokeNanos(), 0, i});
      if (txns.get(i).outcome() == Outcome.OK) {
        events.add(new long[] {txns.get(i).completeNanos(), 1, i});
      }
    }
    // At equal times invocations come first: touching transactions are concurrent.
    events.sort(
        Comparator.<long[]>comparingLong(e -> e[0])
            .thenComparingLong(e -> e[1])
            .thenComparingLong(e -> e[2]));
    Set<Integer> frontier = new LinkedHashSet<>();
    int[][] predecessors = new int[n][];
    for (long[] event : events) {
      int txn = (int) event[2];
      if (event[1] == 0) {
        int[] before = new int[frontier.size()];
        int k = 0;
        for (int a : frontier) {
          before[k++] = a;
          Txn from = txns.get(a);
          addEdge(
              new Edge(
                  a,
                  txn,
                  Dep.RT,
                  null,
                  true,
                  from.completeNanos(),
                  txns.get(txn).invokeNanos(),
                  false));
        }
        predecessors[txn] = before;
      } else {
        for (int a : predecessors[txn]) {
          frontier.remove(a);
        }
        predecessors[txn] = null;
        frontier.add(txn);
      }
    }
  }

  /** One cycle per strongly connected component, in order of their smallest transaction. */
  List<Anomaly> cycles() {
    int[] nodes = new int[n];
    int count = 0;
    for (int i = 0; i < n; i++) {
      if (observations.committed(i)) {
        nodes[count++] = i;
      }
    }
    nodes = Arrays.copyOf(nodes, count);
    enter(nodes);
    List<Anomaly> anomalies = new ArrayList<>();
    for (int[] component : components(nodes, WW | WR | RW | (strict ? RT : 0))) {
      anomalies.add(classify(findCycle(component)));
    }
    return anomalies;
  }

  /**
   * A cycle in a strongly connected component, of the first class it has: G0, G1c, G-single, G2.
   */
  private List<Edge> findCycle(int[] component) {
    for (int realTime : strict ? new int[] {0, RT} : new int[] {0}) {
      for (int mask : new int[] {WW, WW | WR}) {
        List<Edge> cycle = cycleWithin(component, mask | realTime);
        if (cycle != null) {
          return cycle;
        }
      }
      List<Edge> cycle = cycleWithOneAntiDependency(component, WW | WR | realTime);
      if (cycle == null) {
        cycle = cycleWithin(component, WW | WR | RW | realTime);
      }
      if (cycle != null) {
        return cycle;
      }
    }
    throw new IllegalStateException("no cycle in a strongly connected component");
  }

  /** A shortest cycle, through the smallest node of the first component, using only mask edges. */
  private List<Edge> cycleWithin(int[] set, int mask) {
    enter(set);
    List<int[]> components = components(set, mask);
    if (components.isEmpty()) {
      return null;
    }
    int start = components.get(0)[0];
    return path(start, start, mask, Long.MAX_VALUE);
  }

  /**
   * A cycle of one rw edge a -> b and a path from b back to a over {@code mask} edges (which
   * exclude rw). First where a and b share a strongly connected component of the mask edges; else
   * by searching from each b, within a budget linear in the size of the set.
   */
  private List<Edge> cycleWithOneAntiDependency(int[] set, int mask) {
    enter(set);
    List<int[]> components = components(set, mask);
    for (int v : set) {
      subComponent[v] = -1;
    }
    for (int c = 0; c < components.size(); c++) {
      for (int v : components.get(c)) {
        subComponent[v] = c;
      }
    }
    long edges = 0;
    Map<Integer, List<Edge>> byTarget = new LinkedHashMap<>();
    for (int a : set) {
      for (Edge e : out.get(a)) {
        edges++;
        if (e.dep() != Dep.RW || member[e.to()] != memberStamp) {
          continue;
        }
        if (subComponent[a] >= 0 && subComponent[a] == subComponent[e.to()]) {
          return withFirst(e, path(e.to(), a, mask, Long.MAX_VALUE));
        }
        byTarget.computeIfAbsent(e.to(), k -> new ArrayList<>()).add(e);
      }
    }
    long budget = 4 * edges + 1_000;
    for (Map.Entry<Integer, List<Edge>> entry : byTarget.entrySet()) {
      int b = entry.getKey();
      Set<Integer> sources = new HashSet<>();
      entry.getValue().forEach(e -> sources.add(e.from()));
      long[] spent = {0};
      List<Edge> back = pathToAny(b, sources, mask, budget, spent);
      budget -= spent[0];
      if (back != null) {
        int a = back.get(back.size() - 1).to();
        Edge rw = entry.getValue().stream().filter(e -> e.from() == a).findFirst().orElseThrow();
        return withFirst(rw, back);
      }
      if (budget <= 0) {
        return null;
      }
    }
    return null;
  }

  private static List<Edge> withFirst(Edge first, List<Edge> rest) {
    List<Edge> cycle = new ArrayList<>();
    cycle.add(first);
    cycle.addAll(rest);
    return cycle;
  }

  /** A shortest path of mask edges within the current set from {@code from} to {@code to}. */
  private List<Edge> path(int from, int to, int mask, long budget) {
    return pathToAny(from, Set.of(to), mask, budget, new long[1]);
  }

  /**
   * Breadth-first search within the current set from {@code from} over mask edges to the first node
   * in {@code targets} (a path of at least one edge when {@code from} is itself a target); null if
   * none is reached, or once more than {@code budget} edges were examined ({@code spent} returns
   * how many were).
   */
  private List<Edge> pathToAny(
      int from, Set<Integer> targets, int mask, long budget, long[] spent) {
    visitStamp++;
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    queue.add(from);
    visited[from] = visitStamp;
    while (!queue.isEmpty()) {
      int v = queue.poll();
      for (Edge e : out.get(v)) {
        if (++spent[0] > budget) {
          return null;
        }
        int w = e.to();
        if ((e.dep().bit() & mask) == 0 || member[w] != memberStamp) {
          continue;
        }
        if (targets.contains(w)) {
          List<Edge> path = new ArrayList<>();
          path.add(e);
          for (int u = v; u != from; u = parent[u].from()) {
            path.add(parent[u]);
          }
          Collections.reverse(path);
          return path;
        }
        if (visited[w] != visitStamp) {
          visited[w] = visitStamp;
          parent[w] = e;
          queue.add(w);
        }
      }
    }
    return null;
  }

  /** Makes {@code set} the current set. */
  private void enter(int[] set) {
    memberStamp++;
    for (int v : set) {
      member[v] = memberStamp;
    }
  }

  /**
   * Tarjan's strongly connected components of the current set over mask edges, iteratively (the
   * graph can be deeper than the thread's stack). Returns those of two or more transactions, each
   * sorted, in order of their smallest transaction.
   */
  private List<int[]> components(int[] set, int mask) {
    for (int v : set) {
      tarjanIndex[v] = -1;
      onStack[v] = false;
    }
    List<int[]> components = new ArrayList<>();
    int counter = 0;
    int sp = 0;
    for (int root : set) {
      if (tarjanIndex[root] != -1) {
        continue;
      }
      int fp = 0;
      tarjanIndex[root] = tarjanLow[root] = counter++;
      stack[sp++] = root;
      onStack[root] = true;
      frameNode[fp] = root;
      frameEdge[fp++] = 0;
      while (fp > 0) {
        int v = frameNode[fp - 1];
        List<Edge> edges = out.get(v);
        if (frameEdge[fp - 1] < edges.size()) {
          Edge e = edges.get(frameEdge[fp - 1]++);
          int w = e.to();
          if ((e.dep().bit() & mask) == 0 || member[w] != memberStamp) {
            continue;
          }
          if (tarjanIndex[w] == -1) {
            tarjanIndex[w] = tarjanLow[w] = counter++;
            stack[sp++] = w;
            onStack[w] = true;
            frameNode[fp] = w;
            frameEdge[fp++] = 0;
          } else if (onStack[w]) {
            tarjanLow[v] = Math.min(tarjanLow[v], tarjanIndex[w]);
          }
          continue;
        }
        fp--;
        if (tarjanLow[v] == tarjanIndex[v]) {
          int top = sp;
          do {
            onStack[stack[--sp]] = false;
          } while (stack[sp] != v);
          if (top - sp > 1) {
            int[] component = Arrays.copyOfRange(stack, sp, top);
            Arrays.sort(component);
            components.add(component);
          }
        }
        if (fp > 0) {
          int u = frameNode[fp - 1];
          tarjanLow[u] = Math.min(tarjanLow[u], tarjanLow[v]);
        }
      }
    }
    components.sort(Comparator.comparingInt(c -> c[0]));
    return components;
  }

  private Anomaly classify(List<Edge> cycle) {
    int antiDependencies = 0;
    boolean reads = false;
    boolean realTime = false;
    boolean missedRead = false;
    for (Edge e : cycle) {
      switch (e.dep()) {
        case WW -> {}
        case WR -> reads = true;
        case RW -> {
          antiDependencies++;
          missedRead |= e.missed();
        }
        case RT -> realTime = true;
      }
    }
    Anomaly.Type type;
    if (missedRead) {
      type = Anomaly.Type.LOST_APPEND;
    } else if (antiDependencies == 0) {
      type =
          reads
              ? (realTime ? Anomaly.Type.G1C_REALTIME : Anomaly.Type.G1C)
              : (realTime ? Anomaly.Type.G0_REALTIME : Anomaly.Type.G0);
    } else if (antiDependencies == 1) {
      type = realTime ? Anomaly.Type.G_SINGLE_REALTIME : Anomaly.Type.G_SINGLE;
    } else {
      type = realTime ? Anomaly.Type.G2_ITEM_REALTIME : Anomaly.Type.G2_ITEM;
    }
    List<Long> ids = new ArrayList<>();
    StringBuilder names = new StringBuilder();
    StringBuilder why = new StringBuilder();
    for (Edge e : cycle) {
      ids.add(observations.txn(e.from()).id());
      names.append(observations.name(e.from())).append(" -> ");
      why.append(why.isEmpty() ? "" : "; ").append(explain(e));
    }
    names.append(observations.name(cycle.get(0).from()));
    return new Anomaly(type, ids, names + ": " + why);
  }

  private String explain(Edge e) {
    String from = observations.name(e.from());
    String to = observations.name(e.to());
    String upTo = e.hasBefore() ? " up to " + e.before() : " as empty";
    return switch (e.dep()) {
      case WW ->
          e.missed()
              ? "%s's append of %d to %s is in no read, so it follows %s's %d, the last value read"
                  .formatted(to, e.after(), e.key(), from, e.before())
              : "%s appended %d to %s and %s appended the next value, %d"
                  .formatted(from, e.before(), e.key(), to, e.after());
      case WR -> "%s read %s's append of %d to %s".formatted(to, from, e.after(), e.key());
      case RW ->
          e.missed()
              ? "%s read %s%s, the longest read of it, without %s's committed append of %d, which no read contains"
                  .formatted(from, e.key(), upTo, to, e.after())
              : "%s read %s%s and missed the next value, %d, appended by %s"
                  .formatted(from, e.key(), upTo, e.after(), to);
      case RT ->
          "%s completed (at %d) before %s was invoked (at %d)"
              .formatted(from, e.before(), to, e.after());
    };
  }
}
