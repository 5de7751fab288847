/**
 * The Raft consensus core of a range replica: a pure, deterministic state machine (the etcd-io/raft
 * design, DESIGN.md decision 1). The front door is {@link io.basalt.range.raft.RaftNode}; it takes
 * messages, ticks and proposals and returns {@link io.basalt.range.raft.Ready} batches of work
 * (entries and hard state to persist, messages to send, entries to apply). Stable storage is read
 * through {@link io.basalt.range.raft.RaftStorage}.
 */
package io.basalt.range.raft;
