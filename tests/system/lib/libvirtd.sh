#!/usr/bin/env bash
# The project's one private libvirtd: the system lane, the benchmark and the
# container checks start and stop it here.
#   libvirtd.sh WORK start     start it (waits until it answers)
#   libvirtd.sh WORK stop      SIGTERM it by PID; running guests keep running
#   libvirtd.sh WORK teardown  resume stopped guests, destroy them, stop it,
#                              kill leftover QEMU
# LIBVIRT_CACHE_DIR, when set, stands in for /var/cache/libvirt so that the
# QEMU capability cache outlives WORK. LIBVIRTD_OWNER_PID, when set at start,
# starts a watchdog that tears the daemon down once that process is gone, so
# a caller killed with SIGKILL (a CTest timeout) leaves nothing behind.
#
# The daemon runs in its own mount namespace with WORK/root/* bound over
# libvirt's system paths, so the host's /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt never change;
# /etc/passwd and /etc/group get the libvirt-qemu user Debian's QEMU driver
# insists on there, not on the host. Clients reach it through the sockets in
# WORK/sock; its PID is in WORK/libvirtd.pid.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -ge 2 ]] || die "usage: $0 WORK start|stop|teardown"
work=$(realpath -m "$1")
action=$2

readonly SOCK_DIR="$work/sock"
readonly PID_FILE="$work/libvirtd.pid"
readonly CONF="$work/libvirtd.conf"
readonly WATCH_PID_FILE="$work/watch.pid"
readonly URI="qemu:///system?socket=$SOCK_DIR/libvirt-sock"
# host path -> private directory
readonly -A BINDS=(
  [/etc/libvirt]="$work/root/etc"
  [/run/libvirt]="$work/root/run"
  [/var/lib/libvirt]="$work/root/lib"
  [/var/log/libvirt]="$work/root/log"
  [/var/cache/libvirt]="${LIBVIRT_CACHE_DIR:-$work/root/cache}"
)
# host file -> private copy
readonly -A FILE_BINDS=(
  [/etc/passwd]="$work/root/passwd"
  [/etc/group]="$work/root/group"
)

virsh_private() { timeout 20 virsh -q -c "$URI" "$@"; }
# Through the test driver, which every libvirtd has, so that a daemon
# without the QEMU driver (the benchmark needs none) counts as up too.
daemon_answers() {
  timeout 20 virsh -q -c "test+unix:///default?socket=$SOCK_DIR/libvirt-sock" \
    version >/dev/null 2>&1
}

daemon_pid() {
  local pid
  [[ -s "$PID_FILE" ]] || return 1
  pid=$(<"$PID_FILE")
  pid_matches "$pid" libvirtd "$CONF" || return 1
  echo "$pid"
}

write_config() {
  mkdir -p "$SOCK_DIR"
  local dir
  for dir in "${BINDS[@]}"; do mkdir -p "$dir"; done
  cat >"$CONF" <<EOF
unix_sock_dir = "$SOCK_DIR"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$work/libvirtd.log"
EOF
  # The privileged daemon reads qemu.conf only from /etc/libvirt, which is the
  # private WORK/root/etc inside the namespace.
  # cgroup_controllers: otherwise libvirt creates /sys/fs/cgroup/*/machine on
  # the host and moves QEMU there. stdio_handler: there is no virtlogd.
  cat >"$work/root/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
EOF
  cp /etc/passwd "${FILE_BINDS[/etc/passwd]}"
  cp /etc/group "${FILE_BINDS[/etc/group]}"
  getent group libvirt-qemu >/dev/null ||
    echo "libvirt-qemu:x:64055:" >>"${FILE_BINDS[/etc/group]}"
  getent passwd libvirt-qemu >/dev/null ||
    echo "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin" \
      >>"${FILE_BINDS[/etc/passwd]}"
}

