#!/usr/bin/env bash
# Prints the path of libfaketime (multi-threaded build), installing Debian's faketime package if it
# is missing. A process started with LD_PRELOAD=<that path> and FAKETIME=<spec> reads a false clock,
# wall and monotonic alike (the JVM's System.currentTimeMillis and System.nanoTime both):
#   FAKETIME="+3.0"     3 s ahead        FAKETIME="-0.4"    400 ms behind
#   FAKETIME="+0 x0.5"  runs at half speed (its sleeps last twice as long)
# Tests use it for clock faults on real node processes (no flag in the node).
set -euo pipefail

find_lib() {
  for dir in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/aarch64-linux-gnu/faketime /usr/lib/faketime \
    /usr/local/lib/faketime; do
    if [ -f "$dir/libfaketimeMT.so.1" ]; then
      echo "$dir/libfaketimeMT.so.1"
      return 0
    fi
  done
  return 1
}

if find_lib; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "faketime.sh: installing faketime from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null 2>&1; } || true
  find_lib && exit 0
fi
echo "faketime.sh: libfaketime not found, and it could not be installed (apt-get install faketime, as root)" >&2
exit 1
