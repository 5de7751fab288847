package io.basalt.range.keys;

import static io.basalt.range.prop.PropertyRunner.forAll;
import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.range.mvcc.Timestamp;
import io.basalt.range.prop.Gen;
import io.basalt.range.storage.Bytes;
import java.util.Arrays;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

/**
 * The key encodings preserve order and round-trip for arbitrary byte keys. The key generator
 * favours 0x00, 0x01 and 0xFF bytes and short (often empty) keys, so that keys that are prefixes of
 * each other and keys full of escape bytes are common; the second key of a pair is often derived
 * from the first (equal, a prefix, an extension, one byte changed). Timestamps include 0, {@code
 * Long.MAX_VALUE} and the largest logical counter, and the second of a pair is often equal or
 * adjacent to the first. A failure prints its seed and a replay command ({@code -Dbasalt.seed=N}).
 */
class KeyEncodingProperties {
  private static final Gen<byte[]> KEYS =
      Gen.byteArrays(
          Gen.frequency(3, Gen.oneOf((byte) 0x00, (byte) 0x01, (byte) 0xFF), 1, Gen.anyByte()), 8);

  private static final Gen<Timestamp> TIMESTAMPS =
      random ->
          new Timestamp(
              Gen.longs(0, Long.MAX_VALUE).next(random),
              Gen.ints(0, Integer.MAX_VALUE).next(random));

  private static final Gen<Long> RANGE_IDS = Gen.longs(1, Long.MAX_VALUE - 1);
  private static final Gen<Long> LOG_INDEXES = Gen.longs(0, Long.MAX_VALUE);

  record KeyPair(byte[] a, byte[] b) {}

  record Version(byte[] key, Timestamp ts) {}

  record VersionPair(byte[] keyA, Timestamp tsA, byte[] keyB, Timestamp tsB) {}

  record LogPosition(long rangeA, long indexA, long rangeB, long indexB) {}

  record LocalKey(long range, long index, byte[] requestId, int which) {}

  private static final Gen<KeyPair> KEY_PAIRS =
      random -> {
        byte[] a = KEYS.next(random);
        return new KeyPair(a, keyNear(random, a));
      };

  private static final Gen<Version> VERSIONS =
      random -> new Version(KEYS.next(random), TIMESTAMPS.next(random));

  private static final Gen<VersionPair> VERSION_PAIRS =
      random -> {
        byte[] keyA = KEYS.next(random);
        Timestamp tsA = TIMESTAMPS.next(random);
        return new VersionPair(keyA, tsA, keyNear(random, keyA), timestampNear(random, tsA));
      };

  private static final Gen<LogPosition> LOG_POSITIONS =
      random -> {
        long rangeA = RANGE_IDS.next(random);
        long indexA = LOG_INDEXES.next(random);
        long rangeB = random.nextBoolean() ? rangeA : RANGE_IDS.next(random);
        long indexB =
            switch (random.nextInt(4)) {
              case 0 -> indexA;
              case 1 -> indexA == Long.MAX_VALUE ? indexA - 1 : indexA + 1;
              default -> LOG_INDEXES.next(random);
            };
        return new LogPosition(rangeA, indexA, rangeB, indexB);
      };

  private static final Gen<LocalKey> LOCAL_KEYS =
      random ->
          new LocalKey(
              RANGE_IDS.next(random),
              LOG_INDEXES.next(random),
              KEYS.next(random),
              random.nextInt(5));

  /** A key that is often related to {@code a}: equal, a prefix, an extension, or one byte off. */
  private static byte[] keyNear(RandomGenerator random, byte[] a) {
    switch (random.nextInt(8)) {
      case 0:
        return a.clone();
      case 1:
        return Arrays.copyOf(a, random.nextInt(a.length + 1));
      case 2:
        {
          byte[] tail = KEYS.next(random);
          byte[] out = Arrays.copyOf(a, a.length + tail.length);
          System.arraycopy(tail, 0, out, a.length, tail.length);
          return out;
        }
      case 3:
        if (a.length > 0) {
          byte[] out = a.clone();
          out[random.nextInt(out.length)] = Gen.anyByte().next(random);
          return out;
        }
        return KEYS.next(random);
      default:
        return KEYS.next(random);
    }
  }

  /** A timestamp that is often equal or adjacent to {@code t}. */
  private static Timestamp timestampNear(RandomGenerator random, Timestamp t) {
    return switch (random.nextInt(6)) {
      case 0 -> t;
      case 1 -> new Timestamp(t.wallNanos(), Gen.ints(0, Integer.MAX_VALUE).next(random));
      case 2 -> t.wallNanos() == Long.MAX_VALUE && t.logical() == Integer.MAX_VALUE ? t : t.next();
      default -> TIMESTAMPS.next(random);
    };
  }

  private static int sign(int x) {
    return Integer.signum(x);
  }

  @Test
  void orderedBytesRoundTrips() {
    forAll(
        2000,
        KEYS,
        key -> {
          byte[] encoded = OrderedBytes.encode(key);
          OrderedBytes.Decoded decoded = OrderedBytes.decode(encoded, 0);
          assertThat(decoded.raw()).isEqualTo(key);
          assertThat(decoded.end()).isEqualTo(encoded.length);
        });
  }

  @Test
  void orderedBytesPreservesOrder() {
    forAll(
        5000,
        KEY_PAIRS,
        p ->
            assertThat(sign(Bytes.compare(OrderedBytes.encode(p.a()), OrderedBytes.encode(p.b()))))
                .isEqualTo(sign(Bytes.compare(p.a(), p.b()))));
  }

