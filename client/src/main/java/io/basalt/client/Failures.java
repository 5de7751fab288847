package io.basalt.client;

import io.basalt.api.Error;
import io.basalt.api.Errors;
import io.basalt.api.KvResponse;
import io.basalt.api.RangeDescriptor;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * What a failed attempt means, and how failures are told: which endings of an attempt prove that a
 * write was not applied ({@link #provesNotApplied}, the rule the router's ambiguity follows), and
 * the unwrapping and describing of failures, ranges and node errors for messages.
 */
final class Failures {
  private Failures() {}

  /**
   * Whether the way an attempt ended proves that it did not apply its write: the request never left
   * the client, or a node refused it before evaluating it. Anything else leaves the outcome
   * unknown: an answer (even one that cannot be made sense of), a Timeout, an error this client
   * does not know (such as INTERNAL, which a node sends when it cannot read the result it recorded
   * for the request id), a lost connection, no answer in time.
   */
  static boolean provesNotApplied(KvResponse response, Throwable failure) {
    if (failure != null) {
      return failure instanceof Connection.Failure lost
          && lost.kind == Connection.Failure.Kind.NOT_SENT;
    }
    if (!response.hasError()) {
      return false;
    }
    Error error = response.getError();
    return switch (error.getDetailCase()) {
      case NOT_LEADER, RANGE_NOT_FOUND, KEY_NOT_IN_RANGE, UNAVAILABLE -> true;
      // Refused at evaluation, never proposed (a write's earlier attempt, if applied, would
      // have been found by its request id and answered with its recorded result instead).
      case WRITE_INTENT, TXN_RETRY, TXN_ABORTED, READ_UNCERTAIN, GC_THRESHOLD -> true;
      case GENERIC ->
          switch (error.getGeneric().getCode()) {
            case Errors.INVALID_ARGUMENT, Errors.NOT_INITIALIZED, Errors.NOT_SERVING -> true;
            default -> false;
          };
      case TIMEOUT, DETAIL_NOT_SET -> false;
    };
  }

  static Throwable unwrap(Throwable failure) {
    while ((failure instanceof CompletionException || failure instanceof ExecutionException)
        && failure.getCause() != null) {
      failure = failure.getCause();
    }
    return failure;
  }

  static BasaltException asBasalt(Throwable failure) {
    Throwable cause = unwrap(failure);
    return cause instanceof BasaltException basalt
        ? basalt
        : new BasaltException(describe(cause), cause);
  }

  static String describe(Throwable failure) {
    Throwable cause = unwrap(failure);
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }

  static String describe(RangeDescriptor range) {
    return range.getRangeId()
        + " ["
        + Keys.shortly(range.getStartKey().toByteArray())
        + ", "
        + (range.getEndKey().isEmpty() ? "end" : Keys.shortly(range.getEndKey().toByteArray()))
        + ") generation "
        + range.getGeneration();
  }

  static String describe(Error error) {
    return switch (error.getDetailCase()) {
      case NOT_LEADER -> "not the leader of range " + error.getNotLeader().getRangeId();
      case RANGE_NOT_FOUND -> "no replica of range " + error.getRangeNotFound().getRangeId();
      case KEY_NOT_IN_RANGE -> "key not in range";
      case TIMEOUT -> "timeout: " + error.getTimeout().getMessage();
      case UNAVAILABLE -> "unavailable: " + error.getUnavailable().getMessage();
      case GENERIC -> error.getGeneric().getCode() + ": " + error.getGeneric().getMessage();
      case WRITE_INTENT -> "the key holds another transaction's intent";
      case TXN_RETRY -> "transaction retry: " + error.getTxnRetry().getReason();
      case TXN_ABORTED -> "transaction aborted: " + error.getTxnAborted().getReason();
      case READ_UNCERTAIN -> "a value in the read's uncertainty interval";
      case GC_THRESHOLD -> "the timestamp is below the range's garbage collection threshold";
      case DETAIL_NOT_SET -> "an error without detail";
    };
  }
}
