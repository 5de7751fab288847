package io.basalt.node.store;

/**
 * A store's timing (in ticks) and limits.
 *
 * @param electionTicks Raft election timeout
 * @param heartbeatTicks Raft heartbeat interval
 * @param quiesceAfterTicks idle ticks before a range stops heartbeating (0: never)
 * @param leaseDriftTicks the clock-drift allowance subtracted from the lease
 * @param requestTimeoutTicks how long a request may wait before it is answered Timeout
 * @param pingEveryTicks how often peer nodes are probed
 * @param livenessTicks how long without hearing from a node before its ranges' followers wake
 * @param compactLogAfter log entries a range keeps before it compacts its log to the applied index
 *     less half of this (0: never); followers further behind get a snapshot
 * @param snapshotChunkBytes the size of the chunks a snapshot is streamed in
 * @param dedupeRetentionMillis how long a write's dedupe record is kept (0: forever); a retry of a
 *     request id older than this would be applied again, so it must exceed any client's retry
 *     horizon by far
 * @param dedupeCollectEveryTicks how often a leader proposes collecting old dedupe records
 * @param txnExpiryMillis how long a transaction's record may go without a heartbeat before a
 *     conflicting request may abort it
 * @param gcTtlMillis how long old MVCC versions are kept (reads at a timestamp older than this may
 *     be refused); 0: never collected
 * @param gcEveryTicks how often a leader looks for garbage in its range
 * @param rankedElectionTimeout whether followers that know their leader time out in rank order
 *     rather than at random (see {@code Config#rankedElectionTimeout}); nodes run with it, {@link
 *     #defaults()} leaves it off
 */
public record StoreOptions(
    int electionTicks,
    int heartbeatTicks,
    int quiesceAfterTicks,
    int leaseDriftTicks,
    int requestTimeoutTicks,
    int pingEveryTicks,
    int livenessTicks,
    int compactLogAfter,
    int snapshotChunkBytes,
    long dedupeRetentionMillis,
    int dedupeCollectEveryTicks,
    long txnExpiryMillis,
    long gcTtlMillis,
    int gcEveryTicks,
    boolean rankedElectionTimeout) {

  /**
   * For a 100 ms tick: 1 s election timeout, 5 s request deadline, dedupe records kept 10 minutes
   * and collected every minute, transactions expired after 5 s without a heartbeat, old versions
   * kept 4 hours and looked for every 10 minutes.
   */
  public static StoreOptions defaults() {
    return new StoreOptions(
        10,
        2,
        30,
        2,
        50,
        5,
        20,
        10_000,
        1 << 20,
        600_000,
        600,
        5_000,
        4 * 3_600_000L,
        6_000,
        false);
  }
}
