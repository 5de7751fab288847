#!/usr/bin/env bash
# Builds the node's container image into a tarball, without a Docker daemon:
#
#   deploy/image/build.sh [OUT]      (default deploy/target/basalt-image.tar)
#
# The tarball is a docker-archive (what `docker save` writes): `docker load`, `podman load`,
# `ctr images import` and `skopeo copy docker-archive:OUT docker://REGISTRY/basalt:TAG` take it.
# Four layers, each reproducible (sorted entries, fixed times, owner root):
#   1. base     glibc, libstdc++, zlib and dash from Debian's packages (the runtime's and RocksDB's
#               native code need nothing else), /etc/passwd with user basalt (10001), /tmp
#   2. runtime  a jlink'ed Java runtime (>= 21, from the JDK bin/jdk.sh finds) in /opt/java
#   3. libs     the node's dependencies in /app/lib (RocksDB's jar with its linux-amd64 library only)
#   4. app      the node's jar in /app, the scripts in /app/bin (basalt, pod-start, pod-init, pod-drain)
# The image runs as user 10001 with the store on the volume /data; the entrypoint is
# /app/bin/basalt (any `basalt` command), and a StatefulSet runs /app/bin/pod-start.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$ROOT/deploy/target/basalt-image.tar}"
TAG="${BASALT_IMAGE_TAG:-basalt:$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$ROOT/pom.xml" | head -1)}"
source "$ROOT/bin/jdk.sh"
JAR="$ROOT/node/target/basalt-node.jar"
if [ ! -f "$JAR" ] || [ ! -d "$ROOT/node/target/lib" ]; then
  echo "build.sh: building the node first" >&2
  (cd "$ROOT" && ./mvnw -B -ntp -q -pl node -am package -DskipTests -Dspotless.check.skip=true) >&2
fi
for tool in tar sha256sum dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build.sh: needs $tool" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/basalt-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PACKAGES="libc6 libgcc-s1 libstdc++6 zlib1g dash"

