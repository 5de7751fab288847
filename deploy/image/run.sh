#!/usr/bin/env bash
# Runs a command of the image's unpacked filesystem as a container would, without a container
# runtime (tests: the image's entrypoint, and pods of an emulated StatefulSet):
#
#   deploy/image/run.sh ROOTFS DATA [options] -- COMMAND [ARGS...]
#     --netns NS        in network namespace NS (ip netns), default the machine's
#     --hostname NAME   its own UTS namespace with this host name
#     --hosts FILE      bind-mounted as /etc/hosts
#     --env NAME=VALUE  in its environment (repeatable); nothing else is inherited but PATH
#     --mount SRC:DST   SRC bind-mounted read-only at DST (a mount point the image has)
#
# The root is ROOTFS mounted read-only (readOnlyRootFilesystem), DATA is the volume at /data
# (owned by the image's user 10001, as fsGroup makes it), /tmp a fresh tmpfs, /proc the container's
# own (a new PID namespace: killing this script's process kills everything in it). Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (namespaces, mounts, chroot)" >&2; exit 1; }
ROOTFS="$(readlink -f "$1")"
DATA="$(readlink -f "$2")"
shift 2
NETNS="" HOSTNAME_="" HOSTS="" MOUNTS="" ENVS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --netns) NETNS="$2"; shift 2 ;;
    --hostname) HOSTNAME_="$2"; shift 2 ;;
    --hosts) HOSTS="$(readlink -f "$2")"; shift 2 ;;
    --env) ENVS+=("$2"); shift 2 ;;
    --mount) MOUNTS="$MOUNTS $2"; shift 2 ;;
    --) shift; break ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "run.sh: no command" >&2; exit 2; }
mkdir -p "$DATA"
chown 10001:10001 "$DATA"
# The inner script runs in the new mount, UTS and PID namespaces, as PID 1's child.
inner='
set -eu
root="$ROOTFS" # mounted over itself, in this mount namespace only
mount --bind "$ROOTFS" "$root"
mount -o remount,bind,ro "$root"
mount --bind "$DATA" "$root/data"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
[ -n "$HOSTS" ] && mount --bind "$HOSTS" "$root/etc/hosts"
for m in $MOUNTS; do
  mount --bind "${m%%:*}" "$root${m#*:}"
  mount -o remount,bind,ro "$root${m#*:}"
done
[ -n "$HOSTNAME_" ] && hostname "$HOSTNAME_"
chroot=$(command -v chroot)
exec env -i PATH=/app/bin:/opt/java/bin:/usr/bin:/bin HOME=/data "${ENVS[@]}" \
  "$chroot" --userspec=10001:10001 "$root" "$@"
'
export ROOTFS DATA HOSTS HOSTNAME_ MOUNTS
# bash for the inner script (arrays); ENVS passed as its positional prefix.
run=(unshare --mount --uts --pid --fork --kill-child --propagation private
  bash -c "ENVS=(\"\${@:1:$((${#ENVS[@]}))}\"); shift ${#ENVS[@]}; $inner" inner "${ENVS[@]}" "$@")
if [ -n "$NETNS" ]; then
  exec ip netns exec "$NETNS" "${run[@]}"
fi
exec "${run[@]}"
