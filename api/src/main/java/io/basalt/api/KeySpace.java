package io.basalt.api;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The layout of the key space, shared by nodes and clients.
 *
 * <ul>
 *   <li>Keys that start with {@code 0x00} are the system's: the meta range ({@link #META_RANGE_ID})
 *       spans {@code ["", 0x01)} and holds the range directory and the node directory. User keys
 *       are non-empty and must not start with {@code 0x00}.
 *   <li>The range directory keys each descriptor by its end key ({@link #rangeDescriptorKey}), so
 *       the range holding key {@code k} is the first descriptor at or after {@link
 *       #rangeLookupStart}{@code (k)}: a one-row scan, as CockroachDB's meta ranges do.
 *   <li>An empty end key means "to the end of the key space".
 * </ul>
 */
public final class KeySpace {
  /** The meta range's id; it exists from {@code init} on. */
  public static final long META_RANGE_ID = 1;

  /** The first key of user data: everything below is the system's. */
  public static final byte[] USER_START = {0x01};

  /** The longest user key, in bytes. */
  public static final int MAX_KEY_BYTES = 8 * 1024;

  private static final byte[] RANGE_PREFIX = {0x00, 'r'};
  private static final byte FINITE_END = 0x01;
  private static final byte INFINITE_END = 0x02;
  private static final byte[] NODE_PREFIX = {0x00, 'n'};

  /** The meta range's counter of range ids: the last one allocated (8 bytes, big-endian). */
  private static final byte[] RANGE_ID_COUNTER = {0x00, 'i'};

  private KeySpace() {}

  /** Why {@code key} is not a valid user key, or null if it is. */
  public static String invalidUserKey(byte[] key) {
    if (key.length == 0) {
      return "keys must not be empty";
    }
    if (key[0] == 0x00) {
      return "keys that start with 0x00 are reserved for the system";
    }
    if (key.length > MAX_KEY_BYTES) {
      return "key is " + key.length + " bytes, the maximum is " + MAX_KEY_BYTES;
    }
    return null;
  }

  /** Whether {@code key} lies in {@code [start, end)} (an empty end is unbounded). */
  public static boolean contains(byte[] start, byte[] end, byte[] key) {
    return Arrays.compareUnsigned(key, start) >= 0
        && (end.length == 0 || Arrays.compareUnsigned(key, end) < 0);
  }

  /** Whether {@code key} lies in {@code descriptor}'s span. */
  public static boolean contains(RangeDescriptor descriptor, byte[] key) {
    return contains(
        descriptor.getStartKey().toByteArray(), descriptor.getEndKey().toByteArray(), key);
  }

  /** The meta key of the descriptor of a range that ends at {@code endKey}. */
  public static byte[] rangeDescriptorKey(byte[] endKey) {
    if (endKey.length == 0) {
      return concat(RANGE_PREFIX, new byte[] {INFINITE_END});
    }
    return concat(RANGE_PREFIX, new byte[] {FINITE_END}, endKey);
  }

  /**
   * Where to start a one-row scan of the meta range for the descriptor of the range holding {@code
   * key}: the first descriptor whose end key is above {@code key}.
   */
  public static byte[] rangeLookupStart(byte[] key) {
    return concat(RANGE_PREFIX, new byte[] {FINITE_END}, key, new byte[] {0x00});
  }

  /** The first key of the range directory. */
  public static byte[] rangeDirectoryStart() {
    return RANGE_PREFIX.clone();
  }

  /** The end (exclusive) of the range directory. */
  public static byte[] rangeDirectoryEnd() {
    return concat(RANGE_PREFIX, new byte[] {INFINITE_END + 1});
  }

  private static final byte[] DECOMMISSION_PREFIX = {0x00, 'd'};

  /** The value of a decommission record while the node's replicas move away. */
  public static final String DECOMMISSIONING = "decommissioning";

  /** The value of a decommission record once the node holds nothing: it is refused for good. */
  public static final String DECOMMISSIONED = "decommissioned";

  /** The meta key recording that a node is being decommissioned (see DecommissionNodeRequest). */
  public static byte[] decommissionKey(long nodeId) {
    return ByteBuffer.allocate(DECOMMISSION_PREFIX.length + 8)
        .put(DECOMMISSION_PREFIX)
        .putLong(nodeId)
        .array();
  }

  /** The first key of the decommissioned nodes' records. */
  public static byte[] decommissionStart() {
    return DECOMMISSION_PREFIX.clone();
  }

  /** The end (exclusive) of the decommissioned nodes' records. */
  public static byte[] decommissionEnd() {
    return new byte[] {0x00, 'd' + 1};
  }

  /** The node id of a key made by {@link #decommissionKey}. */
  public static long decommissionedNode(byte[] key) {
    return ByteBuffer.wrap(key, DECOMMISSION_PREFIX.length, 8).getLong();
  }

  /** The meta key holding the last range id allocated (see AllocateRangeIdRequest). */
  public static byte[] rangeIdCounterKey() {
    return RANGE_ID_COUNTER.clone();
  }

  /** The meta key of a node's descriptor. */
  public static byte[] nodeKey(long nodeId) {
    return ByteBuffer.allocate(NODE_PREFIX.length + 8).put(NODE_PREFIX).putLong(nodeId).array();
  }

  /** The first key of the node directory. */
  public static byte[] nodeDirectoryStart() {
    return NODE_PREFIX.clone();
  }

  /** The end (exclusive) of the node directory. */
  public static byte[] nodeDirectoryEnd() {
    return new byte[] {0x00, 'n' + 1};
  }

  private static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }
}
