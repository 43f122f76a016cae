# shellcheck shell=bash
# Checks of deploy/systemd/libvirt-memory-exporter.service as docs/deployment.md installs it
# (sourced by tests/deploy/systemd-test.sh, whose helpers these use).
readonly UNIT=libvirt-memory-exporter.service

# shellcheck disable=SC2154 # src: the source directory, set by systemd-test.sh
unit_user() { sed -n 's/^User=//p' "$src/deploy/systemd/$UNIT"; }

check_active() {
  local state
  state=$(in_machine systemctl is-active "$UNIT") || true
  [[ $state == active ]] || { fail "$UNIT is '$state', not active"; return; }
  pass "$UNIT is active"
}

# The user is the one sysusers created for the unit, a system user, not root or nobody.
check_system_user() {
  local user=$1 entry uid
  entry=$(in_machine getent passwd "$user") || { fail "no user $user"; return; }
  uid=$(cut -d: -f3 <<<"$entry")
  ((uid > 0 && uid < 1000)) || { fail "$user has uid $uid, not a system uid"; return; }
  pass "$user is a system user (uid $uid)"
}

check_scrape() {
  local body
  body=$(wait_for 20 "a scrape of $UNIT" scrape && scrape) || { fail "no scrape answered"; return; }
  # No libvirt in this machine: the exporter answers, and says so.
  grep -q '^libvirt_up 0$' <<<"$body" || { fail "the scrape has no 'libvirt_up 0'"; return; }
  grep -q '^libvirt_memory_exporter_build_info{' <<<"$body" || { fail "the scrape has no build_info"; return; }
  pass "a scrape answers (libvirt_up 0: no libvirt in this machine)"
}

# Active again, with another main process than OLD_PID.
restarted_since() {
  local pid
  pid=$(main_pid "$UNIT") && [[ $pid != "$1" ]] &&
    [[ $(in_machine systemctl is-active "$UNIT" || true) == active ]]
}

# Restart=on-failure: SIGKILL is a failure, so systemd starts it again after RestartSec=.
check_restart() {
  local old new started=$SECONDS
  old=$(main_pid "$UNIT") || { fail "$UNIT has no main PID"; return; }
  in_machine bash -c "kill -KILL $old" # the slim base has no kill(1); bash has one built in
  wait_for 30 "$UNIT to come back after kill -9" restarted_since "$old" ||
    { fail "$UNIT did not come back after kill -9 of $old"; return; }
  new=$(main_pid "$UNIT")
  pass "kill -9 of $old: back as $new after $((SECONDS - started)) s"
  check check_scrape
}

run_checks() {
  local user pid
  user=$(unit_user)
  check check_active
  check check_system_user "$user"
  pid=$(main_pid "$UNIT") || { fail "$UNIT has no main PID"; failures=$((failures + 1)); return; }
  check check_sandbox "$pid" "$user"
  check check_scrape
  check check_restart
}
