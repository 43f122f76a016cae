#!/usr/bin/env bash
# Validates the systemd unit with systemd-analyze verify. verify only warns (exit 0) on unknown
# keys and bad values, so any output counts as a failure. The unit's ExecStart points at the
# installed path; the check runs a copy pointing at the built binary, since verify insists that
# the command exists. Then applies the sysusers.d file to a scratch root and checks that it
# creates the User= and Group= the unit runs as. Exits 77 (skipped) without systemd-analyze.
# The .socket unit next to the service (socket activation) is verified with it.
# Usage: check-systemd-unit.sh BINARY UNIT_FILE SYSUSERS_FILE
set -euo pipefail

binary=$1
unit=$2
sysusers=$3
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found: skipped"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lme-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

installed=/usr/local/bin/libvirt-memory-exporter
grep -Fqx "ExecStart=$installed" "$unit" || { echo "FAIL: ExecStart is not $installed" >&2; exit 1; }
sed "s#^ExecStart=$installed\$#ExecStart=$(readlink -f "$binary")#" "$unit" >"$tmp/${unit##*/}"

for key in User=libvirt-exporter ProtectSystem=strict NoNewPrivileges=yes CapabilityBoundingSet= \
  ProtectHome=yes PrivateDevices=yes RestrictAddressFamilies= SystemCallFilter=; do
  grep -q "^$key" "$unit" || { echo "FAIL: the unit lost its $key setting" >&2; exit 1; }
done

units=("${unit##*/}")
socket=${unit%.service}.socket
if [[ -f $socket ]]; then
  cp "$socket" "$tmp/"
  units+=("${socket##*/}")
  grep -q '^ListenStream=' "$socket" || { echo "FAIL: ${socket##*/} listens nowhere" >&2; exit 1; }
fi
status=0
# --man=no: verify would run man(1) for each Documentation=man: link (and
# fail where man is not installed, as in a clean Debian 13); the links name
# other packages' pages, which are not the unit's to check.
output=$(cd "$tmp" && timeout 30 systemd-analyze verify --man=no "${units[@]}" 2>&1) || status=$?
if ((status != 0)) || [[ -n $output ]]; then
  echo "$output" >&2
  echo "FAIL: systemd-analyze verify (exit $status)" >&2
  exit 1
fi
echo "ok: systemd-analyze verify ${units[*]}: no warnings"

command -v systemd-sysusers >/dev/null || { echo "systemd-sysusers not found: user not checked"; exit 0; }
mkdir -p "$tmp/root/etc"
cp /etc/passwd /etc/group "$tmp/root/etc/"
timeout 30 systemd-sysusers --root="$tmp/root" - <"$sysusers" >"$tmp/sysusers.log" 2>&1 ||
  { cat "$tmp/sysusers.log" >&2; echo "FAIL: systemd-sysusers rejected ${sysusers##*/}" >&2; exit 1; }
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
if grep -q "^$user:" "$tmp/root/etc/passwd" && grep -q "^$group:" "$tmp/root/etc/group"; then
  echo "ok: ${sysusers##*/} creates $user:$group, the unit's User= and Group="
else
  echo "FAIL: ${sysusers##*/} does not create $user:$group" >&2
  exit 1
fi
