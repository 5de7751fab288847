package io.basalt.range.check;

import io.basalt.range.check.ListAppendChecker.Anomaly;
import io.basalt.range.check.ListAppendChecker.Op;
import io.basalt.range.check.ListAppendChecker.Outcome;
import io.basalt.range.check.ListAppendChecker.Txn;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the reads of a list-append history say about each key, for {@link ListAppendChecker}: who
 * appended each value, which values anyone read, the version order of each key whose reads agree,
 * and the direct anomalies (duplicates, incompatible orders, garbage, aborted and intermediate
 * reads). Transactions are named by their index in the history.
 */
final class AppendObservations {
  /** An OK transaction's read of a key. */
  record Read(int txn, List<Long> values) {}

  /** A committed append that no read contains. */
  record MissedAppend(int writer, long value) {}

  private final List<Txn> txns;
  private final Map<String, Map<Long, Integer>> writers = new HashMap<>();

  /** Per key, the values their writer followed with another append to the same key. */
  private final Map<String, Set<Long>> intermediates = new HashMap<>();

  private final Map<String, List<Read>> reads = new LinkedHashMap<>();
  private final Map<String, Set<Long>> observed = new HashMap<>();
  private final Map<String, List<Long>> versionOrders = new LinkedHashMap<>();
  private final boolean[] committed;
  private final List<Anomaly> anomalies = new ArrayList<>();
  private final Set<String> intermediateReported = new HashSet<>();

  AppendObservations(List<Txn> txns) {
    this.txns = txns;
    for (int i = 0; i < txns.size(); i++) {
      Txn txn = txns.get(i);
      Map<String, Long> lastAppend = new HashMap<>();
      for (Op op : txn.ops()) {
        if (op.kind() == Op.Kind.APPEND) {
          Integer previous =
              writers.computeIfAbsent(op.key(), k -> new HashMap<>()).putIfAbsent(op.value(), i);
          if (previous != null) {
            throw new IllegalArgumentException(
                "value "
                    + op.value()
                    + " is appended to "
                    + op.key()
                    + " twice (by txns "
                    + txns.get(previous).id()
                    + " and "
                    + txn.id()
                    + "); the workload must append unique values");
          }
          Long before = lastAppend.put(op.key(), op.value());
          if (before != null) {
            intermediates.computeIfAbsent(op.key(), k -> new HashSet<>()).add(before);
          }
        } else if (txn.outcome() == Outcome.OK) {
          reads.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(new Read(i, op.read()));
        }
      }
    }
    reads.forEach(this::checkKey);
    committed = new boolean[txns.size()];
    for (int i = 0; i < txns.size(); i++) {
      Txn txn = txns.get(i);
      committed[i] = txn.outcome() == Outcome.OK;
      if (txn.outcome() == Outcome.INFO) {
        for (Op op : txn.ops()) {
          if (op.kind() == Op.Kind.APPEND
              && observed.getOrDefault(op.key(), Set.of()).contains(op.value())) {
            committed[i] = true;
          }
        }
      }
    }
  }

  List<Anomaly> anomalies() {
    return anomalies;
  }

  Txn txn(int index) {
    return txns.get(index);
  }

  int size() {
    return txns.size();
  }

  /** OK, or INFO with an append some read observed. */
  boolean committed(int txn) {
    return committed[txn];
  }

  /** The longest read of each key whose reads are all prefixes of it and free of duplicates. */
  Map<String, List<Long>> versionOrders() {
    return versionOrders;
  }

  List<Read> reads(String key) {
    return reads.getOrDefault(key, List.of());
  }

  /** The index of the transaction that appended {@code value} to {@code key}, or -1. */
  int writer(String key, long value) {
    Integer writer = writers.getOrDefault(key, Map.of()).get(value);
    return writer == null ? -1 : writer;
  }

  /** Appends to {@code key} by committed transactions that no read contains, in history order. */
  List<MissedAppend> missedAppends(String key) {
    Set<Long> seen = observed.getOrDefault(key, Set.of());
    List<MissedAppend> missed = new ArrayList<>();
    writers
        .getOrDefault(key, Map.of())
        .forEach((value, writer) -> {
          if (committed[writer] && !seen.contains(value)) {
            missed.add(new MissedAppend(writer, value));
          }
        });
    missed.sort(
        Comparator.comparingInt(MissedAppend::writer).thenComparingLong(MissedAppend::value));
    return missed;
  }

