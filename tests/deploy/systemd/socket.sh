# shellcheck shell=bash
# Socket activation under a real systemd (sourced by tests/deploy/systemd-test.sh after it ran the
# docs' installation of the service): the commands of docs/deployment.md's "Socket activation"
# section, then what they promise — systemd holds the port, the first connection starts the
# exporter with the socket handed over (--web.systemd-socket), and the port keeps answering
# across a crash of the service.
# shellcheck source=service.sh
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"  # UNIT, the service's checks
readonly SOCKET=libvirt-memory-exporter.socket

# The first sh block of the "### Socket activation" section.
socket_commands() {
  # shellcheck disable=SC2154 # src: the source directory, set by systemd-test.sh
  awk '/^### Socket activation/ { section = 1; next } /^##/ { section = 0 }
       section && /^```/ { if (block) exit; block = 1; next }
       section && block { print }' "$src/docs/deployment.md"
}

# shellcheck disable=SC2154 # machine and work: set by systemd-test.sh
install_socket_as_documented() {
  local commands
  commands=$(socket_commands)
  [[ -n $commands ]] || die "no commands in the socket activation section of docs/deployment.md"
  log "running docs/deployment.md's socket activation commands in $machine:"$'\n'"$commands"
  in_machine bash -euo pipefail -c "$commands" >"$work/$machine-socket.log" 2>&1 ||
    { cat "$work/$machine-socket.log" >&2; die "the documented socket activation failed"; }
}

unit_state() { in_machine systemctl is-active "$1" || true; }

# Before any connection: systemd listens, the exporter does not run.
check_socket_listening() {
  local socket service
  socket=$(unit_state "$SOCKET")
  service=$(unit_state "$UNIT")
  [[ $socket == active ]] || { fail "$SOCKET is '$socket', not active"; return; }
  [[ $service != active ]] || { fail "$UNIT runs before any connection"; return; }
  pass "$SOCKET listens; $UNIT not started yet ($service)"
}

# The first scrape starts the service, which serves on the socket systemd handed over rather than
# on a port of its own: LIBVIRT_EXPORTER_WEB_LISTEN_ADDRESS=:9177 stays in its settings file, and
# binding it would fail (systemd holds the port), so an answer means the handed-over socket.
check_started_by_connection() {
  local pid environ
  check_scrape || return
  [[ $(unit_state "$UNIT") == active ]] || { fail "$UNIT did not start on a connection"; return; }
  pid=$(main_pid "$UNIT") || { fail "$UNIT has no main PID"; return; }
  environ=$(in_machine cat "/proc/$pid/environ" | tr '\0' '\n')
  grep -qx 'LISTEN_FDS=1' <<<"$environ" || { fail "pid $pid got no LISTEN_FDS=1"; return; }
  grep -qx 'LIBVIRT_EXPORTER_WEB_SYSTEMD_SOCKET=true' <<<"$environ" ||
    { fail "pid $pid runs without --web.systemd-socket's variable"; return; }
  pass "the first scrape started $UNIT (pid $pid) on systemd's socket (LISTEN_FDS=1)"
}

# A crash of the service leaves the port with systemd: the next scrape waits in its listen queue
# and is answered by the service systemd starts again.
check_port_survives_crash() {
  local old new
  old=$(main_pid "$UNIT") || { fail "$UNIT has no main PID"; return; }
  in_machine bash -c "kill -KILL $old"
  check_scrape || return
  new=$(main_pid "$UNIT") || { fail "$UNIT has no main PID after the crash"; return; }
  [[ $new != "$old" ]] || { fail "$UNIT still has pid $old after kill -9"; return; }
  pass "kill -9 of $old: the port kept answering, now served by $new"
}

run_checks() {
  local pid
  install_socket_as_documented
  check check_socket_listening
  check check_started_by_connection
  pid=$(main_pid "$UNIT") || { fail "$UNIT has no main PID"; failures=$((failures + 1)); return; }
  check check_sandbox "$pid" "$(unit_user)"
  check check_port_survives_crash
}
