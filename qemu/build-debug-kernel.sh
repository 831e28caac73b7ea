#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/build-debug-kernel.sh [debug|newest]
#
# Build a series from source (see kernels.conf): "debug", Debian's 6.12
# from the installed linux-source-6.12 package, or "newest", the newest
# Debian kernel source of another suite (qemu/apt-suite.sh). Both are
# "make tinyconfig" plus the fragment qemu/debug.config (KASAN, lockdep,
# kmemleak, UBSAN, fault injection, everything built in), plus the options
# listed in qemu/debug-stock.symbols with the values of Debian's own config
# of that kernel, so that the strict lanes see what users run. Leaves the
# same layout as fetch-kernel.sh, so that run-vm.sh and "make module" need
# not know the difference:
#   $BLKBATCH_CACHE/<kver>/kdir     -> the built tree (Module.symvers)
#   $BLKBATCH_CACHE/<kver>/vmlinuz  -> its arch/x86/boot/bzImage
#   $BLKBATCH_CACHE/<kver>/root/lib/modules/<kver>  (modules_install)
# <kver> is "<upstream version>-blkbatch-debug". The tree is rebuilt when
# its stamp (source package version, fragment, compiler) changes, so a CI
# run builds it once and later runs reuse it. The full build log is kept in
# <kver>/build.log. Prints exactly one line on stdout: <kver>.
# BLKBATCH_BUILD_JOBS: make -j (default 2, this project's CI machine).
set -euo pipefail
# depmod (modules_install) lives in /sbin, which a non-root PATH lacks.
PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernels.conf"
# Called like fetch-kernel.sh, with the series, by check.sh and make.
series=${1:-debug}
[ -n "${BUILD_SOURCE[$series]:-}" ] ||
	{ echo "usage: build-debug-kernel.sh [debug|newest]" >&2; exit 2; }

cache=${BLKBATCH_CACHE:-$(dirname "$here")/.cache}
mkdir -p "$cache"
cache=$(cd -P "$cache" && pwd) # absolute: it ends up in a Makefile
frag=$here/$DEBUG_KERNEL_CONFIG
symbols=$here/$DEBUG_KERNEL_STOCK_SYMBOLS
localversion=-blkbatch-debug
jobs=${BLKBATCH_BUILD_JOBS:-2}

