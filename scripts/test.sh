#!/usr/bin/env bash
# Sets up (Debian packages, build) and runs the whole test suite with CTest.
# Extra arguments go to ctest, e.g. -L unit or -LE system.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 600 "$@"
