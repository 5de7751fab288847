#!/usr/bin/env bash
# Test hosts on one machine: N network namespaces on a bridge, each with its own address and hosts
# file, so that Basalt nodes run as separate hosts that a test can cut off from each other.
#
#   deploy/hosts/hosts.sh check            says what is missing (root, iproute2, iptables), installs
#                                           iptables from Debian's packages when it can
#   deploy/hosts/hosts.sh up N             creates hosts n1..nN (a second `up` starts clean)
#   deploy/hosts/hosts.sh exec I CMD...    runs CMD on host nI (e.g. bin/basalt start ...)
#   deploy/hosts/hosts.sh down             removes every host, the bridge and the hosts files
#
# Layout: bridge basalt0 at 10.77.0.1/24 in the machine's own namespace (where a test's client runs
# and reaches every host), host nI in namespace basalt-nI at 10.77.0.(10+I), linked to the bridge
# by a veth pair (basalt-vI on the bridge side). Each host's /etc/hosts (ip netns gives it
# /etc/netns/basalt-nI/hosts) names every host n1..nN. Nothing is left behind by `down`, which
# removes whatever carries the prefix, including what a killed run left.
set -euo pipefail

PREFIX=basalt-n
BRIDGE=basalt0
NET=10.77.0

die() {
  echo "hosts.sh: $*" >&2
  exit 1
}

check() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth pairs and iptables rules)"
  command -v ip >/dev/null || die "needs iproute2's ip (apt-get install iproute2)"
  if ! command -v iptables >/dev/null; then
    if command -v apt-get >/dev/null; then
      echo "hosts.sh: installing iptables from Debian's packages" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null 2>&1; } ||
        die "needs iptables, and apt-get could not install it"
    else
      die "needs iptables (not found, and no apt-get to install it)"
    fi
  fi
  ip netns add "${PREFIX}probe" 2>/dev/null || die "cannot create a network namespace here"
  ip netns del "${PREFIX}probe"
}

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${PREFIX}" || true); do
    # Whatever still runs on the host goes with it.
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
      kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
    grep -E "^basalt-v[0-9]+$" || true); do
    ip link del "$link" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

up() {
  local n="$1"
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "up needs a host count of 1..200"
  check
  down
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local hosts
  hosts="127.0.0.1 localhost"$'\n'"$NET.1 client"$'\n'
  for i in $(seq 1 "$n"); do
    hosts+="$NET.$((10 + i)) n$i"$'\n'
  done
  for i in $(seq 1 "$n"); do
    local ns="$PREFIX$i"
    ip netns add "$ns"
    ip link add "basalt-v$i" type veth peer name eth0 netns "$ns"
    ip link set "basalt-v$i" master "$BRIDGE" up
    ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    mkdir -p "/etc/netns/$ns"
    printf '%s' "$hosts" >"/etc/netns/$ns/hosts"
  done
}

case "${1:-}" in
  check) check ;;
  up) up "${2:-}" ;;
  down) down ;;
  exec)
    [ -n "${2:-}" ] || die "exec needs a host number and a command"
    i="$2"
    shift 2
    exec ip netns exec "$PREFIX$i" "$@"
    ;;
  *) die "usage: hosts.sh check | up N | exec I CMD... | down" ;;
esac
