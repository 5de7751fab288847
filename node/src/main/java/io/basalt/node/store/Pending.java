package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.txn.eval.Commands;
import java.util.function.Consumer;

/** A request in flight: answered once, by whichever of apply, error or deadline comes first. */
final class Pending {
  final Replica replica;
  final KvRequest request;
  private final Consumer<KvResponse> reply;
  final long deadline;
  final boolean isWrite;
  boolean done;

  /** The ReadIndex context of a read waiting for its read state, else null. */
  ByteString readContext;

  /**
   * The descriptor the request was last checked against (its keys in the range): checked again only
   * if the replica's descriptor changed since (a split may have moved them).
   */
  io.basalt.api.RangeDescriptor checkedAgainst;

  Pending(Replica replica, KvRequest request, Consumer<KvResponse> reply, long deadline) {
    this.replica = replica;
    this.request = request;
    this.reply = reply;
    this.deadline = deadline;
    this.isWrite = Commands.isWrite(request);
  }

  /** Answers, unless already answered. */
  void reply(KvResponse response) {
    if (!done) {
      done = true;
      reply.accept(response);
    }
  }
}
