package io.basalt.client;

import io.basalt.api.KeySpace;
import java.util.Arrays;
import java.util.Objects;

/** Client-side checks of keys and values, made before anything is sent. */
final class Keys {
  /**
   * The most bytes of keys and values one request may carry: a frame is at most 16 MiB, and the
   * rest of the request needs room.
   */
  static final int MAX_PAYLOAD_BYTES = Framing.MAX_FRAME_BYTES - (64 << 10);

  private Keys() {}

  /** Rejects {@code key} unless it is a valid user key. */
  static void checkKey(byte[] key, String name) {
    Objects.requireNonNull(key, name);
    String invalid = KeySpace.invalidUserKey(key);
    if (invalid != null) {
      throw new IllegalArgumentException(name + " " + shortly(key) + " is invalid: " + invalid);
    }
  }

  /**
   * Rejects a scan bound: empty means "unbounded", anything else must be a user key or one byte
   * longer (so that {@code key + 0x00} can end a scan that includes {@code key}).
   */
  static void checkBound(byte[] bound, String name) {
    Objects.requireNonNull(bound, name);
    if (bound.length == 0) {
      return;
    }
    if (bound[0] == 0x00) {
      throw new IllegalArgumentException(
          name + " " + shortly(bound) + " is invalid: keys that start with 0x00 are the system's");
    }
    if (bound.length > KeySpace.MAX_KEY_BYTES + 1) {
      throw new IllegalArgumentException(
          name + " is " + bound.length + " bytes, the longest key is " + KeySpace.MAX_KEY_BYTES);
    }
  }

  /** Rejects a value that, with its key, would not fit in one request. */
  static void checkValue(byte[] key, byte[] value, String name) {
    Objects.requireNonNull(value, name);
    checkPayload((long) key.length + value.length, "key and " + name);
  }

  /** Rejects a request that would carry more than {@link #MAX_PAYLOAD_BYTES} of keys and values. */
  static void checkPayload(long bytes, String what) {
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new IllegalArgumentException(
          what
              + " are "
              + bytes
              + " bytes; a request carries at most "
              + MAX_PAYLOAD_BYTES
              + " bytes of keys and values");
    }
  }

  /** The key for a message: printable, and cut after 32 bytes. */
  static String shortly(byte[] key) {
    if (key.length <= 32) {
      return KeyValue.printable(key);
    }
    return KeyValue.printable(Arrays.copyOf(key, 32)) + "… (" + key.length + " bytes)";
  }
}
