#!/usr/bin/env bash
# End-to-end: two exporters, one on the demo node and one with --collector.openstack-metadata on
# the Nova fixture (tests/fixtures/openstack-node.xml), scraped every second as two targets of one
# job by a real Prometheus server (Debian's /usr/bin/prometheus) that loads
# deploy/prometheus/libvirt-memory.rules.yml; then e2e_queries.py evaluates every dashboard and
# rule expression through the HTTP API.
# All processes listen on loopback only and are stopped by the EXIT trap (by PID: only what this
# script started). Every wait is bounded.
# Usage: run-e2e.sh EXPORTER_BINARY SOURCE_DIR
set -euo pipefail

exporter=$1
src=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
prometheus=${PROMETHEUS:-/usr/bin/prometheus}
[[ -x $prometheus ]] || { echo "FAIL: $prometheus not found (scripts/install-deps.sh --test)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lme-prometheus.XXXXXX")
pids=()
cleanup() {
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$tmp"/*.log; do
    [[ -f $log ]] && { echo "--- ${log##*/} (last 30 lines)" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}

# --- the exporters, each on a free port chosen by the kernel. start_exporter NAME ARGS... sets
# exporter_address.
start_exporter() {
  local name=$1 pid deadline
  shift
  "$exporter" --web.listen-address 127.0.0.1:0 "$@" 2>"$tmp/exporter-$name.log" &
  pid=$!
  pids+=("$pid")
  exporter_address=
  deadline=$((SECONDS + 15))
  while [[ -z $exporter_address ]]; do
    exporter_address=$(grep -o 'msg=listening address=[^ ]*' "$tmp/exporter-$name.log" | sed 's/.*address=//' || true)
    [[ -n $exporter_address ]] && break
    kill -0 "$pid" 2>/dev/null || fail "the $name exporter exited at start"
    ((SECONDS < deadline)) || fail "the $name exporter did not listen within 15 s"
    sleep 0.1
  done
  echo "exporter ($name): $exporter_address"
}
# Debug logging: each answered scrape is logged with its encoding (checked below).
start_exporter demo --log.level debug --libvirt.uri "test://$src/examples/demo-node.xml"
demo_address=$exporter_address
start_exporter openstack --collector.openstack-metadata \
  --libvirt.uri "test://$src/tests/fixtures/openstack-node.xml"
openstack_address=$exporter_address

# --- Prometheus. It cannot report a port it picked itself, so take one the kernel just handed
# out; retry if something else grabbed it in between.
job=$(sed -n 's/^  - job_name: //p' "$src/deploy/prometheus/prometheus.yml" | head -n 1)
[[ -n $job ]] || fail "no job_name in deploy/prometheus/prometheus.yml"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $src/deploy/prometheus/libvirt-memory.rules.yml
scrape_configs:
  - job_name: $job
    static_configs:
      - targets: ['$demo_address', '$openstack_address']
EOF
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
prometheus_url=
for attempt in 1 2 3; do
  port=$(free_port)
  # The lifecycle and admin APIs stay off (their default): nothing here needs to reload or delete.
  "$prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data-$attempt" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$tmp/prometheus.log" &
  prometheus_pid=$!
  pids+=("$prometheus_pid")
  deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)) && kill -0 "$prometheus_pid" 2>/dev/null; do
    if curl --silent --fail --max-time 2 "http://127.0.0.1:$port/-/ready" >/dev/null; then
      prometheus_url=http://127.0.0.1:$port
      break 2
    fi
    sleep 0.2
  done
  kill -0 "$prometheus_pid" 2>/dev/null && fail "Prometheus was not ready within 30 s"
  echo "Prometheus exited (attempt $attempt), port $port taken?" >&2
done
[[ -n $prometheus_url ]] || fail "Prometheus did not start"
echo "prometheus: $prometheus_url (job $job)"

# --- a few scrapes of both targets, so that rate() over them has data
query_value() {
  curl --silent --fail --max-time 2 --get --data-urlencode "query=$1" "$prometheus_url/api/v1/query" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}
deadline=$((SECONDS + 30))
until [[ $(query_value "count(count_over_time(up{job=\"$job\"}[1m]) >= 5 and up{job=\"$job\"} == 1)" || echo 0) == 2 ]]; do
  ((SECONDS < deadline)) || fail "Prometheus did not record 5 successful scrapes of both targets within 30 s"
  sleep 0.5
done
echo "5 scrapes of each target recorded"

# Prometheus asks for gzip on every scrape; the exporter must have answered with it.
gzip_answers=$(grep -c 'msg="answered a scrape" status=200 encoding=gzip' "$tmp/exporter-demo.log" || true)
plain_answers=$(grep -c 'msg="answered a scrape" .*encoding=identity' "$tmp/exporter-demo.log" || true)
((gzip_answers >= 5 && plain_answers == 0)) ||
  fail "Prometheus's scrapes were not answered with gzip ($gzip_answers gzip, $plain_answers plain)"
echo "Prometheus's scrapes answered with gzip: $gzip_answers"

python3 "$here/e2e_queries.py" --prometheus "$prometheus_url" --job "$job" \
  --instance "$demo_address" --openstack-instance "$openstack_address" --source-dir "$src"
