#!/usr/bin/env bash
# The CTest fixture of the image and systemd tests: builds the repository's Dockerfile, unchanged,
# with podman from the locally made Debian base (tests/clean/lib/podman.sh), and from that image
# one with systemd (tests/deploy/systemd/Containerfile); removes both again.
#   image-fixture.sh build WORK SOURCE_DIR     writes WORK/exporter.image and WORK/systemd.image
#   image-fixture.sh cleanup WORK              removes those images (by ID)
# Exits 77 (skipped) where podman cannot run (see skip_unless_podman_host).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/podman-tests.sh
source "$here/lib/podman-tests.sh"

[[ $# -ge 2 ]] || die "usage: $0 build WORK SOURCE_DIR | cleanup WORK"
action=$1
work=$(realpath -m "$2")
readonly IMAGES=(systemd exporter) # the order of removal: systemd is made from exporter

remove_images() {
  local name file id
  for name in "${IMAGES[@]}"; do
    file=$work/$name.image
    [[ -s $file ]] || continue
    id=$(<"$file")
    if podman image exists "$id"; then
      podman rmi --force "$id" >/dev/null || log "cannot remove the $name image $id"
    fi
    rm -f "$file"
  done
}

# shellcheck disable=SC2317 # runs from the EXIT trap
remove_on_failure() {
  local status=$?
  ((status == 0)) || remove_images
  exit "$status"
}

# podman build --layers=false keeps no intermediate images, so the build leaves exactly the
# image it reports; nothing else has to be found and removed afterwards.
build_image() {
  local name=$1
  shift
  local started=$SECONDS
  log "building the $name image"
  if ! podman build --layers=false --iidfile "$work/$name.image.new" \
    --tag "localhost/lme-deploy-test/$name:$$" "$@" >"$work/$name-build.log" 2>&1; then
    tail -n 40 "$work/$name-build.log" >&2
    die "podman build of the $name image failed (log: $work/$name-build.log)"
  fi
  mv "$work/$name.image.new" "$work/$name.image"
  log "$name image $(<"$work/$name.image") built in $((SECONDS - started)) s," \
    "$(podman image inspect --format '{{.Size}}' "$(<"$work/$name.image")") bytes"
}

build() {
  local src
  src=$(realpath "$1")
  remove_images # of an earlier run that was killed
  ensure_base_image trixie
  build_image exporter "$src"
  # Untagged images are shown as <none>; the tag says who made them.
  build_image systemd --file "$here/systemd/Containerfile" \
    --build-arg "EXPORTER_IMAGE=$(<"$work/exporter.image")" "$src"
}

skip_unless_podman_host
podman_tests_init "$work"
case $action in
  build)
    [[ $# -eq 3 ]] || die "usage: $0 build WORK SOURCE_DIR"
    # A half-done build takes its images with it: the tests need both or neither.
    trap 'remove_on_failure' EXIT
    build "$3"
    ;;
  cleanup) remove_images ;;
  *) die "unknown action $action" ;;
esac
