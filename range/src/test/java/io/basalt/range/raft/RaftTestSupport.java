package io.basalt.range.raft;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/** Helpers for white-box tests that drive a {@link Raft} directly. */
final class RaftTestSupport {
  private RaftTestSupport() {}

  static Config.Builder config(long id) {
    return Config.builder(id, new SplittableRandom(id))
        .electionTimeoutTicks(10)
        .heartbeatTicks(1)
        .preVote(false)
        .checkQuorum(false);
  }

  /** Storage holding {@code cs} and entries at indexes 1.. with the given terms. */
  static MemoryRaftStorage storage(ConfState cs, long... terms) {
    MemoryRaftStorage st = new MemoryRaftStorage(cs);
    List<Entry> ents = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      ents.add(Entry.normal(terms[i], i + 1, new byte[] {(byte) i}));
    }
    st.append(ents);
    if (terms.length > 0) {
      st.setHardState(new HardState(terms[terms.length - 1], 0, 0));
    }
    return st;
  }

  static Raft raft(long id, MemoryRaftStorage st) {
    return raft(id, st, b -> b);
  }

  static Raft raft(long id, MemoryRaftStorage st, UnaryOperator<Config.Builder> tweak) {
    return new Raft(tweak.apply(config(id)).build(), st);
  }

  /** A replica with {@code bug} planted. */
  static Raft raft(long id, MemoryRaftStorage st, PlantedBug bug) {
    return new Raft(config(id).build(), st, PlantedBug.rules(java.util.Set.of(bug)));
  }

  /** The messages {@code r} produced since the last call. */
  static List<Message> take(Raft r) {
    List<Message> out = new ArrayList<>(r.msgs);
    r.msgs.clear();
    return out;
  }

  static Message.Builder msg(Message.Type type, long from, long to, long term) {
    return Message.builder(type, from, to, term);
  }

  /** Makes {@code r} leader of a new term with votes from {@code voters}. */
  static void makeLeader(Raft r, long... voters) {
    r.campaign(Raft.CampaignType.ELECTION);
    for (long v : voters) {
      r.step(msg(Message.Type.VOTE_RESPONSE, v, r.id, r.term).build());
    }
    if (r.role != RaftNode.Role.LEADER) {
      throw new AssertionError("not leader: " + r.role);
    }
    take(r);
  }

  /** What the application does after persisting: lets the leader count its own log. */
  static void persistAll(Raft r) {
    MemoryRaftStorage st = (MemoryRaftStorage) r.log.storage();
    st.append(r.log.unstableEntries());
    long last = r.log.lastIndex();
    r.log.stableTo(last, r.log.termOrZero(last));
    r.onPersisted(last, r.log.termOrZero(last));
  }

  static Message ack(long from, long to, long term, long index) {
    return msg(Message.Type.APPEND_RESPONSE, from, to, term).index(index).build();
  }
}
