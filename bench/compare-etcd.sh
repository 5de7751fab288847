#!/usr/bin/env bash
# Side by side: a 3-member etcd and a 3-node Basalt on this machine, loaded the
# same way (closed loop, THREADS client threads, VALUE_SIZE-byte values, the same
# key count), one after the other: durable puts, linearizable gets, and
# transactions writing 2 keys (etcd's Txn of two puts; a Basalt transaction
# whose two keys lie in two ranges).
#
#   bench/compare-etcd.sh                 # 64 threads, 100-byte values, 20 s per run
#                                         # after a 30 s warm-up (WARMUP): on 2 cores the
#                                         # four JVMs' JIT compilers need it to settle
#   THREADS=16 VALUE_SIZE=1024 DURATION=30s bench/compare-etcd.sh
#   LG_ARGS=--platform-threads bench/compare-etcd.sh
#
# The client threads are virtual threads for both systems (LoadGenerator's default): the load
# generator runs on the same 2 cores as the servers, and platform threads spend about half a core
# on parking and waking. LG_ARGS passes more LoadGenerator options to both runs
# (after the script's own, so they win; the header prints them).
#
# etcd comes from Debian's etcd-server package (installed if missing); it fsyncs
# its WAL before acknowledging a put (its default), and gets go through jetcd's
# default, linearizable reads. Basalt runs 3 nodes with 3 replicas per range
# and syncs its Raft log before acknowledging. Both on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
THREADS="${THREADS:-64}"
VALUE_SIZE="${VALUE_SIZE:-100}"
DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-30s}"
KEYS="${KEYS:-10000}"
LG_ARGS="${LG_ARGS:-}"
THREAD_KIND=virtual
[[ "$LG_ARGS" == *--platform-threads* ]] && THREAD_KIND=platform
source "$ROOT/bin/jdk.sh"

if ! command -v etcd >/dev/null 2>&1; then
  echo "installing etcd-server from Debian's packages..." >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y etcd-server >&2
fi

JAR="$ROOT/bench/target/benchmarks.jar"
if [ ! -f "$JAR" ] || [ -n "$(find "$ROOT" -path '*/src/main/*' -name '*.java' -newer "$JAR" -print -quit)" ]; then
  (cd "$ROOT" && ./mvnw -B -q -ntp -pl bench -am package -DskipTests -Dspotless.check.skip=true) >&2
fi
# The load generator is one JVM for both systems, with the same flags (huge pages as the nodes).
LG_OPTS=""
grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && LG_OPTS="-XX:+UseTransparentHugePages"
run() {
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED $LG_OPTS -cp "$JAR" \
    io.basalt.bench.cluster.LoadGenerator --threads "$THREADS" --value-size "$VALUE_SIZE" \
    --keys "$KEYS" --warmup "$WARMUP" --duration "$DURATION" $LG_ARGS "$@"
}

DIR="$(mktemp -d /tmp/compare-etcd-XXXXXX)"
ETCD_PIDS=()
cleanup() {
  for p in "${ETCD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

CLUSTER="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$DIR/e$i" \
    --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
    --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
    --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token compare \
    --log-level error >"$DIR/e$i.log" 2>&1 &
  ETCD_PIDS+=("$!")
done
ENDPOINTS="http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793"
for attempt in $(seq 1 50); do
  if ETCDCTL_API=3 etcdctl --endpoints "$ENDPOINTS" endpoint health >/dev/null 2>&1; then break; fi
  sleep 0.2
done

echo "== $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), load generator options: ${LG_ARGS:-(none)}"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ), $THREADS $THREAD_KIND client threads, $VALUE_SIZE-byte values, $KEYS keys, $DURATION measured after $WARMUP warm-up"
echo "-- etcd $(etcd --version | head -1 | awk '{print $3}'), 3 members"
ETCD_PUT=$(run --target etcd --endpoints "$ENDPOINTS" --op put | tail -1)
echo "put  $ETCD_PUT"
ETCD_GET=$(run --target etcd --endpoints "$ENDPOINTS" --op get | tail -1)
echo "get  $ETCD_GET"
ETCD_TXN=$(run --target etcd --endpoints "$ENDPOINTS" --op txn2 | tail -1)
echo "txn  $ETCD_TXN"
for p in "${ETCD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
ETCD_PIDS=()
# Basalt starts on a quiet disk: etcd's files are removed and written back first.
rm -rf "$DIR"/e1 "$DIR"/e2 "$DIR"/e3
sync

echo "-- basalt, 3 nodes"
BASALT_PUT=$(run --target basalt --start-cluster 3 --op put | grep '^basalt')
echo "put  $BASALT_PUT"
BASALT_GET=$(run --target basalt --start-cluster 3 --op get | grep '^basalt')
echo "get  $BASALT_GET"
BASALT_TXN=$(run --target basalt --start-cluster 3 --op txn2 | grep '^basalt')
echo "txn  $BASALT_TXN"

ratio() {  # ops/s of $1 over $2, and p99 of each
  local a b
  a=$(echo "$1" | awk '{print $2}')
  b=$(echo "$2" | awk '{print $2}')
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }'
}
p99() { echo "$1" | sed -E 's/.*p99 +([0-9.]+) ms.*/\1/'; }
echo "-- basalt / etcd"
echo "put  throughput $(ratio "$BASALT_PUT" "$ETCD_PUT"), p99 $(p99 "$BASALT_PUT") ms vs $(p99 "$ETCD_PUT") ms"
echo "get  throughput $(ratio "$BASALT_GET" "$ETCD_GET"), p99 $(p99 "$BASALT_GET") ms vs $(p99 "$ETCD_GET") ms"
echo "txn  throughput $(ratio "$BASALT_TXN" "$ETCD_TXN"), p99 $(p99 "$BASALT_TXN") ms vs $(p99 "$ETCD_TXN") ms"
