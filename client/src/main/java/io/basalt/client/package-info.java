/**
 * The Java client: a range directory cache, leader routing, retries under a deadline and typed
 * errors (DESIGN.md decision 8). Arrives with the client issue.
 */
package io.basalt.client;
