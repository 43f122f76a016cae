#!/usr/bin/env bash
# Listeners and the habits of node_exporter's endpoint, end to end: two
# --web.listen-address at once, an IPv6 one, socket activation (the socket
# and the environment systemd would hand over), gzip as Prometheus asks for
# it, self metrics and --web.disable-exporter-metrics.
#   listeners_test.sh EXPORTER FIXTURE_NODE
set -euo pipefail
EXPORTER=$1 FIXTURE=$2
source "$(dirname "$0")/lib.sh"

body_has() {  # body_has URL REGEX [CURL_ARGS...]
  local url=$1 regex=$2 body
  shift 2
  # Captured first: grep -q would stop reading early and fail the pipe.
  body=$(curl --silent --show-error --fail --max-time 20 "$@" "$url") || return 1
  grep -Eq "$regex" <<<"$body"
}

echo "--- two listeners, one of them IPv6"
ipv6=yes
[[ -r /proc/net/if_inet6 ]] && grep -q ' lo$' /proc/net/if_inet6 || ipv6=no
EXPORTER_LOG=$E2E_TMP/two.log
extra=()
[[ $ipv6 == yes ]] && extra=(--web.listen-address '[::1]:0')
"$EXPORTER" --web.listen-address 127.0.0.1:0 "${extra[@]}" --libvirt.uri "test://$FIXTURE" \
  2>"$EXPORTER_LOG" &
E2E_PIDS+=($!)
deadline=$((SECONDS + 20))
want=$((1 + ${#extra[@]} / 2))
until [[ $(grep -c 'msg=listening' "$EXPORTER_LOG") == "$want" ]]; do
  ((SECONDS < deadline)) || { cat "$EXPORTER_LOG" >&2; fail "not listening on $want addresses"; }
  sleep 0.1
done
v4=$(grep -o 'address=127\.0\.0\.1:[0-9]*' "$EXPORTER_LOG" | sed 's/.*://')
body_has "http://127.0.0.1:$v4/metrics" '^libvirt_domains 9$' || fail "no metrics on the IPv4 listener"
if [[ $ipv6 == yes ]]; then
  v6=$(grep -o 'address=\[::1\]:[0-9]*' "$EXPORTER_LOG" | sed 's/.*://')
  body_has "http://[::1]:$v6/metrics" '^libvirt_domains 9$' -g || fail "no metrics on the IPv6 listener"
else
  echo "(no IPv6 loopback here: the IPv6 listener is not checked)"
fi

echo "--- socket activation: an inherited socket and LISTEN_PID/LISTEN_FDS"
# What systemd does for a .socket unit: bind and listen, then start the
# service with the socket as fd 3 and the two variables naming it.
EXPORTER_LOG=$E2E_TMP/systemd.log
python3 - "$EXPORTER" "$FIXTURE" "$E2E_TMP/systemd.port" 2>"$EXPORTER_LOG" <<'PY' &
import os, socket, sys
exporter, fixture, port_file = sys.argv[1:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(port_file, "w") as f:
    f.write(str(listener.getsockname()[1]))
os.dup2(listener.fileno(), 3)  # dup2 leaves fd 3 inheritable
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(exporter, [exporter, "--web.systemd-socket", "--libvirt.uri", "test://" + fixture])
PY
E2E_PIDS+=($!)
deadline=$((SECONDS + 20))
until grep -q 'msg=listening' "$EXPORTER_LOG"; do
  ((SECONDS < deadline)) || { cat "$EXPORTER_LOG" >&2; fail "no listening line with --web.systemd-socket"; }
  sleep 0.1
done
port=$(cat "$E2E_TMP/systemd.port")
grep -q "msg=listening address=127.0.0.1:$port " "$EXPORTER_LOG" || fail "the inherited socket is not the one listening: $(cat "$EXPORTER_LOG")"
body_has "http://127.0.0.1:$port/metrics" '^libvirt_domains 9$' || fail "no metrics on the inherited socket"
expect_no_sockets=$(LISTEN_PID=1 LISTEN_FDS=1 timeout 20 "$EXPORTER" --web.systemd-socket \
  --libvirt.uri "test://$FIXTURE" 2>&1 || true)
grep -q 'cannot start the web server.*is not this process' <<<"$expect_no_sockets" ||
  fail "LISTEN_PID of another process was not refused: $expect_no_sockets"

echo "--- gzip with Prometheus's request headers; self metrics"
start_exporter gzip --libvirt.uri "test://$FIXTURE"
url=http://127.0.0.1:$EXPORTER_PORT/metrics
prometheus_headers=(-H 'Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
  -H 'Accept-Encoding: gzip' -H 'User-Agent: Prometheus/2.42.0' -H 'X-Prometheus-Scrape-Timeout-Seconds: 10')
curl --silent --fail --max-time 20 "${prometheus_headers[@]}" --dump-header "$E2E_TMP/gzip.headers" \
  --output "$E2E_TMP/metrics.gz" "$url" || fail "a scrape with Prometheus's headers failed"
grep -qi '^Content-Encoding: gzip' "$E2E_TMP/gzip.headers" || fail "no gzip answer: $(cat "$E2E_TMP/gzip.headers")"
gzip -dc "$E2E_TMP/metrics.gz" >"$E2E_TMP/metrics.txt" || fail "the gzip answer does not decompress"
grep -q '^libvirt_domains 9$' "$E2E_TMP/metrics.txt" || fail "the decompressed answer lacks the metrics"
promtool check metrics <"$E2E_TMP/metrics.txt" || fail "promtool check metrics on the decompressed answer"
for name in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
  process_virtual_memory_max_bytes process_open_fds process_max_fds process_start_time_seconds \
  promhttp_metric_handler_requests_in_flight; do
  grep -q "^$name " "$E2E_TMP/metrics.txt" || fail "$name missing"
done
body_has "$url" '^promhttp_metric_handler_requests_total\{code="200"\} [1-9]' ||
  fail "the answered scrape was not counted"
[[ $(scrape /metrics | grep -c '^process_') == 7 ]] || fail "process metrics missing from a plain scrape"

start_exporter no_self --libvirt.uri "test://$FIXTURE" --web.disable-exporter-metrics
scrape /metrics >"$E2E_TMP/no_self.txt"
if grep -Eq '^(process_|promhttp_)' "$E2E_TMP/no_self.txt"; then
  fail "--web.disable-exporter-metrics left self metrics in"
fi
grep -q '^libvirt_memory_exporter_build_info' "$E2E_TMP/no_self.txt" || fail "build info went too"
echo "PASS: listeners, socket activation, gzip, self metrics"
