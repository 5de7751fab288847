package io.basalt.node.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import io.basalt.api.CoalescedHeartbeat;
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
        .setQuiesce(true)
        .setRangeGeneration(1);
  }

  @Test
  void heartbeatsAndResponsesRoundTripExactly() {
    for (MessageType type :
        new MessageType[] {
          MessageType.MESSAGE_TYPE_HEARTBEAT, MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE
        }) {
      // Every descriptor starts at generation 1 and only grows: each must coalesce, and keep it.
      for (long generation : new long[] {1, 2, 1L << 40}) {
        RaftMessage m = heartbeat(type).setRangeGeneration(generation).build();
        assertThat(Heartbeats.coalescable(m)).as("generation %d", generation).isTrue();
        assertThat(
                Heartbeats.expand(
                    Heartbeats.coalesce(m), type == MessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE))
            .isEqualTo(m);
      }
    }
  }

  /**
   * Field by field over RaftMessage's descriptor, so that a field added later is covered too: a
   * heartbeat with the field set either is not coalesced or comes out of the coalesced form equal.
   */
  @Test
  void noFieldOfAHeartbeatIsLostByCoalescing() {
    for (FieldDescriptor f : RaftMessage.getDescriptor().getFields()) {
      if (f.getNumber() == RaftMessage.TYPE_FIELD_NUMBER) {
        continue;
      }
      RaftMessage.Builder b = heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).clearField(f);
      Object value =
          switch (f.getJavaType()) {
            case LONG -> 77L;
            case INT -> 77;
            case BOOLEAN -> true;
            case BYTE_STRING -> ByteString.copyFromUtf8("x");
            case MESSAGE -> b.newBuilderForField(f).build();
            default -> throw new AssertionError("a field of a new kind: " + f.getFullName());
          };
      if (f.isRepeated()) {
        b.addRepeatedField(f, value);
      } else {
        b.setField(f, value);
      }
      RaftMessage m = b.build();
      if (Heartbeats.coalescable(m)) {
        assertThat(Heartbeats.expand(Heartbeats.coalesce(m), false)).as(f.getName()).isEqualTo(m);
      }
    }
  }

  @Test
  void anEntryWithoutAGenerationExpandsToGenerationZeroNotToACurrentOne() {
    CoalescedHeartbeat fromAnOlderSender =
        Heartbeats.coalesce(heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).build()).toBuilder()
            .clearRangeGeneration()
            .build();
    assertThat(Heartbeats.expand(fromAnOlderSender, false).getRangeGeneration()).isZero();
  }

  @Test
  void messagesWithOtherFieldsAreNotCoalesced() {
    assertThat(
            Heartbeats.coalescable(
                heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).setReject(true).build()))
        .isFalse();
    assertThat(
            Heartbeats.coalescable(
                heartbeat(MessageType.MESSAGE_TYPE_HEARTBEAT).setLeaderTransfer(true).build()))
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
