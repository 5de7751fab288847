package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.Error;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.ReplicatedWrite;
import io.basalt.api.TxnMeta;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes waiting at a locked key for its lock to go, in a queue per key (DESIGN.md, "Conflicts"): a
 * write (or locking read) that meets another transaction's intent, and would wait for that
 * transaction anyway (it does not outrank it), is not answered WriteIntent at once but waits here,
 * without latches, until a command applied on this replica clears the intent of that key (its
 * transaction committed or aborted and the intent was resolved); then the key's waiters are
 * evaluated again, in the order they came. A write waits at most {@link #MAX_WAIT_TICKS}: then it
 * is evaluated again and, if the lock is still there, answered WriteIntent, so that its client
 * pushes the holder (which may have been abandoned: only a push finds out, at its record).
 */
final class LockWaits {
  /** How long a write waits at a lock before its client is told to push the holder. */
  static final int MAX_WAIT_TICKS = 3;

  private final Map<ByteString, List<Pending>> byKey = new HashMap<>();

  /** When each write now waiting (or being evaluated again) first waited, in ticks. */
  private final Map<Pending, Long> since = new IdentityHashMap<>();

  /**
   * Whether {@code p}, a write just evaluated to {@code answer}, waits here instead of being
   * answered: the answer is a WriteIntent error of a holder that {@code p}'s transaction (priority
   * 0 for a plain write) does not outrank, within its wait.
   */
  boolean park(Pending p, KvResponse answer, long tick) {
    Long first = since.remove(p);
    if (!answer.hasError() || answer.getError().getDetailCase() != Error.DetailCase.WRITE_INTENT) {
      return false;
    }
    TxnMeta holder = answer.getError().getWriteIntent().getTxn();
    TxnMeta waiter = p.request.getHeader().getTxn().getMeta();
    if (waiter.getId().equals(holder.getId()) || waiter.getPriority() > holder.getPriority()) {
      return false; // it pushes (wound-wait: the older aborts the younger)
    }
    long waitedSince = first == null ? tick : first;
    if (tick - waitedSince >= MAX_WAIT_TICKS) {
      return false;
    }
    since.put(p, waitedSince);
    byKey
        .computeIfAbsent(answer.getError().getWriteIntent().getKey(), k -> new ArrayList<>())
        .add(p);
    return true;
  }

  /** Takes out the writes waiting at keys whose intent {@code command} (if any) clears. */
  void wake(RaftCommand command, Collection<Pending> into) {
    if (byKey.isEmpty() || command == null) {
      return;
    }
    for (ByteString key : command.getClearedIntentsList()) {
      List<Pending> waiting = byKey.remove(key);
      if (waiting != null) {
        into.addAll(waiting);
      }
    }
    for (ReplicatedWrite w : command.getWritesList()) {
      List<Pending> waiting = byKey.remove(w.getKey());
      if (waiting != null) {
        into.addAll(waiting);
      }
    }
  }

  /** Takes out the writes that have waited their longest, to evaluate again. */
  void recheck(long tick, Collection<Pending> into) {
    if (byKey.isEmpty()) {
      return;
    }
    for (var it = byKey.values().iterator(); it.hasNext(); ) {
      List<Pending> waiting = it.next();
      List<Pending> due = new ArrayList<>();
      for (Pending p : waiting) {
        Long first = since.get(p);
        if (p.done || first == null || tick - first >= MAX_WAIT_TICKS) {
          due.add(p);
        }
      }
      waiting.removeAll(due);
      into.addAll(due);
      if (waiting.isEmpty()) {
        it.remove();
      }
    }
  }

  /** Takes out every waiting write, to answer (leadership lost: none is evaluated here again). */
  void drain(Collection<Pending> into) {
    byKey.values().forEach(into::addAll);
    byKey.clear();
    since.clear();
  }

  /** Forgets {@code p}'s wait (it was answered some other way). */
  void forget(Pending p) {
    since.remove(p);
  }

  /** How many writes wait (for a report). */
  int size() {
    return byKey.values().stream().mapToInt(List::size).sum();
  }
}
