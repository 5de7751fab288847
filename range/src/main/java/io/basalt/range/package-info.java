/** One range replica: the storage engine, the Raft log, MVCC storage and range snapshots. */
package io.basalt.range;
