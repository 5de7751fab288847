package io.basalt.node.process;

import com.google.protobuf.ByteString;
import io.basalt.api.GetRequest;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.RequestHeader;
import io.basalt.node.cli.WireClient;
import java.time.Duration;

/** One-off KV calls for tests. */
final class Kv {
  private Kv() {}

  static KvResponse get(String address, long rangeId, String key) {
    try (WireClient c = WireClient.connect(address, Duration.ofSeconds(5))) {
      return c.call(getRequest(rangeId, key));
    }
  }

  static KvResponse put(String address, long rangeId, String key, String value, long requestId) {
    try (WireClient c = WireClient.connect(address, Duration.ofSeconds(5))) {
      return c.call(putRequest(rangeId, key, value, requestId));
    }
  }

  static KvRequest getRequest(long rangeId, String key) {
    return KvRequest.newBuilder()
        .setHeader(RequestHeader.newBuilder().setRangeId(rangeId))
        .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
        .build();
  }

  static KvRequest putRequest(long rangeId, String key, String value, long requestId) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(rangeId)
                .setRequestId(
                    ByteString.copyFrom(
                        java.nio.ByteBuffer.allocate(16).putLong(-1).putLong(requestId).array())))
        .setPut(
            io.basalt.api.PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value)))
        .build();
  }
}
