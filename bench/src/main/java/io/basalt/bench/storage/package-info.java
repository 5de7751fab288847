/** Storage engine benchmarks: durable log appends with and without group commit, MVCC reads. */
package io.basalt.bench.storage;
