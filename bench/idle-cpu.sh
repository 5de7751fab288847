#!/usr/bin/env bash
# Measures how much CPU an idle 3-node cluster with many ranges uses per node.
# Usage: bench/idle-cpu.sh [RANGES] [SECONDS]   (defaults: 1000 ranges, 30 s)
# Starts 3 nodes on loopback with temporary stores, initializes them with
# RANGES data ranges (each replicated on all 3 nodes), lets elections settle
# and ranges quiesce, then reads each process's user+system CPU time from
# /proc over SECONDS and prints it as a percentage of one core.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RANGES="${1:-1000}"
SECONDS_TO_MEASURE="${2:-30}"
DIR="$(mktemp -d /tmp/basalt-idle-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
"$ROOT/bin/basalt" --version >/dev/null  # builds the node on first use
JOIN=127.0.0.1:7811,127.0.0.1:7812,127.0.0.1:7813
for i in 1 2 3; do
  "$ROOT/bin/basalt" start --id "$i" --store "$DIR/$i" --listen "127.0.0.1:781$i" \
    --http "127.0.0.1:782$i" --join "$JOIN" --insecure >"$DIR/node-$i.log" 2>&1 &
  PIDS+=("$!")
done
for attempt in $(seq 1 60); do
  if "$ROOT/bin/basalt" init --host 127.0.0.1:7811 --ranges "$RANGES" >/dev/null 2>&1; then break; fi
  sleep 1
done
echo "initialized $RANGES data ranges; letting elections settle and ranges quiesce (20 s)"
sleep 20
HZ=$(getconf CLK_TCK)
declare -A before
for p in "${PIDS[@]}"; do
  # the java process is the launcher's exec'd child: same pid
  before[$p]=$(awk '{print $14+$15}' "/proc/$p/stat")
done
sleep "$SECONDS_TO_MEASURE"
i=1
for p in "${PIDS[@]}"; do
  after=$(awk '{print $14+$15}' "/proc/$p/stat")
  awk -v d=$((after - before[$p])) -v hz="$HZ" -v s="$SECONDS_TO_MEASURE" -v n=$i \
    'BEGIN { printf "node %d: %.2f%% of one core\n", n, 100 * d / hz / s }'
  i=$((i + 1))
done
"$ROOT/bin/basalt" status --host 127.0.0.1:7811 | head -5
