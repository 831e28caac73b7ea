#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/fetch-kernel.sh SERIES
#
# Make a Debian kernel of SERIES (see kernels.conf) usable without
# installing it: download image + headers with apt-get download (no root),
# unpack them under $BLKBATCH_CACHE/<kver>/root and leave there
#   kdir     -> the headers tree to build modules against (make -C kdir M=...)
#   vmlinuz  -> the kernel to boot
#   root/lib/modules/<kver>  with modules.dep (depmod -b)
# Prints exactly one line on stdout: the release (uname -r), e.g.
# 6.1.0-56-amd64. Everything else goes to stderr.
set -euo pipefail
# depmod lives in /sbin, which a non-root PATH on Debian lacks.
PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernels.conf"

series=${1:?usage: fetch-kernel.sh SERIES}
meta=${KERNEL_META[$series]:-}
[ -n "$meta" ] || { echo "fetch-kernel: unknown series '$series' (kernels.conf)" >&2; exit 1; }
cache=${BLKBATCH_CACHE:-$(dirname "$here")/.cache}
mkdir -p "$cache"
cache=$(cd -P "$cache" && pwd) # absolute: it ends up in a Makefile

say() { echo "fetch-kernel: $*" >&2; }

# apt-cache depends prints "  Depends: pkg" (or "|Depends:" for an
# alternative); take the first dependency matching a regex.
dep() {
	apt-cache depends "$1" 2>/dev/null |
		sed -nE "s/^ *\|?Depends: ($2)\$/\1/p" | head -n1 || true
}

# Missing or stale apt lists: refresh once if we may (root), else say so.
refreshed=0
refresh_lists() {
	[ "$refreshed" = 0 ] && [ "$(id -u)" -eq 0 ] || return 1
	refreshed=1
	say "refreshing the apt lists (apt-get update)"
	apt-get update -qq -o DPkg::Lock::Timeout=600 >&2
}

meta_abi() {
	local a
	a=$(dep "$meta" "linux-image-.*-$KERNEL_FLAVOUR")
	a=${a#linux-image-}
	echo "${a%-$KERNEL_FLAVOUR}"
}

# A pin wins; then the meta package; then the fallback.
pin=BLKBATCH_KVER_${series//./_}
abi=${!pin:-}
abi=${abi%-$KERNEL_FLAVOUR}
[ -n "$abi" ] || abi=$(meta_abi)
if [ -z "$abi" ] && refresh_lists; then
	abi=$(meta_abi)
fi
if [ -z "$abi" ]; then
	abi=${KERNEL_FALLBACK[$series]}
	say "cannot resolve $meta with apt-cache; using fallback $abi"
fi
kver=$abi-$KERNEL_FLAVOUR
dir=$cache/$kver

# Fast path: everything below already done.
if [ -e "$dir/.done" ]; then
	echo "$kver"
	exit 0
fi

mkdir -p "$dir/debs"
# Two builds racing on one cache would unpack over each other.
exec 9>"$dir/.lock"
flock 9
if [ -e "$dir/.done" ]; then
	echo "$kver"
	exit 0
fi

hdr=linux-headers-$kver
pkgs=("linux-image-$kver-unsigned" "$hdr")
common=$(dep "$hdr" "linux-headers-.*-common")
if [ -z "$common" ] && refresh_lists; then
	common=$(dep "$hdr" "linux-headers-.*-common")
fi
kbuild=$(dep "$hdr" "linux-kbuild-.*")
[ -n "$common" ] && [ -n "$kbuild" ] ||
	{ say "cannot resolve the -common/-kbuild packages of $hdr (run apt-get update as root)"; exit 1; }
pkgs+=("$common" "$kbuild")

# Download only what is missing, into a scratch dir so an interrupted
# download never leaves a truncated .deb behind.
aptopt=()
[ "$(id -u)" -ne 0 ] || aptopt=(-o APT::Sandbox::User=root) # silence the _apt warning
for p in "${pkgs[@]}"; do
	compgen -G "$dir/debs/${p}_*.deb" >/dev/null && continue
	say "downloading $p"
	rm -rf "$dir/debs/.part" && mkdir "$dir/debs/.part"
	# a 404 after a Debian upload: newer lists know where it went
	(cd "$dir/debs/.part" && apt-get download -q "${aptopt[@]}" "$p" >&2) ||
		{ refresh_lists &&
		  (cd "$dir/debs/.part" && apt-get download -q "${aptopt[@]}" "$p" >&2); }
	mv "$dir/debs/.part"/*.deb "$dir/debs/"
	rmdir "$dir/debs/.part"
done

say "unpacking into $dir/root"
rm -rf "$dir/root"
for p in "${pkgs[@]}"; do
	dpkg -x "$(compgen -G "$dir/debs/${p}_*.deb" | tail -n1)" "$dir/root"
done

# The flavour Makefile includes the -common tree by its absolute
# installed path; point it into the cache instead.
kdir=$dir/root/usr/src/$hdr
sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$kdir/Makefile"
grep -q "^include $dir/root/" "$kdir/Makefile" ||
	{ say "unexpected $kdir/Makefile"; exit 1; }
# scripts/ and tools/ are relative links into linux-kbuild-*; they must
# land inside root, not on the host's /usr/lib.
for d in "$kdir" "$dir/root/usr/src/$common"; do
	for l in scripts tools; do
		[ -L "$d/$l" ] || continue
		t=$(readlink -f "$d/$l")
		case $t in "$dir/root/"*) [ -d "$t" ] || { say "$d/$l: dangling"; exit 1; } ;;
		*) say "$d/$l resolves outside the cache: $t"; exit 1 ;;
		esac
	done
done

ln -sfn "root/usr/src/$hdr" "$dir/kdir"
ln -sfn "root/boot/vmlinuz-$kver" "$dir/vmlinuz"
[ -e "$dir/vmlinuz" ] || { say "no vmlinuz-$kver in the image package"; exit 1; }
depmod -b "$dir/root" "$kver"

touch "$dir/.done"
say "ready: $dir"
echo "$kver"
