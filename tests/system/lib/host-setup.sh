# shellcheck shell=bash
# Host prerequisites for the system tests (sourced). Changes the host only
# where it must: missing packages, and the libvirt-qemu system user.

# The packages are those of scripts/install-deps.sh --test (the project's one
# list; libvirt-daemon-system is left out on purpose: it pulls in polkit,
# iptables and systemd units, and its daemon would compete with the private
# one). It installs only what is missing.
ensure_packages() {
  local install_deps
  install_deps=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/scripts/install-deps.sh
  # An apt run by someone else holds the lock; wait for it, but not forever.
  timeout 300 "$install_deps" --test >&2 || die "$install_deps --test failed"
  log "packages: all present"
}

# Debian's QEMU driver resolves its built-in user libvirt-qemu when it starts,
# even with user = "root" in qemu.conf, and exits if it does not exist.
ensure_qemu_user() {
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
      --shell /usr/sbin/nologin libvirt-qemu
}
