#!/usr/bin/env bash
# The systemd unit under a real systemd (docs/deployment.md, "Tests"): boots the fixture's systemd
# image as a container with systemd as PID 1, runs the commands of docs/deployment.md's systemd
# section in it, then the checks of CHECKS (tests/deploy/systemd/CHECKS.sh, which defines
# run_checks; `service` is the unit as shipped).
#   systemd-test.sh WORK SOURCE_DIR CHECKS
# Another set of checks (a .socket unit, say) is one more file beside service.sh and one more
# add_test line; the helpers below are what such a file gets:
#   in_machine CMD...       runs CMD in the booted machine
#   main_pid UNIT           the unit's MainPID (empty when it has none)
#   check_sandbox PID USER  the hardening seen in /proc/PID: USER's uid and gid, no
#                           capabilities, NoNewPrivs, seccomp, / read-only, own /tmp and /home
#   scrape                  GET /metrics through the published port
# and check, pass and fail of lib/podman-tests.sh.
# Exits 77 (skipped) where podman cannot run. The EXIT trap removes the container.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/podman-tests.sh
source "$here/lib/podman-tests.sh"

[[ $# -eq 3 ]] || die "usage: $0 WORK SOURCE_DIR CHECKS"
work=$(realpath -m "$1")
src=$(realpath "$2")
checks_file=$here/systemd/$3.sh
[[ -f $checks_file ]] || die "no checks $checks_file"
skip_unless_podman_host
podman_tests_init "$work"
track_containers "systemd-$3"
image=$(fixture_image systemd)
machine=lme-systemd-$3-$$

# shellcheck disable=SC2317 # runs from the EXIT trap
teardown() {
  local status=$?
  trap - EXIT
  if ((status != 0)) && [[ ${#_containers[@]} -gt 0 ]]; then
    in_machine systemctl --no-pager --failed >&2 || true
    in_machine journalctl --no-pager -n 40 >&2 || true
  fi
  remove_containers
  log "systemd test $machine: $failures failed check(s), ${SECONDS} s"
  exit "$status"
}
trap teardown EXIT

in_machine() { timeout 60 podman exec "$machine" "$@"; }

# --- boot
# SYS_ADMIN: without it systemd cannot set up the unit's mount, UTS and other namespaces and
# silently runs the service without ProtectSystem=, ProtectHome=, PrivateTmp= ...; the checks
# look at the effect, so they would fail. The port is published on loopback only.
system_state=
# systemctl answers only once systemd's bus is up; until then it prints nothing or "starting".
booted() {
  system_state=$(in_machine systemctl is-system-running 2>/dev/null) || true
  [[ $system_state == running || $system_state == degraded ]]
}

boot() {
  start_container "$machine" --detach --name "$machine" --systemd=always --cap-add SYS_ADMIN \
    --publish 127.0.0.1::9177 "$image"
  wait_for 60 "systemd in $machine to finish booting" booted || true
  case $system_state in
    running) log "systemd in $machine: running" ;;
    degraded) log "systemd in $machine: degraded: $(in_machine systemctl --failed --plain --no-legend)" ;;
    *) die "systemd in $machine did not come up: '$system_state'" ;;
  esac
}

# --- the docs' commands
# The first sh block of the "## systemd" section, a command per line. Its build line is left
# out: the fixture's image built the binary in its build stage (scripts/install-deps.sh and
# scripts/build.sh -DCMAKE_BUILD_TYPE=Release, as the docs' line does) and put it where that
# line leaves it, /src/build/src/.
docs_commands() {
  awk '/^## systemd/ { section = 1; next } /^## / { section = 0 }
       section && /^```/ { if (block) exit; block = 1; next }
       section && block { print }' "$src/docs/deployment.md"
}

install_as_documented() {
  local commands
  commands=$(docs_commands | grep -v 'scripts/build\.sh')
  [[ -n $commands ]] || die "no commands in the systemd section of docs/deployment.md"
  log "running docs/deployment.md's systemd commands in $machine:"$'\n'"$commands"
  in_machine bash -euo pipefail -c "$commands" >"$work/$machine-install.log" 2>&1 ||
    { cat "$work/$machine-install.log" >&2; die "the documented installation failed"; }
}

# --- helpers for the checks
main_pid() {
  local pid
  pid=$(in_machine systemctl show --property MainPID --value "$1")
  [[ $pid != 0 ]] && echo "$pid"
}

scrape() {
  local port
  port=$(published_port "$machine" 9177) || return 1
  curl --silent --show-error --fail --max-time 10 "http://127.0.0.1:$port/metrics"
}

# /proc/PID of the service as the kernel sees it: what systemd actually set up, not what the unit
# asks for.
check_sandbox() {
  local pid=$1 user=$2 uid gid mounts mount
  uid=$(in_machine id -u "$user")
  gid=$(in_machine id -g "$user")
  mounts=$(in_machine cat "/proc/$pid/mountinfo")
  check_proc_hardening "pid $pid" "$uid" "$gid" "$(in_machine cat "/proc/$pid/status")" \
    "$mounts" || return
  in_machine grep -Eq '^Seccomp:[[:space:]]+2$' "/proc/$pid/status" ||
    { fail "pid $pid: no seccomp filter"; return; }
  for mount in /tmp /home; do
    awk -v m="$mount" '$5 == m { found = 1 } END { exit !found }' <<<"$mounts" ||
      { fail "pid $pid: no mount of its own on $mount (PrivateTmp=, ProtectHome=)"; return; }
  done
  pass "pid $pid: runs as $user ($uid:$gid), no capabilities, NoNewPrivs, seccomp, / read-only, own /tmp and /home"
}

# shellcheck source=systemd/service.sh
source "$checks_file"
boot
install_as_documented
run_checks
((failures == 0))
