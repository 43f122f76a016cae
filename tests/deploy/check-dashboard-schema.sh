#!/usr/bin/env bash
# dashboards/*.json against Grafana's own dashboard types (@grafana/schema from the npm registry,
# for each Grafana version pinned in tests/deploy/dashboard-schema/package.json and its lock
# file), type-checked with TypeScript: dashboard-schema/check.mjs says how, and how it proves on
# a broken copy of the dashboard that it catches what it should.
#   check-dashboard-schema.sh SOURCE_DIR WORK
# The npm packages are installed once per lock file into a cache (LME_DASHBOARD_SCHEMA_CACHE,
# default /var/cache/lme-dashboard-schema for root, else ~/.cache/lme-dashboard-schema).
# Exits 77 (skipped) without node and npm (Debian packages nodejs and npm:
# scripts/install-deps.sh --test installs them), or when the npm registry cannot be reached.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 SOURCE_DIR WORK" >&2; exit 2; }
src=$(cd "$1" && pwd)
work=$2
here=$src/tests/deploy/dashboard-schema

for tool in node npm; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool not found (Debian packages nodejs npm: scripts/install-deps.sh --test)"; exit 77; }
done

if [[ -n ${LME_DASHBOARD_SCHEMA_CACHE:-} ]]; then
  cache=$LME_DASHBOARD_SCHEMA_CACHE
elif [[ $(id -u) -eq 0 ]]; then
  cache=/var/cache/lme-dashboard-schema
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/lme-dashboard-schema
fi

# One directory per lock file: a new pin installs afresh, an unchanged one costs nothing.
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
modules=$cache/$key/node_modules
mkdir -p "$cache"
install_modules() {
  [[ -d $modules ]] && return 0
  local tmp
  tmp=$(mktemp -d "$cache/.install.XXXXXX")
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  echo "installing the pinned npm packages into $cache/$key"
  # --ignore-scripts: nothing of these packages needs to run at install time.
  if ! (cd "$tmp" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
    >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp"
    # No way to the registry (no network, or a TLS-intercepting proxy whose CA this system lacks,
    # as in the clean-machine lane's containers here) is this machine's limit, not the
    # dashboard's; anything else (a pin that no longer exists, an integrity mismatch) fails.
    if grep -Eq 'E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH)|SELF_SIGNED_CERT|UNABLE_TO_(GET|VERIFY)|CERT_' \
      "$tmp.log"; then
      rm -f "$tmp.log"
      echo "SKIP: the npm registry cannot be reached from here (see npm's error above)"
      return 77
    fi
    rm -f "$tmp.log"
    echo "FAIL: npm ci of tests/deploy/dashboard-schema failed" >&2
    return 1
  fi
  rm -f "$tmp.log"
  rm -rf "${cache:?}/$key"
  mv "$tmp" "$cache/$key"
}
# Runs that share the machine take turns installing.
status=0
(
  flock -w 600 9 || { echo "FAIL: waited 10 min for $cache/.lock" >&2; exit 1; }
  install_modules
) 9>"$cache/.lock" || status=$?
((status == 0)) || exit "$status"

mkdir -p "$work"
node "$here/check.mjs" --modules "$modules" --work "$work" "$src"/dashboards/*.json
