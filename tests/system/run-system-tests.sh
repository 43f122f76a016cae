#!/usr/bin/env bash
# The system-test lane: the exporter against real QEMU guests under a private
# libvirtd, checked against the guests' own /proc/meminfo (docs/system-tests.md).
#
#   run-system-tests.sh --exporter BINARY --work DIR [--cache DIR]
#
# Needs root on Debian 12 or 13 (installs missing packages, runs libvirtd).
# Exits 77 (CTest: skipped) when not root or when no mount namespace is
# allowed. Whatever happens, the EXIT trap destroys the guests and stops the
# daemon and the exporters it started, by PID.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/host-setup.sh
source "$here/lib/host-setup.sh"
# shellcheck source=lib/guest-assets.sh
source "$here/lib/guest-assets.sh"

# CTest kills the lane at 300 s; ending our own work earlier leaves the EXIT
# trap time to tear down.
readonly BUDGET_S=270

exporter="" work="" cache=${LME_SYSTEM_TEST_CACHE:-/var/cache/lme-system-tests}
while (($#)); do
  case $1 in
    --exporter) exporter=$(realpath "$2"); shift 2 ;;
    --work) work=$(realpath -m "$2"); shift 2 ;;
    --cache) cache=$(realpath -m "$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n $exporter && -n $work ]] || die "usage: $0 --exporter BINARY --work DIR [--cache DIR]"
[[ -x $exporter ]] || die "exporter $exporter is not executable"
# The work path goes onto the guests' kernel command lines (see checks.py).
[[ $work != *[[:space:]]* ]] || die "the work directory must not contain whitespace"
if [[ $(id -u) -ne 0 ]]; then
  log "SKIP: the system lane needs root (packages, libvirtd, mount namespaces)"
  exit 77
fi
# An unprivileged container gives root no mount namespaces (podman needs
# --privileged for this lane; docs/clean-machine.md). Asked before anything
# is installed.
if ! unshare --mount --propagation private true 2>/dev/null; then
  log "SKIP: no mount namespace allowed here (an unprivileged container?): the private libvirtd needs one"
  exit 77
fi

phase_start=$SECONDS
timings=()
phase_done() {
  timings+=("$1 $((SECONDS - phase_start))s")
  phase_start=$SECONDS
}

# Exporters are started by checks.py, which records their PIDs; it stops them
# itself unless it was killed.
stop_exporters() {
  local pidfile pid
  for pidfile in "$work"/exporter-*.pid; do
    [[ -e $pidfile ]] || continue
    pid=$(<"$pidfile")
    if pid_matches "$pid" "$exporter"; then stop_pid "$pid" 10 "exporter" || true; fi
  done
}

cgroups_before=""
machine_cgroups() { compgen -G '/sys/fs/cgroup/*/machine' || true; }

# Everything the lane starts names WORK on its command line (libvirtd its
# config, the exporters their socket, QEMU the guest's kernel command line),
# so this finds anything teardown missed. It only reports.
# shellcheck disable=SC2317 # called from the EXIT trap
processes_left() {
  local cmdline pid args found=1
  for cmdline in /proc/[0-9]*/cmdline; do
    pid=${cmdline#/proc/}
    pid=${pid%/cmdline}
    args=$(tr '\0' ' ' 2>/dev/null <"$cmdline") || continue
    if [[ $args == *"$work/"* || $args == *"lme.work=$work "* ]] && ! pid_gone "$pid"; then
      log "still running after teardown: pid $pid: ${args:0:200}"
      found=0
    fi
  done
  return "$found"
}

# shellcheck disable=SC2317 # runs from the EXIT trap
teardown() {
  local status=$?
  trap - EXIT INT TERM
  log "teardown"
  stop_exporters
  "$here/lib/libvirtd.sh" "$work" teardown || status=1
  # cgroup_controllers = [ ] keeps libvirt from creating these; if a new one
  # shows up anyway, take it away again and fail the run.
  local dir
  for dir in $(machine_cgroups); do
    if ! grep -qxF "$dir" <<<"$cgroups_before"; then
      log "libvirt created $dir on the host; removing it"
      rmdir "$dir" 2>/dev/null || log "cannot remove $dir"
      status=1
    fi
  done
  if processes_left; then status=1; fi
  phase_done teardown
  log "timings: ${timings[*]} total $SECONDS s"
  exit "$status"
}

# A run that was killed before its trap could run leaves its daemon and guests
# behind: this run's teardown knows them by their PID files in the same WORK.
# The marker keeps a mistyped --work from wiping an unrelated directory.
readonly WORK_MARKER=.lme-system-test-work
if [[ -d $work ]]; then
  if [[ ! -e $work/$WORK_MARKER && -n $(ls -A "$work") ]]; then
    die "$work is not empty and was not made by this lane; refusing to reuse it"
  fi
  stop_exporters
  "$here/lib/libvirtd.sh" "$work" teardown
  rm -rf "$work"
fi
mkdir -p "$work" "$cache"
touch "$work/$WORK_MARKER"
cgroups_before=$(machine_cgroups)
# The checks run in the background so that a signal reaches this shell at
# once (bash runs traps only between foreground commands) and is passed on.
checks_pid=""
# shellcheck disable=SC2317 # runs from the signal traps
on_signal() {
  if [[ -n $checks_pid ]] && ! pid_gone "$checks_pid"; then
    kill -TERM "$checks_pid" 2>/dev/null || true
    wait "$checks_pid" 2>/dev/null || true
    phase_done "checks(interrupted)"
  fi
  exit "$1"
}
trap teardown EXIT
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

ensure_packages
phase_done setup
ensure_guest_kernel "$cache"
ensure_guest_initramfs "$cache" "$here/guest/init"
phase_done assets
# The capability probe of a cold libvirtd costs 5-8 s; its cache is kept.
LIBVIRT_CACHE_DIR="$cache/libvirt-cache" "$here/lib/libvirtd.sh" "$work" start
phase_done libvirtd

left=$((BUDGET_S - SECONDS))
((left > 30)) || die "no time left for the checks (${SECONDS}s spent on setup)"
LIBVIRT_CACHE_DIR="$cache/libvirt-cache" timeout --signal=TERM --kill-after=10 "$left" \
  python3 "$here/checks.py" --exporter "$exporter" --work "$work" \
  --kernel "$GUEST_KERNEL_DIR/vmlinuz" --initrd "$GUEST_INITRD" \
  --libvirtd-script "$here/lib/libvirtd.sh" &
checks_pid=$!
status=0
wait "$checks_pid" || status=$?
checks_pid=""
phase_done checks
((status != 124)) || log "the checks ran out of time (${left}s)"
exit "$status"
