#!/usr/bin/env bash
# Collector switches on the built binary against libvirt's test driver: the
# --[no-]collector.<name> flags and their environment variables, and the
# collect[] / exclude[] URL parameters (node_exporter's rules).
#   collectors_test.sh EXPORTER FIXTURE_NODE OPENSTACK_FIXTURE_NODE
set -euo pipefail
EXPORTER=$1 FIXTURE=$2 OPENSTACK_FIXTURE=$3
source "$(dirname "$0")/lib.sh"

# The collector labels of the success gauge, one line each, in order.
collectors_in() {
  sed -n 's/^libvirt_memory_exporter_scrape_collector_success{collector="\([a-z_]*\)"}.*/\1/p' |
    paste -sd, -
}

# status QUERY: the HTTP status of /metrics?QUERY; the body goes to $E2E_TMP/body.
status() {
  curl --silent --max-time 20 -o "$E2E_TMP/body" -w '%{http_code}' \
    "http://127.0.0.1:$EXPORTER_PORT/metrics?$1"
}

expect_refused() {  # QUERY TEXT
  local code
  code=$(status "$1")
  [[ $code == 400 ]] || fail "?$1 answered $code, not 400"
  grep -qF "$2" "$E2E_TMP/body" || fail "?$1: body does not say '$2': $(cat "$E2E_TMP/body")"
}

echo "--- defaults: domain and node memory, OpenStack off"
start_exporter defaults --libvirt.uri "test://$FIXTURE"
[[ $(scrape | collectors_in) == domain_memory,node_memory ]] || fail "default collectors: $(scrape | collectors_in)"

echo "--- collect[] and exclude[] select the collectors of one scrape"
body=$(scrape '/metrics?collect%5B%5D=node_memory')
[[ $(collectors_in <<<"$body") == node_memory ]] || fail "collect[]=node_memory ran $(collectors_in <<<"$body")"
grep -q '^libvirt_node_memory_total_bytes ' <<<"$body" || fail "node memory missing"
! grep -q '^libvirt_domains ' <<<"$body" || fail "domain memory ran though not selected"
grep -q '^libvirt_up 1$' <<<"$body" || fail "libvirt_up not 1 with node memory only"
promtool check metrics <<<"$body" || fail "promtool rejects the filtered exposition"
body=$(scrape '/metrics?exclude[]=node_memory')
[[ $(collectors_in <<<"$body") == domain_memory ]] || fail "exclude[]=node_memory ran $(collectors_in <<<"$body")"
body=$(scrape '/metrics?collect[]=domain_memory&collect[]=node_memory')
[[ $(collectors_in <<<"$body") == domain_memory,node_memory ]] || fail "collect[] of both"
body=$(scrape '/metrics?exclude[]=domain_memory&exclude[]=node_memory&exclude[]=openstack_metadata')
[[ -z $(collectors_in <<<"$body") ]] || fail "everything excluded still ran $(collectors_in <<<"$body")"
! grep -q '^libvirt_up ' <<<"$body" || fail "libvirt_up without any libvirt call"
grep -q '^libvirt_memory_exporter_build_info{' <<<"$body" || fail "build info missing"
promtool check metrics <<<"$body" || fail "promtool rejects the empty selection's exposition"

echo "--- unknown and disabled names, and both parameters: 400 with the reason"
expect_refused 'collect[]=bogus' "unknown collector 'bogus'; known: domain_memory, node_memory, openstack_metadata"
expect_refused 'exclude[]=bogus' "unknown collector 'bogus'"
expect_refused 'collect[]=openstack_metadata' "disabled collector 'openstack_metadata'; enable it with --collector.openstack-metadata"
expect_refused 'collect[]=node_memory&exclude[]=domain_memory' "combined collect[] and exclude[]"
kill -0 "$EXPORTER_PID" || fail "the exporter died on a refused request"

echo "--- flags and environment switch collectors off and on"
start_exporter flags --libvirt.uri "test://$FIXTURE" --no-collector.domain-memory
[[ $(scrape | collectors_in) == node_memory ]] || fail "--no-collector.domain-memory: $(scrape | collectors_in)"
expect_refused 'collect[]=domain_memory' "disabled collector 'domain_memory'"
LIBVIRT_EXPORTER_COLLECTOR_NODE_MEMORY=false start_exporter env --libvirt.uri "test://$FIXTURE"
[[ $(scrape | collectors_in) == domain_memory ]] || fail "LIBVIRT_EXPORTER_COLLECTOR_NODE_MEMORY=false: $(scrape | collectors_in)"
start_exporter openstack --libvirt.uri "test://$OPENSTACK_FIXTURE" --collector.openstack-metadata
body=$(scrape '/metrics?collect[]=openstack_metadata')
[[ $(collectors_in <<<"$body") == openstack_metadata ]] || fail "collect[]=openstack_metadata: $(collectors_in <<<"$body")"
grep -q '^libvirt_domain_openstack_info{' <<<"$body" || fail "OpenStack info missing"

echo "--- a collector switched off makes no libvirt call"
start_exporter none --libvirt.uri "test://$E2E_TMP/nowhere/node.xml" \
  --no-collector.domain-memory --no-collector.node-memory
scrape >/dev/null
scrape >/dev/null
! grep -q 'collector failed\|cannot open' "$EXPORTER_LOG" || fail "libvirt was called: $(cat "$EXPORTER_LOG")"
echo "PASS: collector switches"
