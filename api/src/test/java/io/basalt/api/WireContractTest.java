package io.basalt.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Field numbers and enum values are a wire contract: they are on disk and on the wire between
 * versions. This test pins every one of them, so a renumbering or reuse fails the build. Adding a
 * field means adding it here, with a new number.
 */
class WireContractTest {
  private static final Map<Descriptor, String> FIELDS =
      Map.ofEntries(
          Map.entry(Timestamp.getDescriptor(), "logical=2 wall_nanos=1"),
          Map.entry(ReplicaDescriptor.getDescriptor(), "node_id=1 replica_id=2 role=3"),
          Map.entry(
              RangeDescriptor.getDescriptor(),
              "end_key=3 generation=5 range_id=1 replicas=4 start_key=2"),
          Map.entry(
              RequestHeader.getDescriptor(),
              "range_generation=4 range_id=1 request_id=2 timestamp=3"),
          Map.entry(
              KvRequest.getDescriptor(),
              "bootstrap=10 call_id=16 conditional_put=6 delete=4 get=2 header=1 init_cluster=9"
                  + " node_info=8 put=3 scan=5 status=11 write_batch=7"),
          Map.entry(
              KvResponse.getDescriptor(),
              "bootstrap=10 call_id=16 conditional_put=6 delete=4 error=15 get=2 header=1"
                  + " init_cluster=9 node_info=8 put=3 scan=5 status=11 write_batch=7"),
          Map.entry(NodeDescriptor.getDescriptor(), "address=2 node_id=1"),
          Map.entry(NodeInfoResponse.getDescriptor(), "cluster_id=1 node=2 nodes=3"),
          Map.entry(BootstrapRequest.getDescriptor(), "cluster_id=1 nodes=3 ranges=2"),
          Map.entry(ScanRequest.getDescriptor(), "end_key=2 limit=3 max_bytes=4 start_key=1"),
          Map.entry(ScanResponse.getDescriptor(), "kvs=1 resume_key=2"),
          Map.entry(
              ConditionalPutRequest.getDescriptor(),
              "expect_absent=4 expected_value=3 key=1 value=2"),
          Map.entry(
              Error.getDescriptor(),
              "generic=6 key_not_in_range=3 not_leader=1 range_not_found=2 timeout=4 unavailable=5"),
          Map.entry(NotLeaderError.getDescriptor(), "leader_address=3 leader_hint=2 range_id=1"),
          Map.entry(KeyNotInRangeError.getDescriptor(), "current=2 key=1"),
          Map.entry(Entry.getDescriptor(), "data=4 index=2 term=1 type=3"),
          Map.entry(HardState.getDescriptor(), "commit=3 term=1 vote=2"),
          Map.entry(
              RaftCommand.getDescriptor(),
              "collect_dedupe_before_nanos=5 first_in_log=6 proposed_at_nanos=4 request_id=1"
                  + " result=3 writes=2"),
          Map.entry(ReplicatedWrite.getDescriptor(), "key=1 timestamp=2 tombstone=3 value=4"),
          Map.entry(Hello.getDescriptor(), "cluster_id=1 node_id=2 protocol_version=3"),
          Map.entry(Frame.getDescriptor(), "hello=1 kv_request=3 kv_response=4 raft_batch=2"),
          Map.entry(
              RaftMessage.getDescriptor(),
              "commit=9 context=13 entries=8 from=3 index=7 leader_transfer=15 log_term=6"
                  + " quiesce=17 range_generation=14 range_id=1 reject=10 reject_hint=11"
                  + " reject_hint_term=16 snapshot=12 term=5 to=4 type=2"),
          Map.entry(
              CoalescedHeartbeat.getDescriptor(),
              "commit=5 context=6 from=2 index=7 quiesce=8 range_id=1 term=4 to=3"),
          Map.entry(
              SnapshotChunk.getDescriptor(),
              "data=8 from=2 last=9 metadata=5 range_id=1 sequence=7 snapshot_id=6"
                  + " stream_crc32c=10 term=4 to=3"),
          Map.entry(
              RaftBatch.getDescriptor(),
              "cluster_id=1 from_node=2 heartbeat_responses=7 heartbeats=6 messages=5"
                  + " ping_sent_nanos=9 pong_echo_nanos=10 pong_remote_nanos=11"
                  + " snapshot_chunks=8 timestamp=4 to_node=3"));