  private void checkKey(String key, List<Read> keyReads) {
    Read longest = keyReads.get(0);
    for (Read read : keyReads) {
      if (read.values().size() > longest.values().size()) {
        longest = read;
      }
    }
    // Reads that are prefixes of the longest add nothing new, so only the longest and the reads
    // that disagree with it are scanned value by value.
    Set<Long> seen = new HashSet<>();
    Set<Long> reported = new HashSet<>();
    boolean ordered = scanValues(key, longest, seen, reported);
    Read incompatible = null;
    int incompatibleCount = 0;
    for (Read read : keyReads) {
      List<Long> values = read.values();
      if (!values.equals(longest.values().subList(0, values.size()))) {
        ordered = false;
        incompatibleCount++;
        if (incompatible == null) {
          incompatible = read;
        }
        scanValues(key, read, seen, reported);
      }
      checkIntermediate(key, read);
    }
    if (incompatible != null) {
      List<Long> a = incompatible.values();
      List<Long> b = longest.values();
      int at = 0;
      while (a.get(at).equals(b.get(at))) {
        at++;
      }
      anomalies.add(
          new Anomaly(
              Anomaly.Type.INCOMPATIBLE_ORDER,
              List.of(txn(incompatible.txn()).id(), txn(longest.txn()).id()),
              name(incompatible.txn())
                  + " read "
                  + key
                  + " = "
                  + show(a)
                  + " and "
                  + name(longest.txn())
                  + " read "
                  + key
                  + " = "
                  + show(b)
                  + ": they differ at position "
                  + at
                  + " ("
                  + a.get(at)
                  + " vs "
                  + b.get(at)
                  + ")"
                  + (incompatibleCount > 1
                      ? "; " + (incompatibleCount - 1) + " more reads disagree with the longest"
                      : "")));
    }
    observed.put(key, seen);
    if (ordered) {
      versionOrders.put(key, longest.values());
    }
  }

  /**
   * Checks each value of {@code read} not already seen for a writer; returns false if the read has
   * a duplicate.
   */
  private boolean scanValues(String key, Read read, Set<Long> seen, Set<Long> reported) {
    boolean distinct = true;
    Set<Long> inRead = new HashSet<>();
    for (long value : read.values()) {
      if (!inRead.add(value)) {
        distinct = false;
        if (reported.add(value)) {
          add(
              Anomaly.Type.DUPLICATE_APPEND,
              List.of(read.txn()),
              name(read.txn())
                  + " read "
                  + key
                  + " = "
                  + show(read.values())
                  + " with "
                  + value
                  + " more than once");
        }
      }
      if (!seen.add(value)) {
        continue;
      }
      int writer = writer(key, value);
      if (writer < 0) {
        add(
            Anomaly.Type.GARBAGE_READ,
            List.of(read.txn()),
            name(read.txn()) + " read " + value + " in " + key + ", which no txn appended");
      } else if (txn(writer).outcome() == Outcome.FAIL) {
        add(
            Anomaly.Type.G1A,
            List.of(writer, read.txn()),
            name(read.txn())
                + " read "
                + value
                + " in "
                + key
                + ", appended only by "
                + name(writer)
                + ", which failed");
      }
    }
    return distinct;
  }

  private void checkIntermediate(String key, Read read) {
    List<Long> values = read.values();
    if (values.isEmpty()) {
      return;
    }
    long last = values.get(values.size() - 1);
    int writer = writer(key, last);
    if (writer < 0
        || writer == read.txn()
        || txn(writer).outcome() == Outcome.FAIL
        || !intermediates.getOrDefault(key, Set.of()).contains(last)
        || !intermediateReported.add(key + "\u0000" + last)) {
      return;
    }
    add(
        Anomaly.Type.G1B,
        List.of(writer, read.txn()),
        name(read.txn())
            + " read "
            + key
            + " = "
            + show(values)
            + ", ending at "
            + last
            + ", which "
            + name(writer)
            + " followed with another append to "
            + key);
  }

  private void add(Anomaly.Type type, List<Integer> txnIndexes, String explanation) {
    anomalies.add(
        new Anomaly(type, txnIndexes.stream().map(i -> txn(i).id()).toList(), explanation));
  }

  String name(int txn) {
    return "T" + txn(txn).id();
  }

  /** A list for an explanation, eliding the middle of a long one. */
  static String show(List<Long> values) {
    if (values.size() <= 12) {
      return values.toString();
    }
    return "["
        + values.get(0)
        + ", "
        + values.get(1)
        + ", ... "
        + (values.size() - 8)
        + " more ..., "
        + String.join(
            ", ",
            values.subList(values.size() - 6, values.size()).stream().map(String::valueOf).toList())
        + "]";
  }
}
