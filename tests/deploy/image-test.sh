#!/usr/bin/env bash
# The container image, really run (docs/deployment.md, "Tests"): the image the fixture built from
# the repository's Dockerfile, started with the `docker run` options docs/deployment.md gives
# users (read-only root, no capabilities, no new privileges, its own non-root user, the libvirt
# socket directory mounted read-only), through podman, published on loopback only.
#   a  on the shipped demo node (libvirt's test driver): libvirt_up 1, every domain, reported 0
#      for the guests without balloon stats; the hardening seen in /proc of the container's process
#   b  on a real libvirtd (the system lane's private daemon) serving a real QEMU guest with a
#      balloon: its socket directory mounted read-only, the default URI; the guest's memory series
#   c  a real Prometheus scrapes that container and has the guest's series
#   d  SIGTERM (podman stop) ends each container with exit code 0
#   image-test.sh WORK SOURCE_DIR
# Exits 77 (skipped) where podman cannot run. The EXIT trap removes the containers, stops
# Prometheus and tears the daemon and its guest down, by name and PID.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/podman-tests.sh
source "$here/lib/podman-tests.sh"
# shellcheck source=../prometheus/server.sh
source "$here/../prometheus/server.sh"

[[ $# -eq 2 ]] || die "usage: $0 WORK SOURCE_DIR"
work=$(realpath -m "$1")
src=$(realpath "$2")
skip_unless_podman_host
podman_tests_init "$work"
track_containers image-test
image=$(fixture_image exporter)

readonly GUEST=lme-image-balloon
libvirt_work=$work/libvirtd
system_cache=${LME_SYSTEM_TEST_CACHE:-/var/cache/lme-system-tests}
export LIBVIRT_CACHE_DIR=$system_cache/libvirt-cache

# shellcheck disable=SC2317 # runs from the EXIT trap
teardown() {
  local status=$?
  trap - EXIT
  remove_containers
  if [[ -n ${PROMETHEUS_PID:-} ]]; then stop_pid "$PROMETHEUS_PID" 10 prometheus || status=1; fi
  if [[ -d $libvirt_work ]]; then "$here/../system/lib/libvirtd.sh" "$libvirt_work" teardown || status=1; fi
  log "image test: $failures failed check(s), ${SECONDS} s"
  exit "$status"
}
trap teardown EXIT

# --- the `docker run` of docs/deployment.md, as podman options for one container here
# The command as the docs write it: the first `docker run` in the "## Container" section,
# continuation lines joined.
docs_run_command() {
  awk '/^## Container/ { section = 1; next } /^## / { section = 0 }
       section && /^```/ { block = !block; next }
       section && block { print }' "$src/docs/deployment.md" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -m 1 -E '^docker run ' ||
    die "no 'docker run' in the Container section of docs/deployment.md"
}

# Prints the options of that command one per line, with what cannot be the same here replaced:
# the container name, published ports (loopback, a free port), the host side of the /run/libvirt
# volume (SOCKET_DIR), and the image (the fixture's, with EXPORTER_ARGS after it).
#   podman_run_options NAME SOCKET_DIR [EXTRA_OPTION...] -- [EXPORTER_ARGS...]
podman_run_options() {
  local name=$1 socket_dir=$2 words word value
  shift 2
  read -ra words <<<"$(docs_run_command)"
  # Detached and named here whatever the docs say: the test waits for it and removes it by name.
  printf '%s\n' --detach --name "$name"
  local i=2 image_seen=false
  while ((i < ${#words[@]})); do
    word=${words[i]}
    case $word in
      --name) i=$((i + 2)) ;;
      -d | --detach) i=$((i + 1)) ;;
      -p | --publish)
        value=${words[i + 1]}
        echo "$word"; echo "127.0.0.1::${value##*:}"; i=$((i + 2)) ;;
      -v | --volume)
        value=${words[i + 1]}
        echo "$word"
        if [[ $value == *:/run/libvirt:* || $value == *:/run/libvirt ]]; then
          echo "$socket_dir:${value#*:}"
        else
          echo "$value"
        fi
        i=$((i + 2)) ;;
      --restart | --cap-drop | --cap-add | --security-opt | -e | --env | -u | --user)
        echo "$word"; echo "${words[i + 1]}"; i=$((i + 2)) ;;
      --read-only | --rm) echo "$word"; i=$((i + 1)) ;;
      -*) die "docs/deployment.md runs the image with $word, which this test does not know" ;;
      *) image_seen=true; break ;;
    esac
  done
  $image_seen || die "no image name in the docs' docker run command"
  while (($#)) && [[ $1 != -- ]]; do echo "$1"; shift; done
  [[ ${1:-} == -- ]] && shift
  echo "$image"
  (($# == 0)) || printf '%s\n' "$@"
}

# The docs must tell users to harden the container; the checks below see whether it took effect.
check_docs_hardening() {
  local command missing=()
  command=$(docs_run_command)
  local required
  for required in '--read-only' '--cap-drop all' '--security-opt no-new-privileges' \
    ':/run/libvirt:ro'; do
    [[ $command == *"$required"* ]] || missing+=("$required")
  done
  ((${#missing[@]} == 0)) || { fail "the docs' docker run lacks: ${missing[*]}"; return; }
  pass "docs/deployment.md runs the image with --read-only, --cap-drop all, no-new-privileges, :ro"
}

run_container() {
  local name=$1
  shift
  local options
  mapfile -t options < <(podman_run_options "$name" "$@")
  log "podman run ${options[*]}"
  start_container "$name" "${options[@]}"
}

# --- what every container must show
scrape() { curl --silent --show-error --fail --max-time 10 "http://127.0.0.1:$1/metrics"; }

# The hardening as the kernel sees it, in /proc of the container's first process.
check_hardening() {
  local name=$1 pid
  pid=$(container_pid "$name")
  check_proc_hardening "$name (pid $pid)" 65534 65534 "$(<"/proc/$pid/status")" \
    "$(<"/proc/$pid/mountinfo")" || return
  pass "$name: uid/gid 65534, no capabilities, NoNewPrivs, / read-only (pid $pid)"
}

# podman stop sends the image's stop signal, SIGTERM, and SIGKILL after 10 s (exit code 137).
check_sigterm() {
  local name=$1 code started=$SECONDS
  podman stop --time 10 "$name" >/dev/null
  code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
  [[ $code == 0 ]] || { fail "$name: exit code $code after SIGTERM"; return; }
  pass "$name: SIGTERM, exit code 0 after $((SECONDS - started)) s"
}

# --- a: the demo node, through libvirt's test driver
check_demo_node() {
  local name=lme-image-demo-$$ port body domains
  mkdir -p "$work/empty-socket-dir"
  run_container "$name" "$work/empty-socket-dir" --volume "$src/examples:/demo:ro" -- \
    --libvirt.uri test:///demo/demo-node.xml
  port=$(published_port "$name" 9177) || { fail "$name publishes no port"; return; }
  wait_for 30 "the demo container to answer" scrape "$port" >/dev/null ||
    { podman logs "$name" >&2; fail "$name did not answer on 127.0.0.1:$port"; return; }
  body=$(scrape "$port")
  domains=$(grep -c "<domain " "$src/examples/demo-node.xml")
  grep -qx 'libvirt_up 1' <<<"$body" || { fail "$name: libvirt_up is not 1"; return; }
  # libvirt_domain_info has every defined domain, the shut-off one too.
  [[ $(grep -c '^libvirt_domain_info{' <<<"$body") == "$domains" ]] ||
    { fail "$name: libvirt_domain_info has not the node's $domains domains"; return; }
  grep -Eq '^libvirt_domain_memory_stats_reported\{.*\} 0$' <<<"$body" ||
    { fail "$name: no guest with reported 0"; return; }
  grep -Eq '^libvirt_domain_memory_stats_available_bytes\{' <<<"$body" ||
    { fail "$name: no available_bytes series"; return; }
  pass "a: demo node: libvirt_up 1, $domains domains, reported 0 where stats are missing"
  check check_hardening "$name"
  check check_sigterm "$name"
}

# --- b, c: a real libvirtd with a real QEMU guest
start_guest() {
  # A run killed before its trap ran left its daemon and guest: the same WORK knows them.
  if [[ -d $libvirt_work ]]; then
    "$here/../system/lib/libvirtd.sh" "$libvirt_work" teardown
    rm -rf "$libvirt_work"
  fi
  # shellcheck source=../system/lib/host-setup.sh
  source "$here/../system/lib/host-setup.sh"
  # shellcheck source=../system/lib/guest-assets.sh
  source "$here/../system/lib/guest-assets.sh"
  ensure_packages
  mkdir -p "$system_cache"
  ensure_guest_kernel "$system_cache"
  ensure_guest_initramfs "$system_cache" "$here/../system/guest/init"
  "$here/../system/lib/libvirtd.sh" "$libvirt_work" start
  mkdir -p "$libvirt_work/guests/a"
  # The domain as the system lane defines its balloon guest (tests/system/lane/common.py).
  python3 - "$here/../system" "$libvirt_work" "$GUEST_KERNEL_DIR/vmlinuz" "$GUEST_INITRD" \
    "$GUEST" >"$libvirt_work/guests/a/domain.xml" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from lane.common import Guest
work, kernel, initrd, name = sys.argv[2:6]
guest = Guest("a", name, 128, "virtio", "now", directory=f"{work}/guests/a")
print(guest.domain_xml(kernel, initrd, work))
EOF
  timeout 60 virsh -q -c "qemu:///system?socket=$libvirt_work/sock/libvirt-sock" \
    create "$libvirt_work/guests/a/domain.xml" >/dev/null
  log "guest $GUEST started"
}

guest_series() {
  scrape "$1" | grep -E "^libvirt_domain_memory_stats_(available_bytes|reported)\{.*domain=\"$GUEST\"" ||
    true
}
guest_reports() {
  local series
  series=$(guest_series "$1")
  grep -q '^libvirt_domain_memory_stats_available_bytes{' <<<"$series" &&
    grep -q '^libvirt_domain_memory_stats_reported{.*} 1$' <<<"$series"
}

check_real_guest() {
  local name=lme-image-libvirtd-$$ port
  # The default URI, qemu:///system, read-only: the socket directory is all it gets.
  run_container "$name" "$libvirt_work/sock" --
  port=$(published_port "$name" 9177) || { fail "$name publishes no port"; return; }
  if ! wait_for 90 "the guest's balloon stats through the container" guest_reports "$port"; then
    podman logs "$name" >&2 || true
    fail "b: no memory series of $GUEST: $(guest_series "$port" | tr '\n' ' ')"
    return
  fi
  pass "b: real libvirtd: $(guest_series "$port" | tr '\n' ' ')"
  check check_prometheus "$port"
  check check_hardening "$name"
  check check_sigterm "$name"
}

prometheus_has() { [[ $(prometheus_query_value "$1" || echo 0) != 0 ]]; }

check_prometheus() {
  local port=$1 job=libvirt-memory-exporter query
  local pid_file=$work/prometheus/prometheus.pid stale
  stale=$(cat "$pid_file" 2>/dev/null || true)
  if pid_matches "$stale" prometheus "$work/prometheus/prometheus.yml"; then
    stop_pid "$stale" 10 "prometheus of an earlier run"
  fi
  mkdir -p "$work/prometheus"
  rm -rf "$work/prometheus"/data-*
  cat >"$work/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: $job
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
  start_prometheus "$work/prometheus/prometheus.yml" "$work/prometheus" ||
    { tail -n 20 "$work/prometheus/prometheus.log" >&2; fail "c: Prometheus did not start"; return; }
  echo "$PROMETHEUS_PID" >"$pid_file"
  query="libvirt_domain_memory_stats_available_bytes{job=\"$job\",domain=\"$GUEST\"} > 0 and on() up{job=\"$job\"} == 1"
  wait_for 30 "Prometheus to scrape the guest's series" prometheus_has "$query" ||
    { fail "c: Prometheus has no $query"; return; }
  pass "c: Prometheus scraped the container: available_bytes of $GUEST = $(prometheus_query_value "$query")"
  stop_pid "$PROMETHEUS_PID" 10 prometheus
  PROMETHEUS_PID=
}

check check_docs_hardening
start_guest
check check_demo_node
check check_real_guest
((failures == 0))
