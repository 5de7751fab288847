package io.basalt.range.raft;

/** What a log entry carries: a command for the state machine or a membership change. */
public enum EntryType {
  /** An opaque command (or an empty no-op appended by a new leader). */
  NORMAL,
  /** An encoded {@link ConfChange}; see {@link ConfChange#decode(byte[])}. */
  CONF_CHANGE
}
