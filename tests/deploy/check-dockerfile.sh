#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine:
#   - no "# syntax=" directive (BuildKit would fetch that frontend from a registry);
#   - both stages come from one Debian release, chosen by the build argument DEBIAN_RELEASE
#     (default trixie: Debian 13), the runtime stage from its -slim variant;
#   - the files and scripts it copies and runs exist (and survive .dockerignore);
#   - the build stage uses the project's own scripts and the binary path it installs is the one the
#     runtime stage copies and runs;
#   - the runtime packages are derived in the build stage (scripts/runtime-packages.sh) and
#     installed from that list, not named by hand;
#   - the runtime stage runs as a non-root user and exposes 9177;
#   - on this host, scripts/runtime-packages.sh derives packages for the built binary that exist in
#     apt, are no -dev packages, and (with their dependencies and the base image) provide every
#     shared library ldd lists for it.
# tests/deploy/image-test.sh builds and runs the image for real.
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

# --- no parser directive that makes BuildKit fetch a frontend: an offline build must work
if grep -Eiq '^#[[:space:]]*syntax[[:space:]]*=' "$dockerfile"; then
  fail "a '# syntax=' directive makes BuildKit fetch a frontend from a registry; drop it"
else
  ok "no '# syntax=' directive"
fi

# --- base images: one Debian release for both stages, Debian 13 unless the build argument says
# otherwise (the runtime packages are derived from what the build stage linked)
readonly DEFAULT_RELEASE=trixie
if grep -Eq "^ARG DEBIAN_RELEASE=$DEFAULT_RELEASE\$" <<<"$(stage_lines -1)"; then
  ok "build argument DEBIAN_RELEASE, default $DEFAULT_RELEASE"
else
  fail "declare 'ARG DEBIAN_RELEASE=$DEFAULT_RELEASE' before the first FROM"
fi
# shellcheck disable=SC2016 # the Dockerfile's own ${...}, not the shell's
if grep -Fqx 'FROM debian:${DEBIAN_RELEASE} AS build' <<<"$build_stage"; then
  ok "build stage is debian:\${DEBIAN_RELEASE}"
else
  fail "the first stage must be 'FROM debian:\${DEBIAN_RELEASE} AS build'"
fi
# shellcheck disable=SC2016 # the Dockerfile's own ${...}, not the shell's
if grep -Fqx 'FROM debian:${DEBIAN_RELEASE}-slim' <<<"$runtime_stage"; then
  ok "runtime stage is debian:\${DEBIAN_RELEASE}-slim"
else
  fail "the runtime stage must be 'FROM debian:\${DEBIAN_RELEASE}-slim'"
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
copy_from=$(grep -E "^COPY --from=build [^ ]*/bin/" <<<"$runtime_stage" | awk '{ print $3 " " $4 }' || true)
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

# --- runtime packages: derived in the build stage from what the installed binary links, copied
# into the runtime stage and installed from there
derive=scripts/runtime-packages.sh
derive_run=$(grep -oE "$derive [^ ]+ *> *[^ ]+" <<<"$build_stage" | head -n 1 || true)
read -r _ derived_from list_file <<<"${derive_run//>/ }"
if [[ -z $derive_run ]]; then
  fail "the build stage does not write the runtime packages with '$derive BINARY > FILE'"
elif [[ $derived_from != "$installed" ]]; then
  fail "$derive runs on $derived_from, not on the installed binary $installed"
else
  ok "the build stage derives the runtime packages of $installed into $list_file"
  if grep -Fqx "COPY --from=build $list_file $list_file" <<<"$runtime_stage"; then
    ok "runtime stage copies $list_file"
  else
    fail "runtime stage must 'COPY --from=build $list_file $list_file'"
  fi
  if grep -E '^RUN .*apt-get install' <<<"$runtime_stage" | grep -Fq "$list_file"; then
    ok "runtime stage installs the packages listed in $list_file"
  else
    fail "the runtime stage's apt-get install does not read $list_file"
  fi
fi
if grep -E '^RUN .*apt-get install' <<<"$runtime_stage" | grep -Eq 'install( +-[^ ]+)* +lib'; then
  fail "the runtime stage names library packages by hand; install the derived list instead"
fi

# On this host, the derivation must give packages apt has, none of them a -dev package, and their
# dependencies (with the base image) must provide every library the binary loads.
# shellcheck source=/dev/null
. /etc/os-release
echo "note: derived for ${PRETTY_NAME:-this host}; the image derives its own in its build stage"
if ! derived=$("$src/$derive" "$binary"); then
  fail "$derive could not derive the packages of $binary"
fi
mapfile -t runtime_packages <<<"$derived"
for package in "${runtime_packages[@]}"; do
  [[ -n $package ]] || continue
  if record=$(apt-cache show --no-all-versions "$package" 2>/dev/null); then
    ok "apt has $package ($(sed -n 's/^Version: //p' <<<"$record"))"
  else
    fail "apt has no package $package (run apt-get update if the lists are empty)"
  fi
  [[ $package != *-dev ]] || fail "$package is a development package; the binary links a static-only or dev-only library"
done

# Packages apt-get would bring in: the listed ones and their dependencies, recursively.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^ ' | tr -d '<>' | sort -u
}
runtime_closure=$(closure "${runtime_packages[@]}")
# A -slim base holds the packages of priority required and apt with its dependencies.
mapfile -t required < <(dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }')
base_closure=$(closure apt "${required[@]}")
if ! owners=$("$src/$derive" --all "$binary"); then
  fail "some libraries of $binary belong to no package"
fi
while read -r soname package; do
  [[ -n $soname ]] || continue
  if grep -Fqx "$package" <<<"$runtime_closure" || grep -Fqx "$package" <<<"$base_closure"; then
    ok "$soname from $package"
  else
    fail "$soname comes from $package, which neither the runtime packages nor the base image bring"
  fi
done <<<"$owners"

echo "RESULT: $failures failure(s)"
((failures == 0))
