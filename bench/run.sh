#!/usr/bin/env bash
# Scrape-cost benchmark: see docs/benchmarks.md.
#   bench/run.sh                 full run (N = 10, 100, 1000, 5000), writes bench/results/latest.md
#   bench/run.sh --smoke         N = 10 and 100, few repetitions (what CTest runs)
#   bench/run.sh --real-guests   bulk vs per-domain calls on real QEMU guests
#   bench/run.sh --profile       where the exporter's time goes at 5000 domains
#   bench/run.sh --cores         1, 2, 4, 8 calls at once against the machine's cores through a
#                                private libvirtd, with a perf profile (bench/cores_floor.py)
#   bench/run.sh --stuck-batch   a SIGSTOPped guest vs batches at once on one connection or one each
#   bench/run.sh --gzip          plain vs gzip answers at 1000 and 5000 domains, and each gzip
#                                level (bench/gzip_bench.py), writes bench/results/gzip.md
#   bench/run.sh --definitions   what reading domain definitions (the stats status) costs at
#                                1000 and 5000 domains, in-process and through a private
#                                libvirtd (bench/definitions_bench.py), writes
#                                bench/results/definitions.md
# Builds the exporter and the benchmark's programs in build-bench (Release;
# BUILD_DIR overrides) unless --exporter is given: then --raw-fetch and
# --scrape-client (lme-scrape, the HTTP client that times the scrapes) must be
# given too, and the HTTP floor is measured only if --http-floor is.
# Exits 77 when a tool it needs is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

args=("$@")
gzip_mode=0
definitions_mode=0
for arg in "$@"; do
  if [[ $arg == --gzip ]]; then gzip_mode=1; fi
  if [[ $arg == --definitions ]]; then definitions_mode=1; fi
done
given_binaries=0
for arg in "$@"; do
  if [[ $arg == --exporter ]]; then given_binaries=1; fi
done
if [[ $given_binaries -eq 0 ]]; then
  # Only the benchmark's targets: a test that does not compile right now must
  # not stop a benchmark of the exporter.
  build=${BUILD_DIR:-build-bench}
  [[ $build == /* ]] || build=$root/$build  # relative to the checkout
  generator=()
  if command -v ninja >/dev/null && [[ ! -f $build/CMakeCache.txt ]]; then generator=(-G Ninja); fi
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --parallel "$(nproc)" \
    --target libvirt-memory-exporter lme-raw-fetch lme-http-floor lme-scrape \
    lme-exposition-cost lme-gzip-cost >&2
  args+=(--exporter "$build/src/libvirt-memory-exporter" --raw-fetch "$build/bench/lme-raw-fetch"
         --http-floor "$build/bench/lme-http-floor" --scrape-client "$build/bench/lme-scrape")
fi

if [[ $gzip_mode -eq 1 ]]; then
  [[ $given_binaries -eq 0 ]] || { echo "--gzip builds its own binaries; drop --exporter" >&2; exit 2; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/lme-bench.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  python3 "$here/gzip_bench.py" --exporter "$build/src/libvirt-memory-exporter" \
    --scrape-client "$build/bench/lme-scrape" --gzip-cost "$build/bench/lme-gzip-cost" \
    --work-dir "$work"
  exit
fi

# The private libvirtd lives in this directory; whatever happens to the Python
# driver (even SIGKILL), the trap stops the daemon by its PID file.
work=$(mktemp -d "${TMPDIR:-/tmp}/lme-bench.XXXXXX")
cleanup() {
  if [[ -d $work/libvirtd ]]; then
    "$root/tests/system/lib/libvirtd.sh" "$work/libvirtd" teardown >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $definitions_mode -eq 1 ]]; then
  [[ $given_binaries -eq 0 ]] || { echo "--definitions builds its own binaries; drop --exporter" >&2; exit 2; }
  python3 "$here/definitions_bench.py" --exporter "$build/src/libvirt-memory-exporter" \
    --scrape-client "$build/bench/lme-scrape" --work-dir "$work"
  exit
fi

# In the background so that a TERM to this script reaches the driver at once
# (bash runs traps only between foreground commands).
python3 "$here/bench.py" --work-dir "$work" "${args[@]}" &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null; wait "$driver"; exit 143' TERM
trap 'kill -TERM "$driver" 2>/dev/null; wait "$driver"; exit 130' INT
wait "$driver"
