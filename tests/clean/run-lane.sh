#!/usr/bin/env bash
# The clean-machine lane (docs/clean-machine.md): the README's commands, exactly
# as README.md writes them, from a fresh clone of the commit under test, in a
# fresh container made from a clean Debian base (tests/clean/lib/podman.sh).
#
#   run-lane.sh SCENARIO --source REPO [--commit REV] [--work DIR] [--log FILE]
#
#   demo-RELEASE-root   README command 1 as root, then /metrics is scraped on
#                       127.0.0.1 and checked against examples/demo-node.xml
#   demo-RELEASE-user   the same as an ordinary user with passwordless sudo
#   suite-RELEASE       README command 2 as root, in a --privileged container
#                       (the system lane's private libvirtd needs mount
#                       namespaces); passes when it exits 0
# RELEASE: a Debian codename (bookworm, trixie). REV defaults to REPO's HEAD: uncommitted
# changes are not part of the clone, as for anybody who clones the project.
# The README command's whole output goes to FILE (default: lane-SCENARIO.log
# in the current directory, CTest's build directory of tests/clean), kept
# after the run for a look at what failed.
#
# Exits 77 (CTest: skipped) where no container can be run: not root (the lane
# uses rootful podman), or already inside a container (no podman in podman).
# Whatever happens, the EXIT trap removes the container and the clone; a
# container left by a run that was killed is removed by the next run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/podman.sh
source "$here/lib/podman.sh"

log() { printf '[clean %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

usage="usage: $0 demo-RELEASE-root|demo-RELEASE-user|suite-RELEASE --source REPO [--commit REV] [--work DIR] [--log FILE]"
(($#)) || die "$usage"
scenario=$1
shift
source_repo="" commit="" work="" output=""
while (($#)); do
  case $1 in
    --source) source_repo=$(realpath "$2"); shift 2 ;;
    --commit) commit=$2; shift 2 ;;
    --work) work=$(realpath -m "$2"); shift 2 ;;
    --log) output=$(realpath -m "$2"); shift 2 ;;
    *) die "$usage" ;;
  esac
done
[[ -n $source_repo ]] || die "$usage"
case $scenario in
  demo-*-root) kind=demo release=${scenario#demo-} user=root ;;
  demo-*-user) kind=demo release=${scenario#demo-} user=newuser ;;
  suite-*) kind=suite release=${scenario#suite-} user=root ;;
  *) die "$usage" ;;
esac
release=${release%-root}
release=${release%-user}
# The releases are those tests/clean/CMakeLists.txt lists; any Debian codename
# that mmdebstrap knows works.
[[ $release =~ ^[a-z]+$ ]] || die "not a Debian codename: $release"

if reason=$(podman_unavailable); then skip "$reason"; fi

# Bounds, in seconds. A first install and build on a clean base takes 3-6
# minutes for the demo and 15-20 for the suite here (docs/clean-machine.md).
readonly DEMO_LIMIT=1200 SUITE_LIMIT=3000

commit=$(git -C "$source_repo" rev-parse --verify "${commit:-HEAD}^{commit}") ||
  die "no commit ${commit:-HEAD} in $source_repo"
if [[ -n $(git -C "$source_repo" status --porcelain --untracked-files=no) ]]; then
  log "note: $source_repo has uncommitted changes; the lane tests commit $commit only"
fi
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/lme-clean.XXXXXX")}
mkdir -p "$work"
output=${output:-$PWD/lane-$scenario.log}
: >"$output"
name=lme-clean-$scenario-$$
exec_pid=""

# Containers carry the PID of the lane that made them and its work directory:
# one whose lane is gone was left by a run killed before its trap ran.
remove_orphans() {
  local container owner dir
  while read -r container owner dir; do
    [[ -n $container ]] || continue
    if [[ ! -d /proc/$owner ]] || ! grep -qa run-lane.sh "/proc/$owner/cmdline" 2>/dev/null; then
      log "removing $container, left by a lane that is gone (pid $owner)"
      podman rm --force --time 0 "$container" >/dev/null 2>&1 || true
      if [[ $dir == */lme-clean.* && -d $dir/src ]]; then rm -rf "$dir"; fi
    fi
  done < <(podman ps --all --filter label=lme.clean.lane --format \
    '{{.Names}} {{index .Labels "lme.clean.lane"}} {{index .Labels "lme.clean.work"}}' \
    2>/dev/null || true)
}

# shellcheck disable=SC2317 # runs from the EXIT trap
teardown() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $exec_pid ]] && kill -0 "$exec_pid" 2>/dev/null; then kill "$exec_pid" 2>/dev/null || true; fi
  # --time 0: nothing in the container needs a graceful stop.
  podman rm --force --time 0 "$name" >/dev/null 2>&1 || true
  [[ -n $exec_pid ]] && { wait "$exec_pid" 2>/dev/null || true; }
  if podman container exists "$name" 2>/dev/null; then
    log "container $name is still there"
    status=1
  fi
  rm -rf "$work"
  log "$scenario: $((SECONDS - started)) s, exit $status"
  exit "$status"
}
started=$SECONDS
trap teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

