# shellcheck shell=bash
# Podman on these machines, and clean Debian base images made from Debian's
# mirror (no image registry is reachable). Sourced; the callers run under
# `set -euo pipefail`.
#
#   podman_unavailable        prints why this machine cannot run the lanes'
#                             containers and succeeds, or fails when it can
#   podman_setup DIR          writes DIR/containers.conf, exports CONTAINERS_CONF
#   ensure_base_image RELEASE imports debian:RELEASE and debian:RELEASE-slim
#                             (bookworm, trixie) unless podman has them
#
# The machine's /etc is never edited: podman reads the project's own
# configuration through CONTAINERS_CONF.

LME_CLEAN_CACHE=${LME_CLEAN_CACHE:-/var/cache/lme-clean-machine}
# A base root file system older than this is made again, so security
# updates reach the lane without anybody clearing the cache.
LME_BASE_MAX_AGE_DAYS=${LME_BASE_MAX_AGE_DAYS:-7}

# The lanes use rootful podman, configured for this machine kind below. Inside
# a podman container (/run/.containerenv), such as the clean lane's own suite
# run, there is no podman in podman. Docker's /.dockerenv is no reason: these
# machines are Docker containers themselves, and podman works on them.
podman_unavailable() {
  if [[ -e /run/.containerenv ]]; then
    echo "inside a container: no containers in containers (no podman in podman)"
  elif [[ $(id -u) -ne 0 ]]; then
    echo "needs root (the lanes run rootful podman)"
  else
    return 1
  fi
}

# crun refuses this machine kind's hybrid cgroup layout, and podman's default
# ulimits ask for more than root may set here; runc fails with nproc above
# 32768.
podman_setup() {
  local dir=$1 nofile
  command -v podman >/dev/null || { echo "podman not found (Debian package podman)" >&2; return 1; }
  command -v runc >/dev/null || { echo "runc not found (Debian package runc)" >&2; return 1; }
  nofile=$(ulimit -Hn)
  [[ $nofile == unlimited ]] && nofile=1048576
  mkdir -p "$dir"
  cat >"$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$dir/containers.conf"
}

# The mirror the host's apt uses, so the containers fetch from the same one.
_debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

_base_sources() {
  local release=$1 mirror
  mirror=$(_debian_mirror)
  cat <<SOURCES
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

# A minbase root file system, cached as a tar in LME_CLEAN_CACHE.
_ensure_base_tar() {
  local release=$1 tar=$LME_CLEAN_CACHE/$1.tar
  if [[ -s $tar ]] && [[ -z $(find "$tar" -mtime +"$LME_BASE_MAX_AGE_DAYS") ]]; then
    return 0
  fi
  command -v mmdebstrap >/dev/null ||
    { echo "mmdebstrap not found (Debian package mmdebstrap)" >&2; return 1; }
  mkdir -p "$LME_CLEAN_CACHE"
  local tmp
  tmp=$(mktemp -d "$LME_CLEAN_CACHE/.base.XXXXXX")
  _base_sources "$release" >"$tmp/sources"
  echo "making a clean $release root file system with mmdebstrap" >&2
  if ! timeout 600 mmdebstrap --variant=minbase --quiet "$release" "$tmp/$release.tar" \
    "$tmp/sources"; then
    rm -rf "$tmp"
    return 1
  fi
  mv "$tmp/$release.tar" "$tar"
  rm -rf "$tmp"
}

# Named as the Dockerfile names its bases. An image older than the cached
# tar is imported again. Runs that share the machine take turns (flock).
ensure_base_image() {
  mkdir -p "$LME_CLEAN_CACHE"
  (
    flock -w 900 9 || { echo "waited 15 min for $LME_CLEAN_CACHE/.lock" >&2; exit 1; }
    _ensure_base_image "$1"
  ) 9>"$LME_CLEAN_CACHE/.lock"
}

_ensure_base_image() {
  local release=$1 tar=$LME_CLEAN_CACHE/$1.tar name=docker.io/library/debian:$1
  _ensure_base_tar "$release" || return 1
  local image_time tar_time
  image_time=$(podman image inspect --format '{{.Created.Unix}}' "$name" 2>/dev/null || echo 0)
  tar_time=$(stat -c %Y "$tar")
  if ((image_time < tar_time)); then
    podman import --quiet --change 'CMD ["bash"]' "$tar" "$name" >/dev/null || return 1
  fi
  podman tag "$name" "$name-slim"
}
