package io.basalt.node.transport;

import io.basalt.api.Frame;
import io.netty.channel.Channel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A client connection's answers: whoever answers (the store thread, in bursts) queues them, and one
 * task on the channel's event loop writes everything queued and flushes once, so a round's answers
 * to a client cost one wake-up and one write.
 */
final class ReplyQueue {
  private final Channel channel;
  private final Consumer<Runnable> scheduleFlush;
  private final ConcurrentLinkedQueue<Frame> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();

  /**
   * @param scheduleFlush runs the flush task it is given now, or when the thread answering defers
   *     its flushes, at the end of its round
   */
  ReplyQueue(Channel channel, Consumer<Runnable> scheduleFlush) {
    this.channel = channel;
    this.scheduleFlush = scheduleFlush;
  }

  void add(Frame frame) {
    queue.add(frame);
    if (scheduled.compareAndSet(false, true)) {
      scheduleFlush.accept(() -> NodeTransport.runOn(channel.eventLoop(), this::drain));
    }
  }

  private void drain() {
    scheduled.set(false);
    Frame f;
    boolean wrote = false;
    while ((f = queue.poll()) != null) {
      channel.write(f, channel.voidPromise());
      wrote = true;
    }
    if (wrote) {
      channel.flush();
    }
  }
}
