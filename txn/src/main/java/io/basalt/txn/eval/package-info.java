/**
 * Request evaluation: the command table ({@link io.basalt.txn.eval.Commands}), one evaluator per
 * kind of KV request, each a pure function of the engine's applied state, the request and a
 * timestamp.
 */
package io.basalt.txn.eval;
