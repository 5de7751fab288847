/**
 * The node process: the Netty transport, the Multi-Raft store, the KV service and the CLI
 * (DESIGN.md decisions 2 to 5, 8 and 10). Arrives with the node issue.
 */
package io.basalt.node;
