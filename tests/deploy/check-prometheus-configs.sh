#!/usr/bin/env bash
# promtool check config on the example Prometheus configurations (which also checks the rule file
# they load). Debian's Prometheus is built without Kubernetes service discovery, so for
# prometheus-kubernetes.yml the kubernetes_sd_configs block is swapped for a static target in a
# copy: promtool then still checks everything else, notably the relabelling.
# Usage: check-prometheus-configs.sh SOURCE_DIR
set -euo pipefail

dir=$1/deploy/prometheus
promtool=${PROMTOOL:-promtool}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lme-promconf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$promtool" check config "$dir/prometheus.yml"

config=$dir/prometheus-kubernetes.yml
if "$promtool" check config "$config" >"$tmp/out" 2>&1; then
  cat "$tmp/out"
elif grep -q 'field kubernetes_sd_configs not found' "$tmp/out"; then
  echo "promtool lacks Kubernetes service discovery: checking $config with a static target"
  cp "$dir/libvirt-memory.rules.yml" "$tmp/"
  awk '
    /^    kubernetes_sd_configs:$/ { print "    static_configs:"; print "      - targets: [\"localhost:9177\"]"; skip = 1; next }
    skip && /^      / { next }
    { skip = 0; print }' "$config" >"$tmp/prometheus-kubernetes.yml"
  grep -q '^    static_configs:$' "$tmp/prometheus-kubernetes.yml" ||
    { echo "FAIL: found no kubernetes_sd_configs block to replace" >&2; exit 1; }
  "$promtool" check config "$tmp/prometheus-kubernetes.yml"
else
  cat "$tmp/out" >&2
  exit 1
fi
