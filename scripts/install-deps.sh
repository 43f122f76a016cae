#!/usr/bin/env bash
# Installs the Debian 12 packages the exporter needs to build and run.
#   scripts/install-deps.sh            build dependencies
#   scripts/install-deps.sh --test     plus what the test suite uses (promtool, curl, virsh, openssl)
# Runs apt-get only for packages that are missing; uses sudo when not root.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config libvirt-dev prometheus-cpp-dev
          libboost-dev zlib1g-dev libcli11-dev catch2 libxml2-dev libyaml-cpp-dev libssl-dev
          libcrypt-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(curl prometheus libvirt-clients python3 libvirt-daemon prometheus-libvirt-exporter
             openssl clang-14 libclang-rt-14-dev wrk)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
    missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "Installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