  @Test
  void noEncodingIsAPrefixOfAnother() {
    forAll(
        5000,
        KEY_PAIRS,
        p -> {
          if (!Arrays.equals(p.a(), p.b())) {
            byte[] a = OrderedBytes.encode(p.a());
            byte[] b = OrderedBytes.encode(p.b());
            assertThat(Bytes.startsWith(a, b)).isFalse();
            assertThat(Bytes.startsWith(b, a)).isFalse();
          }
        });
  }

  @Test
  void mvccKeysOrderByUserKeyThenNewestFirst() {
    forAll(
        5000,
        VERSION_PAIRS,
        p -> {
          int encoded =
              sign(
                  Bytes.compare(
                      MvccKeys.version(p.keyA(), p.tsA()), MvccKeys.version(p.keyB(), p.tsB())));
          int byKey = sign(Bytes.compare(p.keyA(), p.keyB()));
          int expected = byKey != 0 ? byKey : sign(p.tsB().compareTo(p.tsA()));
          assertThat(encoded).isEqualTo(expected);
        });
  }

  @Test
  void mvccKeyRoundTrips() {
    forAll(
        2000,
        VERSIONS,
        v -> {
          MvccKeys.Decoded decoded = MvccKeys.decode(MvccKeys.version(v.key(), v.ts()));
          assertThat(decoded.userKey()).isEqualTo(v.key());
          assertThat(decoded.timestamp()).isEqualTo(v.ts());
          assertThat(MvccKeys.decode(MvccKeys.metadata(v.key())).isMetadata()).isTrue();
        });
  }

  @Test
  void allEntriesOfAUserKeyLieBetweenItsMetadataKeyAndItsEnd() {
    forAll(
        3000,
        VERSION_PAIRS,
        p -> {
          byte[] lower = MvccKeys.metadata(p.keyA());
          byte[] upper = MvccKeys.afterAllVersions(lower);
          byte[] version = MvccKeys.version(p.keyA(), p.tsA());
          assertThat(Bytes.compare(lower, version)).isNegative();
          assertThat(Bytes.compare(version, upper)).isNegative();
          if (!Arrays.equals(p.keyA(), p.keyB())) {
            byte[] foreign = MvccKeys.version(p.keyB(), p.tsB());
            boolean inside =
                Bytes.compare(lower, foreign) <= 0 && Bytes.compare(foreign, upper) < 0;
            assertThat(inside).isFalse();
            byte[] foreignMetadata = MvccKeys.metadata(p.keyB());
            boolean metadataInside =
                Bytes.compare(lower, foreignMetadata) <= 0
                    && Bytes.compare(foreignMetadata, upper) < 0;
            assertThat(metadataInside).isFalse();
          }
        });
  }

  @Test
  void logKeysOrderByRangeThenIndex() {
    forAll(
        2000,
        LOG_POSITIONS,
        p -> {
          int encoded =
              sign(
                  Bytes.compare(
                      LocalKeys.logEntry(p.rangeA(), p.indexA()),
                      LocalKeys.logEntry(p.rangeB(), p.indexB())));
          int expected =
              p.rangeA() != p.rangeB()
                  ? sign(Long.compare(p.rangeA(), p.rangeB()))
                  : sign(Long.compare(p.indexA(), p.indexB()));
          assertThat(encoded).isEqualTo(expected);
          assertThat(LocalKeys.logIndexOf(LocalKeys.logEntry(p.rangeA(), p.indexA())))
              .isEqualTo(p.indexA());
        });
  }

  @Test
  void everyLocalKeyOfARangeLiesInItsPrefixSpan() {
    forAll(
        1000,
        LOCAL_KEYS,
        k -> {
          byte[] key =
              switch (k.which()) {
                case 0 -> LocalKeys.logEntry(k.range(), k.index());
                case 1 -> LocalKeys.hardState(k.range());
                case 2 -> LocalKeys.dedupe(k.range(), k.requestId());
                case 3 -> LocalKeys.gcThreshold(k.range());
                default -> LocalKeys.appliedIndex(k.range());
              };
          assertThat(Bytes.compare(LocalKeys.rangePrefix(k.range()), key)).isNegative();
          assertThat(Bytes.compare(key, LocalKeys.rangePrefixEnd(k.range()))).isNegative();
        });
  }

  /**
   * A transaction record lies in a span's record keys exactly when its anchor lies in the span, and
   * outside every range's prefix: it moves with its anchor through splits and merges.
   */
  @Test
  void aTransactionRecordLiesInTheRecordSpanOfTheSpanHoldingItsAnchor() {
    forAll(
        1000,
        random -> new byte[][] {KEYS.next(random), KEYS.next(random), KEYS.next(random)},
        k -> {
          byte[] anchor = k[0];
          byte[] start = k[1];
          byte[] end = k[2];
          byte[] record = LocalKeys.txnRecord(anchor, k[2]);
          boolean inSpan =
              Bytes.compare(start, anchor) <= 0
                  && (end.length == 0 || Bytes.compare(anchor, end) < 0);
          boolean inKeys =
              Bytes.compare(LocalKeys.txnRecordsFrom(start), record) <= 0
                  && Bytes.compare(record, LocalKeys.txnRecordsTo(end)) < 0;
          assertThat(inKeys).as("anchor in [start, end)").isEqualTo(inSpan);
          assertThat(Bytes.compare(record, LocalKeys.rangePrefixEnd(Long.MAX_VALUE - 1)))
              .isNotNegative();
        });
  }
}
