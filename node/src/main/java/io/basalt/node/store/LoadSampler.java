package io.basalt.node.store;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.RangeDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * A range's load as its leader sees it, for load-based splits (DESIGN.md, "Splits"): the requests
 * per second, decayed over about {@link #WINDOW_NANOS}, and a uniform sample of the keys the
 * requests named over the last two windows, whose median is a key that splits the load in halves.
 * Cheap enough to run on every request: a multiply, and now and then a key kept.
 */
final class LoadSampler {
  static final long WINDOW_NANOS = 10_000_000_000L;
  private static final int SAMPLES = 128;

  private final RandomGenerator random;
  private double decayed;
  private long lastNanos = Long.MIN_VALUE;
  private long windowStart = Long.MIN_VALUE;
  private long seen;
  private List<ByteString> samples = new ArrayList<>();
  private List<ByteString> previous = List.of();

  LoadSampler(RandomGenerator random) {
    this.random = random;
  }

  /** Counts one request at {@code nowNanos}, and samples the key it names, if any. */
  void record(KvRequest request, long nowNanos) {
    decayed = decayedAt(nowNanos) + 1;
    lastNanos = nowNanos;
    if (windowStart == Long.MIN_VALUE || nowNanos - windowStart >= WINDOW_NANOS) {
      previous = samples;
      samples = new ArrayList<>();
      seen = 0;
      windowStart = nowNanos;
    }
    ByteString key = keyOf(request);
    if (key == null) {
      return;
    }
    seen++;
    if (samples.size() < SAMPLES) {
      samples.add(key);
    } else {
      long j = random.nextLong(seen);
      if (j < SAMPLES) {
        samples.set((int) j, key); // (reservoir sampling: every request kept with equal odds)
      }
    }
  }

  private double decayedAt(long nowNanos) {
    if (lastNanos == Long.MIN_VALUE) {
      return 0;
    }
    return decayed * Math.exp(-(double) (nowNanos - lastNanos) / WINDOW_NANOS);
  }

  /**
   * Forgets everything counted: the range just split, and what it counted was partly the other
   * half's load.
   */
  void reset() {
    decayed = 0;
    lastNanos = Long.MIN_VALUE;
    windowStart = Long.MIN_VALUE;
    seen = 0;
    samples = new ArrayList<>();
    previous = List.of();
  }

  /** Requests per second, decayed to {@code nowNanos}. */
  double requestsPerSecond(long nowNanos) {
    return decayedAt(nowNanos) * 1e9 / WINDOW_NANOS;
  }

  /**
   * The sampled key that halves the sampled requests of range {@code d} (strictly inside its span),
   * or empty if none does (too few samples, or every request on one key).
   */
  ByteString splitKey(RangeDescriptor d) {
    var order = ByteString.unsignedLexicographicalComparator();
    List<ByteString> keys = new ArrayList<>();
    for (ByteString k : previous) {
      keys.add(k);
    }
    keys.addAll(samples);
    keys.removeIf(k ->
        order.compare(k, d.getStartKey()) < 0
            || (!d.getEndKey().isEmpty() && order.compare(k, d.getEndKey()) >= 0));
    if (keys.size() < 16) {
      return ByteString.EMPTY;
    }
    keys.sort(order);
    ByteString median = keys.get(keys.size() / 2);
    // The split key starts the right half: the left half gets the keys below it. The range's
    // first key, or a median equal to the lowest sample (one hot key), splits nothing off.
    return median.equals(keys.get(0)) || median.equals(d.getStartKey()) ? ByteString.EMPTY : median;
  }

  /** The key a request names, for sampling (null for requests without one). */
  private static ByteString keyOf(KvRequest r) {
    return switch (r.getRequestCase()) {
      case GET -> r.getGet().getKey();
      case PUT -> r.getPut().getKey();
      case DELETE -> r.getDelete().getKey();
      case CONDITIONAL_PUT -> r.getConditionalPut().getKey();
      case SCAN -> r.getScan().getStartKey();
      case WRITE_BATCH -> {
        if (r.getWriteBatch().getMutationsCount() == 0) {
          yield null;
        }
        io.basalt.api.Mutation m = r.getWriteBatch().getMutations(0);
        yield m.hasPut() ? m.getPut().getKey() : m.getDelete().getKey();
      }
      default -> null;
    };
  }
}
