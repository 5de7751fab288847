package io.basalt.range.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The log: stable plus unstable entries, conflict detection, commit and apply indexes. */
class RaftLogTest {

  private static RaftLog log(long... terms) {
    return new RaftLog(RaftTestSupport.storage(ConfState.ofVoters(1), terms));
  }

  @Test
  void maybeAppendRejectsMismatchedPrevious() {
    RaftLog l = log(1, 1, 2);
    assertThat(l.maybeAppend(3, 1, 3, List.of())).isEqualTo(-1);
    assertThat(l.maybeAppend(4, 2, 3, List.of())).isEqualTo(-1);
    assertThat(l.committed()).isZero();
  }

  @Test
  void maybeAppendTruncatesOnlyFromFirstConflict() {
    RaftLog l = log(1, 1, 2, 2);
    long last = l.maybeAppend(1, 1, 0, List.of(Entry.normal(1, 2, null), Entry.normal(3, 3, null)));
    assertThat(last).isEqualTo(3);
    assertThat(l.lastIndex()).isEqualTo(3);
    assertThat(l.termOrZero(3)).isEqualTo(3);
    assertThat(l.unstableEntries()).extracting(Entry::index).containsExactly(3L);
  }

  @Test
  void conflictWithCommittedEntryIsFatal() {
    RaftLog l = log(1, 1, 1);
    l.commitTo(2);
    assertThatThrownBy(() -> l.maybeAppend(1, 1, 2, List.of(Entry.normal(2, 2, null))))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void commitNeverRegressesAndNeverPassesTheLog() {
    RaftLog l = log(1, 1, 1);
    l.commitTo(2);
    l.commitTo(1);
    assertThat(l.committed()).isEqualTo(2);
    assertThatThrownBy(() -> l.commitTo(4)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void findConflictByTermSkipsWholeTerms() {
    RaftLog l = log(1, 1, 1, 4, 4, 4, 4);
    assertThat(l.findConflictByTerm(7, 2)).containsExactly(3, 1);
    assertThat(l.findConflictByTerm(7, 4)).containsExactly(7, 4);
    assertThat(l.findConflictByTerm(20, 5))
        .as("beyond the log: from the last index")
        .containsExactly(7, 4);
  }

  @Test
  void committedEntriesAreLimitedToPersistedOnes() {
    RaftLog l = log(1, 1);
    l.append(List.of(Entry.normal(1, 3, null)));
    l.commitTo(3);
    assertThat(l.nextCommittedEntries(Long.MAX_VALUE))
        .extracting(Entry::index)
        .containsExactly(1L, 2L);
    ((MemoryRaftStorage) l.storage()).append(l.unstableEntries());
    l.stableTo(3, 1);
    assertThat(l.nextCommittedEntries(Long.MAX_VALUE))
        .extracting(Entry::index)
        .containsExactly(1L, 2L, 3L);
    l.appliedTo(2);
    assertThat(l.nextCommittedEntries(Long.MAX_VALUE)).extracting(Entry::index).containsExactly(3L);
    assertThatThrownBy(() -> l.appliedTo(1)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void entriesRespectMaxBytesButReturnAtLeastOne() {
    RaftLog l = log(1, 1, 1, 1);
    assertThat(l.entries(1, 5, 1)).hasSize(1);
    assertThat(l.entries(1, 5, 2 * (Entry.OVERHEAD_BYTES + 1))).hasSize(2);
    l.append(List.of(Entry.normal(1, 5, null), Entry.normal(1, 6, null)));
    assertThat(l.entries(3, 7, Long.MAX_VALUE))
        .extracting(Entry::index)
        .containsExactly(3L, 4L, 5L, 6L);
  }

  @Test
  void upToDateComparesLastTermThenIndex() {
    RaftLog l = log(1, 2, 2);
    assertThat(l.isUpToDate(1, 3)).isTrue();
    assertThat(l.isUpToDate(3, 2)).isTrue();
    assertThat(l.isUpToDate(2, 2)).isFalse();
    assertThat(l.isUpToDate(9, 1)).isFalse();
  }
}
