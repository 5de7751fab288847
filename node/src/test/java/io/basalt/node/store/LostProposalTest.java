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

  /**
   * A leader re-elected in a later term whose log lost its earlier proposals (another leader's
   * entries replaced them while it followed) releases their keys once its own no-op commits: a
   * write to such a key is then applied at once. The schedule, on three replicas:
   *
   * <ol>
   *   <li>n1 leads and proposes writes to keys a, b and K; no other replica receives them.
   *   <li>n2 is elected (n2, n3) and commits its no-op at the first of their indexes; n1 follows
   *       it, and its log loses all three (a is answered when n2's no-op applies at its index).
   *   <li>n1 is elected again (n1, n3); its no-op takes b's index. K's proposal sits past its log.
   *   <li>A client writes K on n1.
   * </ol>
   */
  @Test
  void aReElectedLeaderReleasesTheKeysOfItsLostProposalsAndAWriteToThemIsApplied() {
    LatchOutcome o = runLatchSchedule(Set.of());
    assertThat(o.lostWrite)
        .as("the lost write to K is answered: it can no longer commit")
        .isNotNull();
    assertThat(o.lostWrite.getError().hasNotLeader()).as("%s", o.lostWrite).isTrue();
    assertThat(o.laterWrite).as("the later write to K is answered within a round").isNotNull();
    assertThat(o.laterWrite.hasError()).as("%s", o.laterWrite).isFalse();
    assertThat(o.applied).contains("later");
  }

  @Test
  void withLostProposalsKeptAWriteToTheirKeyIsNeverAppliedOnAHealthyLeader() {
    // The control: the planted bug keeps the lost proposal's latch, and what a client sees breaks:
    // a write to a free key, on a leader with a quorum, times out (outcome unknown) and is never
    // applied.
    LatchOutcome o = runLatchSchedule(Set.of(PlantedStoreBug.KEEP_LOST_PROPOSALS));
    assertThat(o.laterWrite).as("answered only by its deadline").isNotNull();
    assertThat(o.laterWrite.getError().hasTimeout()).as("%s", o.laterWrite).isTrue();
    assertThat(o.applied).isNotEqualTo(Optional.of("later"));
  }

  private record LatchOutcome(
      KvResponse lostWrite, KvResponse laterWrite, Optional<String> applied) {}

  private static LatchOutcome runLatchSchedule(Set<PlantedStoreBug> bugs) {
    ScriptedStores c = new ScriptedStores(3, bugs);
    Set<Long> all = Set.of(1L, 2L, 3L);
    c.tick(all, 12); // past the quarantine of a fresh start
    c.dropAll();
    c.campaign(1, RANGE);
    c.exchange(all);
    assertThat(c.stores[1].isLeader(RANGE)).as(c.stores[1].debugRange(RANGE)).isTrue();

    // 1. n1 proposes writes to a, b and K; nobody receives them.
    List<KvResponse> lostToK = new ArrayList<>();
    for (String key : List.of("a", "b", KEY.toStringUtf8())) {
      List<KvResponse> answers = key.equals(KEY.toStringUtf8()) ? lostToK : new ArrayList<>();
      c.stores[1].submit(put(ByteString.copyFromUtf8(key), "lost-" + key), answers::add);
      c.stores[1].process();
      c.dropAll();
    }

    // 2. n2 is elected by n3 and commits its no-op; n1 follows and its log loses all three.
    c.tick(Set.of(2L, 3L), 12);
    c.dropAll();
    c.campaign(2, RANGE);
    c.exchange(Set.of(2L, 3L), VOTES);
    assertThat(c.stores[2].isLeader(RANGE)).as("n2 leads").isTrue();
    c.exchange(all);
    assertThat(c.stores[1].isLeader(RANGE)).as("n1 follows n2").isFalse();

    // 3. n2 falls silent; n1 is elected again by n3; its no-op commits.
    c.tick(Set.of(1L, 3L), 12);
    c.dropAll();
    for (int round = 0; round < 4 && !c.stores[1].isLeader(RANGE); round++) {
      c.campaign(1, RANGE);
      c.exchange(Set.of(1L, 3L), VOTES);
    }
    assertThat(c.stores[1].isLeader(RANGE))
        .as("n1 leads again: %s", c.stores[1].debugRange(RANGE))
        .isTrue();
    c.exchange(Set.of(1L, 3L));
    KvResponse lostWrite = lostToK.isEmpty() ? null : lostToK.get(0);

    // 4. A client writes K on n1; n1 and n3 exchange until quiet, then the write's deadline passes.
    List<KvResponse> later = new ArrayList<>();
    c.stores[1].submit(put(KEY, "later"), later::add);
    c.stores[1].process();
    c.exchange(Set.of(1L, 3L));
    KvResponse answeredAtOnce = later.isEmpty() ? null : later.get(0);
    for (int t = 0; t < 60 && later.isEmpty(); t++) {
      c.tick(Set.of(1L, 3L), 1);
      c.exchange(Set.of(1L, 3L));
    }
    KvResponse laterWrite = later.isEmpty() ? null : later.get(0);
    if (bugs.isEmpty()) {
      assertThat(answeredAtOnce).as("answered without waiting for time").isNotNull();
    }
    Optional<String> applied =
        c.stores[1].readLocal(RANGE, KEY.toByteArray()).map(v -> new String(v, UTF_8));
    return new LatchOutcome(lostWrite, laterWrite, applied);
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
    return put(KEY, value);
  }

  private static KvRequest put(ByteString key, String value) {
    return KvRequest.newBuilder()
        .setHeader(
            RequestHeader.newBuilder()
                .setRangeId(RANGE)
                .setRequestId(ByteString.copyFromUtf8("req-" + value)))
        .setPut(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)))
        .build();
  }
}
