# shellcheck shell=bash
# Host prerequisites for the system tests (sourced). Changes the host only
# where it must: missing packages, and the libvirt-qemu system user.

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

# Debian's QEMU driver resolves its built-in user libvirt-qemu when it starts,
# even with user = "root" in qemu.conf, and exits if it does not exist.
ensure_qemu_user() {
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
      --shell /usr/sbin/nologin libvirt-qemu
}
