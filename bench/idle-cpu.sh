#!/usr/bin/env bash
# Measures what an idle 3-node cluster with many ranges costs per node: CPU and heap.
# Usage: bench/idle-cpu.sh [SECONDS] [RANGES...]   (defaults: 30 s; 1000 and 4000 ranges)
# For each RANGES, starts 3 nodes on loopback with temporary stores, initializes them with RANGES
# data ranges (each replicated on all 3 nodes), lets elections settle, ranges quiesce and the JIT
# finish (60 s), then reads each process's user+system CPU time from /proc over SECONDS and prints
# it as a percentage of one core, with the heap each node uses after a full collection.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TO_MEASURE="${1:-30}"
shift || true
COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(1000 4000)
SETTLE="${BASALT_IDLE_SETTLE:-60}"
"$ROOT/bin/basalt" --version >/dev/null  # builds the node on first use
source "$ROOT/bin/jdk.sh"
HZ=$(getconf CLK_TCK)
JOIN=127.0.0.1:7811,127.0.0.1:7812,127.0.0.1:7813
DIR=""
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$DIR" ] && rm -rf "$DIR"
  PIDS=()
}
trap cleanup EXIT INT TERM
printf '%-8s %-6s %-12s %-14s %s\n' RANGES NODE "CPU(%core)" "HEAP(MiB)" "LEADERS/QUIESCED"
for RANGES in "${COUNTS[@]}"; do
  DIR="$(mktemp -d /tmp/basalt-idle-XXXXXX)"
  for i in 1 2 3; do
    "$ROOT/bin/basalt" start --id "$i" --store "$DIR/$i" --listen "127.0.0.1:781$i" \
      --http "127.0.0.1:782$i" --join "$JOIN" --insecure >"$DIR/node-$i.log" 2>&1 &
    PIDS+=("$!")
  done
  for attempt in $(seq 1 60); do
    if "$ROOT/bin/basalt" init --host 127.0.0.1:7811 --ranges "$RANGES" >/dev/null 2>&1; then break; fi
    sleep 1
  done
  sleep "$SETTLE"
  declare -A before=()
  for p in "${PIDS[@]}"; do before[$p]=$(awk '{print $14+$15}' "/proc/$p/stat"); done
  sleep "$SECONDS_TO_MEASURE"
  declare -A cpu=()
  for p in "${PIDS[@]}"; do cpu[$p]=$(( $(awk '{print $14+$15}' "/proc/$p/stat") - before[$p] )); done
  STATUS="$("$ROOT/bin/basalt" status --host 127.0.0.1:7811)"
  i=1
  for p in "${PIDS[@]}"; do
    # the launcher exec's java: the pid is the JVM's
    "$JAVA_HOME/bin/jcmd" "$p" GC.run >/dev/null
    heap=$("$JAVA_HOME/bin/jcmd" "$p" GC.heap_info | awk '/garbage-first heap|used/ { for (f = 1; f <= NF; f++) if ($f == "used") { v = $(f + 1); sub("K,?", "", v); print int(v / 1024); exit } }')
    row=$(awk -v n="$i" '$1 == n && $2 ~ /:/ && !done { print $5 "/" $6; done = 1 }' <<<"$STATUS")
    awk -v r="$RANGES" -v n="$i" -v d="${cpu[$p]}" -v hz="$HZ" -v s="$SECONDS_TO_MEASURE" -v h="$heap" -v l="$row" \
      'BEGIN { printf "%-8s %-6s %-12.2f %-14s %s\n", r, n, 100 * d / hz / s, h, l }'
    i=$((i + 1))
  done
  cleanup
done
