package io.basalt.node.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.basalt.api.DeleteRequest;
import io.basalt.api.Errors;
import io.basalt.api.GetRequest;
import io.basalt.api.InitClusterRequest;
import io.basalt.api.KeySpace;
import io.basalt.api.KeyValue;
import io.basalt.api.KvRequest;
import io.basalt.api.KvResponse;
import io.basalt.api.NodeDescriptor;
import io.basalt.api.PutRequest;
import io.basalt.api.RangeDescriptor;
import io.basalt.api.RequestHeader;
import io.basalt.api.ScanRequest;
import io.basalt.node.server.Node;
import io.basalt.node.server.NodeConfig;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bin/basalt}: run a node, initialize a cluster, inspect it, read and write keys. */
@Command(
    name = "basalt",
    mixinStandardHelpOptions = true,
    version = "basalt 0.1.0-SNAPSHOT",
    description = "Basalt: a sharded, Multi-Raft, transactional key-value store.",
    subcommands = {
      BasaltCli.Start.class,
      BasaltCli.Init.class,
      StatusCommand.class,
      BasaltCli.Kv.class,
      NodeCommand.class,
      CertCommand.class,
      Demo.class
    })
public final class BasaltCli {
  /** Exit code of a refused or failed operator command. */
  static final int FAILED = 1;

  public static void main(String[] args) {
    if (isStart(args)) {
      NodeProcessDefaults.apply();
    }
    int code =
        new CommandLine(new BasaltCli()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0 || !isStart(args)) {
      System.exit(code);
    }
  }

  private static boolean isStart(String[] args) {
    return args.length > 0 && args[0].equals("start");
  }

  @Command(name = "start", description = "Run a node (in the foreground).")
  static final class Start implements Callable<Integer> {
    @Option(names = "--id", required = true, description = "This node's id (a positive integer).")
    long id;

    @Option(names = "--store", required = true, description = "Directory of this node's store.")
    Path store;

    @Option(
        names = "--listen",
        defaultValue = "127.0.0.1:7400",
        description = "HOST:PORT for peers and clients (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(
        names = "--advertise",
        description =
            "HOST:PORT other nodes and clients use to reach this node (default: --listen).")
    String advertise;

    @Option(
        names = "--http",
        defaultValue = "127.0.0.1:7500",
        description = "HOST:PORT of /metrics, /health and /ready (default: ${DEFAULT-VALUE}).")
    String http;

    @Option(
        names = "--join",
        split = ",",
        description = "HOST:PORT of other nodes, comma separated.")
    List<String> join = new ArrayList<>();

    @Option(
        names = "--max-offset-ms",
        defaultValue = "500",
        description =
            "Maximum clock offset to the cluster; beyond it the node stops serving (default:"
                + " ${DEFAULT-VALUE}).")
    long maxOffsetMs;

    @Option(
        names = "--tick-ms",
        defaultValue = "100",
        description = "Raft tick; the election timeout is 10 ticks (default: ${DEFAULT-VALUE}).")
    long tickMs;

    @Option(
        names = "--compact-log-after",
        defaultValue = "10000",
        description =
            "Raft log entries a range keeps before compacting; followers further behind catch up"
                + " by snapshot (default: ${DEFAULT-VALUE}).")
    int compactLogAfter;

    @Option(
        names = "--io-threads",
        defaultValue = "1",
        description =
            "Network threads for peers and clients; one batches best on a machine of a few cores,"
                + " more keep up with more traffic on a larger one (default: ${DEFAULT-VALUE}).")
    int ioThreads;

    @Option(
        names = "--gc-ttl-seconds",
        defaultValue = "14400",
        description =
            "How long old versions of a key are kept; a transaction reading at an older timestamp"
                + " restarts (default: ${DEFAULT-VALUE}, 4 hours; 0 keeps them forever).")
    long gcTtlSeconds;

    @Option(
        names = "--placement",
        defaultValue = "on",
        description =
            "on: the node leading the meta range repairs and balances replicas and leaders;"
                + " off: replicas stay where they are (default: ${DEFAULT-VALUE}).")
    String placement;

    @Option(
        names = "--replication-factor",
        defaultValue = "3",
        description =
            "Voters the placement driver keeps for each range (default: ${DEFAULT-VALUE}).")
    int replicationFactor;

