package io.basalt.node.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.MessageType;
import io.basalt.api.PutRequest;
import io.basalt.api.RequestHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A write answered NotLeader ("not applied, safe to retry") must never be applied. A new leader
 * whose log lacks one of its earlier proposals may not say so at once: its log is not committed,
 * and another replica that still holds the entry can be elected and commit it. The schedule, on
 * five replicas n1..n5 of one range:
 *
 * <ol>
 *   <li>n1 leads, proposes write P at index i; only n2 receives it.
 *   <li>n3 is elected (votes n3, n4, n5); its append reaches only n1, overwriting P there.
 *   <li>n3 is gone; n1 is elected (n1, n4, n5): its log lacks P.
 *   <li>n1 is cut off before its no-op replicates; n2 is elected (n2, n4, n5) and commits P.
 * </ol>
 */
class LostProposalTest {
  private static final long RANGE = 2;
  private static final ByteString KEY = ByteString.copyFromUtf8("account");

  @Test
  void aProposalMissingFromANewLeadersUncommittedLogIsNotFailedForCertain() {
    Outcome o = runSchedule(Set.of());
    assertThat(o.applied).as("P is committed by n2").contains("P");
    assertThat(o.answers)
        .as("P's client is never told NotLeader: it was applied")
        .noneSatisfy(a -> assertThat(a.getError().hasNotLeader()).isTrue());
    assertThat(o.answers).as("once healed, P's client learns it succeeded").hasSize(1);
    assertThat(o.answers.get(0).hasError()).as("%s", o.answers).isFalse();
  }

  @Test
  void withTheOldReleaseOnElectionTheClientIsToldNotAppliedYetItIsApplied() {
    // The control: the planted bug answers at step 3, and the promise breaks.
    Outcome o = runSchedule(Set.of(PlantedStoreBug.ANSWER_LOST_PROPOSALS_ON_ELECTION));
    assertThat(o.answers).hasSize(1);
    assertThat(o.answers.get(0).getError().hasNotLeader()).as("%s", o.answers).isTrue();
    assertThat(o.applied).contains("P");
  }

  private record Outcome(List<KvResponse> answers, Optional<String> applied) {}

  private static final Set<MessageType> VOTES =
      Set.of(MessageType.MESSAGE_TYPE_VOTE, MessageType.MESSAGE_TYPE_VOTE_RESPONSE);

  private static Outcome runSchedule(Set<PlantedStoreBug> bugs) {
    ScriptedStores c = new ScriptedStores(5, bugs);
    Set<Long> all = Set.of(1L, 2L, 3L, 4L, 5L);
    c.tick(all, 12); // past the quarantine of a fresh start
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(all);
    assertThat(c.stores[1].isLeader(RANGE)).as(c.stores[1].debugRange(RANGE)).isTrue();

    // 1. n1 proposes P; only n2 receives it.
    List<KvResponse> answers = new ArrayList<>();
    c.stores[1].submit(put("P"), answers::add);
    c.stores[1].process();
    c.deliverOnly(1, 2);
    c.dropAll();

    // 2. n3, n4 and n5 stop hearing from n1; n3 is elected by n4 and n5; only n1 gets its append.
    c.tick(Set.of(3L, 4L, 5L), 12);
    c.dropAll();
    c.campaign(3, RANGE);
    c.exchange(Set.of(3L, 4L, 5L), VOTES);
    assertThat(c.stores[3].isLeader(RANGE)).as("n3 leads").isTrue();
    c.deliverOnly(3, 1);
    c.exchange(Set.of(1L, 3L));
    assertThat(c.stores[1].isLeader(RANGE)).as("n1 follows n3").isFalse();

    // 3. n3 is gone; n1 is elected by n4 and n5 (its log, holding n3's entry, is the longest).
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(Set.of(1L, 4L, 5L), VOTES);
    assertThat(c.stores[1].isLeader(RANGE)).as("n1 leads again").isTrue();

    // 4. n1 is cut off before its no-op replicates; n2 is elected by n4 and n5 and commits P.
    c.dropAll();
    for (int round = 0; round < 4 && !c.stores[2].isLeader(RANGE); round++) {
      c.campaign(2, RANGE); // each try one term further, past the term n4 and n5 voted in
      c.exchange(Set.of(2L, 4L, 5L), VOTES);
    }
    assertThat(c.stores[2].isLeader(RANGE))
        .as("n2 leads: %s", c.stores[2].debugRange(RANGE))
        .isTrue();
    c.exchange(Set.of(2L, 4L, 5L));
    List<KvResponse> beforeHeal = List.copyOf(answers);

    // 5. Everyone hears from n2 again.
    for (int round = 0; round < 5; round++) {
      c.tick(all, 2);
      c.exchange(all);
    }
    Optional<String> applied =
        c.stores[2].readLocal(RANGE, KEY.toByteArray()).map(v -> new String(v, UTF_8));
    assertThat(beforeHeal.size()).isLessThanOrEqualTo(answers.size());
    return new Outcome(answers, applied);
  }

  private static KvRequest put(String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(RANGE)
                .setRequestId(ByteString.copyFromUtf8("req-" + value)))
        .setPut(PutRequest.newBuilder().setKey(KEY).setValue(ByteString.copyFromUtf8(value)))
        .build();
  }
}
