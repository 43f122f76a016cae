#!/usr/bin/env bash
# End-to-end: two exporters, one on the demo node and one with --collector.openstack-metadata on
# the Nova fixture (tests/fixtures/openstack-node.xml), scraped every second as two targets of one
# job by a real Prometheus server (Debian's prometheus, from PATH) that loads
# deploy/prometheus/libvirt-memory.rules.yml; then e2e_queries.py evaluates every dashboard and
# rule expression through the HTTP API.
# All processes listen on loopback only and are stopped by the EXIT trap (by PID: only what this
# script started). Every wait is bounded.
# Usage: run-e2e.sh EXPORTER_BINARY SOURCE_DIR
set -euo pipefail

exporter=$1
src=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# server.sh starts $PROMETHEUS.
PROMETHEUS=$(command -v "${PROMETHEUS:-prometheus}") ||
  { echo "FAIL: ${PROMETHEUS:-prometheus} not found (scripts/install-deps.sh --test)" >&2; exit 1; }
export PROMETHEUS

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

# --- Prometheus
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
# shellcheck source=server.sh
source "$here/server.sh"
start_prometheus "$tmp/prometheus.yml" "$tmp" || fail "Prometheus did not start"
pids+=("$PROMETHEUS_PID")
prometheus_url=$PROMETHEUS_URL
echo "prometheus: $prometheus_url (job $job)"

# --- a few scrapes of both targets, so that rate() over them has data
deadline=$((SECONDS + 30))
until [[ $(prometheus_query_value "count(count_over_time(up{job=\"$job\"}[1m]) >= 5 and up{job=\"$job\"} == 1)" || echo 0) == 2 ]]; do
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
