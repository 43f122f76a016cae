#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default
# 20). Before fuzzing, every target replays its checked-in seeds and the
# inputs in tests/fuzz/regressions/TARGET/ (past crashes), so a fixed crash
# stays fixed. Exits non-zero on any crash, sanitizer report, failed
# invariant, timeout or out-of-memory.
#   tests/fuzz/run.sh [SECONDS]
#   FUZZ_BUILD_DIR=build-fuzz FUZZ_TARGETS="stats nova" tests/fuzz/run.sh 60
# New inputs the fuzzer finds go to FUZZ_BUILD_DIR/corpus, not into the
# source tree; a crash input is left in FUZZ_BUILD_DIR/artifacts/TARGET/.
set -euo pipefail
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$fuzz_dir/../.." && pwd)
cd "$root"

seconds=${1:-20}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
read -r -a targets <<<"${FUZZ_TARGETS:-stats nova text}"
# The release's default clang (Debian 12: 14, Debian 13: 19), as
# scripts/install-deps.sh --test installs it with its libFuzzer runtime.
cc=${FUZZ_CC:-clang}
cxx=${FUZZ_CXX:-clang++}

# 77: CTest's skip code, as for the benchmark's missing tools.
command -v "$cxx" >/dev/null || {
  echo "SKIP: $cxx not found (scripts/install-deps.sh --test: clang libclang-rt-dev)" >&2
  exit 77
}

# shellcheck source=/dev/null
source "$root/scripts/lib/bounded.sh"

generator=()
if command -v ninja >/dev/null && [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  generator=(-G Ninja)
fi
CC=$cc CXX=$cxx cmake -S "$fuzz_dir" -B "$build_dir" "${generator[@]}" >/dev/null
bounded 3600 cmake --build "$build_dir" --parallel "$(nproc)"

# A leak or UBSan report must fail the run like a crash does.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz_$target"
  log="$build_dir/fuzz_$target.log"
  [[ -x "$binary" ]] || { echo "no such target: $target" >&2; exit 2; }

  mapfile -t replay < <(find "$fuzz_dir/corpus/$target" \
    "$fuzz_dir/regressions/$target" -type f ! -name '.*' ! -name '*.md' \
    2>/dev/null | sort)
  if ((${#replay[@]})); then
    # Given files, a libFuzzer binary runs each once and stops at the first
    # failure; the timeout bounds an input that hangs.
    if ! bounded 120 "$binary" -timeout=10 "${replay[@]}" >"$log.replay" 2>&1; then
      echo "== $target: a seed or regression input fails:" >&2
      grep -E '^Running:' "$log.replay" | tail -1 >&2 || true
      grep -E 'FUZZ_CHECK|ERROR|runtime error|SUMMARY' "$log.replay" | head -10 >&2 || true
      echo "   full log: $log.replay" >&2
      failed+=("$target(replay)")
      continue
    fi
  fi

  corpus="$build_dir/corpus/$target"
  artifacts="$build_dir/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  [[ -f "$fuzz_dir/$target.dict" ]] && dict=(-dict="$fuzz_dir/$target.dict")
  echo "== $target: ${#replay[@]} replayed, fuzzing for $seconds s"
  status=0
  # -timeout: one input taking 10 s is a hang worth reporting; the outer
  # timeout only guards against libFuzzer itself not stopping.
  bounded $((seconds + 120)) "$binary" "$corpus" "$fuzz_dir/corpus/$target" \
    "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -artifact_prefix="$artifacts" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus_size=$(find "$corpus" -type f | wc -l)
  summary+=("$(printf '%-6s %10s execs  cov %5s  corpus %5s  exit %s' \
    "$target" "${runs:-?}" "${cov:-?}" "$corpus_size" "$status")")
  if ((status != 0)); then
    echo "== $target: FAILED (exit $status); log $log" >&2
    grep -E 'ERROR|FUZZ_CHECK|SUMMARY|Test unit written|deadly signal' "$log" | head -20 >&2 || true
    echo "   keep the input as a regression: cp $artifacts<file> tests/fuzz/regressions/$target/" >&2
    failed+=("$target")
  fi
done

echo "== summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
