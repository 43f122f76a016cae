#!/usr/bin/env bash
# Runs a test only when the tools it needs are installed, so that configuring
# and building never need a test-only tool (a machine with only the build
# packages must build the exporter). Registered through lme_add_test in
# tests/CMakeLists.txt, with SKIP_RETURN_CODE 77.
#   needs-tools.sh TOOL... -- COMMAND [ARGUMENT...]
# Exits 77 (CTest: skipped) naming every TOOL that is not on PATH; otherwise
# runs COMMAND in its place.
set -euo pipefail

tools=()
while (($#)) && [[ $1 != -- ]]; do
  tools+=("$1")
  shift
done
if (($# < 2)); then
  echo "usage: $0 TOOL... -- COMMAND [ARGUMENT...]" >&2
  exit 2
fi
shift

missing=()
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "SKIP: not installed: ${missing[*]} (scripts/install-deps.sh --test installs the test tools)" >&2
  exit 77
fi
exec "$@"
