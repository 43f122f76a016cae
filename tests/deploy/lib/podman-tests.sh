# shellcheck shell=bash
# Shared by the tests that build and run the repository's container image and boot its systemd
# unit under a real systemd (tests/deploy/image-*.sh, systemd-*.sh). Sourced; the callers run
# under `set -euo pipefail`.
#
#   skip_unless_podman_host      exit 77 (CTest: skipped) with the reason when this is no place
#                                to run podman: not root, inside a container, podman missing
#   podman_tests_init WORK       podman configured for this machine (CONTAINERS_CONF), WORK made
#   track_containers TAG         removes the containers an earlier, killed run of TAG left
#   fixture_image NAME           prints the ID of an image the fixture built (exporter, systemd)
#   start_container NAME ARGS... podman run ARGS (-d --name NAME ...); removed at exit
#   published_port NAME PORT     the loopback port podman published for the container's PORT
#   container_pid NAME           the host PID of the container's first process
#   check FUNCTION ARGS...       runs a check function, counting failures in `failures`;
#                                the function reports with pass MESSAGE or fail MESSAGE
#   check_proc_hardening WHAT UID GID STATUS MOUNTINFO
#                                the common hardening in a process's /proc/PID/status and
#                                mountinfo texts: the ids, no capabilities, NoNewPrivs, / ro
#
# Everything these tests create is named or recorded, and removed by ID: the base images of
# tests/clean/lib/podman.sh are shared with the clean-machine lane and stay.

_deploy_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../system/lib/common.sh
source "$_deploy_lib/../../system/lib/common.sh"
# shellcheck source=../../clean/lib/podman.sh
source "$_deploy_lib/../../clean/lib/podman.sh"

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# podman needs root here (rootful storage, port publishing through the bridge), and podman in
# podman is not set up on these machines: the clean-machine lane runs the suite in podman
# containers, which podman marks with /run/.containerenv. (The machines themselves may be
# containers of another engine, where podman works: that is not a reason to skip.)
skip_unless_podman_host() {
  [[ $(id -u) -eq 0 ]] || skip "building and running containers needs root"
  [[ ! -e /run/.containerenv ]] || skip "inside a podman container: no podman in podman"
  command -v podman >/dev/null || skip "podman not found (Debian package podman)"
  command -v runc >/dev/null || skip "runc not found (Debian package runc)"
  command -v mmdebstrap >/dev/null || skip "mmdebstrap not found (Debian package mmdebstrap)"
}

podman_tests_init() {
  PODMAN_WORK=$1
  mkdir -p "$PODMAN_WORK"
  podman_setup "$PODMAN_WORK/podman"
}

# Containers are recorded in WORK/TAG.containers as they start, so that a run killed before its
# trap ran (a CTest timeout) has them removed by the next run of the same test.
#   track_containers TAG
track_containers() {
  _container_record=$PODMAN_WORK/$1.containers
  local name
  if [[ -s $_container_record ]]; then
    while read -r name; do
      podman rm --force --time 5 "$name" >/dev/null 2>&1 && log "removed $name, left by an earlier run"
    done <"$_container_record"
  fi
  : >"$_container_record"
}

# The fixture (image-fixture.sh) writes the ID of each image it built to WORK/NAME.image.
fixture_image() {
  local file=$PODMAN_WORK/$1.image id
  [[ -s $file ]] || die "no $1 image: the fixture test (clean.image_build) did not build it"
  id=$(<"$file")
  podman image exists "$id" || die "the $1 image $id is gone"
  echo "$id"
}

_containers=()
_container_record=
# Containers of this run, removed whatever happens; their names carry the test and the PID.
remove_containers() {
  local name
  for name in "${_containers[@]}"; do
    podman rm --force --time 5 "$name" >/dev/null 2>&1 || log "cannot remove container $name"
  done
  _containers=()
  [[ -z $_container_record ]] || : >"$_container_record"
}

# start_container NAME PODMAN_RUN_ARGS...: the arguments must include -d and --name NAME.
start_container() {
  local name=$1
  shift
  _containers+=("$name")
  [[ -z $_container_record ]] || echo "$name" >>"$_container_record"
  podman run "$@" >/dev/null
}

published_port() {
  local mapping
  mapping=$(podman port "$1" "$2/tcp" | head -n 1)
  [[ $mapping == 127.0.0.1:* ]] || die "$1 publishes $2 on '$mapping', not on loopback"
  echo "${mapping##*:}"
}

container_pid() {
  podman inspect --format '{{.State.Pid}}' "$1"
}

failures=0
check() {
  if "$@"; then return 0; fi
  failures=$((failures + 1))
}
fail() {
  log "FAIL: $*"
  return 1
}
pass() { log "ok: $*"; }

# What the kernel says, not what was asked for: a container engine or systemd may skip a setting
# it cannot apply without saying so.
check_proc_hardening() {
  local what=$1 uid=$2 gid=$3 status=$4 mounts=$5 field value
  value=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' <<<"$status")
  [[ $value == "$uid $uid $uid $uid" ]] || { fail "$what runs as uids '$value', not $uid"; return; }
  value=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' <<<"$status")
  [[ $value == "$gid $gid $gid $gid" ]] || { fail "$what runs as gids '$value', not $gid"; return; }
  for field in CapInh CapPrm CapEff CapBnd CapAmb; do
    value=$(awk -v f="$field:" '$1 == f { print $2 }' <<<"$status")
    [[ $value =~ ^0+$ ]] || { fail "$what: $field is $value, not empty"; return; }
  done
  grep -Eq '^NoNewPrivs:[[:space:]]+1$' <<<"$status" || { fail "$what: NoNewPrivs is not set"; return; }
  # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...; the last mount on a point wins.
  value=$(awk '$5 == "/" { o = $6 } END { print o }' <<<"$mounts")
  [[ ,$value, == *,ro,* ]] || { fail "$what: / is mounted '$value', not read-only"; return; }
}
