package io.basalt.range.check;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Checks a history of list-append transactions for serializability or strict serializability, the
 * way Elle does it (Kingsbury and Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
 * Observations", VLDB 2020; VERIFICATION.md, "Checkers"). Anomaly names follow Adya (2000).
 *
 * <h2>The workload</h2>
 *
 * Each transaction is a list of micro-operations on keys: {@code append(k, v)} adds {@code v} to
 * the end of the list at {@code k}; {@code read(k)} returns the whole list at {@code k} as the
 * transaction saw it. The workload appends every value at most once per key (the checker rejects a
 * history that does not, with {@link IllegalArgumentException}). Because lists only grow and values
 * are unique, one read tells the order of every append it contains: a read is a prefix of the key's
 * final list, and the longest read of a key is its <em>version order</em> as far as anyone observed
 * it.
 *
 * <h2>What is trusted</h2>
 *
 * <ul>
 *   <li>Reads of {@link Outcome#OK} transactions are observations; reads of {@link Outcome#FAIL}
 *       and {@link Outcome#INFO} transactions are ignored (their results may be {@code null}).
 *   <li>A transaction is <em>committed</em> if it is OK, or INFO and one of its appended values
 *       appears in some OK read (then all of its appends took effect). FAIL transactions and INFO
 *       transactions nobody observed are left out of the dependency graph.
 *   <li>Real time: an OK transaction completed at {@code completeNanos}; an INFO transaction is
 *       taken to complete at +infinity whatever its {@code completeNanos} says. A completes before
 *       B is invoked only if {@code A.completeNanos < B.invokeNanos}; equal times are concurrent.
 *   <li>{@link Txn#process()} is carried into reports but orders nothing (no session edges).
 * </ul>
 *
 * <h2>Direct checks</h2>
 *
 * Each is reported once per offending key and value (INTERNAL: once per transaction and key;
 * INCOMPATIBLE_ORDER: once per key), naming a transaction that shows it:
 *
 * <ul>
 *   <li>{@link Anomaly.Type#INTERNAL}: a read disagrees with the transaction's own earlier
 *       operations on that key. Before any read of the key, the read must end with exactly the
 *       values this transaction appended to it so far; after a read, it must equal that read
 *       followed by the transaction's appends since. A read must not contain a value the
 *       transaction appends to the key only later.
 *   <li>{@link Anomaly.Type#DUPLICATE_APPEND}: a value appears twice in one read.
 *   <li>{@link Anomaly.Type#INCOMPATIBLE_ORDER}: a read of a key is not a prefix of the longest
 *       read of that key (so neither is a prefix of the other).
 *   <li>{@link Anomaly.Type#GARBAGE_READ}: a read contains a value no transaction appended to that
 *       key.
 *   <li>{@link Anomaly.Type#G1A} (aborted read): a read contains a value appended by a FAIL
 *       transaction.
 *   <li>{@link Anomaly.Type#G1B} (intermediate read): a read ends with a value that another, non
 *       FAIL, transaction appended to that key before appending another value to it.
 * </ul>
 *
 * A key with a duplicate or an incompatible read has no trustworthy version order and contributes
 * no edges to the graph below; its other direct checks still run.
 *
 * <h2>The dependency graph</h2>
 *
 * Nodes are committed transactions. For each key with version order {@code v1 .. vn} (the longest
 * read), every OK read {@code R} of it, by transaction T, and writers never FAIL and never T:
 *
 * <ul>
 *   <li>ww: the writer of {@code vi} precedes the writer of {@code vi+1}.
 *   <li>wr: the writer of the last value of {@code R} that T did not append itself precedes T.
 *   <li>rw (anti-dependency): T precedes the writer of the value that follows {@code R} in the
 *       version order ({@code v1} if {@code R} is empty).
 *   <li>Appends that no read observed. A committed append of {@code v} that is in no read of the
 *       key must follow every value that was read, since every read is a prefix of the key's final
 *       list: the writer of {@code vn} precedes its writer (ww), and so does every transaction
 *       whose read was all of {@code v1 .. vn} (rw: had it come later, it would have seen {@code
 *       v}). These pairs can be quadratic in number (a store that loses every append); once {@value
 *       DependencyGraph#MISSED_READ_EDGES_BASE} plus four per transaction have been linked, later
 *       keys link each such writer only from the reader invoked last.
 *   <li>rt, under {@link Consistency#STRICT_SERIALIZABLE} only: A precedes B if A is OK and
 *       completed before B was invoked (a transitive reduction of that order, so that there are
 *       about as many edges per transaction as transactions run concurrently).
 * </ul>
 *
 * Every edge is sound: a serial order consistent with the observations (and, for rt edges, with
 * real time) must put its source first. A cycle therefore proves the anomaly. The graph is split
 * into strongly connected components (Tarjan) and one concrete cycle is reported per component: the
 * search looks, in this order, for a cycle of only ww edges, of ww and wr edges, with exactly one
 * rw edge, with any dependency edges, and then the same four again allowing rt edges; each search
 * is a breadth-first search inside a strongly connected component of the allowed edges, so it finds
 * a shortest cycle through its starting transaction. The cycle is then named by the edges it has:
 * {@link Anomaly.Type#LOST_APPEND} if it has an rw edge to an append that no read observed (a
 * committed append that a read ordered after it missed); otherwise {@link Anomaly.Type#G0} (only
 * ww), {@link Anomaly.Type#G1C} (ww and wr), {@link Anomaly.Type#G_SINGLE} (one rw) or {@link
 * Anomaly.Type#G2_ITEM} (several rw), each with its {@code _REALTIME} twin when the cycle has an rt
 * edge. The search for a cycle with exactly one rw edge is bounded by a budget linear in the size
 * of the component; when it runs out, a cycle with several rw edges is reported instead (still a
 * true anomaly, only named less precisely). All of this takes time linear in the size of the
 * history (counting every value of every read) and of the graph.
 *
 * <p>So a LOST_APPEND is a committed append of {@code v} to {@code k} that no read of {@code k}
 * contains, together with a transaction that read the longest list of {@code k} and yet must come
 * after the appender. Under STRICT_SERIALIZABLE the plainest case is that reader being invoked
 * after the appender completed. Under SERIALIZABLE that alone proves nothing (the reader may be
 * serialized first); the reader must follow the appender through dependency edges, e.g. by having
 * read another of its appends.
 */
public final class ListAppendChecker {
  private ListAppendChecker() {}

  /** The outcome the client recorded for a transaction. */
  public enum Outcome {
    /** Committed. */
    OK,
    /** Certainly not committed. */
    FAIL,
    /** Unknown (a timeout, a lost connection): may have committed at any time after its invoke. */
    INFO
  }

  /** What the history must satisfy. */
  public enum Consistency {
    /** Some serial order explains every observation. */
    SERIALIZABLE,
    /** Some serial order explains every observation and respects real time. */
    STRICT_SERIALIZABLE
  }

  /**
   * One micro-operation. An append carries {@code value} and a null {@code read}; a read carries
   * {@code read}, the whole list it saw (null when unknown, which only FAIL and INFO transactions
   * may have) and ignores {@code value}.
   */
  public record Op(Kind kind, String key, long value, List<Long> read) {
    public enum Kind {
      APPEND,
      READ
    }

    public Op {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(key, "key");
      if (kind == Kind.APPEND && read != null) {
        throw new IllegalArgumentException("an append of " + value + " to " + key + " has a read");
      }
      read = read == null ? null : List.copyOf(read);
    }

    public static Op append(String key, long value) {
      return new Op(Kind.APPEND, key, value, null);
    }

    /** A read that saw {@code values}; null if the result is unknown. */
    public static Op read(String key, List<Long> values) {
      return new Op(Kind.READ, key, 0, values);
    }

    @Override
    public String toString() {
      return kind == Kind.APPEND
          ? "append(" + key + ", " + value + ")"
          : "read(" + key + ")=" + read;
    }
  }

  /**
   * One transaction as the client recorded it. {@code id} names it in reports and must be unique;
   * {@code completeNanos} is ignored for INFO transactions.
   */
  public record Txn(
      long id, int process, long invokeNanos, long completeNanos, Outcome outcome, List<Op> ops) {
    public Txn {
      Objects.requireNonNull(outcome, "outcome");
      ops = List.copyOf(ops);
      if (outcome != Outcome.INFO && completeNanos < invokeNanos) {
        throw new IllegalArgumentException(
            "txn " + id + " completes at " + completeNanos + " before its invoke " + invokeNanos);
      }
      if (outcome == Outcome.OK) {
        for (Op op : ops) {
          if (op.kind() == Op.Kind.READ && op.read() == null) {
            throw new IllegalArgumentException(
                "txn " + id + " is OK but its read of " + op.key() + " has no result");
          }
        }
      }
    }
  }

  /** One anomaly: its type, the transactions involved (a cycle in order) and why. */
  public record Anomaly(Type type, List<Long> txnIds, String explanation) {
    public enum Type {
      /** A cycle of ww edges (dirty write). */
      G0,
      /** A read of a value only a FAIL transaction appended (aborted read). */
      G1A,
      /** A read ending at a value its writer later followed with another (intermediate read). */
      G1B,
      /** A cycle of ww and wr edges (circular information flow). */
      G1C,
      /** A cycle with exactly one rw edge (e.g. read skew). */
      G_SINGLE,
      /** A cycle with more than one rw edge (e.g. write skew). */
      G2_ITEM,
      G0_REALTIME,
      G1C_REALTIME,
      G_SINGLE_REALTIME,
      G2_ITEM_REALTIME,
      /** A cycle through a committed append no read observed, though a reader came after it. */
      LOST_APPEND,
      /** A read that disagrees with its own transaction's earlier operations. */
      INTERNAL,
      /** A value twice in one read. */
      DUPLICATE_APPEND,
      /** Two reads of a key, neither a prefix of the other. */
      INCOMPATIBLE_ORDER,
      /** A read of a value nobody appended. */
      GARBAGE_READ
    }

    public Anomaly {
      txnIds = List.copyOf(txnIds);
    }

    @Override
    public String toString() {
      return type + " " + txnIds + ": " + explanation;
    }
  }

  /** The anomalies found, direct checks first, then cycles. */
  public record Result(List<Anomaly> anomalies) {
    public Result {
      anomalies = List.copyOf(anomalies);
    }

    public boolean valid() {
      return anomalies.isEmpty();
    }

    public Set<Anomaly.Type> types() {
      Set<Anomaly.Type> types = EnumSet.noneOf(Anomaly.Type.class);
      anomalies.forEach(a -> types.add(a.type()));
      return types;
    }

    /** One line per anomaly, or "valid". */
    public String describe() {
      if (valid()) {
        return "valid";
      }
      StringBuilder out = new StringBuilder();
      anomalies.forEach(a -> out.append(a).append('\n'));
      return out.toString();
    }
  }

  /**
   * Checks {@code history} against {@code model}.
   *
   * @throws IllegalArgumentException if two transactions share an id, or a value is appended to one
   *     key twice (the workload must make values unique)
   */
  public static Result check(List<Txn> history, Consistency model) {
    Objects.requireNonNull(model, "model");
    List<Txn> txns = List.copyOf(history);
    Set<Long> ids = new HashSet<>();
    for (Txn txn : txns) {
      if (!ids.add(txn.id())) {
        throw new IllegalArgumentException("two transactions have id " + txn.id());
      }
    }
    List<Anomaly> anomalies = new ArrayList<>();
    for (Txn txn : txns) {
      if (txn.outcome() == Outcome.OK) {
        InternalConsistency.check(txn, anomalies);
      }
    }
    AppendObservations observations = new AppendObservations(txns);
    anomalies.addAll(observations.anomalies());
    DependencyGraph graph =
        new DependencyGraph(txns, observations, model == Consistency.STRICT_SERIALIZABLE);
    anomalies.addAll(graph.cycles());
    return new Result(anomalies);
  }

  /** A list as the list-append workloads store it: its values, comma-separated (null: empty). */
  public static List<Long> decodeList(byte[] stored) {
    List<Long> out = new ArrayList<>();
    if (stored != null && stored.length > 0) {
      for (String part : new String(stored, java.nio.charset.StandardCharsets.UTF_8).split(",")) {
        out.add(Long.parseLong(part));
      }
    }
    return out;
  }

  /** {@code list} as the list-append workloads store it (see {@link #decodeList}). */
  public static String encodeList(List<Long> list) {
    StringBuilder b = new StringBuilder();
    for (long x : list) {
      if (b.length() > 0) {
        b.append(',');
      }
      b.append(x);
    }
    return b.toString();
  }
}
