# shellcheck shell=bash
# Helpers for the load, soak and hostile-HTTP scripts. Source it after
# `set -euo pipefail`. Everything started through here is recorded and killed
# on exit (by PID, nothing else); the scratch directory is removed.
# The exporter binary is $EXPORTER (the scripts' --exporter sets it), else
# build/src/libvirt-memory-exporter, else build-load/src/....

LOAD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOAD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lme-load.XXXXXX")
LOAD_PIDS=()

load_cleanup() {
  local pid
  for pid in "${LOAD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${LOAD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$LOAD_TMP"
}
trap load_cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*" >&2
  exit 1
}

find_exporter() {
  if [[ -n "${EXPORTER:-}" ]]; then
    [[ -x "$EXPORTER" ]] || die "EXPORTER=$EXPORTER is not executable"
    return
  fi
  local dir
  for dir in build build-load; do
    if [[ -x "$LOAD_ROOT/$dir/src/libvirt-memory-exporter" ]]; then
      EXPORTER="$LOAD_ROOT/$dir/src/libvirt-memory-exporter"
      return
    fi
  done
  die "no exporter binary: build one (scripts/build.sh) or set EXPORTER"
}

# track PID: kill it on exit.
track() { LOAD_PIDS+=("$1"); }

# run_tracked CMD...: runs CMD in the background and waits for it. Bash runs
# a trap only once the foreground command has finished, so a long foreground
# child would delay a SIGTERM (a CTest timeout) until it ends; `wait` is
# interrupted at once, and the EXIT trap then kills CMD with the rest.
run_tracked() {
  "$@" &
  local pid=$!
  track "$pid"
  wait "$pid"
}

# start_exporter NAME ARGS...: starts the exporter on a free loopback port and
# waits (at most 30 s) for its "listening" line. Sets EXPORTER_PID,
# EXPORTER_PORT and EXPORTER_LOG.
start_exporter() {
  local name=$1
  shift
  find_exporter
  EXPORTER_LOG="$LOAD_TMP/$name.log"
  "$EXPORTER" --web.listen-address 127.0.0.1:0 "$@" 2>"$EXPORTER_LOG" &
  EXPORTER_PID=$!
  track "$EXPORTER_PID"
  local deadline=$((SECONDS + 30)) line
  EXPORTER_PORT=
  while true; do
    line=$(grep -o 'msg=listening address=[^ ]*' "$EXPORTER_LOG" || true)
    EXPORTER_PORT=${line##*:}
    [[ -n "$EXPORTER_PORT" ]] && return 0
    kill -0 "$EXPORTER_PID" 2>/dev/null || {
      cat "$EXPORTER_LOG" >&2
      die "exporter exited at start"
    }
    ((SECONDS < deadline)) || die "exporter did not listen within 30 s"
    sleep 0.1
  done
}

# proc_field PID FIELD: a field of /proc/PID/status without its unit
# (VmRSS, VmHWM in KiB; Threads).
proc_field() {
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# scrape_to FILE [PATH]: GET into FILE; prints the HTTP status.
scrape_to() {
  curl --silent --max-time 30 --output "$1" --write-out '%{http_code}' \
    "http://127.0.0.1:$EXPORTER_PORT${2:-/metrics}" || echo 000
}

# metric_value FILE NAME: the value of an unlabelled series, or "n/a".
metric_value() {
  awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print "n/a" }' "$1"
}
