# shellcheck shell=bash
# Shared helpers for the system-test scripts (sourced, not run).
# The callers run under `set -euo pipefail`.

log() { printf '[system %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# Polls a command until it succeeds or the deadline passes: every wait in the
# lane goes through here so that none can hang the run.
#   wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${seconds}s waiting for: $what"
      return 1
    fi
    sleep 0.2
  done
}

# A process counts as gone when it no longer exists or is a zombie: PID 1 on
# these machines reaps orphans late, so a dead daemon may linger as state Z.
pid_gone() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
  [[ -z "$state" || "$state" == Z* ]]
}

# True when PID is alive and its command line contains every given fragment;
# guards every kill against a PID that was recycled for someone else's process.
pid_matches() {
  local pid=$1 cmdline
  shift
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_gone "$pid" && return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  local fragment
  for fragment in "$@"; do
    [[ "$cmdline" == *"$fragment"* ]] || return 1
  done
}

# SIGTERM, then SIGKILL after GRACE seconds; only for a PID we started.
#   stop_pid PID GRACE NAME
stop_pid() {
  local pid=$1 grace=$2 name=$3
  pid_gone "$pid" && return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! wait_for "$grace" "$name (pid $pid) to exit" pid_gone "$pid"; then
    log "killing $name (pid $pid) with SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 "$name (pid $pid) to die" pid_gone "$pid" || return 1
  fi
}
