#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what a fresh Debian 12 machine lacks for building and running
# blkbatch (as root), or name the missing packages (otherwise).
set -euo pipefail

PKGS=(gcc make bc flex bison libelf-dev libssl-dev dwarves kmod cpio xz-utils
      zstd pkg-config liburing-dev busybox-static qemu-system-x86 fio strace
      linux-source-6.12 gnuplot-nox)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "blkbatch: missing Debian packages: ${missing[*]}" >&2
	echo "blkbatch: run as root: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "blkbatch: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
