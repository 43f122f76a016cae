#!/usr/bin/env bash
# promtool check config on every example Prometheus configuration in deploy/prometheus/ (which
# also checks the rule file and the file_sd target files they load). Each example says how it is
# checked in a "# Check with: promtool check config [--agent] deploy/prometheus/FILE" line, and
# that is the command run here: agent-mode examples are checked as agent configurations. An
# example without that line fails.
# Debian's Prometheus is built without Kubernetes service discovery, so for a configuration with
# kubernetes_sd_configs the block is swapped for a static target in a copy: promtool then still
# checks everything else, notably the relabelling.
# Usage: check-prometheus-configs.sh SOURCE_DIR
set -euo pipefail

dir=$1/deploy/prometheus
promtool=${PROMTOOL:-promtool}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lme-promconf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check_without_kubernetes_sd FLAGS CONFIG: checks a copy with a static target instead.
check_without_kubernetes_sd() {
  local flags=$1 config=$2 copy
  echo "promtool lacks Kubernetes service discovery: checking ${config##*/} with a static target"
  copy=$tmp/${config##*/}
  cp -r "$dir"/. "$tmp/"
  awk '
    /^    kubernetes_sd_configs:$/ { print "    static_configs:"; print "      - targets: [\"localhost:9177\"]"; skip = 1; next }
    skip && /^      / { next }
    { skip = 0; print }' "$config" >"$copy"
  grep -q '^    static_configs:$' "$copy" || fail "found no kubernetes_sd_configs block to replace in $config"
  # shellcheck disable=SC2086 # flags is empty or --agent
  "$promtool" check config $flags "$copy"
}

checked=0
for config in "$dir"/*.yml; do
  grep -q '^scrape_configs:' "$config" || continue # the rules file
  name=${config##*/}
  how=$(sed -n 's/^# Check with: promtool check config \(--agent \)\{0,1\}deploy\/prometheus\/\([^ ]*\)$/\1|\2/p' "$config")
  [[ -n $how ]] || fail "$name has no '# Check with: promtool check config [--agent] deploy/prometheus/$name' line"
  [[ ${how#*|} == "$name" ]] || fail "$name: its 'Check with' line names ${how#*|}"
  flags=${how%|*}
  flags=${flags% }
  # shellcheck disable=SC2086 # flags is empty or --agent
  if "$promtool" check config $flags "$config" >"$tmp/out" 2>&1; then
    cat "$tmp/out"
  elif grep -q 'field kubernetes_sd_configs not found' "$tmp/out"; then
    check_without_kubernetes_sd "$flags" "$config"
  else
    cat "$tmp/out" >&2
    fail "promtool check config $flags $name"
  fi
  checked=$((checked + 1))
done
((checked >= 6)) || fail "checked only $checked configurations in $dir"
echo "checked $checked example configurations"
