package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PushTxnResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.TxnRecordWrite;
import io.basalt.api.TxnStatus;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Pushes waiting at a transaction's anchor for it to end (DESIGN.md, "Conflicts"): a push that
 * neither aborts nor pushes its pushee (alive, and older than the pusher) is not answered at once,
 * sending its client into a poll, but waits here, without latches, until the pushee's record
 * changes (it commits, aborts, is pushed, or heartbeats), and is then evaluated again. It is also
 * evaluated again every {@link #RECHECK_TICKS} (so that a pushee gone silent is aborted once it
 * expires), and answered "not pushed" after {@link #MAX_WAIT_TICKS}, so its client looks again at
 * what it waits for. Wound-wait priorities make every wait an edge from a younger transaction to an
 * older one, so waits never form a cycle.
 */
final class TxnWaits {
  /** How often a waiting push is evaluated again without its pushee's record changing. */
  static final int RECHECK_TICKS = 5;

  /** How long a push waits in all before it is answered "not pushed". */
  static final int MAX_WAIT_TICKS = 10;

  private final Map<ByteString, List<Pending>> byPushee = new HashMap<>();

  /** When each push now waiting (or being evaluated again) first waited, in ticks. */
  private final Map<Pending, Long> since = new IdentityHashMap<>();

  /**
   * Whether {@code p}, a write just evaluated to {@code answer} staging {@code staged}, waits here
   * instead of being answered: a push that pushed nothing, wrote nothing, and whose pushee is still
   * live (pending, or staging and not abandoned), within its wait.
   */
  boolean park(Pending p, KvResponse answer, RaftCommand.Builder staged, long tick) {
    Long first = since.remove(p);
    if (p.request.getRequestCase() != KvRequest.RequestCase.PUSH_TXN
        || staged.getTxnRecordsCount() > 0) {
      return false;
    }
    PushTxnResponse push = answer.getPushTxn();
    TxnStatus status = push.getPushee().getStatus();
    if (push.getPushed()
        || push.getNeedsRecovery()
        || status == TxnStatus.TXN_COMMITTED
        || status == TxnStatus.TXN_ABORTED) {
      return false;
    }
    long waitedSince = first == null ? tick : first;
    if (tick - waitedSince >= MAX_WAIT_TICKS) {
      return false;
    }
    since.put(p, waitedSince);
    byPushee
        .computeIfAbsent(p.request.getPushTxn().getPushee().getId(), id -> new ArrayList<>())
        .add(p);
    return true;
  }

  /**
   * Takes out the pushes waiting for a transaction whose record {@code command} (if any) writes.
   */
  void wake(RaftCommand command, Collection<Pending> into) {
    if (byPushee.isEmpty() || command == null) {
      return;
    }
    for (TxnRecordWrite w : command.getTxnRecordsList()) {
      List<Pending> waiting = byPushee.remove(w.getTxnId());
      if (waiting != null) {
        into.addAll(waiting);
      }
    }
  }

  /** Whether no push waits here. */
  boolean isEmpty() {
    return byPushee.isEmpty();
  }

  /** Takes out every waiting push, every {@link #RECHECK_TICKS}. */
  void recheck(long tick, Collection<Pending> into) {
    if (!byPushee.isEmpty() && tick % RECHECK_TICKS == 0) {
      byPushee.values().forEach(into::addAll);
      byPushee.clear();
    }
  }

  /** Takes out every waiting push, to answer (leadership lost: none is evaluated here again). */
  void drain(Collection<Pending> into) {
    byPushee.values().forEach(into::addAll);
    byPushee.clear();
    since.clear();
  }

  /** Forgets {@code p}'s wait (it was answered some other way). */
  void forget(Pending p) {
    since.remove(p);
  }
}