podman_setup "$work/podman"
remove_orphans
ensure_base_image "$release"

# The clone is made on the host (the machine has git; a new user's clean
# machine got the sources somehow) and copied into the container, so nothing
# but the README's own commands installs anything there.
log "$scenario: cloning $commit"
git clone --quiet --no-checkout "$source_repo" "$work/src"
git -C "$work/src" -c advice.detachedHead=false checkout --quiet "$commit"
git -C "$work/src" log -1 --format='commit %h %s' >&2

# The README's commands: the shell code blocks of its "Try it" section, in
# order (1: the demo, 2: the test suite).
readme_command() {
  awk -v want="$1" '
    /^## / { in_section = ($0 ~ /^## Try it/) }
    in_section && /^```sh$/ { in_block = 1; count++; next }
    in_block && /^```$/ { in_block = 0; next }
    in_block && count == want { print }
  ' "$work/src/README.md"
}
number=1
[[ $kind == suite ]] && number=2
command=$(readme_command "$number")
[[ -n $command ]] || die "README.md has no command $number in its \"Try it\" section"
log "$scenario: README command $number: $command"

# Downloaded packages are shared between runs (per release): apt keeps them in
# /var/cache/apt/archives, which changes nothing of the installed system.
apt_cache=$LME_CLEAN_CACHE/apt-archives-$release
mkdir -p "$apt_cache/partial"
# --init: an init as PID 1 that reaps orphans, as a real machine's does.
# Without one, libvirt 11 (Debian 13) waits for its QEMU probe processes,
# which stay zombies under `sleep`, and the system lane's libvirtd never comes
# up.
options=(--detach --init --name "$name"
  --label "lme.clean.lane=$$" --label "lme.clean.work=$work"
  --volume "$apt_cache:/var/cache/apt/archives")
if [[ $kind == demo ]]; then
  options+=(--publish 127.0.0.1::9177)
else
  # unshare and bind mounts for the system lane's private libvirtd, QEMU.
  options+=(--privileged)
fi
podman run "${options[@]}" "docker.io/library/debian:$release" sleep infinity >/dev/null

home=/root
if [[ $user != root ]]; then
  # The machine a README reader has: an account that may use sudo. This is
  # not a README step; the README says its script uses sudo when not root.
  home=/home/$user
  log "$scenario: adding user $user with passwordless sudo"
  podman exec "$name" bash -c "
    set -e
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo >/dev/null
    useradd --create-home --shell /bin/bash $user
    echo '$user ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/$user
    chmod 0440 /etc/sudoers.d/$user" || die "could not set up the user $user"
fi
checkout=$home/libvirt-memory-exporter
podman cp "$work/src" "$name:$checkout"
podman exec "$name" chown -R "$user:" "$checkout"

run_readme_command=(podman exec --user "$user" --workdir "$checkout" --env "HOME=$home"
  "$name" bash -c "$command")

if [[ $kind == suite ]]; then
  log "$scenario: running README command 2 (output: $output)"
  status=0
  # In the background, so that a signal reaches this shell's traps at once
  # (bash runs them only between foreground commands).
  timeout --signal=TERM --kill-after=30 "$SUITE_LIMIT" "${run_readme_command[@]}" \
    >"$output" 2>&1 &
  exec_pid=$!
  wait "$exec_pid" || status=$?
  exec_pid=""
  # What ran and what was skipped, whatever the outcome.
  sed -n '/tests passed\|tests failed/,$p' "$output" >&2
  if ((status != 0)); then
    tail -n 80 "$output" >&2
    die "README command 2 exited $status"
  fi
  log "$scenario: README command 2 passed"
  exit 0
fi

# The demo runs until stopped: it runs in the background and is scraped from
# the host through the port published on 127.0.0.1.
port=$(podman port "$name" 9177/tcp)
port=${port##*:}
[[ $port =~ ^[0-9]+$ ]] || die "no published port for 9177"
log "$scenario: running README command 1 (output: $output)"
"${run_readme_command[@]}" >"$output" 2>&1 &
exec_pid=$!
deadline=$((SECONDS + DEMO_LIMIT))
until curl --silent --fail --max-time 10 --output "$work/metrics.prom" \
  "http://127.0.0.1:$port/metrics"; do
  if ! kill -0 "$exec_pid" 2>/dev/null; then
    tail -n 60 "$output" >&2
    die "README command 1 ended before the exporter answered"
  fi
  ((SECONDS < deadline)) || { tail -n 30 "$output" >&2; die "no answer within ${DEMO_LIMIT} s"; }
  sleep 2
done
log "$scenario: /metrics answered after $((SECONDS - started)) s"
grep -E '^(Installing|Serving)' "$output" >&2 || true
python3 "$here/check_demo.py" "$work/metrics.prom" "$work/src/examples/demo-node.xml" ||
  die "the demo's scrape is not what examples/demo-node.xml describes"
