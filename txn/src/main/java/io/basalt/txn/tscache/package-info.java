/**
 * The timestamp cache a range leader keeps ({@link io.basalt.txn.tscache.TimestampCache}): the
 * highest timestamp at which each key or span was read, so that a later write to it is pushed above
 * every read that did not see it.
 */
package io.basalt.txn.tscache;
