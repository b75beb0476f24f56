#!/usr/bin/env bash
# Installs the Debian packages that turbo-oci's tests and benchmarks need. Idempotent: a quick no-op when present.
set -euo pipefail

# package → a binary that proves it is installed
declare -A PROBE=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [e2fsprogs]=e2fsck
  [gztool]=gztool
  [pigz]=pigz
  [gzip]=gzip
  [debootstrap]=debootstrap
  [libnbd-bin]=nbdinfo
  [nbdkit]=nbdkit
  [fuse3]=fusermount3
  [qemu-utils]=qemu-img
  [containerd]=containerd
  [runc]=runc
  [kmod]=modprobe
  [curl]=curl
  [openssl]=openssl
  [apache2-utils]=htpasswd
  [make]=make
  [g++]=g++
  [python3]=python3
)

missing=()
for pkg in "${!PROBE[@]}"; do
  command -v "${PROBE[$pkg]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${PROBE[$pkg]}" ] || [ -x "/sbin/${PROBE[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing packages ${missing[*]}; run as root to install them (tests needing them will skip)" >&2
  exit 0
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists are refreshed once per machine boot at most (apt-get update is slow and the lists rarely matter twice).
stamp=/var/lib/apt/turbo-oci-updated
if [ ! -e "$stamp" ] || [ "$(stat -c %Y "$stamp")" -lt "$(($(date +%s) - 86400))" ]; then
  apt-get update -qq
  touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
