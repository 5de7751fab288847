package io.basalt.txn.eval;

import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RaftCommand;
import io.basalt.api.RangeDescriptor;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.replica.ReplicaStateMachine;
import io.basalt.range.storage.MemEngine;
import io.basalt.txn.tscache.TimestampCache;

/**
 * One range's leader without a cluster: the applied state on a {@link MemEngine}, a clock reading
 * the test sets, and a timestamp cache. A write is evaluated as the leader does and what it staged
 * is applied by a {@link ReplicaStateMachine}, as every replica applies the committed command.
 */
final class TestReplica {
  final MemEngine engine = new MemEngine();
  final RangeDescriptor range;
  final TimestampCache tscache = new TimestampCache(Timestamp.MIN, 10_000);
  private final ReplicaStateMachine stateMachine;
  private long index;

  /** The leader's clock reading, as evaluation sees it. */
  Timestamp now = new Timestamp(1, 0);

  long maxOffsetNanos;
  long txnExpiryNanos = Long.MAX_VALUE;

  /** An evaluated write: its answer and the command it staged. */
  record Evaluated(KvResponse answer, RaftCommand command) {}

  TestReplica(RangeDescriptor range) {
    this.range = range;
    this.stateMachine = new ReplicaStateMachine(engine, range.getRangeId());
  }

  Commands.Context context() {
    return new Commands.Context(now, maxOffsetNanos, txnExpiryNanos, tscache);
  }

  /**
   * Evaluates a valid write against the applied state without applying it.
   *
   * @throws AssertionError if the request is invalid for the range, or an error answer staged
   *     anything
   */
  Evaluated evaluate(KvRequest request) {
    checkValid(request);
    RaftCommand.Builder into = RaftCommand.newBuilder();
    KvResponse answer = Commands.evaluate(request, engine, range, context(), into);
    RaftCommand command = into.build();
    if (answer.hasError() && !command.equals(RaftCommand.getDefaultInstance())) {
      throw new AssertionError("an error answer staged " + command + " for " + answer);
    }
    return new Evaluated(answer, command);
  }

  /** Evaluates a valid write and applies what it staged; returns its answer. */
  KvResponse write(KvRequest request) {
    Evaluated e = evaluate(request);
    apply(e.command());
    return e.answer();
  }

  /** Applies {@code command} as the next entry of the range's log. */
  void apply(RaftCommand command) {
    stateMachine.apply(++index, command.toByteArray());
  }

  /** Serves a valid read from the applied state. */
  KvResponse read(KvRequest request) {
    checkValid(request);
    return Commands.read(request, engine, range, context());
  }

  private void checkValid(KvRequest request) {
    KvResponse invalid = Commands.validate(request, range);
    if (invalid != null) {
      throw new AssertionError("invalid request " + request + ": " + invalid);
    }
  }
}
