#!/usr/bin/env bash
# Runs exporter-toolkit 0.8.2's own web-config test files through the exporter
# (toolkit_parity.py). The files come from Debian's
# golang-github-prometheus-exporter-toolkit-dev, downloaded (not installed:
# it would pull in Go) into CACHE_DIR once; exit 77 (skipped) when the package
# cannot be downloaded.
#   toolkit_parity.sh EXPORTER FIXTURE_NODE CACHE_DIR
set -euo pipefail
exporter=$1 fixture=$2 cache=$3
here=$(cd "$(dirname "$0")" && pwd)
testdata=$cache/usr/share/gocode/src/github.com/prometheus/exporter-toolkit/web/testdata
if [[ ! -f $testdata/web_config_noAuth.good.yml ]]; then
  mkdir -p "$cache"
  if ! (cd "$cache" && timeout 120 apt-get download golang-github-prometheus-exporter-toolkit-dev \
    >download.log 2>&1); then
    cat "$cache/download.log" >&2
    echo "SKIP: cannot download golang-github-prometheus-exporter-toolkit-dev" >&2
    exit 77
  fi
  dpkg-deb -x "$cache"/golang-github-prometheus-exporter-toolkit-dev_*.deb "$cache"
fi
dpkg-deb -f "$cache"/golang-github-prometheus-exporter-toolkit-dev_*.deb Version
exec timeout 300 python3 "$here/toolkit_parity.py" "$exporter" "$fixture" "$testdata"
