#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what a fresh Debian 12 machine lacks for building and running
# blkbatch (as root), or name the missing packages (otherwise).
set -euo pipefail

PKGS=(
	gcc make libc6-dev	# everything; libc6-dev also for the static demo
	gcc-multilib		# the 32-bit submitter test (selftests/blkbatch_compat32)
	dpkg-dev		# dpkg-source: fio's source package, for the fio engine
	libelf-dev dwarves	# out-of-tree modules against Debian's headers
	kmod cpio xz-utils	# depmod, the initramfs, .ko.xz and source tarballs
	busybox-static qemu-system-x86	# the guest
	liburing-dev		# libblkbatch
	linux-source-6.12	# kselftest_harness.h, checkpatch.pl, the debug kernel
	flex bison bc		# building the debug kernel (Kconfig, timeconst)
	fio strace		# the demo's peers and syscall counts
	gnuplot-nox		# make bench's plot (bench/results.png)
	dkms pkg-config		# make check: the DKMS build, make install's .pc
	udev			# make check: udevadm test of the udev rule
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "blkbatch: missing Debian packages: ${missing[*]}" >&2
	echo "blkbatch: as root: apt-get update && apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "blkbatch: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may run apt at boot: wait for its lock, not fail.
lock=(-o DPkg::Lock::Timeout=600)
apt-get update -qq "${lock[@]}"
apt-get install -y -qq --no-install-recommends "${lock[@]}" "${missing[@]}" \
	>/dev/null
