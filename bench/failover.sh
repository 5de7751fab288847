#!/usr/bin/env bash
# Failover: SIGKILLs a range leader's node KILLS times (default 20) in a 3-node cluster on loopback
# and reports how long its ranges (one written throughout, one quiesced) stay unwritable.
# Usage: bench/failover.sh [KILLS]     Results also go to bench/results/failover-<date>.txt
set -euo pipefail
cd "$(dirname "$0")/.."
source bin/jdk.sh
jar=bench/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find api range txn placement node client bench -name "*.java" -newer "$jar" -print -quit)" ]; then
  ./mvnw -B -q -ntp -pl bench -am package -DskipTests -Dspotless.check.skip=true
fi
mkdir -p bench/results
out="bench/results/failover-$(date +%Y%m%d-%H%M%S).txt"
java --enable-native-access=ALL-UNNAMED -cp "$jar" io.basalt.bench.cluster.FailoverBench "$@" | tee "$out"
echo "results: $out"
