package io.basalt.range.check;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checks that a history is linearizable against a sequential {@link Model} (VERIFICATION.md,
 * "Checkers"): Wing and Gong's search with Lowe's memoisation, as Porcupine does it.
 *
 * <p>The history is split by key (P-compositionality: a history is linearizable iff each key's
 * sub-history is) and each key is checked alone. For one key, calls and returns form one list in
 * real-time order (a call at the same instant as a return is taken as concurrent with it, unless
 * every operation of the key carries sequence numbers: then they order events of one instant). The
 * search repeatedly tries to linearize a pending call, that is one that appears before the first
 * return still in the list, whose model step is legal; it memoises each (set of linearized
 * operations, model state) reached and never explores one twice; when it meets a return whose call
 * could not be linearized it backtracks. Operations with unknown outcomes return at +infinity;
 * unknown read-only operations are dropped, since they can be placed anywhere without effect.
 *
 * <p>The search is exponential in the worst case; keep per-key histories to hundreds of operations
 * with at most about 20 concurrent. {@code maxStates} bounds the work per key; a key that exceeds
 * it is reported as {@link Verdict#UNKNOWN}, never as linearizable.
 */
public final class LinearizabilityChecker {
  /** The outcome for one key. */
  public enum Verdict {
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN
  }

  /** The result of a check: per-key verdicts, and the operations of the first failing key. */
  public record Result<I, O>(
      Map<String, Verdict> verdicts, String failingKey, List<Operation<I, O>> failingOperations) {
    public boolean linearizable() {
      return verdicts.values().stream().allMatch(v -> v == Verdict.LINEARIZABLE);
    }

    public String describe() {
      if (linearizable()) {
        return "linearizable (" + verdicts.size() + " keys)";
      }
      StringBuilder out = new StringBuilder();
      verdicts.forEach((key, verdict) -> {
        if (verdict != Verdict.LINEARIZABLE) {
          out.append("key ").append(key).append(": ").append(verdict).append('\n');
        }
      });
      if (failingKey != null) {
        out.append("operations of key ").append(failingKey).append(":\n");
        failingOperations.stream()
            .sorted(Comparator.comparingLong(Operation::callTime))
            .forEach(op -> out.append("  ").append(op).append('\n'));
      }
      return out.toString();
    }
  }

  private final long maxStates;

  public LinearizabilityChecker(long maxStates) {
    this.maxStates = maxStates;
  }

  public LinearizabilityChecker() {
    this(5_000_000);
  }

  public <S, I, O> Result<I, O> check(Model<S, I, O> model, List<Operation<I, O>> history) {
    Map<String, List<Operation<I, O>>> byKey = new LinkedHashMap<>();
    for (Operation<I, O> op : history) {
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    Map<String, Verdict> verdicts = new LinkedHashMap<>();
    String failingKey = null;
    for (Map.Entry<String, List<Operation<I, O>>> entry : byKey.entrySet()) {
      List<Operation<I, O>> pruned = model.prune(entry.getValue());
      Verdict verdict = checkKey(model, pruned);
      if (verdict != Verdict.LINEARIZABLE && pruned.size() != entry.getValue().size()) {
        verdict = checkKey(model, entry.getValue());
      }
      verdicts.put(entry.getKey(), verdict);
      if (verdict != Verdict.LINEARIZABLE && failingKey == null) {
        failingKey = entry.getKey();
      }
    }
    return new Result<>(
        verdicts, failingKey, failingKey == null ? List.of() : byKey.get(failingKey));
  }

  /** A call or return event in the doubly linked list the search walks. */
  private static final class Event<I, O> {
    final boolean isCall;
    final int id;
    final Operation<I, O> op;
    final long time;
    final long seq;
    Event<I, O> match;
    Event<I, O> prev;
    Event<I, O> next;

    Event(boolean isCall, int id, Operation<I, O> op, long time, long seq) {
      this.isCall = isCall;
      this.id = id;
      this.op = op;
      this.time = time;
      this.seq = seq;
    }
  }

  private record Memo(BitSet linearized, Object state) {}

  private record Frame<S, I, O>(Event<I, O> call, S stateBefore) {}

  private <S, I, O> Verdict checkKey(Model<S, I, O> model, List<Operation<I, O>> ops) {
    List<Event<I, O>> events = new ArrayList<>();
    int id = 0;
    for (Operation<I, O> op : ops) {
      if (op.outcomeUnknown() && model.isReadOnly(op.input())) {
        continue;
      }
      Event<I, O> call = new Event<>(true, id, op, op.callTime(), op.callSeq());
      Event<I, O> ret = new Event<>(false, id, op, op.returnTime(), op.returnSeq());
      call.match = ret;
      events.add(call);
      events.add(ret);
      id++;
    }
    // Real-time order. At equal times: by sequence number when every operation has one (exact);
    // otherwise calls first, so that touching operations count as concurrent (the conservative
    // choice: it never invents a violation).
    boolean sequenced = ops.stream().allMatch(Operation::sequenced);
    Comparator<Event<I, O>> byTime = Comparator.comparingLong(e -> e.time);
    events.sort(
        sequenced
            ? byTime.thenComparingLong(e -> e.seq)
            : byTime.thenComparing(e -> e.isCall ? 0 : 1));
    Event<I, O> head = new Event<>(true, -1, null, Long.MIN_VALUE, 0);
    Event<I, O> tail = head;
    for (Event<I, O> event : events) {
      tail.next = event;
      event.prev = tail;
      tail = event;
    }

    S state = model.initial();
    BitSet linearized = new BitSet(id);
    Set<Memo> seen = new HashSet<>();
    Deque<Frame<S, I, O>> stack = new ArrayDeque<>();
    Event<I, O> entry = head.next;
    long explored = 0;
    while (head.next != null) {
      if (++explored > maxStates) {
        return Verdict.UNKNOWN;
      }
      if (entry.isCall) {
        Optional<S> next =
            model.step(
                state, entry.op.input(), entry.op.outcomeUnknown() ? null : entry.op.output());
        if (next.isPresent()) {
          BitSet candidate = (BitSet) linearized.clone();
          candidate.set(entry.id);
          if (seen.add(new Memo(candidate, next.get()))) {
            stack.push(new Frame<>(entry, state));
            state = next.get();
            linearized = candidate;
            lift(entry);
            entry = head.next;
            continue;
          }
        }
        entry = entry.next;
      } else {
        if (stack.isEmpty()) {
          return Verdict.NOT_LINEARIZABLE;
        }
        Frame<S, I, O> frame = stack.pop();
        state = frame.stateBefore();
        linearized = (BitSet) linearized.clone();
        linearized.clear(frame.call().id);
        unlift(frame.call());
        entry = frame.call().next;
      }
    }
    return Verdict.LINEARIZABLE;
  }

  private static <I, O> void lift(Event<I, O> call) {
    call.prev.next = call.next;
    if (call.next != null) {
      call.next.prev = call.prev;
    }
    Event<I, O> ret = call.match;
    ret.prev.next = ret.next;
    if (ret.next != null) {
      ret.next.prev = ret.prev;
    }
  }

  private static <I, O> void unlift(Event<I, O> call) {
    Event<I, O> ret = call.match;
    ret.prev.next = ret;
    if (ret.next != null) {
      ret.next.prev = ret;
    }
    call.prev.next = call;
    if (call.next != null) {
      call.next.prev = call;
    }
  }
}
