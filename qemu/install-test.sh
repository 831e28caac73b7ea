#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/install-test.sh KVER
#
# "make install" into a scratch DESTDIR, for KVER against its cached
# header tree: every file lands where an operator's tools look for it
# (modprobe, the linker, pkg-config, man, udev), with its mode; then
# "make uninstall" leaves no file behind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${BLKBATCH_CACHE:-$repo/.cache}
kver=${1:?usage: install-test.sh KVER}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
args=(DESTDIR="$dest" PREFIX=/usr KVER="$kver" KDIR_INSTALL="$cache/$kver/kdir")

make -C "$repo" --no-print-directory install "${args[@]}"

# "mode path" of everything installed but the man pages, which the
# library's own checks cover one by one.
want=$(sort -k2 <<EOF
644 /lib/modules/$kver/updates/blkbatch.ko
644 /lib/udev/rules.d/60-blkbatch.rules
644 /usr/include/libblkbatch.h
644 /usr/include/linux/blkbatch.h
644 /usr/lib/libblkbatch.a
777 /usr/lib/libblkbatch.so
755 /usr/lib/libblkbatch.so.1
644 /usr/lib/pkgconfig/libblkbatch.pc
755 /usr/sbin/blkbatch
644 /usr/share/man/man7/libblkbatch.7
644 /usr/share/man/man8/blkbatch.8
EOF
)
got=$(cd "$dest" && find . \( -type f -o -type l \) ! -path './usr/share/man/man3/*' \
	-printf '%m /%P\n' | sort -k2)
if [ "$got" != "$want" ]; then
	echo "install-test: installed files differ (- wanted, + got):"
	diff <(echo "$want") <(echo "$got") || true
	exit 1
fi
n3=$(find "$dest/usr/share/man/man3" -name '*.3' | wc -l)
[ "$n3" -gt 30 ] || { echo "install-test: only $n3 man3 pages"; exit 1; }
modinfo -F version "$dest/lib/modules/$kver/updates/blkbatch.ko" |
	grep -qx "$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$repo/dkms.conf")" ||
	{ echo "install-test: module version is not dkms.conf's"; exit 1; }
PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig \
	pkg-config --libs libblkbatch | grep -q -- '-lblkbatch' ||
	{ echo "install-test: pkg-config does not find libblkbatch"; exit 1; }

make -C "$repo" --no-print-directory uninstall "${args[@]}"
left=$(find "$dest" \( -type f -o -type l \))
[ -z "$left" ] || { echo "install-test: left after uninstall:"; echo "$left"; exit 1; }
echo "install-test: ok ($(echo "$want" | wc -l) files and $n3 man3 pages, uninstalled)"