    @Option(
        names = "--time-until-dead",
        defaultValue = "60s",
        description =
            "How long a node may be silent before the placement driver replaces its replicas, as"
                + " 90s, 2m or 1500ms (default: ${DEFAULT-VALUE}).")
    String timeUntilDead;

    @Option(
        names = "--range-max-bytes",
        defaultValue = "64MiB",
        description =
            "The size above which the placement driver splits a range, as 64MiB, 512KiB or a"
                + " number of bytes (default: ${DEFAULT-VALUE}).")
    String rangeMaxBytes;

    @Option(
        names = "--range-max-qps",
        defaultValue = "2500",
        description =
            "The load, in requests per second at its leader, above which the placement driver"
                + " splits a range at a key that halves it (default: ${DEFAULT-VALUE}).")
    double rangeMaxQps;

    @Option(
        names = "--merge-delay",
        defaultValue = "10m",
        description =
            "How long two neighbouring ranges must stay unchanged before the placement driver"
                + " merges them, when together they are below a quarter of --range-max-bytes and"
                + " half of --range-max-qps; as 10m, 90s, or off (default: ${DEFAULT-VALUE}).")
    String mergeDelay;

    @Option(
        names = "--certs-dir",
        description =
            "Directory of ca.crt, node.crt and node.key (see basalt cert): peers and clients must"
                + " connect with mutual TLS and a certificate of the same CA; files that change are"
                + " read again for new connections.")
    Path certsDir;

    @Option(
        names = "--insecure",
        description =
            "Run without TLS: any process that reaches the port can join as a peer or act as a"
                + " client. Needed when --certs-dir is not given.")
    boolean insecure;

    @Option(
        names = "--cert-allowed-cn",
        split = ",",
        defaultValue = "node",
        description =
            "Common names of the certificates that may act as peers (default: ${DEFAULT-VALUE}).")
    List<String> certAllowedCn;

    @Option(
        names = "--locality",
        defaultValue = "",
        description =
            "Where this node runs, outermost tier first, as zone=a,rack=r1: the placement driver"
                + " spreads each range's replicas over distinct first-tier values.")
    String locality;

    /** Checks a locality such as zone=a,rack=r1 (empty: none). */
    static String locality(String text) {
      String t = text.strip();
      String tier = "[A-Za-z0-9_-]+=[A-Za-z0-9_.-]+";
      if (!t.isEmpty() && !t.matches(tier + "(," + tier + ")*")) {
        throw new IllegalArgumentException(
            "--locality: expected tiers such as zone=a,rack=r1, got '" + text + "'");
      }
      return t;
    }

    /** Parses a size such as 64MiB, 512KiB, 1GiB or 1048576. */
    static long byteSize(String text) {
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile("(\\d+)(B|KiB|MiB|GiB)?").matcher(text.strip());
      if (!m.matches()) {
        throw new IllegalArgumentException(
            "--range-max-bytes: expected a size such as 64MiB, 512KiB or 1048576, got '"
                + text
                + "'");
      }
      int shift =
          m.group(2) == null
              ? 0
              : switch (m.group(2)) {
                case "KiB" -> 10;
                case "MiB" -> 20;
                case "GiB" -> 30;
                default -> 0;
              };
      long n = Long.parseLong(m.group(1));
      if (n <= 0 || n > (Long.MAX_VALUE >> shift)) {
        throw new IllegalArgumentException("--range-max-bytes must be positive, got " + text);
      }
      return n << shift;
    }

    /** Parses a duration such as 90s, 2m or 1500ms. */
    static Duration timeUntilDead(String text) {
      Duration d = duration("--time-until-dead", text);
      if (d.isZero()) {
        throw new IllegalArgumentException("--time-until-dead must be positive");
      }
      return d;
    }

    /** Parses --merge-delay: a duration, or off (null). */
    static Duration mergeDelay(String text) {
      return text.strip().equals("off") ? null : duration("--merge-delay", text);
    }

    private static Duration duration(String flag, String text) {
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile("(\\d+)(ms|s|m)").matcher(text.strip());
      if (!m.matches()) {
        throw new IllegalArgumentException(
            flag + ": expected a duration such as 90s, 2m or 1500ms, got '" + text + "'");
      }
      long n = Long.parseLong(m.group(1));
      Duration d =
          switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
          };
      return d;
    }

