/** JMH benchmarks and load drivers; each benchmark's Javadoc gives its exact run command. */
package io.basalt.bench;
