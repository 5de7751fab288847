package io.basalt.node.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.RangeDescriptor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A leader's load sampler: its rate, and the key that halves the sampled requests. */
class LoadSamplerTest {
  private static final RangeDescriptor RANGE =
      RangeDescriptor.newBuilder()
          .setRangeId(2)
          .setStartKey(ByteString.copyFromUtf8("k"))
          .setEndKey(ByteString.copyFromUtf8("l"))
          .build();

  private static KvRequest get(String key) {
    return KvRequest.newBuilder()
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
        .build();
  }

  @Test
  void theSplitKeyHalvesTheRequestsAndTheRateFollowsTheLoad() {
    LoadSampler s = new LoadSampler(new SplittableRandom(7));
    SplittableRandom keys = new SplittableRandom(1);
    long now = 0;
    // 1,000 requests per second for 30 s, keys uniform over k000..k999, except that every second
    // request goes to k000..k099: a tenth of the keys take more than half the load.
    for (int i = 0; i < 30_000; i++) {
      now += 1_000_000;
      int k = i % 2 == 0 ? keys.nextInt(100) : keys.nextInt(1000);
      s.record(get(String.format("k%03d", k)), now);
    }
    assertThat(s.requestsPerSecond(now)).isBetween(900.0, 1000.0);
    int split = Integer.parseInt(s.splitKey(RANGE).toStringUtf8().substring(1));
    // The share of the load below the split key (half the requests below k091): within 40-60%.
    double below = 0.5 * Math.min(split, 100) / 100 + 0.5 * split / 1000;
    assertThat(below).as("load below k%03d", split).isBetween(0.4, 0.6);
    // Ten seconds without a request: the rate decays by e.
    assertThat(s.requestsPerSecond(now + LoadSampler.WINDOW_NANOS)).isBetween(330.0, 370.0);
    s.reset();
    assertThat(s.requestsPerSecond(now)).isZero();
    assertThat(s.splitKey(RANGE)).isEqualTo(ByteString.EMPTY);
  }

  @Test
  void noSplitKeyWhenEveryRequestNamesOneKeyOrTheRangesFirstKey() {
    LoadSampler s = new LoadSampler(new SplittableRandom(7));
    for (int i = 0; i < 1000; i++) {
      s.record(get("k500"), i * 1_000_000L);
    }
    assertThat(s.splitKey(RANGE)).as("one hot key cannot be split").isEqualTo(ByteString.EMPTY);
    LoadSampler first = new LoadSampler(new SplittableRandom(7));
    for (int i = 0; i < 1000; i++) {
      first.record(get("k"), i * 1_000_000L); // the range's start key: no key is below it
    }
    assertThat(first.splitKey(RANGE)).isEqualTo(ByteString.EMPTY);
  }
}
