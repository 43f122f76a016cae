#!/usr/bin/env bash
# A private libvirtd for the benchmark, started and stopped by PID.
#   bench/private-libvirtd.sh start DIR [OWNER_PID]   start it; sockets in DIR/sock
#   bench/private-libvirtd.sh stop DIR                 stop it (and QEMU guests it left)
# With OWNER_PID a watchdog stops the daemon once that process is gone, so a
# benchmark killed with SIGKILL (a CTest timeout) leaves no daemon behind.
#
# The daemon runs in its own mount namespace: DIR/etc is bound over
# /etc/libvirt, the state paths it writes (/run/libvirt, /var/lib/libvirt,
# /var/log/libvirt, /var/cache/libvirt) are private directories or private
# overlays, and /etc/passwd gets the libvirt-qemu user Debian's QEMU driver
# insists on. The host's files are never written. DIR/cache survives a stop,
# so a later start skips the 4-5 s QEMU capability probe.
set -euo pipefail

readonly state_paths=(/run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt)

die() { echo "private-libvirtd: $*" >&2; exit 1; }

write_config() {
  local dir=$1
  mkdir -p "$dir/etc" "$dir/sock" "$dir/state"
  cat >"$dir/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$dir/sock"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$dir/libvirtd.log"
CONF
  # cgroup_controllers = [] keeps QEMU inside our cgroup; stdio_handler =
  # "file" because no virtlogd runs.
  cat >"$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
CONF
  cp /etc/passwd "$dir/passwd"
  cp /etc/group "$dir/group"
  if ! getent passwd libvirt-qemu >/dev/null; then
    echo "libvirt-qemu:x:64055:64055:Libvirt Qemu:/nonexistent:/usr/sbin/nologin" >>"$dir/passwd"
  fi
  if ! getent group libvirt-qemu >/dev/null; then
    echo "libvirt-qemu:x:64055:" >>"$dir/group"
  fi
}

