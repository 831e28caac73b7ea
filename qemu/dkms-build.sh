#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/dkms-build.sh KVER
#
# Build the module the way DKMS does on a user's machine: "dkms add" of
# the source tree (what a fresh clone holds: the tracked and new files of
# this checkout, nothing ignored) and "dkms build" for KVER against the
# cached header tree, in DKMS trees of its own under the cache, so the
# machine's /var/lib/dkms, /usr/src and /lib/modules stay untouched.
# Leaves build/dkms/KVER/blkbatch.ko, which selftests/blkbatch_install.sh
# loads in the VM.  DKMS insists on root: exit 77 (skip) otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${BLKBATCH_CACHE:-$repo/.cache}
kver=${1:?usage: dkms-build.sh KVER}
kdir=$cache/$kver/kdir

[ "$(id -u)" -eq 0 ] || { echo "dkms-build: not root (DKMS needs it)"; exit 77; }
command -v dkms >/dev/null || { echo "dkms-build: no dkms (apt-get install dkms)"; exit 1; }
[ -d "$kdir" ] || { echo "dkms-build: no header tree $kdir"; exit 1; }

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"$/\1/p' "$repo/dkms.conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$repo/dkms.conf")
top=$cache/dkms
rm -rf "$top"
mkdir -p "$top/tree" "$top/src" "$top/install" "$top/clone"
dk=(--dkmstree "$top/tree" --sourcetree "$top/src" --installtree "$top/install")

# What a clone of this checkout would hold.
git -C "$repo" ls-files -z --cached --others --exclude-standard |
	(cd "$repo" && xargs -0 cp --parents -t "$top/clone")
(cd "$top/clone" && dkms add . "${dk[@]}")
dkms build "$name/$ver" "${dk[@]}" -k "$kver" --kernelsourcedir "$kdir"

ko=$(find "$top/tree/$name/$ver/$kver" -name "$name.ko*" | head -n1)
[ -n "$ko" ] || { echo "dkms-build: dkms left no $name.ko"; exit 1; }
mkdir -p "$repo/build/dkms/$kver"
cp "$ko" "$repo/build/dkms/$kver/$name.ko"
echo "dkms-build: $repo/build/dkms/$kver/$name.ko (version $ver)"
