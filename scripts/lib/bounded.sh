# shellcheck shell=bash
# Sourced by scripts that run long steps (sanitizer suites, fuzzers).
# Long steps run in the background under `timeout` (which signals its whole
# process group when it is itself signalled), and the caller waits for them:
# bash runs a trap only between foreground commands, so a foreground ctest or
# fuzzer would delay a SIGTERM until it ended on its own.
child=
trap '[[ -n "$child" ]] && kill "$child" 2>/dev/null; exit 130' INT TERM

# bounded SECONDS COMMAND...: runs COMMAND for at most SECONDS.
bounded() {
  local limit=$1 status=0
  shift
  timeout "$limit" "$@" &
  child=$!
  wait "$child" || status=$?
  child=
  return "$status"
}
