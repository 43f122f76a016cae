#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine:
#   - the files and scripts it copies and runs exist (and survive .dockerignore);
#   - the build stage uses the project's own scripts and the binary path it installs is the one the
#     runtime stage copies and runs;
#   - the runtime stage runs as a non-root user and exposes 9177;
#   - every runtime package it installs exists in apt, and together with the base image they cover
#     every shared library the built binary loads (ldd + dpkg -S).
# Usage: check-dockerfile.sh BINARY SOURCE_DIR
set -euo pipefail

binary=$1
src=$2
dockerfile=$src/Dockerfile
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() {
  echo "ok: $*"
}

[[ -f $dockerfile ]] || { echo "FAIL: no Dockerfile in $src" >&2; exit 1; }
[[ -f $src/.dockerignore ]] || fail ".dockerignore is missing"
[[ -x $binary ]] || { echo "FAIL: built binary $binary is missing" >&2; exit 1; }

# Instructions with their continuation lines joined, comments dropped: one instruction per line,
# prefixed with the index of its stage (0 = first FROM).
instructions=$(awk '
  /^[[:space:]]*#/ { next }
  {
    line = line $0
    if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, " ", line); next }
    if (line ~ /^[[:space:]]*$/) { line = ""; next }
    sub(/^[[:space:]]+/, "", line)
    if (toupper(line) ~ /^FROM /) stage++
    print stage - 1 "\t" line
    line = ""
  }' "$dockerfile")
last_stage=$(tail -n 1 <<<"$instructions" | cut -f 1)
stage_lines() { awk -F '\t' -v s="$1" '$1 == s { print $2 }' <<<"$instructions"; }
build_stage=$(stage_lines 0)
runtime_stage=$(stage_lines "$last_stage")

# --- base images: Debian 12 in both stages
if grep -Eq '^FROM debian:bookworm AS build$' <<<"$build_stage"; then
  ok "build stage is debian:bookworm"
else
  fail "the first stage must be 'FROM debian:bookworm AS build'"
fi
if grep -Eq '^FROM debian:bookworm(-slim)?$' <<<"$runtime_stage"; then
  ok "runtime stage is Debian 12"
else
  fail "the runtime stage must be FROM debian:bookworm(-slim)"
fi
((last_stage >= 1)) || fail "the Dockerfile must be multi-stage"

