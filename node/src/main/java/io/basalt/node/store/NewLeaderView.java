package io.basalt.node.store;

import io.basalt.api.Errors;
import java.util.List;

/**
 * What a {@link StoreRules} rule may see of, and do to, a replica that just became leader (the
 * correct rules use none of it).
 */
final class NewLeaderView implements StoreRules.NewLeader {
  private final Replica r;

  NewLeaderView(Replica r) {
    this.r = r;
  }

  @Override
  public long[] proposalIndexes() {
    return r.proposals.keySet().stream().mapToLong(Long::longValue).toArray();
  }

  @Override
  public long proposalTerm(long index) {
    return r.proposals.get(index).term();
  }

  @Override
  public long logTerm(long index) {
    return r.storage.term(index);
  }

  @Override
  public void answerNotLeader(long index, List<Runnable> answers) {
    Replica.Proposal prop = r.forget(r.proposals.remove(index));
    r.releaseLatches(prop.pending());
    Pending p = prop.pending();
    answers.add(() -> p.reply(Errors.notLeader(r.rangeId, 0, null)));
  }
}