  private static final Map<EnumDescriptor, String> ENUMS =
      Map.of(
          MessageType.getDescriptor(),
          "MESSAGE_TYPE_APPEND=5 MESSAGE_TYPE_APPEND_RESPONSE=6 MESSAGE_TYPE_HEARTBEAT=7"
              + " MESSAGE_TYPE_HEARTBEAT_RESPONSE=8 MESSAGE_TYPE_PRE_VOTE=3"
              + " MESSAGE_TYPE_PRE_VOTE_RESPONSE=4 MESSAGE_TYPE_READ_INDEX=11"
              + " MESSAGE_TYPE_READ_INDEX_RESPONSE=12 MESSAGE_TYPE_SNAPSHOT=9"
              + " MESSAGE_TYPE_TIMEOUT_NOW=10 MESSAGE_TYPE_UNKNOWN=0 MESSAGE_TYPE_VOTE=1"
              + " MESSAGE_TYPE_VOTE_RESPONSE=2",
          ReplicaRole.getDescriptor(),
          "REPLICA_ROLE_LEARNER=1 REPLICA_ROLE_VOTER=0 REPLICA_ROLE_VOTER_INCOMING=3"
              + " REPLICA_ROLE_VOTER_OUTGOING=2",
          EntryType.getDescriptor(),
          "ENTRY_TYPE_CONF_CHANGE=1 ENTRY_TYPE_NORMAL=0");

  @Test
  void fieldNumbersArePinned() {
    FIELDS.forEach((descriptor, expected) -> {
      Map<String, Integer> actual = new TreeMap<>();
      for (FieldDescriptor field : descriptor.getFields()) {
        actual.put(field.getName(), field.getNumber());
      }
      String rendered =
          actual.entrySet().stream()
              .map(e -> e.getKey() + "=" + e.getValue())
              .collect(Collectors.joining(" "));
      assertThat(rendered).as(descriptor.getFullName()).isEqualTo(expected);
    });
  }

  @Test
  void enumValuesArePinned() {
    ENUMS.forEach((descriptor, expected) -> {
      String rendered =
          descriptor.getValues().stream()
              .map(EnumValueDescriptor::toString)
              .sorted()
              .map(name -> name + "=" + descriptor.findValueByName(name).getNumber())
              .collect(Collectors.joining(" "));
      assertThat(rendered).as(descriptor.getFullName()).isEqualTo(expected);
    });
  }

  @Test
  void encodingOfARangeDescriptorIsStable() {
    RangeDescriptor descriptor =
        RangeDescriptor.newBuilder()
            .setRangeId(7)
            .setStartKey(ByteString.copyFromUtf8("a"))
            .setEndKey(ByteString.copyFromUtf8("m"))
            .addReplicas(
                ReplicaDescriptor.newBuilder()
                    .setNodeId(1)
                    .setReplicaId(2)
                    .setRole(ReplicaRole.REPLICA_ROLE_LEARNER))
            .setGeneration(3)
            .build();
    // 08 07 | 12 01 'a' | 1a 01 'm' | 22 06 (08 01 10 02 18 01) | 28 03
    assertThat(HexFormat.of().formatHex(descriptor.toByteArray()))
        .isEqualTo("0807120161" + "1a016d" + "2206080110021801" + "2803");
  }

  @Test
  void unknownFieldsFromANewerPeerAreKeptNotFatal() throws Exception {
    byte[] newer =
        HexFormat.of().parseHex("0807" + "a80601"); // range_id=7 and an unknown field 101 = 1
    RangeDescriptor parsed = RangeDescriptor.parseFrom(newer);
    assertThat(parsed.getRangeId()).isEqualTo(7);
    assertThat(parsed.getUnknownFields().hasField(101)).isTrue();
    assertThat(List.of(parsed.toByteArray())).isNotEmpty();
  }
}
