#!/usr/bin/env bash
# Start-up and life-cycle paths of the built binary:
# unreachable libvirt at start (serve libvirt_up 0, retry), port in use,
# landing page, environment configuration, clean exit on SIGTERM.
#   startup_test.sh EXPORTER FIXTURE_NODE
set -euo pipefail
EXPORTER=$1 FIXTURE=$2
source "$(dirname "$0")/lib.sh"

value_of() {  # value_of METRIC_LINE_PREFIX < exposition
  awk -v prefix="$1" 'index($0, prefix " ") == 1 { print $2 }'
}

echo "--- libvirt unreachable at start: libvirt_up 0, no crash, retried on the next scrape"
later_dir="$E2E_TMP/later"
start_exporter unreachable --libvirt.uri "test://$later_dir/node.xml"
for _ in 1 2 3; do
  body=$(scrape)
  [[ $(value_of libvirt_up <<<"$body") == 0 ]] || fail "libvirt_up is not 0 without libvirt"
  [[ $(value_of 'libvirt_memory_exporter_scrape_collector_success{collector="domain_memory"}' <<<"$body") == 0 ]] ||
    fail "collector success is not 0 without libvirt"
done
kill -0 "$EXPORTER_PID" || fail "exporter died without libvirt"
errors=$(grep -c 'level=error msg="collector failed"' "$EXPORTER_LOG" || true)
[[ $errors == 1 ]] || fail "expected the failure logged once, got $errors lines"
grep -q "$later_dir/node.xml" "$EXPORTER_LOG" || fail "the log does not name the URI"
mkdir -p "$later_dir" && cp "$FIXTURE" "$later_dir/node.xml"
body=$(scrape)
[[ $(value_of libvirt_up <<<"$body") == 1 ]] || fail "libvirt_up did not recover once the URI worked"
[[ $(value_of libvirt_domains <<<"$body") == 9 ]] || fail "domains missing after recovery"
grep -q 'msg="collector recovered"' "$EXPORTER_LOG" || fail "recovery not logged"
busy_port=$EXPORTER_PORT

echo "--- port in use: clear message, non-zero exit"
set +e
output=$(timeout 20 "$EXPORTER" --web.listen-address "127.0.0.1:$busy_port" \
  --libvirt.uri "test://$FIXTURE" 2>&1)
code=$?
set -e
[[ $code -ne 0 && $code -ne 124 ]] || fail "second exporter on a busy port exited $code"
grep -q "cannot listen on 127.0.0.1:$busy_port" <<<"$output" || fail "unclear message: $output"

echo "--- landing page and unknown paths"
scrape / | grep -q '<a href="/metrics">' || fail "landing page does not link /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EXPORTER_PORT/nope")
[[ $code == 404 ]] || fail "unknown path answered $code"

echo "--- configuration from the environment, custom telemetry path"
LIBVIRT_EXPORTER_LIBVIRT_URI="test://$FIXTURE" LIBVIRT_EXPORTER_WEB_TELEMETRY_PATH=/probe \
  start_exporter from_env
[[ $(scrape /probe | value_of libvirt_domains) == 9 ]] || fail "environment configuration not used"

echo "--- SIGPIPE is ignored: a peer gone mid-write is an error, not the end"
# libvirt's client writes without MSG_NOSIGNAL (a connection to a restarted
# libvirtd, closed at exit, killed the exporter once).
kill -PIPE "$EXPORTER_PID"
sleep 0.2
kill -0 "$EXPORTER_PID" || fail "SIGPIPE killed the exporter"
[[ $(scrape /probe | value_of libvirt_domains) == 9 ]] || fail "no answer after SIGPIPE"

echo "--- SIGTERM: clean exit"
kill -TERM "$EXPORTER_PID"
set +e
wait "$EXPORTER_PID"
code=$?
set -e
[[ $code == 0 ]] || fail "exit code $code after SIGTERM"
grep -q 'msg="shutting down"' "$EXPORTER_LOG" || fail "shutdown not logged"
echo "PASS: start-up paths"
