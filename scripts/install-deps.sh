#!/usr/bin/env bash
# Installs the Debian packages the exporter needs to build and run: the one
# list of the project's packages. Debian 12 (bookworm) and 13 (trixie) take
# the same names; where a release has its own version of a tool (clang), the
# list names Debian's default package (clang, libclang-rt-dev), which each
# release points at its own version.
#   scripts/install-deps.sh            build dependencies
#   scripts/install-deps.sh --test     plus what the test suite uses
# Runs apt-get only for packages that are missing; uses sudo when not root.
# One package a line, so that adding one is a one-line change.
set -euo pipefail

packages=(
  build-essential
  cmake
  ninja-build
  pkg-config
  libvirt-dev
  prometheus-cpp-dev
  libboost-dev  # Boost.Asio and Boost.Beast (header-only): the HTTP server
  libcli11-dev
  libxml2-dev
  libyaml-cpp-dev
  libssl-dev
  libcrypt-dev
  zlib1g-dev  # gzip answers
)
test_packages=(
  # Unit and integration tests
  catch2
  libvirt-clients
  # End-to-end, Prometheus and deployment checks
  curl
  openssl
  prometheus
  python3
  python3-yaml  # the fleet test's configurations
  systemd
  # Benchmark smoke run: a private libvirtd and Debian's exporter to compare
  libvirt-daemon
  prometheus-libvirt-exporter
  # Fuzzers: the release's default clang and its libFuzzer runtime
  clang
  libclang-rt-dev
  # Load test
  wrk
  # System lane: real QEMU guests under a private libvirtd (tests/system)
  libvirt-daemon-driver-qemu
  qemu-system-x86
  busybox-static
  kmod
  cpio
  procps
  xz-utils
  # Clean-machine lane: fresh Debian containers (tests/clean)
  git
  podman
  runc
  catatonit
  mmdebstrap
  containernetworking-plugins
  iptables
)
case "${1:-}" in
  "") ;;
  --test)
    packages+=("${test_packages[@]}")
    # The dashboard's Grafana schema check: Debian's Node.js unless one is there.
    command -v npm >/dev/null || packages+=(nodejs npm)
    ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

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
