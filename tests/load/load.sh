#!/usr/bin/env bash
# Concurrent load: many scrapers at once on a host with many domains.
# Generates a test-driver node file (default 1000 domains, every tenth
# without a balloon), starts the exporter on 127.0.0.1, runs wrk against
# /metrics and prints a table: requests, non-2xx answers, socket errors,
# latency, the exporter's RSS and thread count before and after, and how many
# libvirt collections served the requests (when the exporter exports
# libvirt_memory_exporter_collections_total).
#   tests/load/load.sh [--short] [--duration SECONDS] [--connections N]
#                      [--domains N] [--wrk-timeout SECONDS]
#                      [--probe-timeout SECONDS] [--close] [--max-requests N]
# --short is a 10 s run; the default is 60 s with 200 keep-alive connections.
# The exporter runs with --web.max-requests 0 (no limit): the test measures
# 200 scrapers served at once, which the default limit of 40 (as
# node_exporter's) would answer 503 beyond 40 by design; --max-requests N
# runs it with a limit instead (503s then count as failures).
# Fails when any answer is not 2xx, when wrk sees a socket error or timeout,
# when a scraper arriving during the load gets no answer in --probe-timeout
# (default 5 s), or when the exporter dies or stops answering.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

duration=60
connections=200
domains=1000
wrk_timeout=10
probe_timeout=5
wrk_headers=()
max_requests=0
while (($#)); do
  case "$1" in
    --exporter) EXPORTER=$2; shift ;;
    --short) duration=10 ;;
    --duration) duration=$2; shift ;;
    --connections) connections=$2; shift ;;
    --domains) domains=$2; shift ;;
    --wrk-timeout) wrk_timeout=$2; shift ;;
    --probe-timeout) probe_timeout=$2; shift ;;
    # Scrapers that do not keep connections alive (a new connection per
    # scrape, as curl loops and some proxies do).
    --close) wrk_headers=(--header "Connection: close") ;;
    --max-requests) max_requests=$2; shift ;;
    *) echo "usage: $0 [--exporter PATH] [--short] [--duration S] [--connections N] [--domains N] [--wrk-timeout S] [--probe-timeout S] [--close] [--max-requests N]" >&2; exit 2 ;;
  esac
  shift
done
# 77: CTest's skip code, as for the benchmark's missing tools.
command -v wrk >/dev/null || { echo "SKIP: wrk not found (apt-get install wrk)" >&2; exit 77; }

python3 "$LOAD_ROOT/tests/load/gen-node.py" "$domains" "$LOAD_TMP/node.xml"
start_exporter load --libvirt.uri "test://$LOAD_TMP/node.xml" --web.max-requests "$max_requests"
pid=$EXPORTER_PID
url="http://127.0.0.1:$EXPORTER_PORT/metrics"

rss_idle=$(proc_field "$pid" VmRSS)
threads_idle=$(proc_field "$pid" Threads)

# One scrape first: it checks the exposition is complete and makes the
# "before" figures those of a warm exporter, not of one that never
# allocated a scrape.
start_ns=$(date +%s%N)
status=$(scrape_to "$LOAD_TMP/first.prom")
first_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
[[ "$status" == 200 ]] || die "first scrape answered $status"
seen=$(metric_value "$LOAD_TMP/first.prom" libvirt_domains)
[[ "$seen" == "$domains" ]] || die "libvirt_domains is $seen, expected $domains"
body_bytes=$(stat -c %s "$LOAD_TMP/first.prom")
series=$(grep -vc '^#' "$LOAD_TMP/first.prom")
collections_before=$(metric_value "$LOAD_TMP/first.prom" libvirt_memory_exporter_collections_total)

rss_before=$(proc_field "$pid" VmRSS)
threads_before=$(proc_field "$pid" Threads)

echo "== wrk: $connections connections, ${duration} s, $url" >&2
# Two wrk threads: the machine's other core runs the exporter.
timeout $((duration + 60)) wrk --threads 2 --connections "$connections" \
  --duration "${duration}s" --timeout "${wrk_timeout}s" --latency \
  "${wrk_headers[@]}" "$url" >"$LOAD_TMP/wrk.txt" 2>&1 &
wrk_pid=$!
track "$wrk_pid"

# wrk's latencies only cover answered requests, so a connection that is never
# served does not show there: halfway through, count the server's
# connections that hold an unread request (ss), and time one more scraper
# arriving on a new connection, as Prometheus would.
run_tracked sleep $((duration / 2))
waiting=n/a
backlog=n/a
if command -v ss >/dev/null; then
  read -r established waiting < <(ss -Htn state established "( sport = :$EXPORTER_PORT )" |
    awk '{ n++; if ($1 > 0) q++ } END { printf "%d %d\n", n, q }')
  backlog=$(ss -Hltn "( sport = :$EXPORTER_PORT )" | awk '{ print $2; exit }')
  waiting="$waiting of $established"
