/** Span latches in read and write modes ({@link io.basalt.txn.latch.SpanLatches}). */
package io.basalt.txn.latch;
