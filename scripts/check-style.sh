#!/usr/bin/env bash
# The house style, checked: every C and C++ file as clang-format formats it
# with the project's .clang-format, and every shell script clean as checked
# by shellcheck. Prints the offending files and exits 1 when one is off.
#   scripts/check-style.sh          check
#   scripts/check-style.sh --fix    reformat the C and C++ files in place
# The formatter is pinned (clang-format 14, Debian 12's): another version
# formats some constructs differently, and CI must not flip between them.
set -euo pipefail
cd "$(dirname "$0")/.."

clang_format=${CLANG_FORMAT:-clang-format-14}
command -v "$clang_format" >/dev/null ||
  { echo "check-style: $clang_format not found (Debian package clang-format-14)" >&2; exit 2; }
command -v shellcheck >/dev/null ||
  { echo "check-style: shellcheck not found (Debian package shellcheck)" >&2; exit 2; }

mapfile -t sources < <(git ls-files '*.c' '*.cc' '*.h')
# Shell scripts: by extension, or by a shell on their first line.
shell_scripts() {
  local file
  git ls-files | while IFS= read -r file; do
    [[ -f $file ]] || continue
    if [[ $file == *.sh ]] || head -n 1 "$file" | grep -qE '^#!.*/(env )?(ba|da)?sh\b'; then
      echo "$file"
    fi
  done
}
mapfile -t scripts < <(shell_scripts)

if [[ ${1:-} == --fix ]]; then
  "$clang_format" -i --style=file "${sources[@]}"
  exit 0
fi

status=0
misformatted=()
for file in "${sources[@]}"; do
  "$clang_format" --style=file "$file" | cmp -s - "$file" || misformatted+=("$file")
done
if ((${#misformatted[@]})); then
  echo "check-style: not formatted as .clang-format says (fix: scripts/check-style.sh --fix):" >&2
  printf '  %s\n' "${misformatted[@]}" >&2
  status=1
fi
# -x -P SCRIPTDIR: sourced helpers are followed relative to each script.
if ! shellcheck -x -P SCRIPTDIR "${scripts[@]}"; then
  echo "check-style: shellcheck found problems" >&2
  status=1
fi
echo "check-style: ${#sources[@]} C/C++ files, ${#scripts[@]} shell scripts checked"
exit "$status"
