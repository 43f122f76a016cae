# shellcheck shell=bash
# Host prerequisites for the system tests (sourced). Changes the host only
# where it must: missing packages. (The libvirt-qemu user Debian's QEMU
# driver insists on exists only inside the private daemon: lib/libvirtd.sh.)

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
