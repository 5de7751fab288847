package io.basalt.range.keys;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.storage.Bytes;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * The key encodings preserve order and round-trip for arbitrary byte keys. The generator favours
 * 0x00, 0x01 and 0xFF bytes and short keys, so that keys that are prefixes of each other and keys
 * full of escape bytes are common.
 */
class KeyEncodingProperties {
  @Provide
  Arbitrary<byte[]> keys() {
    Arbitrary<Byte> bytes =
        Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(3, Arbitraries.of((byte) 0x00, (byte) 0x01, (byte) 0xFF)),
            net.jqwik.api.Tuple.of(1, Arbitraries.bytes()));
    return bytes.array(byte[].class).ofMaxSize(8);
  }

  @Provide
  Arbitrary<Timestamp> timestamps() {
    return net.jqwik.api.Combinators.combine(
            Arbitraries.longs().between(0, Long.MAX_VALUE),
            Arbitraries.integers().between(0, Integer.MAX_VALUE))
        .as(Timestamp::new);
  }

  private static int sign(int x) {
    return Integer.signum(x);
  }

  @Property(tries = 2000)
  void orderedBytesRoundTrips(@ForAll("keys") byte[] key) {
    byte[] encoded = OrderedBytes.encode(key);
    OrderedBytes.Decoded decoded = OrderedBytes.decode(encoded, 0);
    assertThat(decoded.raw()).isEqualTo(key);
    assertThat(decoded.end()).isEqualTo(encoded.length);
  }

  @Property(tries = 5000)
  void orderedBytesPreservesOrder(@ForAll("keys") byte[] a, @ForAll("keys") byte[] b) {
    assertThat(sign(Bytes.compare(OrderedBytes.encode(a), OrderedBytes.encode(b))))
        .isEqualTo(sign(Bytes.compare(a, b)));
  }

  @Property(tries = 5000)
  void noEncodingIsAPrefixOfAnother(@ForAll("keys") byte[] a, @ForAll("keys") byte[] b) {
    if (!java.util.Arrays.equals(a, b)) {
      assertThat(Bytes.startsWith(OrderedBytes.encode(a), OrderedBytes.encode(b))).isFalse();
    }
  }

  @Property(tries = 5000)
  void mvccKeysOrderByUserKeyThenNewestFirst(
      @ForAll("keys") byte[] keyA,
      @ForAll("timestamps") Timestamp tsA,
      @ForAll("keys") byte[] keyB,
      @ForAll("timestamps") Timestamp tsB) {
    int encoded = sign(Bytes.compare(MvccKeys.version(keyA, tsA), MvccKeys.version(keyB, tsB)));
    int byKey = sign(Bytes.compare(keyA, keyB));
    int expected = byKey != 0 ? byKey : sign(tsB.compareTo(tsA));
    assertThat(encoded).isEqualTo(expected);
  }

  @Property(tries = 2000)
  void mvccKeyRoundTrips(@ForAll("keys") byte[] key, @ForAll("timestamps") Timestamp ts) {
    MvccKeys.Decoded decoded = MvccKeys.decode(MvccKeys.version(key, ts));
    assertThat(decoded.userKey()).isEqualTo(key);
    assertThat(decoded.timestamp()).isEqualTo(ts);
    assertThat(MvccKeys.decode(MvccKeys.metadata(key)).isMetadata()).isTrue();
  }

  @Property(tries = 3000)
  void allEntriesOfAUserKeyLieBetweenItsMetadataKeyAndItsEnd(
      @ForAll("keys") byte[] key,
      @ForAll("timestamps") Timestamp ts,
      @ForAll("keys") byte[] other,
      @ForAll("timestamps") Timestamp otherTs) {
    byte[] lower = MvccKeys.metadata(key);
    byte[] upper = MvccKeys.afterAllVersions(lower);
    byte[] version = MvccKeys.version(key, ts);
    assertThat(Bytes.compare(lower, version)).isNegative();
    assertThat(Bytes.compare(version, upper)).isNegative();
    if (!java.util.Arrays.equals(key, other)) {
      byte[] foreign = MvccKeys.version(other, otherTs);
      boolean inside = Bytes.compare(lower, foreign) <= 0 && Bytes.compare(foreign, upper) < 0;
      assertThat(inside).isFalse();
    }
  }

  @Property(tries = 2000)
  void logKeysOrderByRangeThenIndex(
      @ForAll @LongRange(min = 1, max = Long.MAX_VALUE - 1) long rangeA,
      @ForAll @LongRange(min = 0) long indexA,
      @ForAll @LongRange(min = 1, max = Long.MAX_VALUE - 1) long rangeB,
      @ForAll @LongRange(min = 0) long indexB) {
    int encoded =
        sign(Bytes.compare(LocalKeys.logEntry(rangeA, indexA), LocalKeys.logEntry(rangeB, indexB)));
    int expected =
        rangeA != rangeB ? sign(Long.compare(rangeA, rangeB)) : sign(Long.compare(indexA, indexB));
    assertThat(encoded).isEqualTo(expected);
    assertThat(LocalKeys.logIndexOf(LocalKeys.logEntry(rangeA, indexA))).isEqualTo(indexA);
  }

  @Property(tries = 1000)
  void everyLocalKeyOfARangeLiesInItsPrefixSpan(
      @ForAll @LongRange(min = 1, max = Long.MAX_VALUE - 1) long range,
      @ForAll @LongRange(min = 0) long index,
      @ForAll("keys") byte[] requestId,
      @ForAll @IntRange(min = 0, max = 4) int which) {
    byte[] key =
        switch (which) {
          case 0 -> LocalKeys.logEntry(range, index);
          case 1 -> LocalKeys.hardState(range);
          case 2 -> LocalKeys.dedupe(range, requestId);
          case 3 -> LocalKeys.txnRecord(range, requestId);
          default -> LocalKeys.appliedIndex(range);
        };
    assertThat(Bytes.compare(LocalKeys.rangePrefix(range), key)).isNegative();
    assertThat(Bytes.compare(key, LocalKeys.rangePrefixEnd(range))).isNegative();
  }
}
