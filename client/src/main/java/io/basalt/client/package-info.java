/**
 * The Java client of Basalt (DESIGN.md decision 8). The front door is {@link
 * io.basalt.client.BasaltClient}: connect to seed nodes, then get, put, delete, compare-and-set,
 * write atomic batches within one range, and scan across ranges; {@link
 * io.basalt.client.BasaltClient#async()} offers the same with futures. Failures are typed ({@link
 * io.basalt.client.BasaltException} and its subclasses).
 *
 * <p>Inside: a range directory cache and leader routing ({@code RangeCache}, {@code Router}), node
 * discovery ({@code NodeDirectory}), one pipelined Netty connection per node ({@code
 * ConnectionPool}, {@code Connection}), and retries under a deadline with request ids that make
 * write retries safe.
 */
package io.basalt.client;
