#!/usr/bin/env bash
# Soak: many sequential scrapes on one keep-alive connection (a Prometheus
# scraping for a long time, compressed), checking that every scrape answers
# 200 and that the exporter's resident memory stops growing after a warm-up.
#   tests/load/soak.sh [--scrapes N] [--domains N] [--warmup N] [--short]
# Defaults: 10,000 scrapes of 100 domains (every tenth without a balloon),
# warm-up 200 scrapes, growth limit < 1 MiB. --short: 3,000 scrapes.
# 1000 domains works too (--domains 1000) but takes ~5 min at ~32 scrapes/s.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

scrapes=10000
domains=100
warmup=200
while (($#)); do
  case "$1" in
    --exporter) EXPORTER=$2; shift ;;
    --scrapes) scrapes=$2; shift ;;
    --domains) domains=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --short) scrapes=3000 ;;
    *) echo "usage: $0 [--exporter PATH] [--scrapes N] [--domains N] [--warmup N] [--short]" >&2; exit 2 ;;
  esac
  shift
done

python3 "$LOAD_ROOT/tests/load/gen-node.py" "$domains" "$LOAD_TMP/node.xml"
start_exporter soak --libvirt.uri "test://$LOAD_TMP/node.xml"
echo "== soak: $scrapes scrapes of $domains domains, warm-up $warmup"
status=0
run_tracked timeout 1800 python3 "$LOAD_ROOT/tests/load/soak.py" --port "$EXPORTER_PORT" \
  --pid "$EXPORTER_PID" --scrapes "$scrapes" --warmup "$warmup" || status=$?
kill -0 "$EXPORTER_PID" 2>/dev/null || { cat "$EXPORTER_LOG" >&2; die "the exporter died"; }
if ((status != 0)); then
  die "soak failed (a scrape failed or RSS kept growing)"
fi
echo "PASS"
