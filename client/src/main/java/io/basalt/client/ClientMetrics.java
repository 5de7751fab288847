package io.basalt.client;

/**
 * What the client measures. Without a meter registry it measures nothing; the Micrometer
 * implementation is loaded only when one is given, so Micrometer stays an optional dependency.
 */
interface ClientMetrics {
  ClientMetrics NONE =
      new ClientMetrics() {
        @Override
        public void request(String method, long nanos, boolean succeeded) {}

        @Override
        public void retry(String reason) {}

        @Override
        public void rangeCacheHit() {}

        @Override
        public void rangeCacheMiss() {}
      };

  /** One client call of {@code method} ended after {@code nanos}. */
  void request(String method, long nanos, boolean succeeded);

  /** An attempt failed for {@code reason} and is being retried. */
  void retry(String reason);

  void rangeCacheHit();

  void rangeCacheMiss();
}
