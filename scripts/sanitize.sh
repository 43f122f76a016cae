#!/usr/bin/env bash
# Builds the exporter and its tests with sanitizers and runs the fast suites
# (ctest -L 'unit|integration|e2e') under them.
#   scripts/sanitize.sh [address|thread|all]     (default: all)
# address = ASan + UBSan with leak checking, thread = TSan. Each mode has its
# own build directory, ${SANITIZE_BUILD_PREFIX:-build-sanitize}-MODE, so it
# never touches build/. Exits non-zero when a test fails or when any sanitizer
# wrote a report, including reports from exporter processes that the e2e
# scripts start and kill (their exit codes are ignored by those scripts, so
# the reports are collected from files instead).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=${1:-all}
case "$mode" in
  address | thread) modes=("$mode") ;;
  all) modes=(address thread) ;;
  *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;;
esac
prefix=${SANITIZE_BUILD_PREFIX:-build-sanitize}
# Only what the unit, integration and e2e labels execute: the benchmark tools
# are not under test here and would add minutes of sanitized compilation.
targets=(libvirt-memory-exporter unit_tests integration_tests)

# shellcheck source=/dev/null
source scripts/lib/bounded.sh  # the cd above made the repository root current

run_mode() {
  local mode=$1 build_dir="$prefix-$1" sanitize
  case "$mode" in
    address) sanitize=address,undefined ;;
    thread) sanitize=thread ;;
  esac
  # An absolute SANITIZE_BUILD_PREFIX (a build directory outside the tree)
  # must not be put under the repository.
  [[ $build_dir == /* ]] || build_dir=$root/$build_dir
  local reports="$build_dir/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"

  echo "== $mode: configure and build in $build_dir (LME_SANITIZE=$sanitize)"
  local generator=()
  if command -v ninja >/dev/null && [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    generator=(-G Ninja)
  fi
  cmake -S . -B "$build_dir" "${generator[@]}" -DLME_SANITIZE="$sanitize" \
    -DLME_BUILD_TESTS=ON >/dev/null || return 1
  bounded 3600 cmake --build "$build_dir" --parallel "$(nproc)" \
    --target "${targets[@]}" || return 1

  # log_path sends every report to REPORTS/report.PID instead of stderr: the
  # e2e tests compare the exporter's stderr, and their exporters' exit codes
  # are not checked. halt_on_error keeps one report per process.
  local common="log_path=$reports/report:halt_on_error=1:print_stacktrace=1"
  local -a env=()
  case "$mode" in
    address)
      env=("ASAN_OPTIONS=$common:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
           "UBSAN_OPTIONS=$common"
           "LSAN_OPTIONS=log_path=$reports/report")
      ;;
    thread)
      env=("TSAN_OPTIONS=$common:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp")
      ;;
  esac

  echo "== $mode: ctest -L 'unit|integration|e2e'"
  local status=0
  bounded 1800 env "${env[@]}" ctest --test-dir "$build_dir" \
    -L 'unit|integration|e2e' --output-on-failure --timeout 300 -j "$(nproc)" ||
    status=$?

  local found
  found=$(find "$reports" -type f -size +0 | sort)
  if [[ -n "$found" ]]; then
    echo "== $mode: sanitizer reports:" >&2
    local file
    for file in $found; do
      echo "--- $file" >&2
      cat "$file" >&2
    done
    status=1
  fi
  if ((status != 0)); then
    echo "== $mode: FAILED" >&2
    return 1
  fi
  echo "== $mode: clean (no test failure, no sanitizer report)"
}

failed=()
for m in "${modes[@]}"; do
  start=$SECONDS
  # set -e does not apply inside a function called from ||: run_mode
  # returns its failures explicitly.
  run_mode "$m" || failed+=("$m")
  echo "== $m: $((SECONDS - start)) s"
done
if ((${#failed[@]})); then
  echo "sanitize: failed: ${failed[*]}" >&2
  exit 1
fi
