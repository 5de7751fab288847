package io.basalt.node.process;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.ConditionalPutRequest;
import io.basalt.api.GetRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.ScanRequest;
import io.basalt.node.cli.WireClient;
import io.basalt.range.check.Operation;
import io.basalt.range.check.RegisterModel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Concurrent clients of a {@link ProcessCluster} that record a history: each operation with its
 * invoke and completion time, its outcome unknown when a write's fate cannot be known (a timeout or
 * a broken connection after it was sent, retried with the same request id until the deadline).
 * Definite failures (NotLeader before proposing, NOT_SERVING, ...) are left out of the history: a
 * failed write had no effect and a failed read observed nothing.
 */
final class Workload {
  final ProcessCluster cluster;
  final List<String> keys;
  final Map<String, RangeDescriptor> rangeOfKey = new HashMap<>();
  final Map<Long, Integer> leaderGuess = new ConcurrentHashMap<>();
  final List<Operation<RegisterModel.Op, Object>> history =
      Collections.synchronizedList(new ArrayList<>());

  /**
   * Every operation's outcome, definite failures included (the history leaves those out), for the
   * run's record: when it was invoked and completed, and "ok", "fail" or "unknown".
   */
  record Outcome(int client, String key, String op, long invoked, long completed, String result) {}

  final List<Outcome> outcomes = Collections.synchronizedList(new ArrayList<>());

  /** Values of acknowledged puts and successful compare-and-sets, by key. */
  final Map<String, List<String>> acknowledged = new ConcurrentHashMap<>();

  final AtomicLong ok = new AtomicLong();
  final AtomicLong readsOk = new AtomicLong();
  final AtomicLong writesOk = new AtomicLong();
  final AtomicLong unknown = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  private final long seed;
  private volatile boolean stopping;
  private final List<Thread> threads = new ArrayList<>();

  Workload(ProcessCluster cluster, List<String> keys, long seed) {
    this.cluster = cluster;
    this.keys = keys;
    this.seed = seed;
  }

  /** Finds each key's range through the meta range (descriptors do not change in these tests). */
  void route() {
    for (String key : keys) {
      ProcessCluster.await(
          () -> {
            for (int n = 1; n <= cluster.size; n++) {
              if (!cluster.alive(n)) {
                continue;
              }
              try (WireClient c = WireClient.connect(cluster.address(n), Duration.ofSeconds(2))) {
                KvResponse r =
                    c.call(
                        KvRequest.newBuilder()
                            .setHeader(
                                RequestHeader.newBuilder().setRangeId(KeySpace.META_RANGE_ID))
                            .setScan(
                                ScanRequest.newBuilder()
                                    .setStartKey(
                                        ByteString.copyFrom(KeySpace.rangeLookupStart(utf8(key))))
                                    .setEndKey(ByteString.copyFrom(KeySpace.rangeDirectoryEnd()))
                                    .setLimit(1))
                            .build());
                if (r.hasScan() && r.getScan().getKvsCount() == 1) {
                  rangeOfKey.put(key, RangeDescriptor.parseFrom(r.getScan().getKvs(0).getValue()));
                  return true;
                }
              } catch (RuntimeException | InvalidProtocolBufferException e) {
                // try the next node
              }
            }
            return false;
          },
          "the range of " + key + " is found",
          Duration.ofSeconds(30));
    }
  }

  void start(int threadCount) {
    for (int t = 0; t < threadCount; t++) {
      int id = t + 1;
      Thread th = new Thread(() -> runClient(id), "workload-" + id);
      th.setDaemon(true);
      threads.add(th);
      th.start();
    }
  }

  void stop() throws InterruptedException {
    stopping = true;
    for (Thread t : threads) {
      t.join(30_000);
    }
  }

