package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that stands still until a test moves it (thread-safe). */
final class FakeTicker implements Ticker {
  // Far from zero, so that code that treats 0 or small values specially would show.
  private final AtomicLong nanos = new AtomicLong(1L << 40);

  @Override
  public long read() {
    return nanos.get();
  }

  void advance(Duration duration) {
    nanos.addAndGet(duration.toNanos());
  }
}
