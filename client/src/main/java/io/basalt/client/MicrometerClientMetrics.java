package io.basalt.client;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The client's meters: {@code basalt_client_request_seconds} (tags {@code method}, {@code
 * outcome}), {@code basalt_client_retries_total} (tag {@code reason}), and {@code
 * basalt_client_range_cache_hits_total} / {@code basalt_client_range_cache_misses_total}.
 */
final class MicrometerClientMetrics implements ClientMetrics {
  private final MeterRegistry registry;
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Map<String, Counter> retries = new ConcurrentHashMap<>();
  private final Counter cacheHits;
  private final Counter cacheMisses;

  MicrometerClientMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.cacheHits =
        Counter.builder("basalt_client_range_cache_hits_total")
            .description("Requests routed by a cached range descriptor")
            .register(registry);
    this.cacheMisses =
        Counter.builder("basalt_client_range_cache_misses_total")
            .description("Requests that had to look their range up in the meta range")
            .register(registry);
  }

  @Override
  public void request(String method, long nanos, boolean succeeded) {
    String outcome = succeeded ? "success" : "error";
    timers
        .computeIfAbsent(
            method + "/" + outcome,
            k ->
                Timer.builder("basalt_client_request_seconds")
                    .description("Client calls, from the call to its result, retries included")
                    .tag("method", method)
                    .tag("outcome", outcome)
                    .register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void retry(String reason) {
    retries
        .computeIfAbsent(
            reason,
            r ->
                Counter.builder("basalt_client_retries_total")
                    .description("Attempts that failed and were retried, by reason")
                    .tag("reason", r)
                    .register(registry))
        .increment();
  }

  @Override
  public void rangeCacheHit() {
    cacheHits.increment();
  }

  @Override
  public void rangeCacheMiss() {
    cacheMisses.increment();
  }
}
