#!/usr/bin/env bash
# expect_exit.sh CODE REGEX COMMAND...: runs COMMAND with a time limit and
# passes when it exits with CODE and its output (stdout+stderr) matches REGEX.
set -uo pipefail
expected=$1 regex=$2
shift 2
output=$(timeout 20 "$@" 2>&1)
code=$?
printf '%s\n' "$output"
if [[ $code -ne $expected ]]; then
  echo "FAIL: exit code $code, expected $expected" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$output"; then
  echo "FAIL: output does not match: $regex" >&2
  exit 1
fi
echo "PASS: exit $code and output matches"
