#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries BINARY links directly (its NEEDED
# entries), one per line, sorted: what a system needs installed to run the binary. apt brings the
# libraries those load in turn, as the packages' own dependencies.
#   scripts/runtime-packages.sh BINARY         the packages
#   scripts/runtime-packages.sh --all BINARY   "SONAME PACKAGE" for every library ldd lists,
#                                              the indirect ones too (for checks)
#
# The container image's build stage runs this on the binary it built, so the runtime stage
# installs the packages of whichever Debian release it is built from (bookworm's libssl3 and
# libyaml-cpp0.7, trixie's libssl3t64 and libyaml-cpp0.8, ...) without a list per release.
# Libraries the binary opens with dlopen() are no NEEDED entries and are not found here.
# Exits 1 with a message when a library is missing or belongs to no package (e.g. /usr/local).
set -euo pipefail

all=false
if [[ ${1:-} == --all ]]; then all=true; shift; fi
[[ $# -eq 1 && -x $1 ]] || { echo "usage: $0 [--all] BINARY (an executable)" >&2; exit 2; }
binary=$1

# "SONAME PATH" as the dynamic loader resolves them on this system; "SONAME -" when it cannot.
libraries=$(ldd "$binary" | awk '$2 == "=>" { print $1, ($3 ~ /^\// ? $3 : "-") }')
if $all; then
  wanted=$(awk '{ print $1 }' <<<"$libraries")
else
  wanted=$(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }')
fi
[[ -n $wanted ]] || { echo "$binary links no shared libraries (static?)" >&2; exit 1; }

# With a merged /usr, ldd may print /lib/... where dpkg knows /usr/lib/... (Debian 12) or the
# other way round: ask dpkg about every spelling, all in one call (dpkg -S is slow to start).
spellings() {
  local real
  real=$(readlink -f "$1")
  printf '%s\n' "$1" "$real" "/usr${1#/usr}" "/usr${real#/usr}" "${1#/usr}" "${real#/usr}" |
    sort -u
}
# "libvirt0:amd64: /usr/lib/x86_64-linux-gnu/libvirt.so.0" -> "libvirt0<TAB>/usr/lib/...".
# Debian 13's t64 packages divert their old paths: "diversion by libtirpc3t64 from: /lib/..."
# names no owner, so those lines are left out (the package owns the /usr spelling).
owners=$(awk '$2 != "-" { print $2 }' <<<"$libraries" | while read -r path; do spellings "$path"; done |
  xargs --no-run-if-empty dpkg -S 2>/dev/null | grep -v '^diversion by ' |
  sed -E 's/^([^:,]+)(:[^:,]+)?(, [^:]+)*: /\1\t/' || true)
package_of() {
  local spelling owner
  while read -r spelling; do
    owner=$(awk -F '\t' -v p="$spelling" '$2 == p { print $1; exit }' <<<"$owners")
    [[ -n $owner ]] && { echo "$owner"; return 0; }
  done < <(spellings "$1")
  return 1
}

resolve() {
  local soname path package status=0
  while read -r soname; do
    path=$(awk -v s="$soname" '$1 == s { print $2; exit }' <<<"$libraries")
    if [[ -z $path || $path == - ]]; then
      echo "$binary: $soname is not found on this system (ldd)" >&2
      status=1
    elif package=$(package_of "$path"); then
      if $all; then echo "$soname $package"; else echo "$package"; fi
    else
      echo "$binary: $soname ($path) belongs to no Debian package" >&2
      status=1
    fi
  done <<<"$wanted"
  return "$status"
}
resolve | sort -u