# 1. base: Debian's packages, unpacked (not installed: no maintainer scripts run).
base="$WORK/base"
mkdir -p "$base" "$WORK/debs"
(cd "$WORK/debs" && apt-get download $PACKAGES >/dev/null 2>&1) || {
  (apt-get update -qq >/dev/null 2>&1 || true)
  (cd "$WORK/debs" && apt-get download $PACKAGES >/dev/null 2>&1) ||
    { echo "build.sh: apt-get download $PACKAGES failed (needs Debian's package registry)" >&2; exit 1; }
}
for deb in "$WORK"/debs/*.deb; do
  dpkg-deb -x "$deb" "$base"
done
rm -rf "$base/usr/share/doc" "$base/usr/share/man" "$base/usr/share/locale" "$base/usr/share/lintian" \
  "$base/usr/share/gcc" "$base/usr/share/gdb"
# Debian 12's packages put dash in /bin (with /bin/sh pointing at it) and the loader in /lib64.
[ -x "$base/bin/dash" ] && [ -e "$base/bin/sh" ] || { echo "build.sh: no /bin/sh in the base" >&2; exit 1; }
# /data: the store's volume; /certs: where a Secret with the TLS files is mounted.
mkdir -p "$base/etc" "$base/tmp" "$base/data" "$base/certs" "$base/proc" "$base/dev" "$base/sys"
chmod 1777 "$base/tmp"
printf 'root:x:0:0:root:/root:/usr/bin/sh\nbasalt:x:10001:10001:basalt:/data:/usr/bin/sh\n' >"$base/etc/passwd"
printf 'root:x:0:\nbasalt:x:10001:\n' >"$base/etc/group"
printf 'hosts: files dns\n' >"$base/etc/nsswitch.conf"
: >"$base/etc/hosts"
: >"$base/etc/resolv.conf"
: >"$base/etc/hostname"

# 2. runtime: only the modules the node uses.
runtime="$WORK/runtime"
mkdir -p "$runtime/opt"
# The modules jdeps finds the node and its libraries using, and those reached by reflection or
# service lookup only (logging, JMX, DNS, zip file systems).
modules=$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 21 \
  --class-path "$(ls "$ROOT"/node/target/lib/*.jar | tr '\n' ':')" "$JAR")
modules="$modules,java.logging,java.management,java.naming,java.net.http,java.xml,jdk.crypto.ec"
modules="$modules,jdk.naming.dns,jdk.zipfs,jdk.httpserver"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" \
  --strip-debug --no-man-pages --no-header-files --compress=zip-6 --output "$runtime/opt/java"

# 3. libs and 4. app.
libs="$WORK/libs"
app="$WORK/app"
mkdir -p "$libs/app/lib" "$app/app/bin"
cp "$ROOT"/node/target/lib/*.jar "$libs/app/lib/"
# RocksDB's jar carries its native library for a dozen platforms; the image is linux-amd64 with
# glibc, so only that one stays (about 85 MiB less).
for rocks in "$libs"/app/lib/rocksdbjni-*.jar; do
  [ -f "$rocks" ] || continue
  x="$WORK/rocksdbjni"
  mkdir -p "$x"
  (cd "$x" && "$JAVA_HOME/bin/jar" -xf "$rocks")
  [ -f "$x/librocksdbjni-linux64.so" ] || { echo "build.sh: no linux64 library in $rocks" >&2; exit 1; }
  find "$x" -maxdepth 1 -name 'librocksdbjni-*' ! -name librocksdbjni-linux64.so -delete
  mv "$x/META-INF/MANIFEST.MF" "$WORK/rocksdbjni.mf"
  rm "$rocks"
  "$JAVA_HOME/bin/jar" --create --file "$rocks" --manifest "$WORK/rocksdbjni.mf" \
    --date=1980-01-01T00:00:02Z -C "$x" .
done
cp "$JAR" "$app/app/basalt-node.jar"
cp "$ROOT"/deploy/image/bin/* "$app/app/bin/"
chmod 0755 "$app"/app/bin/*

layer() { # layer DIR -> prints the digest of DIR's tar, written to $WORK/layers/<digest>.tar
  local tmp="$WORK/layer.tar" digest
  mkdir -p "$WORK/layers"
  local opts=(--sort=name --mtime=@0 --numeric-owner --format=posix
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
  tar "${opts[@]}" --owner=0 --group=0 --exclude=./data -C "$1" -cf "$tmp" .
  if [ -d "$1/data" ]; then # the volume's mount point belongs to the user the node runs as
    tar "${opts[@]}" --owner=10001 --group=10001 -C "$1" -rf "$tmp" ./data
  fi
  digest=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$WORK/layers/$digest.tar"
  echo "$digest"
}
digests=()
for d in "$base" "$runtime" "$libs" "$app"; do
  digests+=("$(layer "$d")")
done

config="$WORK/config.json"
diff_ids=$(printf '"sha256:%s",' "${digests[@]}")
cat >"$config" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"User":"10001:10001","WorkingDir":"/data",
  "Env":["PATH=/app/bin:/opt/java/bin:/usr/bin:/bin","JAVA_HOME=/opt/java","LANG=C.UTF-8"],
  "Entrypoint":["/app/bin/basalt"],"Cmd":["--help"],
  "ExposedPorts":{"7400/tcp":{},"7500/tcp":{}},"Volumes":{"/data":{}},
  "Labels":{"org.opencontainers.image.title":"basalt","org.opencontainers.image.source":"basalt"}},
 "rootfs":{"type":"layers","diff_ids":[${diff_ids%,}]}}
JSON
config_digest=$(sha256sum "$config" | cut -d' ' -f1)
pkg="$WORK/pkg"
mkdir -p "$pkg"
mv "$config" "$pkg/$config_digest.json"
layers_json=""
for d in "${digests[@]}"; do
  mkdir -p "$pkg/$d"
  mv "$WORK/layers/$d.tar" "$pkg/$d/layer.tar"
  layers_json+="\"$d/layer.tar\","
done
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]\n' \
  "$config_digest" "$TAG" "${layers_json%,}" >"$pkg/manifest.json"
mkdir -p "$(dirname "$OUT")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$pkg" -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "build.sh: $TAG -> $OUT ($(du -h "$OUT" | cut -f1), config sha256:$config_digest)"
