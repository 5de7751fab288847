package io.basalt.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class KeySpaceTest {
  private static final java.util.Comparator<byte[]> UNSIGNED = Arrays::compareUnsigned;

  @Test
  void lookupFindsTheRangeWhoseSpanHoldsTheKey() {
    // Ranges: [0x01, "b"), ["b", "d"), ["d", end).
    TreeMap<byte[], String> directory = new TreeMap<>(UNSIGNED);
    directory.put(KeySpace.rangeDescriptorKey(new byte[] {'b'}), "first");
    directory.put(KeySpace.rangeDescriptorKey(new byte[] {'d'}), "second");
    directory.put(KeySpace.rangeDescriptorKey(new byte[0]), "last");
    for (var c :
        List.of(
            new Object[] {"a", "first"},
            new Object[] {"azzz", "first"},
            new Object[] {"b", "second"},
            new Object[] {"c\u00ff", "second"},
            new Object[] {"d", "last"},
            new Object[] {"\u00ff\u00ff", "last"})) {
      byte[] key = ((String) c[0]).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
      assertThat(directory.ceilingEntry(KeySpace.rangeLookupStart(key)).getValue())
          .as("range of %s", c[0])
          .isEqualTo(c[1]);
    }
  }

  @Test
  void directoriesAreInsideTheMetaSpanAndDisjoint() {
    byte[] metaEnd = KeySpace.USER_START;
    for (byte[] k :
        List.of(
            KeySpace.rangeDirectoryStart(),
            KeySpace.rangeDescriptorKey(new byte[0]),
            KeySpace.rangeDescriptorKey(new byte[] {(byte) 0xff, (byte) 0xff}),
            KeySpace.nodeKey(Long.MAX_VALUE))) {
      assertThat(KeySpace.contains(new byte[0], metaEnd, k)).isTrue();
    }
    // The node directory ends before the range directory starts.
    assertThat(Arrays.compareUnsigned(KeySpace.nodeDirectoryEnd(), KeySpace.rangeDirectoryStart()))
        .isLessThanOrEqualTo(0);
  }

  @Test
  void userKeysAreValidatedWithAReason() {
    assertThat(KeySpace.invalidUserKey(new byte[0])).contains("empty");
    assertThat(KeySpace.invalidUserKey(new byte[] {0, 1})).contains("reserved");
    byte[] tooLong = new byte[KeySpace.MAX_KEY_BYTES + 1];
    Arrays.fill(tooLong, (byte) 'a');
    assertThat(KeySpace.invalidUserKey(tooLong)).contains("maximum");
    assertThat(KeySpace.invalidUserKey(new byte[] {1})).isNull();
  }
}
