# shellcheck shell=bash
# Host prerequisites for the system tests (sourced). Changes the host only
# where it must: missing packages. (The libvirt-qemu user Debian's QEMU
# driver insists on exists only inside the private daemon: lib/libvirtd.sh.)

# libvirt-daemon-system is left out on purpose: it pulls in polkit, iptables
# and systemd units, and its daemon would compete with the private one.
readonly SYSTEM_TEST_PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 busybox-static kmod cpio procps python3 curl)

ensure_packages() {
  local missing=() package status
  for package in "${SYSTEM_TEST_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) || status=""
    [[ $status == "install ok installed" ]] || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    log "packages: all present"
    return 0
  fi
  log "packages: installing ${missing[*]}"
  # An apt run by someone else holds the lock; wait for it, but not forever.
  timeout 180 apt-get -o DPkg::Lock::Timeout=60 update -q >&2 ||
    die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 240 apt-get -o DPkg::Lock::Timeout=60 install \
    -y -q --no-install-recommends "${missing[@]}" >&2 || die "apt-get install failed"
}
