# shellcheck shell=bash
# Helpers for end-to-end tests of the built binary. Source it, then call
# start_exporter; every exporter started here is killed on exit.
set -euo pipefail

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lme-e2e.XXXXXX")
E2E_PIDS=()

e2e_cleanup() {
  local pid
  for pid in "${E2E_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${E2E_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# start_exporter NAME ARGS...: starts the exporter on a free loopback port.
# Sets EXPORTER_PID, EXPORTER_PORT and EXPORTER_LOG.
start_exporter() {
  local name=$1
  shift
  EXPORTER_LOG="$E2E_TMP/$name.log"
  "$EXPORTER" --web.listen-address 127.0.0.1:0 "$@" 2>"$EXPORTER_LOG" &
  EXPORTER_PID=$!
  E2E_PIDS+=("$EXPORTER_PID")
  local deadline=$((SECONDS + 20)) line
  EXPORTER_PORT=
  while [[ -z "$EXPORTER_PORT" ]]; do
    # logfmt or JSON (--log.format json)
    line=$(grep -oE 'msg=listening address=[^ ]*|"msg":"listening","address":"[^"]*' \
      "$EXPORTER_LOG" || true)
    EXPORTER_PORT=${line##*:}
    [[ -n "$EXPORTER_PORT" ]] && break
    kill -0 "$EXPORTER_PID" 2>/dev/null || { cat "$EXPORTER_LOG" >&2; fail "exporter exited at start"; }
    ((SECONDS < deadline)) || fail "exporter did not start listening within 20 s"
    sleep 0.1
  done
}

# scrape [PATH]: prints the body; fails on a non-200 answer.
scrape() {
  curl --silent --show-error --fail --max-time 20 "http://127.0.0.1:$EXPORTER_PORT${1:-/metrics}"
}
