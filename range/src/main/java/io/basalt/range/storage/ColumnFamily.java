package io.basalt.range.storage;

/**
 * The column families of a node's one engine (DESIGN.md decision 2). Each is an independent ordered
 * keyspace; a write batch may span all of them and is applied atomically.
 */
public enum ColumnFamily {
  /** Raft log entries and hard state of every range, keyed by range id first. */
  RAFT("raft"),
  /** MVCC versions of user keys: all ranges share it; a range is a span of user keys. */
  MVCC("mvcc"),
  /** Range-local metadata: applied index, descriptor, request dedupe records, txn records. */
  LOCAL("local");

  private final String rocksName;

  ColumnFamily(String rocksName) {
    this.rocksName = rocksName;
  }

  /** The name of the column family inside RocksDB; part of the on-disk format. */
  public String rocksName() {
    return rocksName;
  }
}