# --- COPY sources (from the build context) exist and are not excluded by .dockerignore
ignored() {
  # .dockerignore patterns are globs relative to the context root; a pattern that names a
  # directory excludes everything below it.
  local path=$1 pattern
  while IFS= read -r pattern; do
    pattern=${pattern%/}
    [[ -z $pattern || $pattern == \#* ]] && continue
    # shellcheck disable=SC2053 # the pattern is meant to glob
    if [[ $path == $pattern || $path == $pattern/* ]]; then
      return 0
    fi
  done <"$src/.dockerignore"
  return 1
}
while read -r _ args; do
  [[ $args == --from=* ]] && continue
  read -ra words <<<"$args"
  for source in "${words[@]:0:${#words[@]}-1}"; do
    [[ $source == --* ]] && continue
    if [[ $source == . ]]; then
      ok "COPY . (whole context)"
    elif [[ -e $src/$source ]]; then
      ok "COPY source $source exists"
      ! ignored "$source" || fail "COPY source $source is excluded by .dockerignore"
    else
      fail "COPY source $source does not exist"
    fi
  done
done < <(grep -E '^COPY ' <<<"$build_stage"$'\n'"$runtime_stage" || true)

# What the build reads must reach the build stage: every tracked CMakeLists.txt and everything
# tracked under src/ and scripts/. Only build output is meant to be ignored.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  excluded=0
  while IFS= read -r tracked; do
    if ignored "$tracked"; then
      fail "$tracked (needed by the build) is excluded by .dockerignore"
      excluded=$((excluded + 1))
    fi
  done < <(git -C "$src" ls-files | grep -E '(^|/)CMakeLists\.txt$|^src/|^scripts/')
  ((excluded > 0)) || ok "nothing the build needs is excluded by .dockerignore"
fi

# --- the build stage uses the project's scripts, which must exist and be executable
for script in scripts/install-deps.sh scripts/build.sh; do
  grep -Eq "^RUN (.*[ ;&|])?$script( |$)" <<<"$build_stage" ||
    fail "the build stage does not run $script"
done
while read -r script; do
  if [[ -x $src/$script ]]; then
    ok "$script exists and is executable"
  else
    fail "$script (run by the Dockerfile) is missing or not executable"
  fi
done < <(grep -E '^RUN ' <<<"$build_stage" | grep -oE 'scripts/[A-Za-z0-9_./-]+' | sort -u)
grep -Eq '^option\(LME_BUILD_TESTS ' "$src/CMakeLists.txt" ||
  fail "the Dockerfile passes -DLME_BUILD_TESTS=OFF but CMakeLists.txt has no such option"

# --- the installed binary is the one copied and run
prefix=$(grep -oE 'cmake --install [^ ]+ --prefix [^ ]+' <<<"$build_stage" | awk '{ print $5 }' || true)
[[ -n $prefix ]] || fail "the build stage does not run 'cmake --install DIR --prefix PREFIX'"
grep -Eq 'install\(TARGETS libvirt-memory-exporter RUNTIME DESTINATION bin\)' \
  "$src/src/CMakeLists.txt" || fail "src/CMakeLists.txt no longer installs the binary to bin/"
installed=$prefix/bin/libvirt-memory-exporter
copy_from=$(grep -E '^COPY --from=build ' <<<"$runtime_stage" | awk '{ print $3 " " $4 }' || true)
if [[ $copy_from == "$installed $installed" ]]; then
  ok "runtime copies $installed"
else
  fail "runtime stage must 'COPY --from=build $installed $installed' (has: '$copy_from')"
fi
if grep -Fqx "ENTRYPOINT [\"$installed\"]" <<<"$runtime_stage"; then
  ok "ENTRYPOINT runs $installed"
else
  fail "ENTRYPOINT must run $installed"
fi

# --- non-root, port
user=$(grep -E '^USER ' <<<"$runtime_stage" | tail -n 1 | awk '{ print $2 }' || true)
uid=${user%%:*}
if [[ -z $user ]]; then
  fail "the runtime stage sets no USER (it would run as root)"
elif [[ $uid == 0 || $uid == root ]]; then
  fail "USER $user is root"
elif [[ ! $uid =~ ^[0-9]+$ ]]; then
  fail "USER $user: use a numeric UID so Kubernetes' runAsNonRoot can verify it"
else
  ok "runs as USER $user"
  # libvirtd resolves the peer's UID and GID on the host: an ID made up inside the image is
  # refused unless the host has it too, so only nobody:nogroup is portable.
  [[ $user == 65534:65534 ]] ||
    fail "USER $user: libvirtd refuses UIDs/GIDs missing on the host; use 65534:65534 (nobody)"
fi
if grep -Eq '^EXPOSE 9177$' <<<"$runtime_stage"; then ok "EXPOSE 9177"; else fail "missing EXPOSE 9177"; fi

# --- runtime packages exist in apt and cover the binary's shared libraries
mapfile -t runtime_packages < <(grep -E '^RUN .*apt-get install' <<<"$runtime_stage" |
  sed -E 's/.*apt-get install//; s/&&.*//' | tr ' ' '\n' | grep -Ev '^(-.*|)$' || true)
((${#runtime_packages[@]} > 0)) || fail "the runtime stage installs no packages"
# shellcheck source=/dev/null
. /etc/os-release
[[ ${VERSION_CODENAME:-} == bookworm ]] ||
  echo "warning: this host is ${PRETTY_NAME:-not Debian 12}; apt answers for its release" >&2
for package in "${runtime_packages[@]}"; do
  if record=$(apt-cache show --no-all-versions "$package" 2>/dev/null); then
    ok "apt has $package ($(sed -n 's/^Version: //p' <<<"$record"))"
  else
    fail "apt has no package $package (run apt-get update if the lists are empty)"
  fi
done

# Packages apt-get would bring in: the listed ones and their dependencies, recursively.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^ ' | tr -d '<>' | sort -u
}
runtime_closure=$(closure "${runtime_packages[@]}")
# debian:bookworm-slim holds the packages of priority required and apt with its dependencies.
mapfile -t required < <(dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }')
base_closure=$(closure apt "${required[@]}")

# Debian 12 has a merged /usr: ldd may print /lib/... while dpkg knows /usr/lib/..., and the other
# way round; ask dpkg about every spelling at once (one call: dpkg -S is slow to start).
libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\// { print $1, $1 }')
spellings() {
  local real
  real=$(readlink -f "$1")
  printf '%s\n' "$1" "$real" "/usr${1#/usr}" "/usr${real#/usr}" "${1#/usr}" "${real#/usr}" | sort -u
}
owners=$(while read -r _ path; do spellings "$path"; done <<<"$libraries" |
  xargs dpkg -S 2>/dev/null | sed -E 's/^([^:,]+)(:[^:,]+)?(, [^:]+)*: /\1\t/' || true)
package_of() {
  local candidate owner
  while read -r candidate; do
    owner=$(awk -F '\t' -v p="$candidate" '$2 == p { print $1; exit }' <<<"$owners")
    [[ -n $owner ]] && { echo "$owner"; return 0; }
  done < <(spellings "$1")
  return 1
}
needed=$(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }')
while read -r soname path; do
  if ! package=$(package_of "$path"); then
    fail "$soname ($path): no Debian package owns it"
    continue
  fi
  if grep -Fqx "$soname" <<<"$needed"; then
    # A library the binary links directly must be named in the Dockerfile (or be in the base),
    # not arrive by chance as someone else's dependency.
    if printf '%s\n' "${runtime_packages[@]}" | grep -Fqx "$package" ||
      grep -Fqx "$package" <<<"$base_closure"; then
      ok "$soname (direct) from $package"
    else
      fail "$soname (direct) comes from $package, which the runtime stage does not install"
    fi
  elif grep -Fqx "$package" <<<"$runtime_closure" || grep -Fqx "$package" <<<"$base_closure"; then
    ok "$soname from $package"
  else
    fail "$soname comes from $package, which neither the runtime packages nor the base image bring"
  fi
done <<<"$libraries"

echo "RESULT: $failures failure(s)"
((failures == 0))
