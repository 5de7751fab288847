package io.basalt.api;

/** The errors a node answers with, each one telling the client how to recover (decision 8). */
public final class Errors {
  /** Generic error codes (machine-readable). */
  public static final String INVALID_ARGUMENT = "INVALID_ARGUMENT";

  public static final String NOT_INITIALIZED = "NOT_INITIALIZED";
  public static final String NOT_SERVING = "NOT_SERVING";
  public static final String ALREADY_INITIALIZED = "ALREADY_INITIALIZED";
  public static final String INTERNAL = "INTERNAL";

  private Errors() {}

  public static KvResponse generic(String code, String message) {
    return error(
        Error.newBuilder()
            .setGeneric(GenericError.newBuilder().setCode(code).setMessage(message))
            .build());
  }

  public static KvResponse invalid(String message) {
    return generic(INVALID_ARGUMENT, message);
  }

  public static KvResponse notLeader(long rangeId, long leaderNode, String leaderAddress) {
    NotLeaderError.Builder b = NotLeaderError.newBuilder().setRangeId(rangeId);
    if (leaderNode != 0) {
      // The node is what a client needs; the replica id is the range's own and not given here.
      b.setLeaderHint(ReplicaDescriptor.newBuilder().setNodeId(leaderNode));
    }
    if (leaderAddress != null) {
      b.setLeaderAddress(leaderAddress);
    }
    return error(Error.newBuilder().setNotLeader(b).build());
  }

  public static KvResponse rangeNotFound(long rangeId) {
    return error(
        Error.newBuilder()
            .setRangeNotFound(RangeNotFoundError.newBuilder().setRangeId(rangeId))
            .build());
  }

  public static KvResponse keyNotInRange(byte[] key, RangeDescriptor current) {
    return error(
        Error.newBuilder()
            .setKeyNotInRange(
                KeyNotInRangeError.newBuilder()
                    .setKey(com.google.protobuf.ByteString.copyFrom(key))
                    .setCurrent(current))
            .build());
  }

  public static KvResponse timeout(String message) {
    return error(
        Error.newBuilder().setTimeout(TimeoutError.newBuilder().setMessage(message)).build());
  }

  public static KvResponse unavailable(String message) {
    return error(
        Error.newBuilder()
            .setUnavailable(UnavailableError.newBuilder().setMessage(message))
            .build());
  }

  /** The request met {@code txn}'s intent on {@code key}: push it, resolve the intent, retry. */
  public static KvResponse writeIntent(com.google.protobuf.ByteString key, TxnMeta txn) {
    return error(
        Error.newBuilder()
            .setWriteIntent(WriteIntentError.newBuilder().setKey(key).setTxn(txn))
            .build());
  }

  /** The transaction must restart (or refresh to {@code retryAt}, when not null). */
  public static KvResponse txnRetry(String reason, Timestamp retryAt) {
    TransactionRetryError.Builder b = TransactionRetryError.newBuilder().setReason(reason);
    if (retryAt != null) {
      b.setRetryAt(retryAt);
    }
    return error(Error.newBuilder().setTxnRetry(b).build());
  }

  public static KvResponse txnAborted(String reason) {
    return error(
        Error.newBuilder()
            .setTxnAborted(TransactionAbortedError.newBuilder().setReason(reason))
            .build());
  }

  /** A read met a committed value written at {@code existing}, inside its uncertainty interval. */
  public static KvResponse readUncertain(com.google.protobuf.ByteString key, Timestamp existing) {
    return error(
        Error.newBuilder()
            .setReadUncertain(
                ReadWithinUncertaintyError.newBuilder().setKey(key).setExisting(existing))
            .build());
  }

  public static KvResponse gcThreshold(Timestamp threshold) {
    return error(
        Error.newBuilder()
            .setGcThreshold(GcThresholdError.newBuilder().setThreshold(threshold))
            .build());
  }

  private static KvResponse error(Error e) {
    return KvResponse.newBuilder().setError(e).build();
  }
}
