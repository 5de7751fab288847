package io.basalt.range.prop;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/**
 * A generator of test values for {@link PropertyRunner}: a function of a seeded random source, so
 * that a seed determines every value.
 *
 * <p>The number generators are edge-heavy, because boundaries are where encodings and arithmetic
 * break: about one value in five is an edge of the domain (its minimum and maximum, their
 * neighbours, and -1, 0 and 1 when they lie inside it), two in five lie a random number of bits
 * away from one of the edges (so that small values, and values just inside each bound, are common),
 * and the rest are uniform over the whole domain.
 */
@FunctionalInterface
public interface Gen<T> {
  /** The next value, a function of {@code random} only. */
  T next(RandomGenerator random);

  default <R> Gen<R> map(Function<? super T, ? extends R> f) {
    return random -> f.apply(next(random));
  }

  /** Lists of this generator's values, with an edge-heavy size in {@code [minSize, maxSize]}. */
  default Gen<List<T>> list(int minSize, int maxSize) {
    Gen<Integer> sizes = ints(minSize, maxSize);
    return random -> {
      int n = sizes.next(random);
      List<T> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        out.add(next(random));
      }
      return out;
    };
  }

  /** Longs in {@code [min, max]}, edge-heavy as described above. */
  static Gen<Long> longs(long min, long max) {
    if (min > max) {
      throw new IllegalArgumentException("empty range [" + min + ", " + max + "]");
    }
    TreeSet<Long> edgeSet = new TreeSet<>();
    for (long candidate : new long[] {min, min + 1, max - 1, max, -1, 0, 1}) {
      // min + 1 and max - 1 may overflow; the range check drops them then.
      if (candidate >= min && candidate <= max) {
        edgeSet.add(candidate);
      }
    }
    long[] edges = edgeSet.stream().mapToLong(Long::longValue).toArray();
    long[] anchors =
        edgeSet.contains(0L) && min != 0 && max != 0
            ? new long[] {min, 0, max}
            : new long[] {min, max};
    // The bit length of the span max - min, or 64 when that overflows.
    int spanBits = max - min < 0 ? 64 : 64 - Long.numberOfLeadingZeros(max - min);
    return random -> {
      int mode = random.nextInt(5);
      if (mode == 0) {
        return edges[random.nextInt(edges.length)];
      }
      if (mode <= 2) {
        long anchor = anchors[random.nextInt(anchors.length)];
        int bits = random.nextInt(Math.min(spanBits, 63) + 1);
        long offset = bits == 0 ? 0 : random.nextLong() >>> (64 - bits);
        boolean up = anchor == min || (anchor != max && random.nextBoolean());
        if (up) {
          return offset > max - anchor && max - anchor >= 0 ? max : anchor + offset;
        }
        return offset > anchor - min && anchor - min >= 0 ? min : anchor - offset;
      }
      return uniform(random, min, max);
    };
  }

  private static long uniform(RandomGenerator random, long min, long max) {
    if (max < Long.MAX_VALUE) {
      return random.nextLong(min, max + 1);
    }
    if (min > Long.MIN_VALUE) {
      return random.nextLong(min - 1, max) + 1;
    }
    return random.nextLong();
  }

  /** Ints in {@code [min, max]}, edge-heavy as described above. */
  static Gen<Integer> ints(int min, int max) {
    return longs(min, max).map(Long::intValue);
  }

  /** Any byte; 0x00, 0x01, 0x7F, 0x80 and 0xFF are among the edges. */
  static Gen<Byte> anyByte() {
    return longs(Byte.MIN_VALUE, Byte.MAX_VALUE).map(Long::byteValue);
  }

  static Gen<Boolean> booleans() {
    return RandomGenerator::nextBoolean;
  }

  /** One of {@code values}, uniformly. */
  @SafeVarargs
  static <T> Gen<T> oneOf(T... values) {
    List<T> copy = List.of(values);
    return random -> copy.get(random.nextInt(copy.size()));
  }

  static <E extends Enum<E>> Gen<E> enums(Class<E> type) {
    return oneOf(type.getEnumConstants());
  }

  /** {@code first} with weight {@code firstWeight}, otherwise {@code second}. */
  static <T> Gen<T> frequency(
      int firstWeight, Gen<? extends T> first, int secondWeight, Gen<? extends T> second) {
    return random ->
        random.nextInt(firstWeight + secondWeight) < firstWeight
            ? first.next(random)
            : second.next(random);
  }

  /** Byte arrays of {@code element}s with an edge-heavy length in {@code [0, maxLength]}. */
  static Gen<byte[]> byteArrays(Gen<Byte> element, int maxLength) {
    Gen<Integer> lengths = ints(0, maxLength);
    return random -> {
      byte[] out = new byte[lengths.next(random)];
      for (int i = 0; i < out.length; i++) {
        out[i] = element.next(random);
      }
      return out;
    };
  }
}