fi
probe_start=$(date +%s%N)
probe_status=$(curl --silent --output /dev/null --max-time "$probe_timeout" \
  --write-out '%{http_code}' "$url" || true)
probe_ms=$(( ($(date +%s%N) - probe_start) / 1000000 ))
[[ "$probe_status" == 200 ]] && probe="200 in ${probe_ms} ms" ||
  probe="no answer within ${probe_timeout} s (status ${probe_status:-000})"

wrk_status=0
wait "$wrk_pid" || wrk_status=$?
cat "$LOAD_TMP/wrk.txt" >&2
((wrk_status == 0)) || die "wrk failed (exit $wrk_status)"

alive=yes
kill -0 "$pid" 2>/dev/null || alive=no
[[ $alive == yes ]] || { cat "$EXPORTER_LOG" >&2; die "the exporter died under load"; }
rss_after=$(proc_field "$pid" VmRSS)
hwm_after=$(proc_field "$pid" VmHWM)
threads_after=$(proc_field "$pid" Threads)
start_ns=$(date +%s%N)
status=$(scrape_to "$LOAD_TMP/after.prom")
after_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
[[ "$status" == 200 ]] || die "scrape after the load answered $status"
collections_after=$(metric_value "$LOAD_TMP/after.prom" libvirt_memory_exporter_collections_total)

requests=$(awk '/requests in/ { print $1 }' "$LOAD_TMP/wrk.txt")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$LOAD_TMP/wrk.txt")
non2xx=${non2xx:-0}
socket_errors=$(sed -n 's/.*Socket errors: *//p' "$LOAD_TMP/wrk.txt")
socket_errors=${socket_errors:-none}
rps=$(awk '/Requests\/sec/ { print $2 }' "$LOAD_TMP/wrk.txt")
p50=$(awk '$1 == "50%" { print $2 }' "$LOAD_TMP/wrk.txt")
p99=$(awk '$1 == "99%" { print $2 }' "$LOAD_TMP/wrk.txt")
max_latency=$(awk '$1 == "Latency" { print $4 }' "$LOAD_TMP/wrk.txt")
if [[ "$collections_before" == n/a || "$collections_after" == n/a ]]; then
  collections="n/a (no libvirt_memory_exporter_collections_total)"
else
  # The probe and the scrape after the load may each have run a collection
  # of their own: at most 2 of these are not wrk's.
  collections=$(awk -v a="$collections_after" -v b="$collections_before" \
    'BEGIN { printf "%d", a - b }')
  collections="$collections (for ${requests:-0} answers)"
fi

printf '\n%-34s %s\n' "domains" "$domains"
printf '%-34s %s\n' "exposition (first scrape)" "$series series, $body_bytes bytes, ${first_ms} ms"
printf '%-34s %s\n' "wrk" "$connections connections, ${duration} s, timeout ${wrk_timeout} s"
printf '%-34s %s\n' "requests completed" "${requests:-0}"
printf '%-34s %s\n' "requests/s" "${rps:-?}"
printf '%-34s %s\n' "non-2xx answers" "$non2xx"
printf '%-34s %s\n' "socket errors" "$socket_errors"
printf '%-34s %s\n' "latency p50 / p99 / max" "${p50:-?} / ${p99:-?} / ${max_latency:-?}"
printf '%-34s %s\n' "connections with unread request" "$waiting (mid-run; listen backlog $backlog)"
printf '%-34s %s\n' "new scraper during load" "$probe"
printf '%-34s %s\n' "libvirt collections during load" "$collections"
printf '%-34s %s\n' "RSS idle / before / after (KiB)" "$rss_idle / $rss_before / $rss_after"
printf '%-34s %s\n' "VmHWM after (KiB)" "$hwm_after"
printf '%-34s %s\n' "threads idle / before / after" "$threads_idle / $threads_before / $threads_after"
printf '%-34s %s\n' "scrape after load" "200 in ${after_ms} ms"

failures=()
((${requests:-0} > 0)) || failures+=("no request completed")
((non2xx == 0)) || failures+=("$non2xx non-2xx answers")
[[ "$probe_status" == 200 ]] || failures+=("a new scraper got no answer within ${probe_timeout} s during the load")
[[ "$socket_errors" == none ]] || failures+=("socket errors: $socket_errors")
if ((${#failures[@]})); then
  die "$(IFS=';'; echo "${failures[*]}")"
fi
echo "PASS"
