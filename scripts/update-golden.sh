#!/usr/bin/env bash
# Rewrites tests/golden/*.prom from the current build: review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
scripts/build.sh
UPDATE_GOLDEN=1 ctest --test-dir "$build_dir" -R '^e2e\.golden' --output-on-failure
git diff --stat -- tests/golden
