#!/usr/bin/env bash
# Installs `turbo-index` and `turbo-snapshotter` commands into <prefix>/bin (default /usr/local): small wrappers that run
# this checkout's built dist/ with the node on PATH. Run `npm ci` in the checkout first (it builds dist/ and the addon).
set -euo pipefail
prefix=/usr/local
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) echo "usage: scripts/install-bin.sh [--prefix /usr/local]"; exit 0 ;;
    *) echo "install-bin.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for entry in "turbo-index:dist/src/cli/main.js" "turbo-snapshotter:dist/src/cli/snapshotter-main.js"; do
  name="${entry%%:*}"
  target="$root/${entry#*:}"
  if [ ! -f "$target" ]; then
    echo "install-bin.sh: $target is missing; run npm ci (or npm run build) in $root first" >&2
    exit 1
  fi
  mkdir -p "$prefix/bin"
  tmp="$(mktemp "$prefix/bin/.$name.XXXXXX")"
  printf '#!/bin/sh\n# Installed by turbo-oci scripts/install-bin.sh\nexec node %q "$@"\n' "$target" > "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$prefix/bin/$name"
  echo "installed $prefix/bin/$name -> $target"
done
