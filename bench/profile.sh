#!/usr/bin/env bash
# Where the exporter's scrape time and memory go (bench/run.sh --profile).
#   bench/profile.sh EXPORTER RAW_FETCH WORK_DIR OUT_DIR [DOMAINS]
# Runs the exporter on an in-process test-driver node (default 5000 domains,
# where the targets are missed) and writes OUT_DIR/profile.md:
#   - CPU: perf (cpu-clock sampling, DWARF call graphs) over 20 scrapes, or
#     callgrind when perf cannot sample here;
#   - memory: VmRSS/VmHWM after each of 16 scrapes on new connections, with
#     glibc's default arenas and with MALLOC_ARENA_MAX=1;
#   - heap at its peak by allocation site (massif, 1000 domains: massif is slow).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exporter=$1 raw_fetch=$2 work=$3 out_dir=$4 domains=${5:-5000}
mkdir -p "$work" "$out_dir"
report=$out_dir/profile.md
scrapes=20

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

node() {  # DOMAINS -> path of a generated node file
  local path=$work/profile-node-$1.xml
  [[ -f $path ]] || python3 -c "import sys; sys.path.insert(0, '$here'); import bench; bench.write_node('$path', $1)"
  echo "$path"
}

# start_exporter LOG [ENV...] -> sets exporter_pid and port; waits (bounded)
# for the listening line.
start_exporter() {
  local log=$1 uri=$2
  shift 2
  env "$@" "$exporter" --web.listen-address 127.0.0.1:0 --libvirt.uri "$uri" >"$log" 2>&1 &
  exporter_pid=$!
  pids+=("$exporter_pid")
  local deadline=$((SECONDS + 120))
  port=""
  until port=$(grep -o 'msg=listening address=[0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$'); do
    if ((SECONDS >= deadline)) || ! kill -0 "$exporter_pid" 2>/dev/null; then
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

stop_exporter() {
  kill -TERM "$exporter_pid" 2>/dev/null || true
  timeout 10 tail --pid="$exporter_pid" -f /dev/null || kill -KILL "$exporter_pid" 2>/dev/null || true
}

scrape() { curl -sS --max-time 300 -o /dev/null "http://127.0.0.1:$port/metrics"; }

status_mib() { awk -v k="$2:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

uri=test://$(node "$domains")
{
  echo "# Where the exporter's time and memory go ($domains domains, in-process test driver)"
  echo
  echo "Made by \`bench/run.sh --profile\` on $(nproc) shared cores, $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Raw libvirt fetch on the same node, for scale:"
  echo
  echo '```'
  "$raw_fetch" --uri "$uri" --repeat 5 | tail -3
  echo '```'
  echo
} >"$report"

# ---- CPU
start_exporter "$work/profile-cpu.log" "$uri"
scrape  # the first scrape opens the connection (parses the node): not profiled
if perf record -e cpu-clock -o "$work/perf-probe.data" true >/dev/null 2>&1; then
  perf record -F 999 -e cpu-clock --call-graph dwarf,16384 -p "$exporter_pid" \
    -o "$work/perf.data" >"$work/perf-record.log" 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
  sleep 1
  start_ns=$(date +%s%N)
  for ((i = 0; i < scrapes; i++)); do scrape; done
  wall_ms=$((($(date +%s%N) - start_ns) / 1000000 / scrapes))
  kill -INT "$perf_pid"
  timeout 60 tail --pid="$perf_pid" -f /dev/null || true
  {
    echo "## CPU: perf, $scrapes scrapes (${wall_ms} ms each, wall, curl)"
    echo
    echo "Inclusive share of the exporter's CPU samples (children included), selected frames:"
    echo
    echo '```'
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' |
      grep -E 'ServeMetrics|Run\(lme::Options|TextSerializer|Collect|BuildMemoryFamilies|AddSample|DomainLabels|FetchDomainMemory|ReadDomainStats|virConnectGetAllDomainStats|virDomainMemoryStats|virDomainGetMaxMemory|virDomainStatsRecordListFree|Identify|_M_insert<double>|__ostream_insert|vsnprintf|_M_realloc_insert|exc_page_fault|mg_write|__libc_send|operator new|_int_free|malloc$|_M_replace' |
      sed -E 's/ +$//' | cut -c1-160 | sed -n '1,40p'
    echo '```'
    echo
    echo "Self time, top 25 symbols:"
    echo
    echo '```'
    perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | sed -E 's/ +$//' | cut -c1-160 | sed -n '1,25p'
    echo '```'
    echo
  } >>"$report"
else
  stop_exporter
  cg_uri=test://$(node 1000)
  valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect='lme::HttpServer::Handlers::ServeMetrics*' \
    --callgrind-out-file="$work/callgrind.out" \
    "$exporter" --web.listen-address 127.0.0.1:0 --libvirt.uri "$cg_uri" >"$work/callgrind.log" 2>&1 &
  exporter_pid=$!
  pids+=("$exporter_pid")
  deadline=$((SECONDS + 300))
  until port=$(grep -o 'msg=listening address=[0-9.]*:[0-9]*' "$work/callgrind.log" | grep -o '[0-9]*$'); do
    ((SECONDS < deadline)) || exit 1
    sleep 0.5
  done
  for ((i = 0; i < 5; i++)); do scrape; done
  stop_exporter
  {
    echo "## CPU: callgrind (perf cannot sample here), 1000 domains, 5 scrapes"
    echo
    echo '```'
    callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | sed -n '1,60p' | cut -c1-160
    echo '```'
    echo
  } >>"$report"
fi
stop_exporter

# ---- the exposition path, measured against the prometheus-cpp one it replaced
exposition_cost=$(dirname "$raw_fetch")/lme-exposition-cost
if [[ -x $exposition_cost ]]; then
  {
    echo "## The exposition path: exporter vs prometheus-cpp (bench/exposition_cost.cc, medians of 21)"
    echo
    echo '```'
    "$exposition_cost" 1000 21
    "$exposition_cost" 5000 21
    echo '```'
    echo
  } >>"$report"
fi

# ---- memory: each new scrape may land on another of the server's scrape threads,
# and each thread allocates from its own glibc arena.
{
  echo "## Memory: VmRSS / VmHWM (MiB) after each scrape, new connection per scrape"
  echo
  echo "| malloc | after scrape 1, 2, … 16 (VmRSS/VmHWM) |"
  echo "|---|---|"
} >>"$report"
for setting in default MALLOC_ARENA_MAX=1; do
  env_args=()
  [[ $setting == default ]] || env_args=("$setting")
  start_exporter "$work/profile-mem.log" "$uri" "${env_args[@]}"
  row=""
  for ((i = 0; i < 16; i++)); do
    scrape
    row+="$(status_mib "$exporter_pid" VmRSS)/$(status_mib "$exporter_pid" VmHWM) "
  done
  stop_exporter
  echo "| $setting | $row |" >>"$report"
done
"$raw_fetch" --uri "$uri" --repeat 3 >/dev/null &
raw_pid=$!
pids+=("$raw_pid")
baseline_hwm=""
while kill -0 "$raw_pid" 2>/dev/null; do
  baseline_hwm=$(status_mib "$raw_pid" VmHWM 2>/dev/null || echo "$baseline_hwm")
  sleep 0.05
done
printf '\nlibvirt baseline (raw fetch VmHWM, sampled while it ran): %s MiB.\n\n' \
  "${baseline_hwm:-?}" >>"$report"

# ---- heap by allocation site at the peak (massif)
massif_uri=test://$(node 1000)
valgrind --tool=massif --threshold=2 --massif-out-file="$work/massif.out" \
  "$exporter" --web.listen-address 127.0.0.1:0 --libvirt.uri "$massif_uri" >"$work/massif.log" 2>&1 &
exporter_pid=$!
pids+=("$exporter_pid")
deadline=$((SECONDS + 120))
until port=$(grep -o 'msg=listening address=[0-9.]*:[0-9]*' "$work/massif.log" | grep -o '[0-9]*$'); do
  ((SECONDS < deadline)) || exit 1
  sleep 0.2
done
for ((i = 0; i < 3; i++)); do scrape; done
stop_exporter
{
  echo "## Heap at its peak by allocation site (massif, 1000 domains, one worker thread)"
  echo
  echo '```'
  ms_print "$work/massif.out" >"$work/massif.txt"
  peak=$(grep -o '[0-9]* (peak)' "$work/massif.txt" | grep -o '^[0-9]*')
  echo "  n        time(i)         total(B)   useful-heap(B) extra-heap(B)    stacks(B)"
  awk -v peak="$peak" '$1 == peak && NF == 6 {on = 1} on && /^-+$/ {exit} on' "$work/massif.txt" |
    grep -E '^( +[0-9]|[0-9]|->|\| ->)' | cut -c1-170 | sed -n '1,24p'
  echo '```'
} >>"$report"
cat "$report"
