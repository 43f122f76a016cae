#!/usr/bin/env bash
# Scrapes the built exporter on the fixture node and compares the exposition
# with the checked-in golden file, then lints it with promtool.
#   golden_test.sh EXPORTER FIXTURE_NODE GOLDEN_FILE [EXPORTER_ARGS...]
# Set UPDATE_GOLDEN=1 (or run `scripts/update-golden.sh`) to rewrite the golden file.
set -euo pipefail
EXPORTER=$1 FIXTURE=$2 GOLDEN=$3
shift 3
source "$(dirname "$0")/lib.sh"

# Only what legitimately varies between runs and machines is masked.
normalize() {
  sed -E \
    -e 's/^(libvirt_memory_exporter_scrape_collector_duration_seconds\{[^}]*\}) .*/\1 <duration>/' \
    -e 's/^(libvirt_memory_exporter_collections_total) .*/\1 <count>/' \
    -e 's/libvirt_version="[^"]*"/libvirt_version="<libvirt>"/' \
    -e 's/^(process_[a-z_]*) .*/\1 <process>/' \
    -e 's/^(promhttp_metric_handler_[a-z_]*(\{[^}]*\})?) .*/\1 <count>/'
}

start_exporter golden --libvirt.uri "test://$FIXTURE" --log.level debug "$@"
scrape /metrics >"$E2E_TMP/first.prom"
scrape /metrics >"$E2E_TMP/second.prom"
# gzip, as Prometheus always asks: the same text once decompressed.
curl --silent --show-error --fail --max-time 20 -H 'Accept-Encoding: gzip' \
  --dump-header "$E2E_TMP/gzip.headers" "http://127.0.0.1:$EXPORTER_PORT/metrics" >"$E2E_TMP/third.gz"
grep -qi '^Content-Encoding: gzip' "$E2E_TMP/gzip.headers" || fail "a scrape that accepts gzip got no gzip"
gzip -dc <"$E2E_TMP/third.gz" >"$E2E_TMP/third.prom" || fail "the gzip answer does not decompress"
normalize <"$E2E_TMP/first.prom" >"$E2E_TMP/actual.prom"

if [[ "${UPDATE_GOLDEN:-0}" == 1 ]]; then
  cp "$E2E_TMP/actual.prom" "$GOLDEN"
  echo "updated $GOLDEN"
fi
diff -u "$GOLDEN" "$E2E_TMP/actual.prom" ||
  fail "exposition differs from $GOLDEN (rerun with UPDATE_GOLDEN=1 if the change is intended)"
normalize <"$E2E_TMP/second.prom" | diff -u "$E2E_TMP/actual.prom" - ||
  fail "two scrapes of an unchanged node differ"
normalize <"$E2E_TMP/third.prom" | diff -u "$E2E_TMP/actual.prom" - ||
  fail "the decompressed gzip answer differs from the plain one"

promtool check metrics <"$E2E_TMP/first.prom" || fail "promtool check metrics found problems"
promtool check metrics <"$E2E_TMP/third.prom" || fail "promtool check metrics on the decompressed answer"

# A node may carry deliberately broken parts; they must be warned about once.
if [[ -n "${EXPECT_WARNINGS:-}" ]]; then
  grep -E 'level=(warn|error)' "$EXPORTER_LOG" | sed -E 's/^ts=[^ ]* //' >"$E2E_TMP/warnings"
  diff -u <(printf '%s\n' "$EXPECT_WARNINGS") "$E2E_TMP/warnings" || fail "unexpected warnings"
elif grep -E 'level=(warn|error)' "$EXPORTER_LOG"; then
  fail "warnings or errors logged for a healthy node"
fi
echo "PASS: exposition matches $GOLDEN and passes promtool"
