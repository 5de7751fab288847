package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.MessageType;
import io.basalt.api.RaftMessage;
import org.junit.jupiter.api.Test;

class HeartbeatsTest {
  private static RaftMessage.Builder heartbeat(MessageType type) {
    return RaftMessage.newBuilder()
        .setRangeId(7)
        .setType(type)
        .setFrom(1)
        .setTo(2)
        .setTerm(9)
        .setCommit(33)
        .setIndex(1234)
        .setContext(ByteString.copyFromUtf8("read-1"))
        .setQuiesce(true);
  }

  @Test
  void heartbeatsAndResponsesRoundTripExactly() {
    for (MessageType type :
        new MessageType[] {
          MessageType.MESSAGE_TYPE_HEARTBEAT, MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE
        }) {
      RaftMessage m = heartbeat(type).build();
      assertThat(Heartbeats.coalescable(m)).isTrue();
      assertThat(
              Heartbeats.expand(
                  Heartbeats.coalesce(m), type == MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE))
          .isEqualTo(m);
    }
  }

  @Test
  void messagesWithOtherFieldsAreNotCoalesced() {
    assertThat(
            Heartbeats.coalescable(
                heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).setReject(true).build()))
        .isFalse();
    assertThat(
            Heartbeats.coalescable(
                heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).setRangeGeneration(2).build()))
        .isFalse();
    assertThat(Heartbeats.coalescable(heartbeat(MessageType.MESSAGE_TYPE_APPEND).build()))
        .isFalse();
  }

  @Test
  void aCoalescedHeartbeatIsSmallerThanTheMessage() {
    RaftMessage m = heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).build();
    assertThat(Heartbeats.coalesce(m).getSerializedSize()).isLessThan(m.getSerializedSize());
  }
}
