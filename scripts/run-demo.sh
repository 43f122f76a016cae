#!/usr/bin/env bash
# Sets up (Debian packages, build) and runs the exporter on the shipped demo
# node, served by libvirt's test driver: real libvirt, no hypervisor needed.
# Extra arguments go to the exporter, e.g. --web.listen-address 127.0.0.1:9177.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Only the exporter: the tests and benchmarks would double a first build.
scripts/build.sh --target libvirt-memory-exporter
echo "Serving the demo node on :9177 — try: curl -s localhost:9177/metrics" >&2
exec build/src/libvirt-memory-exporter --libvirt.uri "test://$PWD/examples/demo-node.xml" "$@"
