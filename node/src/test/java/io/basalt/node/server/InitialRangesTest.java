package io.basalt.node.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.api.KeySpace;
import io.basalt.api.RangeDescriptor;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class InitialRangesTest {

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 8, 255, 256, 1000, 4096})
  void dataRangesTileTheUserKeySpaceAfterTheMetaRange(int n) {
    List<RangeDescriptor> ranges = InitialRanges.of(n, List.of(1L, 2L, 3L));
    assertThat(ranges).hasSize(n + 1);
    assertThat(ranges.get(0).getRangeId()).isEqualTo(KeySpace.META_RANGE_ID);
    assertThat(ranges.get(0).getStartKey().isEmpty()).isTrue();
    assertThat(ranges.get(0).getEndKey().toByteArray()).isEqualTo(KeySpace.USER_START);
    for (int i = 1; i < ranges.size(); i++) {
      RangeDescriptor prev = ranges.get(i - 1);
      RangeDescriptor r = ranges.get(i);
      assertThat(r.getStartKey())
          .as("range %d starts where %d ends", i, i - 1)
          .isEqualTo(prev.getEndKey());
      if (!r.getEndKey().isEmpty()) {
        assertThat(
                Arrays.compareUnsigned(r.getStartKey().toByteArray(), r.getEndKey().toByteArray()))
            .as("range %d is not empty", i)
            .isNegative();
      }
      assertThat(r.getReplicasCount()).isEqualTo(3);
    }
    assertThat(ranges.get(n).getEndKey().isEmpty()).as("the last range is unbounded").isTrue();
  }
}
