/**
 * The node's Netty transport: length-prefixed protobuf frames with a maximum size, a handshake that
 * checks the cluster id, and a guard that closes a misbehaving connection without harming the
 * others. Connections, batching of Raft traffic per node pair and back-pressure come next.
 */
package io.basalt.node.transport;
