package io.basalt.txn.tscache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.basalt.range.mvcc.Timestamp;
import io.basalt.txn.tscache.TimestampCache.Entry;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TimestampCacheTest {
  private static final ByteString NOBODY = ByteString.EMPTY;
  private static final ByteString T1 = ByteString.copyFromUtf8("t1");
  private static final ByteString T2 = ByteString.copyFromUtf8("t2");
  private static final ByteString T3 = ByteString.copyFromUtf8("t3");

  private final TimestampCache cache = new TimestampCache(ts(10), 100);

  @Test
  void aNewLeaderStartsAMaxOffsetAboveItsPhysicalClockOrAtItsClockIfHigher() {
    TimestampCache fresh = TimestampCache.forNewLeader(ts(1_000), 1_000, 500, 100);
    assertThat(fresh.max(key("a"))).isEqualTo(entry(1_501, NOBODY));
    // A clock already carried further ahead (by a timestamp it took in) is the higher bound.
    TimestampCache ahead = TimestampCache.forNewLeader(ts(2_000), 1_000, 500, 100);
    assertThat(ahead.max(key("a"))).isEqualTo(entry(2_000, NOBODY));
  }

  @Test
  void aKeyNobodyReadIsAtTheLowWaterMarkReadByNobody() {
    assertThat(cache.max(key("a"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.max(key("a"), key("z"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.size()).isZero();
  }

  @Test
  void aPointReadCoversThatKeyAlone() {
    cache.add(key("b"), ts(20), T1);
    assertThat(cache.max(key("b"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("a"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.max(TimestampCache.successor(key("b")))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.max(key("ba"))).isEqualTo(entry(10, NOBODY));
  }

  @Test
  void aSpanReadCoversItsKeysButNotItsEnd() {
    cache.add(key("b"), key("d"), ts(20), T1);
    assertThat(cache.max(key("b"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("czz"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("d"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.max(key("a"))).isEqualTo(entry(10, NOBODY));
  }

  @Test
  void aSpanQueryFindsThePointReadsInsideIt() {
    cache.add(key("m"), ts(30), T2);
    assertThat(cache.max(key("a"), key("z"))).isEqualTo(entry(30, T2));
    assertThat(cache.max(key("m"), key("n"))).isEqualTo(entry(30, T2));
    assertThat(cache.max(key("a"), key("m"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.max(TimestampCache.successor(key("m")), key("z")))
        .isEqualTo(entry(10, NOBODY));
  }

  @Test
  void aPointReadInsideASpanReadRaisesThatKeyOnly() {
    cache.add(key("a"), key("z"), ts(20), T1);
    cache.add(key("m"), ts(30), T2);
    assertThat(cache.max(key("m"))).isEqualTo(entry(30, T2));
    assertThat(cache.max(key("l"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("ma"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("a"), key("z"))).isEqualTo(entry(30, T2));
    assertThat(cache.max(key("n"), key("z"))).isEqualTo(entry(20, T1));
  }

  @Test
  void aSpanReadBeneathAHigherPointReadLeavesItStanding() {
    cache.add(key("m"), ts(30), T2);
    cache.add(key("a"), key("z"), ts(20), T1);
    assertThat(cache.max(key("m"))).isEqualTo(entry(30, T2));
    assertThat(cache.max(key("a"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("y"))).isEqualTo(entry(20, T1));
    assertThat(cache.size()).as("[a, m), m, (m, z)").isEqualTo(3);
  }

  @Test
  void aSpanReadReplacesTheLowerReadsItCovers() {
    cache.add(key("b"), ts(20), T1);
    cache.add(key("c"), key("e"), ts(21), T2);
    cache.add(key("f"), ts(22), T3);
    cache.add(key("a"), key("z"), ts(30), T1);
    assertThat(cache.size()).isEqualTo(1);
    assertThat(cache.max(key("c"))).isEqualTo(entry(30, T1));
  }

  @Test
  void readsByDifferentTxnsAtTheSameTimestampNameNobody() {
    // Neither may write at 20: the other read there and would not see the write.
    cache.add(key("k"), ts(20), T1);
    cache.add(key("k"), ts(20), T2);
    assertThat(cache.max(key("k"))).isEqualTo(entry(20, NOBODY));
  }

  @Test
  void overlappingSpansReadAtTheSameTimestampNameNobodyWhereTheyOverlap() {
    cache.add(key("a"), key("c"), ts(20), T1);
    cache.add(key("b"), key("d"), ts(20), T2);
    assertThat(cache.max(key("a"))).isEqualTo(entry(20, T1));
    assertThat(cache.max(key("b"))).isEqualTo(entry(20, NOBODY));
    assertThat(cache.max(key("c"))).isEqualTo(entry(20, T2));
    assertThat(cache.max(key("a"), key("b"))).isEqualTo(entry(20, T1));
    // A span over keys read by two txns at the same timestamp names nobody either.
    assertThat(cache.max(key("a"), key("d"))).isEqualTo(entry(20, NOBODY));
  }

  @Test
  void aNonTransactionalReadAtTheSameTimestampNamesNobody() {
    cache.add(key("k"), ts(20), T1);
    cache.add(key("k"), ts(20), NOBODY);
    assertThat(cache.max(key("k"))).isEqualTo(entry(20, NOBODY));
  }

  @Test
  void theSameTxnReadingAgainStaysNamed() {
    cache.add(key("k"), ts(20), T1);
    cache.add(key("k"), ts(20), T1);
    assertThat(cache.max(key("k"))).isEqualTo(entry(20, T1));
    cache.add(key("j"), key("l"), ts(20), T1);
    assertThat(cache.max(key("k"))).isEqualTo(entry(20, T1));
    assertThat(cache.size()).as("one txn's reads at one timestamp merge").isEqualTo(1);
  }

  @Test
  void aLowerReadChangesNothingAndAHigherOneTakesOver() {
    cache.add(key("k"), ts(20), T1);
    cache.add(key("k"), ts(15), T1);
    cache.add(key("k"), ts(15), T2);
    assertThat(cache.max(key("k"))).isEqualTo(entry(20, T1));
    cache.add(key("k"), ts(25), T2);
    assertThat(cache.max(key("k"))).isEqualTo(entry(25, T2));
  }

  @Test
  void readsAtOrBelowTheLowWaterMarkChangeNothing() {
    // The mark already answers as high, and names nobody: T1 may not write at 10.
    cache.add(key("k"), ts(10), T1);
    cache.add(key("k"), ts(5), T1);
    assertThat(cache.max(key("k"))).isEqualTo(entry(10, NOBODY));
    assertThat(cache.size()).isZero();
  }

  @Test
  void raisingTheLowWaterMarkLiftsEveryAnswerAndForgetsTheReadsBelowIt() {
    cache.add(key("a"), ts(20), T1);
    cache.add(key("b"), ts(40), T2);
    cache.raiseLowWater(ts(30));
    assertThat(cache.lowWater()).isEqualTo(ts(30));
    assertThat(cache.max(key("a"))).isEqualTo(entry(30, NOBODY));
    assertThat(cache.max(key("b"))).isEqualTo(entry(40, T2));
    assertThat(cache.max(key("c"))).isEqualTo(entry(30, NOBODY));
    assertThat(cache.size()).isEqualTo(1);

    cache.raiseLowWater(ts(25));
    assertThat(cache.lowWater()).as("never lowered").isEqualTo(ts(30));

    // At the mark, who read is unknown: T2 is no longer the sole reader at 40.
    cache.raiseLowWater(ts(40));
    assertThat(cache.max(key("b"))).isEqualTo(entry(40, NOBODY));
    assertThat(cache.size()).isZero();
  }

  @Test
  void evictionDropsTheLowestReadsAndRaisesTheLowWaterMarkToThem() {
    TimestampCache small = new TimestampCache(ts(10), 2);
    small.add(key("a"), ts(20), T1);
    small.add(key("b"), ts(30), T2);
    small.add(key("c"), ts(40), T3);
    assertThat(small.size()).isEqualTo(2);
    assertThat(small.lowWater()).isEqualTo(ts(20));
    assertThat(small.max(key("a"))).isEqualTo(entry(20, NOBODY));
    assertThat(small.max(key("b"))).isEqualTo(entry(30, T2));
    assertThat(small.max(key("c"))).isEqualTo(entry(40, T3));
    assertThat(small.max(key("z"))).as("never below the mark").isEqualTo(entry(20, NOBODY));
  }

  @Test
  void evictionAlsoDropsTheReadsAtTheNewLowWaterMark() {
    TimestampCache small = new TimestampCache(ts(10), 2);
    small.add(key("a"), ts(20), T1);
    small.add(key("b"), ts(20), T2);
    small.add(key("c"), ts(40), T3);
    assertThat(small.lowWater()).isEqualTo(ts(20));
    assertThat(small.size()).isEqualTo(1);
    assertThat(small.max(key("b"))).isEqualTo(entry(20, NOBODY));
  }

  @Test
  void keysAreOrderedAsUnsignedBytes() {
    ByteString high = ByteString.copyFrom(new byte[] {(byte) 0x80});
    cache.add(key("a"), ByteString.copyFrom(new byte[] {(byte) 0xff}), ts(20), T1);
    assertThat(cache.max(high)).isEqualTo(entry(20, T1));
    cache.add(ByteString.EMPTY, key("a"), ts(30), T2);
    assertThat(cache.max(ByteString.EMPTY))
        .as("the empty key is the lowest")
        .isEqualTo(entry(30, T2));
  }

  @Test
  void argumentsAreChecked() {
    assertThatThrownBy(() -> cache.add(key("b"), key("b"), ts(20), T1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[b, b)");
    assertThatThrownBy(() -> cache.max(key("c"), key("b")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cache.add(key("b"), ts(20), null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> new TimestampCache(ts(0), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxEntries must be positive, got 0");
  }

  // The randomized comparison with a brute-force oracle.

  private static final String REPLAY =
      "bin/test -pl txn -am -Dtest=TimestampCacheTest -Dsurefire.failIfNoSpecifiedTests=false"
          + " -Dbasalt.tscache.seed=";

  /** Keys reads are made of: the successor of "a", and bytes above 0x7f. */
  private static final List<ByteString> READ_KEYS =
      List.of(
          ByteString.EMPTY,
          key("a"),
          key("a\0"),
          key("ab"),
          key("b"),
          key("c"),
          ByteString.copyFrom(new byte[] {(byte) 0x80}),
          ByteString.copyFrom(new byte[] {(byte) 0xff}));

  /** Keys asked about: those, and some that fall strictly inside the intervals they make. */
  private static final List<ByteString> QUERY_KEYS =
      List.of(
          ByteString.EMPTY,
          key("a"),
          key("a\0"),
          key("aa"),
          key("ab"),
          key("b"),
          key("ba"),
          ByteString.copyFrom(new byte[] {(byte) 0x80}),
          ByteString.copyFrom(new byte[] {(byte) 0xff}));

  private static final List<ByteString> TXNS = List.of(NOBODY, T1, T2, T3);

  private static final Comparator<ByteString> ORDER =
      ByteString.unsignedLexicographicalComparator();

  /** A read as the oracle keeps it: the keys {@code [start, end)}. */
  private record Read(ByteString start, ByteString end, Timestamp ts, ByteString txnId) {}

  private static final class Stats {
    long seedsWithEviction;
    long seedsWithoutLowWaterMoving;
    long exactChecks;
  }

  /**
   * Random point and span reads, at few timestamps by few txns, over few keys, into a cache of few
   * entries, with the occasional raise of the low-water mark. After every step, every point and
   * span answer is checked against a brute-force oracle over all the reads ever added: never below
   * it; the same while the low-water mark has not moved; naming a txn only where the oracle names
   * the same one; and in fact exactly the oracle's answer with the low-water mark as one more
   * unnamed reader. Seeds 1..200 by default; {@code -Dbasalt.tscache.seeds=N} for more, {@code
   * -Dbasalt.tscache.seed=S} for one (the failure message gives the replay command).
   */
  @Test
  void randomReadsAnswerAtLeastTheOracleAndExactlyItWhileNothingIsForgotten() {
    String one = System.getProperty("basalt.tscache.seed");
    long first = 1;
    long last = Long.getLong("basalt.tscache.seeds", 200);
    if (one != null) {
      first = Long.parseLong(one);
      last = first;
    }
    Stats stats = new Stats();
    for (long seed = first; seed <= last; seed++) {
      try {
        runSeed(seed, stats);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(
            "seed " + seed + " failed; replay: " + REPLAY + seed + "\n" + e.getMessage(), e);
      }
    }
    System.out.printf(
        "timestamp cache seeds %d..%d: %d evicted, %d forgot nothing, %d answers checked exact%n",
        first, last, stats.seedsWithEviction, stats.seedsWithoutLowWaterMoving, stats.exactChecks);
    if (last - first >= 50) {
      // The run exercises both halves of the property.
      assertThat(stats.seedsWithEviction).as("seeds that evicted").isPositive();
      assertThat(stats.seedsWithoutLowWaterMoving).as("seeds that forgot nothing").isPositive();
      assertThat(stats.exactChecks).as("answers checked for equality").isPositive();
    }
  }

  private static void runSeed(long seed, Stats stats) {
    SplittableRandom random = new SplittableRandom(seed);
    Timestamp initial = new Timestamp(random.nextInt(3), 0);
    int maxEntries = 1 + random.nextInt(random.nextBoolean() ? 4 : 40);
    TimestampCache cache = new TimestampCache(initial, maxEntries);
    List<Read> reads = new ArrayList<>();
    boolean raises = random.nextInt(4) == 0; // a quarter of the seeds change leader now and then
    boolean raisedByHand = false;
    for (int step = 0; step < 100; step++) {
      String op;
      if (raises && random.nextInt(20) == 0) {
        Timestamp t = randomTs(random);
        cache.raiseLowWater(t);
        raisedByHand |= t.isAfter(initial);
        op = "raiseLowWater(" + t + ")";
      } else {
        Read r = randomRead(random);
        reads.add(r);
        if (r.end().equals(TimestampCache.successor(r.start())) && random.nextBoolean()) {
          cache.add(r.start(), r.ts(), r.txnId());
          op = "add(" + show(r.start()) + ", " + r.ts() + ", " + show(r.txnId()) + ")";
        } else {
          cache.add(r.start(), r.end(), r.ts(), r.txnId());
          op = "add" + show(r.start(), r.end()) + " at " + r.ts() + " by " + show(r.txnId());
        }
      }
      String when = "step " + step + " (maxEntries " + maxEntries + "), after " + op;
      assertThat(cache.invariantViolation()).as(when).isNull();
      for (int i = 0; i < QUERY_KEYS.size(); i++) {
        ByteString k = QUERY_KEYS.get(i);
        check(cache, reads, initial, k, TimestampCache.successor(k), cache.max(k), when, stats);
        for (int j = i + 1; j < QUERY_KEYS.size(); j++) {
          ByteString end = QUERY_KEYS.get(j);
          check(cache, reads, initial, k, end, cache.max(k, end), when, stats);
        }
      }
    }
    boolean moved = !cache.lowWater().equals(initial);
    stats.seedsWithEviction += moved && !raisedByHand ? 1 : 0;
    stats.seedsWithoutLowWaterMoving += moved ? 0 : 1;
  }

  private static void check(
      TimestampCache cache,
      List<Read> reads,
      Timestamp initial,
      ByteString start,
      ByteString end,
      Entry got,
      String when,
      Stats stats) {
    Entry truth = oracle(reads, start, end, initial);
    String what = when + ": max" + show(start, end) + " = " + show(got) + ", oracle " + show(truth);
    assertThat(got.ts()).as(what + ": below the oracle").isGreaterThanOrEqualTo(truth.ts());
    assertThat(got.ts())
        .as(what + ": below the low water")
        .isGreaterThanOrEqualTo(cache.lowWater());
    if (got.ts().equals(truth.ts()) && !got.txnId().equals(truth.txnId())) {
      assertThat(got.txnId()).as(what + ": names a reader the oracle does not").isEqualTo(NOBODY);
    }
    if (cache.lowWater().equals(initial)) {
      assertThat(got).as(what + ": nothing was forgotten").isEqualTo(truth);
      stats.exactChecks++;
    } else {
      assertThat(got)
          .as(what + ": not the oracle with the low water " + cache.lowWater() + " as a reader")
          .isEqualTo(oracle(reads, start, end, cache.lowWater()));
    }
  }

  /**
   * The highest timestamp of the reads overlapping {@code [start, end)} and of an unnamed read at
   * {@code lowWater}, with its reader if there was exactly one and it was named.
   */
  private static Entry oracle(
      List<Read> reads, ByteString start, ByteString end, Timestamp lowWater) {
    Timestamp max = lowWater;
    Set<ByteString> readersAtMax = new HashSet<>(Set.of(NOBODY));
    for (Read r : reads) {
      if (ORDER.compare(r.start(), end) < 0 && ORDER.compare(start, r.end()) < 0) {
        int c = r.ts().compareTo(max);
        if (c > 0) {
          max = r.ts();
          readersAtMax = new HashSet<>(Set.of(r.txnId()));
        } else if (c == 0) {
          readersAtMax.add(r.txnId());
        }
      }
    }
    boolean oneNamed = readersAtMax.size() == 1 && !readersAtMax.contains(NOBODY);
    return new Entry(max, oneNamed ? readersAtMax.iterator().next() : NOBODY);
  }

  private static Read randomRead(SplittableRandom random) {
    Timestamp t = randomTs(random);
    ByteString txn = TXNS.get(random.nextInt(TXNS.size()));
    int a = random.nextInt(READ_KEYS.size());
    if (random.nextBoolean()) {
      ByteString k = READ_KEYS.get(a);
      return new Read(k, k.concat(ByteString.copyFrom(new byte[] {0})), t, txn);
    }
    int b = random.nextInt(READ_KEYS.size() - 1);
    b = b >= a ? b + 1 : b;
    return new Read(READ_KEYS.get(Math.min(a, b)), READ_KEYS.get(Math.max(a, b)), t, txn);
  }

  private static Timestamp randomTs(SplittableRandom random) {
    return new Timestamp(1 + random.nextInt(6), random.nextInt(2));
  }

  private static String show(ByteString key) {
    return "\"" + TextFormat.escapeBytes(key) + "\"";
  }

  private static String show(ByteString start, ByteString end) {
    return "[" + show(start) + ", " + show(end) + ")";
  }

  private static String show(Entry e) {
    return e.ts() + " by " + show(e.txnId());
  }

  private static ByteString key(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static Timestamp ts(long wallNanos) {
    return new Timestamp(wallNanos, 0);
  }

  private static Entry entry(long wallNanos, ByteString txnId) {
    return new Entry(ts(wallNanos), txnId);
  }
}