start() {
  if pid=$(daemon_pid); then die "libvirtd already running (pid $pid)"; fi
  write_config
  # Bind mounts need their mount points on the host; an empty directory is all
  # that is left behind (libvirt-daemon-system would create the same ones).
  local target
  for target in "${!BINDS[@]}"; do
    if [[ ! -d $target ]]; then
      log "creating the empty mount point $target on the host"
      mkdir -p "$target"
    fi
  done
  rm -f "$PID_FILE"
  local binds=()
  for target in "${!BINDS[@]}"; do binds+=("${BINDS[$target]}" "$target"); done
  for target in "${!FILE_BINDS[@]}"; do binds+=("${FILE_BINDS[$target]}" "$target"); done
  # setsid: the daemon must not get the terminal's or ctest's signals; it is
  # stopped by PID instead. It inherits the namespace and passes it to QEMU.
  # taskset: libvirt throws its QEMU capability cache away when the host CPUID
  # differs from the probe's, and here CPUID differs between the two vCPUs:
  # unpinned, every other start re-probed QEMU (7 s instead of under 1 s).
  # QEMU does not inherit the pin: libvirt resets guests to all host CPUs.
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid unshare --mount --propagation private -- /bin/sh -c '
      while [ $# -gt 2 ]; do mount --bind "$1" "$2" || exit 1; shift 2; done
      exec taskset -c 0 libvirtd -f "$1" -p "$2"' sh "${binds[@]}" "$CONF" "$PID_FILE" \
    </dev/null >>"$work/libvirtd.stderr" 2>&1 &
  local launcher=$!
  local started=$SECONDS
  # A cold start probes QEMU's capabilities (5-8 s here); later ones use the
  # cache (see LIBVIRT_CACHE_DIR).
  if ! wait_for 90 "libvirtd to answer on $SOCK_DIR" daemon_answers; then
    tail -n 20 "$work/libvirtd.stderr" "$work/libvirtd.log" >&2 || true
    pid_gone "$launcher" || kill -TERM "$launcher" 2>/dev/null || true
    die "libvirtd did not start"
  fi
  daemon_pid >/dev/null || die "libvirtd answers but its pid file $PID_FILE is wrong"
  log "libvirtd up (pid $(daemon_pid)) after $((SECONDS - started))s"
  if [[ -n ${LIBVIRTD_OWNER_PID:-} ]]; then
    setsid bash "$0" "$work" _watch "$LIBVIRTD_OWNER_PID" </dev/null >/dev/null 2>&1 &
    echo $! >"$WATCH_PID_FILE"
  fi
}

# The watchdog: polls, as the owner is not its parent. Remembers the daemon's
# PID, so it still works if WORK is removed under it.
watch_owner() {
  local owner=$1 pid
  pid=$(daemon_pid) || exit 0
  while kill -0 "$owner" 2>/dev/null && ! pid_gone "$pid"; do sleep 1; done
  if ! pid_gone "$pid"; then
    log "owner $owner is gone; tearing libvirtd down"
    teardown
  fi
}

stop_watchdog() {
  local watcher
  watcher=$(cat "$WATCH_PID_FILE" 2>/dev/null) || return 0
  if [[ $watcher != "$$" ]] && pid_matches "$watcher" "$work _watch"; then
    kill -TERM "$watcher" 2>/dev/null || true
  fi
  rm -f "$WATCH_PID_FILE"
}

stop() {
  local pid
  if ! pid=$(daemon_pid); then
    log "libvirtd not running"
    return 0
  fi
  stop_pid "$pid" 15 libvirtd
  log "libvirtd (pid $pid) stopped"
}

# Each PID in libvirt's pid files that still runs that very guest of this WORK.
#   guest_pids -> "NAME PID" lines
guest_pids() {
  local pidfile pid name
  for pidfile in "$work/root/run/qemu/"*.pid; do
    [[ -e $pidfile ]] || continue
    name=$(basename "$pidfile" .pid)
    pid=$(<"$pidfile") || continue
    if pid_matches "$pid" qemu-system "guest=$name," "lme.work=$work"; then
      echo "$name $pid"
    fi
  done
}

# Check 6 SIGSTOPs a guest's QEMU; a run killed in the middle must not leave it
# stopped (nor make libvirt's destroy wait for a SIGTERM it cannot receive).
# SIGCONT to a running QEMU is harmless, so every guest of this WORK gets one.
resume_guests() {
  local name pid state
  while read -r name pid; do
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || state=""
    [[ $state == T* ]] && log "resuming the stopped QEMU of $name (pid $pid)"
    kill -CONT "$pid" 2>/dev/null || true
  done < <(guest_pids)
}

# Runs from traps too: every step is best effort and bounded.
teardown() {
  local name
  stop_watchdog
  resume_guests
  if daemon_pid >/dev/null; then
    local names
    names=$(virsh_private list --name 2>/dev/null) || names=""
    for name in $names; do
      virsh_private destroy "$name" >/dev/null 2>&1 || log "cannot destroy $name"
    done
    stop || true
  fi
  # Guests outlive a daemon that died or was killed: find them by the pid files
  # libvirt left and make sure each PID still runs that very guest.
  local pid
  while read -r name pid; do
    log "killing leftover QEMU of $name (pid $pid)"
    kill -CONT "$pid" 2>/dev/null || true
    stop_pid "$pid" 10 "qemu $name" || true
  done < <(guest_pids)
}

case $action in
  start) start ;;
  stop) stop ;;
  teardown) teardown ;;
  _watch) watch_owner "$3" ;;
  *) die "unknown action $action" ;;
esac
