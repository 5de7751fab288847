package io.basalt.range.check;

import io.basalt.range.check.ListAppendChecker.Anomaly;
import io.basalt.range.check.ListAppendChecker.Op;
import io.basalt.range.check.ListAppendChecker.Txn;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link Anomaly.Type#INTERNAL} check of {@link ListAppendChecker}: each read of a committed
 * transaction must agree with what the same transaction did to that key before.
 */
final class InternalConsistency {
  private InternalConsistency() {}

  /** What one transaction knows of one key so far. */
  private static final class KeyView {
    /** The whole list, once the transaction has read the key; null before. */
    List<Long> known;

    /** Before the first read: the values appended so far, which must end every read. */
    final List<Long> ownSuffix = new ArrayList<>();

    /** Values appended so far. */
    final Set<Long> appended = new HashSet<>();

    boolean reported;
  }

  static void check(Txn txn, List<Anomaly> out) {
    Map<String, Set<Long>> appendsByKey = new HashMap<>();
    for (Op op : txn.ops()) {
      if (op.kind() == Op.Kind.APPEND) {
        appendsByKey.computeIfAbsent(op.key(), k -> new HashSet<>()).add(op.value());
      }
    }
    Map<String, KeyView> views = new LinkedHashMap<>();
    for (Op op : txn.ops()) {
      KeyView view = views.computeIfAbsent(op.key(), k -> new KeyView());
      if (op.kind() == Op.Kind.APPEND) {
        view.appended.add(op.value());
        if (view.known != null) {
          view.known.add(op.value());
        } else {
          view.ownSuffix.add(op.value());
        }
        continue;
      }
      List<Long> read = op.read();
      String problem = null;
      if (view.known != null && !read.equals(view.known)) {
        problem =
            "its earlier read and appends since make it " + AppendObservations.show(view.known);
      } else if (view.known == null && !endsWith(read, view.ownSuffix)) {
        problem =
            "it does not end with " + view.ownSuffix + ", which the txn appended to it earlier";
      } else if (appendsByKey.containsKey(op.key())) {
        for (long value : read) {
          if (appendsByKey.get(op.key()).contains(value) && !view.appended.contains(value)) {
            problem = "it contains " + value + ", which the txn appends only later";
            break;
          }
        }
      }
      if (problem != null && !view.reported) {
        view.reported = true;
        out.add(
            new Anomaly(
                Anomaly.Type.INTERNAL,
                List.of(txn.id()),
                "T"
                    + txn.id()
                    + " read "
                    + op.key()
                    + " = "
                    + AppendObservations.show(read)
                    + ", but "
                    + problem));
      }
      view.known = new ArrayList<>(read);
    }
  }

  private static boolean endsWith(List<Long> list, List<Long> suffix) {
    int offset = list.size() - suffix.size();
    return offset >= 0 && list.subList(offset, list.size()).equals(suffix);
  }
}
