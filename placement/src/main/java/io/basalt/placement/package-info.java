/**
 * The placement driver's policy: given what the driver knows of the nodes and ranges, which replica
 * changes and leadership transfers come next ({@link io.basalt.placement.PlacementPolicy},
 * DESIGN.md decision 7 and "Placement"). Pure code with the time passed in; the node carries the
 * decisions out.
 */
package io.basalt.placement;
