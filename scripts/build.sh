#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default: build). Extra arguments go to
# cmake's configure step; --target NAME (repeatable) builds only NAME.
#   BUILD_DIR=build-release scripts/build.sh -DCMAKE_BUILD_TYPE=Release
#   scripts/build.sh --target libvirt-memory-exporter
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
configure_args=()
targets=()
while (($#)); do
  case $1 in
    --target)
      (($# >= 2)) || { echo "usage: $0 [--target NAME]... [CMAKE_ARGUMENT]..." >&2; exit 2; }
      targets+=(--target "$2")
      shift 2
      ;;
    *) configure_args+=("$1"); shift ;;
  esac
done
generator=()
if command -v ninja >/dev/null && [[ ! -f "$build_dir/CMakeCache.txt" ]]; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" "${configure_args[@]}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)" "${targets[@]}"
