/**
 * The placement driver: node membership and liveness, the range directory, split, merge, rebalance
 * and repair (DESIGN.md decision 7). Arrives with the placement issue.
 */
package io.basalt.placement;
