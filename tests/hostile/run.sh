#!/usr/bin/env bash
# Hostile HTTP clients against the exporter: oversized headers, unknown
# methods, a 100 KiB path, NUL bytes, non-HTTP bytes, pipelining, odd scrape
# timeout headers, and 100 slow clients holding partial requests for 15 s
# while a normal scrape must still be answered within 2 s. Then the exporter
# must still be running and answering. Loopback only, under 60 s.
#   tests/hostile/run.sh [--port PORT [--pid PID]] [--slow-clients N] [--hold S]
# Without --port it starts its own exporter (EXPORTER, or build/src/...) on
# the test fixture with hostile domain names; with --port it uses a running
# one on 127.0.0.1.
set -euo pipefail
# shellcheck source=../load/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/../load/lib.sh"

port=
pid=
extra=()
while (($#)); do
  case "$1" in
    --exporter) EXPORTER=$2; shift ;;
    --port) port=$2; shift ;;
    --pid) pid=$2; shift ;;
    --slow-clients | --hold | --threads) extra+=("$1" "$2"); shift ;;
    --only-slow) extra+=("$1") ;;
    *) echo "usage: $0 [--exporter PATH] [--port PORT [--pid PID]] [--slow-clients N] [--hold S] [--threads N] [--only-slow]" >&2; exit 2 ;;
  esac
  shift
done

if [[ -z "$port" ]]; then
  start_exporter hostile --libvirt.uri "test://$LOAD_ROOT/tests/fixtures/node.xml"
  port=$EXPORTER_PORT
  pid=$EXPORTER_PID
fi
pid_args=()
[[ -n "$pid" ]] && pid_args=(--pid "$pid")

status=0
run_tracked timeout 90 python3 "$LOAD_ROOT/tests/hostile/hostile.py" --port "$port" \
  "${pid_args[@]}" "${extra[@]}" || status=$?

if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
  [[ -n "${EXPORTER_LOG:-}" ]] && tail -20 "$EXPORTER_LOG" >&2
  die "the exporter is gone"
fi
if [[ -n "${EXPORTER_LOG:-}" ]] && grep -E 'level=(warn|error)' "$EXPORTER_LOG" >&2; then
  echo "(the exporter logged the warnings or errors above)" >&2
fi
((status == 0)) || die "hostile HTTP checks failed (see FAIL rows above)"
echo "PASS"