say() { echo "build-debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

[ -r "$frag" ] || die "no $frag"
[ -r "$symbols" ] || die "no $symbols"

# Sets pkg, pkgver, tarball and stock_config (Debian's config, maybe xz).
installed_source() {
	pkg=${BUILD_SOURCE[$series]}
	tarball=/usr/src/$pkg.tar.xz
	pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
	[ -n "$pkgver" ] && [ -r "$tarball" ] ||
		die "$pkg is not installed (run qemu/deps.sh as root)"
	local stock_kver
	stock_kver=$("$here/fetch-kernel.sh" "${BUILD_STOCK[$series]}") ||
		die "cannot fetch the stock ${BUILD_STOCK[$series]} kernel for its config"
	stock_config=$cache/$stock_kver/root/boot/config-$stock_kver
}

# The same from another suite: linux-source-X.Y and linux-config-X.Y of
# one version, downloaded and unpacked once under $cache/src.
suite_source() {
	local suite=${BUILD_SUITE[$series]} pin=BLKBATCH_SOURCE_${series^^} got d deb
	if [ -n "${!pin:-}" ]; then
		pkg=${!pin}
		pkgver=$(BLKBATCH_CACHE=$cache "$here/apt-suite.sh" "$suite" candidate "$pkg") ||
			die "$suite has no $pkg"
	else
		got=$(BLKBATCH_CACHE=$cache "$here/apt-suite.sh" "$suite" depends \
			"${BUILD_SOURCE[$series]}") ||
			die "cannot resolve ${BUILD_SOURCE[$series]} in $suite"
		pkg=${got% *} pkgver=${got#* }
	fi
	[ -n "$pkgver" ] && [ "$pkgver" != "(none)" ] || die "$suite has no $pkg"
	d=$cache/src/${pkg}_$pkgver
	if [ ! -e "$d/.done" ]; then
		say "downloading $pkg and ${pkg/-source-/-config-} $pkgver from $suite"
		rm -rf "$d"
		BLKBATCH_CACHE=$cache "$here/apt-suite.sh" "$suite" download "$d/deb" \
			"$pkg=$pkgver" "${pkg/-source-/-config-}=$pkgver" ||
			die "cannot download $pkg $pkgver"
		for deb in "$d"/deb/*.deb; do
			dpkg-deb -x "$deb" "$d/root" || die "cannot unpack $deb"
		done
		rm -rf "$d/deb"
		touch "$d/.done"
	fi
	tarball=$d/root/usr/src/$pkg.tar.xz
	stock_config=$d/root/usr/src/${pkg/-source-/-config-}/config.${KERNEL_FLAVOUR}_none_$KERNEL_FLAVOUR.xz
	[ -r "$tarball" ] || die "no $tarball"
}

if [ -n "${BUILD_SUITE[$series]:-}" ]; then
	suite_source
else
	installed_source
fi
[ -r "$stock_config" ] || die "no $stock_config"

# Debian's values for the listed symbols, as a fragment of their own.  A
# symbol its config does not mention does not exist in that kernel.
stock_frag() {
	local sym line
	sed 's/#.*//' "$symbols" | while read -r sym; do
		[ -n "$sym" ] || continue
		if line=$(xzcat -f "$stock_config" |
			  grep -E "^CONFIG_$sym=|^# CONFIG_$sym is not set"); then
			echo "$line"
		else
			say "Debian's config of $pkgver has no $sym: left out"
		fi
	done
}
stock=$(stock_frag)
# 6.12.117-1~deb12u1 -> 6.12.117; checked against the tree's own
# "make kernelrelease" below.
kver=${pkgver%%-*}$localversion
dir=$cache/$kver
# What the build depends on besides this script: a new Debian upload of
# the same upstream version, any edit of the fragment, another compiler.
stamp=$({ echo "$pkgver"; cat "$frag"; echo "$stock"; gcc --version | head -n1; } |
	sha256sum | cut -c1-16)

ready() { [ -e "$dir/.done" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; }
if ready; then
	echo "$kver"
	exit 0
fi

mkdir -p "$dir"
# One kernel build at a time, whichever series (2 cores); a second
# caller waits, then maybe finds it done.
exec 9>"$cache/.build-debug-kernel.lock"
flock -n 9 || { say "waiting for another build of the $series kernel"; flock 9; }
if ready; then
	echo "$kver"
	exit 0
fi
rm -f "$dir/.done"
log=$dir/build.log
: >"$log"

# The tree: unpacked once per source package version; a changed fragment
# alone reconfigures it and rebuilds incrementally.
src=$dir/linux
if [ "$(cat "$dir/.source" 2>/dev/null)" != "$pkgver" ] || [ ! -e "$src/Makefile" ]; then
	say "unpacking $tarball ($pkgver)"
	rm -rf "$src" "$dir/.source" "$dir/.unpack"
	mkdir "$dir/.unpack"
	tar -xJf "$tarball" -C "$dir/.unpack"
	mv "$dir/.unpack/$pkg" "$src"
	rmdir "$dir/.unpack"
	echo "$pkgver" >"$dir/.source"
fi

# ARCH=x86_64, not the default x86: tinyconfig would otherwise pick a
# 32-bit kernel, and flipping 64BIT afterwards keeps 32-bit defaults.
kmake() { make -C "$src" ARCH=x86_64 "$@" >>"$log" 2>&1; }
fail() { tail -n 40 "$log" >&2; die "$* (full log: $log)"; }

say "configuring: tinyconfig + $(basename "$frag") + Debian's $(basename "$symbols")"
echo "CONFIG_LOCALVERSION=\"$localversion\"" >"$dir/localversion.config"
echo "$stock" >"$dir/stock.config"
kmake tinyconfig || fail "make tinyconfig failed"
(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config \
	"$frag" "$dir/stock.config" "$dir/localversion.config") >>"$log" 2>&1 ||
	fail "merge_config.sh failed"
kmake olddefconfig || fail "make olddefconfig failed"

# Every line of the fragment must have survived olddefconfig: a symbol
# dropped for an unmet dependency would silently test less.
# A symbol no Kconfig file defines is gone from this kernel (7.3 has no
# PROC_SYSCTL: sysctl is always in /proc): said, not fatal.
defined=$(grep -rhoE --include='Kconfig*' '^[[:space:]]*(menu)?config [A-Z0-9_]+' "$src" |
	awk '{ print "CONFIG_" $2 }' | sort -u)
missing=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "${line%%=*}" <<<"$defined" ||
			{ say "no ${line%%=*} in this kernel: left out"; continue; }
		grep -qxF -- "$line" "$src/.config" || missing+=("$line") ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		! grep -q "^$sym=" "$src/.config" || missing+=("$line") ;;
	esac
done < <(cat "$frag" "$dir/stock.config")
if [ ${#missing[@]} -gt 0 ]; then
	say "the final .config lacks these lines of $(basename "$frag") or Debian's:"
	for m in "${missing[@]}"; do
		sym=${m#\# }; sym=${sym%%[= ]*}
		got=$(grep -E "^$sym=|^# $sym is not set" "$src/.config" || echo "absent")
		say "  want: $m   got: $got"
	done
	die "fix the fragment (a dependency is missing or the symbol was renamed)"
fi

say "building $kver with -j$jobs (a few minutes; log: $log)"
start=$SECONDS
kmake -j"$jobs" || fail "kernel build failed"
# (after the build: kernelrelease reads what syncconfig generated)
rel=$(make -s -C "$src" ARCH=x86_64 kernelrelease)
[ "$rel" = "$kver" ] || die "the tree's release is $rel, expected $kver"
# out-of-tree modules link against it
[ -s "$src/Module.symvers" ] || fail "no Module.symvers"
rm -rf "$dir/root"
kmake INSTALL_MOD_PATH="$dir/root" modules_install || fail "modules_install failed"
say "built in $((SECONDS - start)) s"

ln -sfn linux "$dir/kdir"
ln -sfn linux/arch/x86/boot/bzImage "$dir/vmlinuz"
[ -s "$dir/vmlinuz" ] || die "no bzImage"
echo "$stamp" >"$dir/.stamp"
touch "$dir/.done"
say "ready: $dir"
echo "$kver"