  private void runClient(int id) {
    SplittableRandom random = new SplittableRandom(seed * 1000 + id);
    Map<Integer, WireClient> connections = new HashMap<>();
    long seq = 0;
    try {
      while (!stopping) {
        String key = keys.get(random.nextInt(keys.size()));
        int kind = random.nextInt(100);
        String value = "w" + id + "-" + (++seq);
        RegisterModel.Op op;
        KvRequest.Builder req = KvRequest.newBuilder();
        if (kind < 50) {
          op = new RegisterModel.Read();
          req.setGet(GetRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)));
        } else if (kind < 85) {
          op = new RegisterModel.Write(value);
          req.setPut(
              PutRequest.newBuilder()
                  .setKey(ByteString.copyFromUtf8(key))
                  .setValue(ByteString.copyFromUtf8(value)));
        } else {
          String expected = lastRead.get(key);
          op = new RegisterModel.Cas(expected, value);
          ConditionalPutRequest.Builder c =
              ConditionalPutRequest.newBuilder()
                  .setKey(ByteString.copyFromUtf8(key))
                  .setValue(ByteString.copyFromUtf8(value));
          if (expected == null) {
            c.setExpectAbsent(true);
          } else {
            c.setExpectedValue(ByteString.copyFromUtf8(expected));
          }
          req.setConditionalPut(c);
        }
        RangeDescriptor range = rangeOfKey.get(key);
        req.setHeader(
            RequestHeader.newBuilder()
                .setRangeId(range.getRangeId())
                .setRequestId(
                    ByteString.copyFrom(
                        ByteBuffer.allocate(16).putLong(seed * 1000 + id).putLong(seq).array())));
        execute(id, key, op, req.build(), random, connections);
      }
    } finally {
      connections.values().forEach(WireClient::close);
    }
  }

  private final Map<String, String> lastRead = new ConcurrentHashMap<>();

  private void execute(
      int client,
      String key,
      RegisterModel.Op op,
      KvRequest request,
      SplittableRandom random,
      Map<Integer, WireClient> connections) {
    boolean write = !(op instanceof RegisterModel.Read);
    long invoked = System.nanoTime();
    long deadline = invoked + Duration.ofSeconds(4).toNanos();
    boolean maybeApplied = false;
    long rangeId = request.getHeader().getRangeId();
    while (System.nanoTime() < deadline && !(stopping && !maybeApplied)) {
      int node = leaderGuess.getOrDefault(rangeId, 1 + random.nextInt(cluster.size));
      KvResponse r;
      try {
        WireClient c =
            connections.computeIfAbsent(
                node, n -> WireClient.connect(cluster.address(n), Duration.ofSeconds(1)));
        r = c.call(request);
      } catch (RuntimeException e) {
        // Unreachable, or the call broke after sending: the write may have been applied.
        WireClient broken = connections.remove(node);
        if (broken != null) {
          broken.close();
          maybeApplied |= write;
        }
        leaderGuess.remove(rangeId);
        pause(random);
        continue;
      }
      if (r.hasError()) {
        var e = r.getError();
        if (e.hasTimeout()) {
          maybeApplied |= write;
        }
        if (e.hasNotLeader() && !e.getNotLeader().getLeaderAddress().isEmpty()) {
          leaderGuess.put(rangeId, nodeOf(e.getNotLeader().getLeaderAddress()));
        } else {
          leaderGuess.remove(rangeId);
        }
        if (e.hasGeneric() && e.getGeneric().getCode().equals("INVALID_ARGUMENT")) {
          throw new AssertionError("the workload sent an invalid request: " + r);
        }
        pause(random);
        continue;
      }
      leaderGuess.put(rangeId, node);
      Object output;
      switch (op) {
        case RegisterModel.Read read -> {
          if (r.getGet().getFound()) {
            String v = r.getGet().getKv().getValue().toStringUtf8();
            lastRead.put(key, v);
            output = v;
          } else {
            lastRead.remove(key);
            output = RegisterModel.ABSENT;
          }
        }
        case RegisterModel.Write w -> {
          output = null;
          acknowledged
              .computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
              .add(w.value());
        }
        case RegisterModel.Cas cas -> {
          output = r.getConditionalPut().getSucceeded();
          if ((Boolean) output) {
            acknowledged
                .computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                .add(cas.value());
          }
        }
      }
      ok.incrementAndGet();
      if (write) {
        writesOk.incrementAndGet();
      } else {
        readsOk.incrementAndGet();
      }
      long completed = System.nanoTime();
      history.add(new Operation<>(client, key, op, output, invoked, completed));
      outcomes.add(new Outcome(client, key, op + " -> " + output, invoked, completed, "ok"));
      return;
    }
    if (maybeApplied) {
      unknown.incrementAndGet();
      history.add(new Operation<>(client, key, op, null, invoked, Operation.UNKNOWN));
      outcomes.add(new Outcome(client, key, op.toString(), invoked, System.nanoTime(), "unknown"));
    } else {
      failed.incrementAndGet();
      outcomes.add(new Outcome(client, key, op.toString(), invoked, System.nanoTime(), "fail"));
    }
  }

  private int nodeOf(String address) {
    for (int i = 1; i <= cluster.size; i++) {
      if (cluster.address(i).equals(address)) {
        return i;
      }
    }
    return 1;
  }

  /** Backoff before a retry (a delay, not a synchronization). */
  private static void pause(SplittableRandom random) {
    java.util.concurrent.locks.LockSupport.parkNanos((5 + random.nextInt(20)) * 1_000_000L);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  String summary() {
    return "ok="
        + ok
        + " (reads "
        + readsOk
        + ", writes "
        + writesOk
        + ") unknown="
        + unknown
        + " failed="
        + failed
        + " ops="
        + history.size();
  }
}