    @Override
    public Integer call() throws Exception {
      if (!placement.equals("on") && !placement.equals("off")) {
        throw new CommandLine.ParameterException(
            new CommandLine(this), "--placement is on or off, got " + placement);
      }
      if (!(rangeMaxQps > 0)) {
        throw new CommandLine.ParameterException(
            new CommandLine(this), "--range-max-qps must be positive, got " + rangeMaxQps);
      }
      if (replicationFactor < 1) {
        throw new CommandLine.ParameterException(
            new CommandLine(this), "--replication-factor must be at least 1");
      }
      try {
        timeUntilDead(timeUntilDead);
        mergeDelay(mergeDelay);
        byteSize(rangeMaxBytes);
        locality(locality);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
      }
      if (id <= 0) {
        throw new CommandLine.ParameterException(
            new CommandLine(this), "--id must be a positive integer, got " + id);
      }
      if ((certsDir == null) == !insecure) {
        throw new CommandLine.ParameterException(
            new CommandLine(this),
            certsDir == null
                ? "say --certs-dir DIR to run with TLS, or --insecure to run without it"
                : "--certs-dir and --insecure exclude each other");
      }
      if (gcTtlSeconds < 0) {
        throw new CommandLine.ParameterException(
            new CommandLine(this), "--gc-ttl-seconds must not be negative, got " + gcTtlSeconds);
      }
      Node node;
      try {
        node =
            new Node(
                new NodeConfig(
                    id,
                    store,
                    WireClient.parse(listen),
                    advertise,
                    join,
                    Duration.ofMillis(maxOffsetMs),
                    Duration.ofMillis(tickMs),
                    compactLogAfter,
                    ioThreads,
                    Duration.ofSeconds(gcTtlSeconds),
                    new NodeConfig.Placement(
                        placement.equals("on"),
                        replicationFactor,
                        timeUntilDead(timeUntilDead),
                        byteSize(rangeMaxBytes),
                        rangeMaxQps,
                        mergeDelay(mergeDelay),
                        locality(locality)),
                    new NodeConfig.Security(certsDir, java.util.Set.copyOf(certAllowedCn))));
      } catch (IllegalStateException e) {
        System.err.println("basalt: " + e.getMessage());
        return FAILED;
      }
      node.onFatal(reason -> {
        System.err.println("basalt: node " + id + " stops: " + reason);
        // Exit on a fresh thread: the shutdown hook closes the node, whose background thread
        // this handler runs on.
        new Thread(() -> System.exit(FAILED), "fatal-exit").start();
      });
      InetSocketAddress bound = node.start();
      node.startHttp(WireClient.parse(http));
      System.out.println("basalt node " + id + " listening on " + bound);
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(() -> {
                try {
                  // SIGTERM: leaderships move away first, so clients see redirects, not timeouts.
                  node.drain(Duration.ofSeconds(10));
                  node.close();
                } catch (Exception ignored) {
                  // exiting anyway
                }
                stopped.countDown();
              }));
      stopped.await();
      return 0;
    }
  }

  @Command(name = "init", description = "Initialize a new cluster (once).")
  static final class Init implements Callable<Integer> {
    @Option(names = "--host", required = true, description = "HOST:PORT of any node.")
    String host;

    @CommandLine.Mixin ClientSecurity security;

    @Option(
        names = "--ranges",
        defaultValue = "8",
        description = "Data ranges to pre-split (default: ${DEFAULT-VALUE}).")
    int ranges;

    @Option(
        names = "--replicas",
        defaultValue = "3",
        description = "Replicas per range (default: ${DEFAULT-VALUE}).")
    int replicas;

    @Option(
        names = "--wait-seconds",
        defaultValue = "0",
        description =
            "Keep trying this long while the node cannot be reached or knows of too few nodes"
                + " (default: one attempt).")
    long waitSeconds;

    @Option(
        names = "--if-new",
        description =
            "Succeed, changing nothing, when the cluster is initialized already (for a step that"
                + " may run again, such as a Kubernetes Job).")
    boolean ifNew;

    @Override
    public Integer call() throws InterruptedException {
      security.apply();
      long deadline = System.nanoTime() + Duration.ofSeconds(waitSeconds).toNanos();
      long backoffMillis = 250;
      while (true) {
        String failure;
        boolean retryable;
        try (WireClient c = WireClient.connect(host, Duration.ofSeconds(30))) {
          KvResponse r =
              c.call(
                  KvRequest.newBuilder()
                      .setInitCluster(
                          InitClusterRequest.newBuilder()
                              .setDataRanges(ranges)
                              .setReplication(replicas))
                      .build());
          if (!r.hasError()) {
            System.out.println(
                "initialized cluster "
                    + r.getInitCluster().getClusterId()
                    + " with "
                    + r.getInitCluster().getRangesCount()
                    + " ranges");
            return 0;
          }
          String code = r.getError().hasGeneric() ? r.getError().getGeneric().getCode() : "";
          if (ifNew && code.equals(Errors.ALREADY_INITIALIZED)) {
            System.out.println("the cluster is initialized already: " + describe(r));
            return 0;
          }
          failure = describe(r);
          // Too few nodes known yet, or a chosen node not answering: nothing was bootstrapped.
          retryable = r.getError().hasUnavailable() || code.equals(Errors.NOT_INITIALIZED);
        } catch (RuntimeException e) {
          failure = e.getMessage();
          retryable = true;
        }
        if (!retryable || System.nanoTime() - deadline >= 0) {
          System.err.println("basalt init: " + failure);
          return FAILED;
        }
        System.err.println("basalt init: " + failure + "; trying again");
        Thread.sleep(backoffMillis);
        backoffMillis = Math.min(backoffMillis * 2, 5_000);
      }
    }
  }

  @Command(
      name = "kv",
      description = "Read and write keys (like etcdctl).",
      subcommands = {Kv.Put.class, Kv.Get.class, Kv.Delete.class, Kv.Scan.class, KvTxn.class})
  static final class Kv {
    @Option(
        names = "--host",
        required = true,
        scope = CommandLine.ScopeType.INHERIT,
        description = "HOST:PORT of any node.")
    String host;

    @CommandLine.Mixin ClientSecurity security;

    @Command(name = "put", description = "Set KEY to VALUE.")
    static final class Put implements Callable<Integer> {
      @CommandLine.ParentCommand Kv kv;

      @Parameters(index = "0")
      String key;

      @Parameters(index = "1")
      String value;

      @Override
      public Integer call() {
        kv.security.apply();
        return run(
            kv.host,
            key,
            KvRequest.newBuilder()
                .setPut(PutRequest.newBuilder().setKey(utf8(key)).setValue(utf8(value))),
            r -> "OK");
      }
    }

    @Command(name = "get", description = "Print the value of KEY.")
    static final class Get implements Callable<Integer> {
      @CommandLine.ParentCommand Kv kv;

      @Parameters(index = "0")
      String key;

      @Override
      public Integer call() {
        kv.security.apply();
        return run(
            kv.host,
            key,
            KvRequest.newBuilder().setGet(GetRequest.newBuilder().setKey(utf8(key))),
            r -> r.getGet().getFound() ? r.getGet().getKv().getValue().toStringUtf8() : null);
      }
    }

    @Command(name = "delete", description = "Delete KEY.")
    static final class Delete implements Callable<Integer> {
      @CommandLine.ParentCommand Kv kv;

      @Parameters(index = "0")
      String key;

      @Override
      public Integer call() {
        kv.security.apply();
        return run(
            kv.host,
            key,
            KvRequest.newBuilder().setDelete(DeleteRequest.newBuilder().setKey(utf8(key))),
            r -> r.getDelete().getExisted() ? "deleted" : "not found");
      }
    }

    @Command(name = "scan", description = "Print keys and values in [START, END).")
    static final class Scan implements Callable<Integer> {
      @CommandLine.ParentCommand Kv kv;

      @Parameters(index = "0", defaultValue = "\u0001", description = "First key (default: all).")
      String start;

      @Parameters(
          index = "1",
          defaultValue = "",
          description = "End key, exclusive (default: none).")
      String end;

      @Option(names = "--limit", defaultValue = "100", description = "At most this many keys.")
      int limit;

      @Override
      public Integer call() {
        kv.security.apply();
        Router router = new Router(kv.host);
        try {
          byte[] from = start.getBytes(StandardCharsets.UTF_8);
          byte[] to = end.getBytes(StandardCharsets.UTF_8);
          int left = limit;
          while (left > 0) {
            RangeDescriptor d = router.lookup(from);
            // Each request stays inside its range: the node refuses a span past its end.
            byte[] rangeEnd = d.getEndKey().toByteArray();
            byte[] pageEnd =
                to.length > 0 && (rangeEnd.length == 0 || Arrays.compareUnsigned(to, rangeEnd) < 0)
                    ? to
                    : rangeEnd;
            KvResponse r =
                router.send(
                    d,
                    KvRequest.newBuilder()
                        .setScan(
                            ScanRequest.newBuilder()
                                .setStartKey(ByteString.copyFrom(from))
                                .setEndKey(ByteString.copyFrom(pageEnd))
                                .setLimit(left)));
            if (r.hasError()) {
              System.err.println("basalt kv scan: " + describe(r));
              return FAILED;
            }
            for (KeyValue kvp : r.getScan().getKvsList()) {
              System.out.println(printable(kvp.getKey()) + "\t" + printable(kvp.getValue()));
              left--;
            }
            if (!r.getScan().getResumeKey().isEmpty()) {
              from = r.getScan().getResumeKey().toByteArray();
            } else if (d.getEndKey().isEmpty()
                || (to.length > 0
                    && Arrays.compareUnsigned(d.getEndKey().toByteArray(), to) >= 0)) {
              break;
            } else {
              from = d.getEndKey().toByteArray();
            }
          }
          return 0;
        } catch (RuntimeException e) {
          System.err.println("basalt kv scan: " + e.getMessage());
          return FAILED;
        } finally {
          router.close();
        }
      }
    }

    private static int run(
        String host,
        String key,
        KvRequest.Builder request,
        java.util.function.Function<KvResponse, String> show) {
      byte[] k = key.getBytes(StandardCharsets.UTF_8);
      String invalid = KeySpace.invalidUserKey(k);
      if (invalid != null) {
        System.err.println("basalt kv: " + invalid);
        return FAILED;
      }
      if (request.getRequestCase() != KvRequest.RequestCase.GET) {
        byte[] id = new byte[16];
        new SecureRandom().nextBytes(id);
        request.setHeader(RequestHeader.newBuilder().setRequestId(ByteString.copyFrom(id)));
      }
      Router router = new Router(host);
      try {
        KvResponse r = router.send(router.lookup(k), request);
        if (r.hasError()) {
          System.err.println("basalt kv: " + describe(r));
          return FAILED;
        }
        String shown = show.apply(r);
        if (shown == null) {
          System.err.println("basalt kv: key not found");
          return FAILED;
        }
        System.out.println(shown);
        return 0;
      } catch (RuntimeException e) {
        System.err.println("basalt kv: " + e.getMessage());
        return FAILED;
      } finally {
        router.close();
      }
    }
  }

  /** Finds ranges through the meta range and follows NotLeader hints (the CLI's tiny router). */
  static final class Router implements AutoCloseable {
    private final String seed;
    private final Map<String, WireClient> connections = new TreeMap<>();
    private final Map<Long, String> addresses = new TreeMap<>();

    Router(String seed) {
      this.seed = seed;
    }

    private WireClient connection(String address) {
      return connections.computeIfAbsent(
          address, a -> WireClient.connect(a, Duration.ofSeconds(10)));
    }

    RangeDescriptor lookup(byte[] key) {
      RangeDescriptor meta =
          RangeDescriptor.newBuilder().setRangeId(KeySpace.META_RANGE_ID).build();
      KvResponse r =
          send(
              meta,
              KvRequest.newBuilder()
                  .setScan(
                      ScanRequest.newBuilder()
                          .setStartKey(ByteString.copyFrom(KeySpace.rangeLookupStart(key)))
                          .setEndKey(ByteString.copyFrom(KeySpace.rangeDirectoryEnd()))
                          .setLimit(1)));
      if (r.hasError()) {
        throw new IllegalStateException("range lookup failed: " + describe(r));
      }
      if (r.getScan().getKvsCount() == 0) {
        throw new IllegalStateException(
            "no range holds key " + printable(ByteString.copyFrom(key)));
      }
      try {
        return RangeDescriptor.parseFrom(r.getScan().getKvs(0).getValue());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("unreadable range descriptor", e);
      }
    }

    /** Sends to the range's leader, following hints; gives up after 20 tries. */
    KvResponse send(RangeDescriptor range, KvRequest.Builder request) {
      request.setHeader(request.getHeader().toBuilder().setRangeId(range.getRangeId()));
      String target = seed;
      List<String> candidates = new ArrayList<>();
      KvResponse last = null;
      for (int attempt = 0; attempt < 20; attempt++) {
        try {
          last = connection(target).call(request.build());
        } catch (RuntimeException e) {
          connections.remove(target);
          last = null;
        }
        if (last != null && !last.hasError()) {
          return last;
        }
        String next = null;
        if (last != null && last.getError().hasNotLeader()) {
          var nl = last.getError().getNotLeader();
          if (!nl.getLeaderAddress().isEmpty()) {
            next = nl.getLeaderAddress();
          }
        } else if (last != null
            && last.getError().hasGeneric()
            && last.getError().getGeneric().getCode().equals("INVALID_ARGUMENT")) {
          return last;
        }
        if (next == null) {
          if (candidates.isEmpty()) {
            candidates.addAll(knownAddresses());
          }
          next = candidates.isEmpty() ? seed : candidates.remove(0);
          sleep(attempt);
        }
        target = next;
      }
      if (last == null) {
        throw new IllegalStateException("no node answered for range " + range.getRangeId());
      }
      return last;
    }

    private List<String> knownAddresses() {
      if (addresses.isEmpty()) {
        try {
          KvResponse r =
              connection(seed)
                  .call(
                      KvRequest.newBuilder()
                          .setNodeInfo(io.basalt.api.NodeInfoRequest.getDefaultInstance())
                          .build());
          for (NodeDescriptor n : r.getNodeInfo().getNodesList()) {
            addresses.put(n.getNodeId(), n.getAddress());
          }
        } catch (RuntimeException e) {
          return List.of();
        }
      }
      return new ArrayList<>(addresses.values());
    }

    private static void sleep(int attempt) {
      try {
        Thread.sleep(Math.min(1_000, 20L << Math.min(attempt, 6)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void close() {
      connections.values().forEach(WireClient::close);
    }
  }

  static ByteString utf8(String s) {
    return ByteString.copyFromUtf8(s);
  }

  static String printable(ByteString b) {
    StringBuilder out = new StringBuilder();
    for (byte x : b.toByteArray()) {
      int c = x & 0xff;
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        out.append((char) c);
      } else {
        out.append(String.format("\\x%02x", c));
      }
    }
    return out.toString();
  }

  static String describe(KvResponse r) {
    var e = r.getError();
    return switch (e.getDetailCase()) {
      case NOT_LEADER -> "not leader of range " + e.getNotLeader().getRangeId();
      case RANGE_NOT_FOUND -> "range " + e.getRangeNotFound().getRangeId() + " not found";
      case KEY_NOT_IN_RANGE -> "key not in range " + e.getKeyNotInRange().getCurrent().getRangeId();
      case TIMEOUT -> "timeout: " + e.getTimeout().getMessage();
      case UNAVAILABLE -> "unavailable: " + e.getUnavailable().getMessage();
      case GENERIC -> e.getGeneric().getCode() + ": " + e.getGeneric().getMessage();
      case WRITE_INTENT -> "the key holds an intent of another transaction";
      case TXN_RETRY -> "transaction retry: " + e.getTxnRetry().getReason();
      case TXN_ABORTED -> "transaction aborted: " + e.getTxnAborted().getReason();
      case READ_UNCERTAIN -> "a value in the read's uncertainty interval";
      case GC_THRESHOLD -> "the timestamp is below the range's garbage collection threshold";
      case DETAIL_NOT_SET -> "unknown error";
    };
  }

  static byte[] requestId() {
    return ByteBuffer.allocate(16)
        .putLong(System.nanoTime())
        .putLong(new SecureRandom().nextLong())
        .array();
  }
}
