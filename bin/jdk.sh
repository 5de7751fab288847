# Sourced by Basalt's scripts: exports JAVA_HOME pointing at a JDK >= 21 (or >=
# $BASALT_MIN_JDK when the script sets it: bin/test needs 24).
BASALT_MIN_JDK="${BASALT_MIN_JDK:-21}"
# Order: $JAVA_HOME, the `java` on PATH, then the JDKs under /usr/lib/jvm and
# /opt (newest first). Fails with a clear message when there is none.

basalt_java_major() {
  # Prints the major version of the java binary $1 (e.g. 17, 21, 25), or nothing.
  "$1" -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1
}

basalt_find_jdk() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  local d
  for d in $(ls -d /usr/lib/jvm/* /opt/*jdk* /opt/java/* 2>/dev/null | sort -rV); do
    candidates+=("$d")
  done
  for d in "${candidates[@]}"; do
    if [ -x "$d/bin/java" ] && [ -x "$d/bin/javac" ]; then
      local major
      major=$(basalt_java_major "$d/bin/java")
      if [ -n "$major" ] && [ "$major" -ge "$BASALT_MIN_JDK" ]; then
        echo "$d"
        return 0
      fi
    fi
  done
  return 1
}

if ! BASALT_JDK=$(basalt_find_jdk); then
  echo "basalt: no JDK >= $BASALT_MIN_JDK found (looked at JAVA_HOME, java on PATH, /usr/lib/jvm, /opt)." >&2
  echo "basalt: install one (e.g. Temurin $BASALT_MIN_JDK or later) or set JAVA_HOME." >&2
  exit 1
fi
export JAVA_HOME="$BASALT_JDK"
export PATH="$JAVA_HOME/bin:$PATH"