# Runs as the first process of the new mount namespace, then becomes libvirtd.
inside() {
  local dir=$1 path name
  for path in "${state_paths[@]}"; do
    name=${path//\//_}
    if [[ -d $path ]]; then
      mkdir -p "$dir/state/$name"
      mount --bind "$dir/state/$name" "$path"
    else
      # Creating the missing directory on the host would change the host:
      # overlay its parent instead, so the directory exists only in here.
      local parent
      parent=$(dirname "$path")
      if ! mountpoint -q "$parent" || ! grep -q " $parent overlay " /proc/self/mounts; then
        mkdir -p "$dir/ovl/${parent//\//_}/upper" "$dir/ovl/${parent//\//_}/work"
        mount -t overlay overlay -o "lowerdir=$parent,upperdir=$dir/ovl/${parent//\//_}/upper,workdir=$dir/ovl/${parent//\//_}/work" "$parent"
      fi
    fi
  done
  mount --bind "$dir/etc" /etc/libvirt
  mount --bind "$dir/passwd" /etc/passwd
  mount --bind "$dir/group" /etc/group
  exec libvirtd -f "$dir/etc/libvirtd.conf" -p "$dir/libvirtd.pid"
}

is_running() {  # PID: alive and not a zombie (PID 1 here reaps slowly)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

wait_gone() {  # PID SECONDS
  local deadline=$((SECONDS + $2))
  while is_running "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

daemon_pid() {  # DIR [FALLBACK_PID]: only a PID whose command line is our libvirtd
  local dir=$1 pid
  pid=$(cat "$dir/daemon.pid" 2>/dev/null) || pid=${2:-}
  [[ -n $pid ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "libvirtd -f $dir/etc/libvirtd.conf" || return 1
  echo "$pid"
}

# Polls instead of waiting on the owner: it is not our child. Remembers the
# daemon's PID, so it still works if DIR is removed under it.
watch() {
  local dir=$1 owner=$2 pid
  pid=$(cat "$dir/daemon.pid" 2>/dev/null) || exit 0
  while kill -0 "$owner" 2>/dev/null && is_running "$pid"; do sleep 1; done
  if is_running "$pid"; then stop "$dir" "$pid" >/dev/null 2>&1 || true; fi
}

start() {
  local dir=$1 owner=${2:-}
  command -v libvirtd >/dev/null || die "libvirtd is not installed (apt-get install libvirt-daemon)"
  if daemon_pid "$dir" >/dev/null; then die "already running in $dir"; fi
  write_config "$dir"
  rm -f "$dir/libvirtd.pid" "$dir/sock/"*
  # unshare and bash exec in place, so $! is libvirtd's PID.
  setsid unshare --mount --propagation private -- bash "$0" _inside "$dir" \
    >"$dir/daemon.out" 2>&1 </dev/null &
  echo $! >"$dir/daemon.pid"
  if [[ -n $owner ]]; then
    setsid bash "$0" _watch "$dir" "$owner" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watch.pid"
  fi
  local deadline=$((SECONDS + 60))
  until [[ -S $dir/sock/libvirt-sock-ro ]] &&
        virsh -r -c "test+unix:///default?socket=$dir/sock/libvirt-sock-ro" version >/dev/null 2>&1; do
    if ! is_running "$(cat "$dir/daemon.pid")" || ((SECONDS >= deadline)); then
      cat "$dir/daemon.out" >&2 || true
      tail -20 "$dir/libvirtd.log" >&2 2>/dev/null || true
      stop "$dir" || true
      die "libvirtd did not come up within 60 s"
    fi
    sleep 0.2
  done
}

# Guests first (libvirtd leaves them running when it exits), then the daemon,
# then any QEMU still running by the PID file libvirt wrote for it.
stop() {
  local dir=$1 known_pid=${2:-} pid uri
  uri="qemu:///system?socket=$dir/sock/libvirt-sock"
  if pid=$(daemon_pid "$dir" "$known_pid") && [[ -S $dir/sock/libvirt-sock ]]; then
    local names name
    names=$(timeout 20 virsh -c "$uri" list --all --name 2>/dev/null) || names=""
    for name in $names; do
      timeout 20 virsh -c "$uri" destroy "$name" >/dev/null 2>&1 || true
      timeout 20 virsh -c "$uri" undefine "$name" >/dev/null 2>&1 || true
    done
  fi
  if pid=$(daemon_pid "$dir" "$known_pid"); then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 15; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || echo "private-libvirtd: PID $pid did not exit" >&2
    fi
  fi
  local pidfile qemu
  for pidfile in "$dir"/state/_run_libvirt/qemu/*.pid "$dir"/ovl/_run/upper/libvirt/qemu/*.pid; do
    [[ -f $pidfile ]] || continue
    qemu=$(cat "$pidfile" 2>/dev/null) || continue
    if [[ -r /proc/$qemu/cmdline ]] &&
       tr '\0' ' ' <"/proc/$qemu/cmdline" | grep -q "qemu-system.*guest=$(basename "$pidfile" .pid)"; then
      kill -KILL "$qemu" 2>/dev/null || true
      wait_gone "$qemu" 5 || true
    fi
  done
  rm -f "$dir/daemon.pid"
  # The watchdog ends by itself once daemon.pid is gone; this is for speed.
  local watcher
  if watcher=$(cat "$dir/watch.pid" 2>/dev/null) && [[ $watcher != "$$" ]] &&
     tr '\0' ' ' <"/proc/$watcher/cmdline" 2>/dev/null | grep -qF -- "_watch $dir"; then
    kill -TERM "$watcher" 2>/dev/null || true
  fi
  rm -f "$dir/watch.pid"
}

case "${1:-}" in
  start) [[ $# -eq 2 || $# -eq 3 ]] || die "usage: $0 start DIR [OWNER_PID]"; start "$(realpath "$2")" "${3:-}" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$(realpath "$2")" ;;
  _inside) inside "$2" ;;
  _watch) watch "$2" "$3" ;;
  *) die "usage: $0 start|stop DIR" ;;
esac
