package io.basalt.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import java.lang.reflect.Constructor;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * A real {@link BasaltClient} (router, transaction coordinator, intent resolver) inside a
 * single-threaded simulation: its requests travel the simulation's network, its timers and clocks
 * are the simulation's, its random numbers come from a seed, and its blocking calls run in virtual
 * threads whose scheduler is the simulation's event queue. A virtual thread runs on the simulation
 * thread until it blocks on an answer, and resumes as an event once the answer is delivered; so a
 * run with many clients is one deterministic sequence of events, replayed from its seed.
 *
 * <p>Needs {@code --add-opens java.base/java.lang=ALL-UNNAMED} (the virtual thread builder that
 * takes a scheduler is not public) and a JDK that does not pin a virtual thread blocked inside
 * {@code synchronized} (24 or later): a pinned thread would block the simulation itself. Nothing
 * the client runs may wait on a lock a real thread also takes: its waiter would be woken by that
 * thread, outside the event order, and seeds would no longer replay. Printing is such a wait (the
 * test runner's output streams are locked by its own threads): the client's code and its callers
 * here print nothing.
 */
public final class SimClient {
  /** The simulation as a client sees it. */
  public interface World {
    /**
     * Sends {@code request} to node {@code node}; {@code answer} is called (as an event) with its
     * answer if one comes back. Returns false if the request could not be sent (the node is down: a
     * refused connection), in which case it was not delivered.
     */
    boolean send(long node, KvRequest request, Consumer<KvResponse> answer);

    /** Runs {@code task} as an event {@code delayNanos} from now. */
    void at(long delayNanos, Runnable task);

    /** The simulation's clock, in nanoseconds. */
    long nanos();
  }

  private final World world;
  private final SplittableRandom random;
  private final Thread.Builder threads;
  private final BasaltClient client;
  private boolean dead;
  private final List<Thread> spawned = new java.util.ArrayList<>();

  /** Requests that kill this client's process: before it sends one, or just after. */
  private Predicate<KvRequest> dieBefore = r -> false;

  private Predicate<KvRequest> dieAfter = r -> false;

  private Runnable onDeath;

  /** After the first request it matches, the client's link stalls for {@link #stallNanos}. */
  private Predicate<KvRequest> stallAfter = r -> false;

  private long stallNanos;

  /** Until then, requests and answers are held (and delivered then, in a random order). */
  private long stalledUntil;

  /**
   * Once this client has sent a request {@code trigger} matches, its link stalls for {@code stall}:
   * requests sent meanwhile and answers that come back meanwhile are all delivered when it ends,
   * none lost (a client cut off for a while, right after the request: its heartbeats stop, its
   * later requests and its answers arrive late).
   */
  public void stallAfter(Predicate<KvRequest> trigger, Duration stall) {
    stallAfter = trigger;
    stallNanos = stall.toNanos();
  }

  /** Each request sent before {@link #slowUntil} reaches its node up to this much later. */
  private long slowLinkNanos;

  private long slowUntil;

  /**
   * For {@code during} from now, each request this client sends reaches its node after a random
   * delay of up to {@code maxDelay}, each drawn on its own, so that a commit's writes arrive in any
   * order and far apart, and its heartbeats late.
   */
  public void slowLink(Duration maxDelay, Duration during) {
    slowLinkNanos = maxDelay.toNanos();
    slowUntil = world.nanos() + during.toNanos();
  }

  /**
   * A client of nodes {@code 1..nodeCount} (addressed {@code n1}, {@code n2}, …).
   *
   * @param attemptTimeout how long one attempt waits for its answer
   * @param callTimeout how long a call retries
   */
  public SimClient(
      World world, int nodeCount, long seed, Duration attemptTimeout, Duration callTimeout) {
    this.world = world;
    this.random = new SplittableRandom(seed);
    this.threads = virtualThreads(task -> world.at(0, task));
    List<String> seeds = new java.util.ArrayList<>();
    for (int i = 1; i <= nodeCount; i++) {
      seeds.add("n" + i);
    }
    NodeDirectory nodes = new NodeDirectory(seeds);
    for (int i = 1; i <= nodeCount; i++) {
      nodes.learn(i, "n" + i);
    }
    Router router =
        new Router(
            nodes,
            new RangeCache(1_000),
            new Runtime(),
            ClientMetrics.NONE,
            new Backoff(Duration.ofMillis(5).toNanos(), Duration.ofMillis(200).toNanos()),
            callTimeout.toNanos(),
            attemptTimeout.toNanos(),
            attemptTimeout.toNanos(),
            random.nextLong());
    this.client = new BasaltClient(router, 100);
  }

  /** A transaction's state as its next request would carry it (for failure reports). */
  public static String describe(Txn tx) {
    return ((TxnCoordinator) tx).proto().toString().replace('\n', ' ');
  }

  /** The client: call it only from {@link #spawn}ed code. */
  public BasaltClient client() {
    return client;
  }

  /** Runs {@code body} in a new virtual thread of the simulation. */
  public void spawn(String name, Runnable body) {
    spawned.add(threads.name(name).start(body));
  }

  /**
   * The threads of this (live) client still running or waiting, each with its stack: at the end of
   * a run, what a client was stuck in.
   */
  public List<String> waiting() {
    List<String> out = new java.util.ArrayList<>();
    if (dead) {
      return out;
    }
    for (Thread t : spawned) {
      if (t.isAlive()) {
        StringBuilder b = new StringBuilder(t.getName()).append(" waits:");
        for (StackTraceElement e : t.getStackTrace()) {
          b.append("\n      at ").append(e);
        }
        out.add(b.toString());
      }
    }
    return out;
  }

  /**
   * Kills this client's process at the first request {@code before} matches (which is not sent), or
   * right after sending one {@code after} matches: nothing it has pending is answered and none of
   * its timers runs again.
   */
  public void dieAt(Predicate<KvRequest> before, Predicate<KvRequest> after) {
    this.dieBefore = before;
    this.dieAfter = after;
  }

  /** Runs {@code then} (as an event) when this client's process dies; null: nothing. */
  public void onDeath(Runnable then) {
    this.onDeath = then;
  }

  private void die() {
    dead = true;
    if (onDeath != null) {
      world.at(0, onDeath);
    }
  }

  private final class Runtime implements ClientRuntime {
    private final Ticker ticker = world::nanos;

    @Override
    public CompletableFuture<KvResponse> call(
        String address, KvRequest request, long deadlineNanos) {
      CompletableFuture<KvResponse> answer = new CompletableFuture<>();
      if (dead) {
        return answer; // never completes: the process is gone
      }
      if (dieBefore.test(request)) {
        die();
        return answer;
      }
      long node = Long.parseLong(address.substring(1));
      Consumer<KvResponse> onAnswer =
          response -> {
            long now = world.nanos();
            if (now < stalledUntil) {
              world.at(untilStallEnds(now), () -> deliver(answer, response));
            } else {
              deliver(answer, response);
            }
          };
      boolean sent;
      long now = world.nanos();
      long delay =
          now < stalledUntil
              ? untilStallEnds(now)
              : slowLinkNanos > 0 && now < slowUntil ? random.nextLong(slowLinkNanos) : -1;
      if (delay >= 0) {
        // Taken as sent: a request that finds its node down on arrival is lost.
        world.at(delay, () -> world.send(node, request, onAnswer));
        sent = true;
      } else {
        sent = world.send(node, request, onAnswer);
      }
      if (dieAfter.test(request)) {
        die();
        return answer;
      }
      if (stallAfter.test(request)) {
        stallAfter = r -> false;
        stalledUntil = world.nanos() + stallNanos;
      }
      if (!sent) {
        failLater(
            answer, 1_000_000, Connection.Failure.Kind.NOT_SENT, address + ": connection refused");
      } else {
        long left = Math.max(0, deadlineNanos - world.nanos());
        failLater(answer, left, Connection.Failure.Kind.NO_REPLY, address + ": no answer in time");
      }
      return answer;
    }

    /**
     * How long from {@code now} until the stall ends, and a little more (the order they land in).
     */
    private long untilStallEnds(long now) {
      return stalledUntil - now + random.nextLong(20_000_000);
    }

    private void deliver(CompletableFuture<KvResponse> answer, KvResponse response) {
      if (!dead) {
        answer.complete(response);
      }
    }

    /** Fails {@code answer} with {@code kind} after {@code delayNanos}, unless answered or dead. */
    private void failLater(
        CompletableFuture<KvResponse> answer,
        long delayNanos,
        Connection.Failure.Kind kind,
        String message) {
      world.at(
          delayNanos,
          () -> {
            if (!dead) {
              answer.completeExceptionally(new Connection.Failure(kind, message, null));
            }
          });
    }

    @Override
    public void execute(Runnable task) {
      schedule(task, 0);
    }

    @Override
    public void schedule(Runnable task, long delayNanos) {
      if (!dead) {
        world.at(
            delayNanos,
            () -> {
              if (!dead) {
                task.run();
              }
            });
      }
    }

    @Override
    public Ticker ticker() {
      return ticker;
    }

    @Override
    public long wallMillis() {
      return world.nanos() / 1_000_000;
    }

    @Override
    public RandomGenerator random() {
      return random;
    }

    @Override
    public void close() {
      dead = true;
    }
  }

  private static Thread.Builder virtualThreads(Executor scheduler) {
    if (java.lang.Runtime.version().feature() < 24) {
      throw new IllegalStateException(
          "the simulated clients need JDK 24 or later (virtual threads that do not pin inside"
              + " synchronized); this is "
              + java.lang.Runtime.version());
    }
    try {
      Class<?> builder = Class.forName("java.lang.ThreadBuilders$VirtualThreadBuilder");
      Constructor<?> withScheduler = builder.getDeclaredConstructor(Executor.class);
      withScheduler.setAccessible(true);
      return (Thread.Builder) withScheduler.newInstance(scheduler);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "cannot build virtual threads on the simulation's scheduler (run with --add-opens"
              + " java.base/java.lang=ALL-UNNAMED): "
              + e,
          e);
    }
  }
}
