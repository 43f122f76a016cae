# shellcheck shell=bash
# A real Prometheus server (Debian's /usr/bin/prometheus, or $PROMETHEUS) on loopback for the
# tests. Sourced; the callers run under `set -euo pipefail` and stop it by PID.
#
#   start_prometheus CONFIG DIR   starts it with CONFIG, its data and log under DIR; sets
#                                 PROMETHEUS_PID and PROMETHEUS_URL, or returns 1 (and leaves
#                                 nothing running) if it did not start
#   prometheus_query_value EXPR   the first value of an instant query, 0 when the result is empty

# Prometheus cannot report a port it picked itself, so take one the kernel just handed out, and
# try again if something else grabbed it in between.
_prometheus_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_prometheus() {
  local config=$1 dir=$2 binary=${PROMETHEUS:-/usr/bin/prometheus} attempt port deadline
  PROMETHEUS_PID='' PROMETHEUS_URL=''
  for attempt in 1 2 3; do
    port=$(_prometheus_free_port)
    # The lifecycle and admin APIs stay off (their default): the tests neither reload nor delete.
    "$binary" --config.file="$config" --storage.tsdb.path="$dir/data-$attempt" \
      --web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$dir/prometheus.log" &
    PROMETHEUS_PID=$!
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)) && kill -0 "$PROMETHEUS_PID" 2>/dev/null; do
      if curl --silent --fail --max-time 2 "http://127.0.0.1:$port/-/ready" >/dev/null; then
        PROMETHEUS_URL=http://127.0.0.1:$port
        return 0
      fi
      sleep 0.2
    done
    if kill -0 "$PROMETHEUS_PID" 2>/dev/null; then
      echo "Prometheus was not ready within 30 s; stopping it" >&2
      kill -KILL "$PROMETHEUS_PID" 2>/dev/null || true
      wait "$PROMETHEUS_PID" 2>/dev/null || true
      PROMETHEUS_PID=
      return 1
    fi
    echo "Prometheus exited (attempt $attempt), port $port taken?" >&2
  done
  PROMETHEUS_PID=
  return 1
}

prometheus_query_value() {
  curl --silent --fail --max-time 2 --get --data-urlencode "query=$1" \
    "$PROMETHEUS_URL/api/v1/query" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}
