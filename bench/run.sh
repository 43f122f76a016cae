#!/usr/bin/env bash
# Scrape-cost benchmark: see docs/benchmarks.md.
#   bench/run.sh                 full run (N = 10, 100, 1000, 5000), writes bench/results/latest.md
#   bench/run.sh --smoke         N = 10 and 100, few repetitions (what CTest runs)
#   bench/run.sh --real-guests   bulk vs per-domain calls on real QEMU guests
#   bench/run.sh --profile       where the exporter's time goes at 5000 domains
# Builds build-bench (Release) first unless --exporter and --raw-fetch are given.
# Exits 77 when a tool it needs is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

args=("$@")
given_binaries=0
for arg in "$@"; do
  if [[ $arg == --exporter ]]; then given_binaries=1; fi
done
if [[ $given_binaries -eq 0 ]]; then
  BUILD_DIR=${BUILD_DIR:-build-bench} "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Release >&2
  build=$root/${BUILD_DIR:-build-bench}
  args+=(--exporter "$build/src/libvirt-memory-exporter" --raw-fetch "$build/bench/lme-raw-fetch")
fi

# The private libvirtd lives in this directory; whatever happens to the Python
# driver (even SIGKILL), the trap stops the daemon by its PID file.
work=$(mktemp -d "${TMPDIR:-/tmp}/lme-bench.XXXXXX")
cleanup() {
  "$here/private-libvirtd.sh" stop "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$here/bench.py" --work-dir "$work" "${args[@]}"
