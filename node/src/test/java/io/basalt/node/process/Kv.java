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
      return c.call(
          KvRequest.newBuilder()
              .setHeader(RequestHeader.newBuilder().setRangeId(rangeId))
              .setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)))
              .build());
    }
  }
}
