#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What an install gives an operator, in the VM: the module DKMS built on
# the host (qemu/dkms-build.sh, build/dkms/<kver>/blkbatch.ko) loads,
# carries dkms.conf's version and attaches a disk; the udev rule gives
# /dev/blkbatchN the disk group and mode 0660 and leaves the control
# device alone (udevadm test, with the rule in /run/udev/rules.d).
# TAP like the C programs; run by run-guest.sh as root from the
# repository root with the module loaded, which this program swaps for
# the DKMS one and back.
set -u
. "$(dirname "$0")/../qemu/lib.sh" # rmmod_retry
disk=${BLKBATCH_DISK:-}
kver=${BLKBATCH_KVER:-$(uname -r)}
dkms_ko=build/dkms/$kver/blkbatch.ko
cli=${BLKBATCH_CLI:-cli/blkbatch} # attach and detach, as an operator would
rule=udev/60-blkbatch.rules
n=0 failed=0 node=

echo "TAP version 13"
echo "1..3"
result() { # NAME STATUS [WHY]
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n install.$1"
	else
		echo "not ok $n install.$1${3:+ # $3}"
		failed=1
	fi
}
skip() { n=$((n + 1)); echo "ok $n install.$1 # SKIP $2"; }
restore() { # the suite's own module, for the programs after this one
	[ -z "$node" ] || "$cli" detach "$node" >/dev/null 2>&1
	node=
	rmmod_retry blkbatch 2>/dev/null
	insmod "${BLKBATCH_KO:?}"
}

dkms_module() {
	local want got
	want=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
	rmmod_retry blkbatch || { echo "# cannot unload the suite's module"; return 1; }
	insmod "$dkms_ko" || { echo "# insmod $dkms_ko failed"; return 1; }
	got=$(cat /sys/module/blkbatch/version)
	[ "$got" = "$want" ] || { echo "# version $got, dkms.conf says $want"; return 1; }
	[ -z "$disk" ] && return 0
	node=$("$cli" attach "$disk") || { echo "# attach $disk failed"; return 1; }
	[ -c "$node" ] || { echo "# no $node"; return 1; }
	"$cli" detach "$node" || { echo "# detach $node failed"; return 1; }
	node=
}

# udevadm test of one device: what the rules would set.
udev_says() { # sysfs-path
	udevadm test --action=add "$1" 2>&1
}

if [ ! -f "$dkms_ko" ]; then
	skip dkms_module "no $dkms_ko (qemu/dkms-build.sh needs root on the host)"
else
	dkms_module
	result dkms_module $?
	restore || { echo "# cannot reload ${BLKBATCH_KO}"; failed=1; }
fi

if ! command -v udevadm >/dev/null || [ -z "$disk" ] || [ ! -x "$cli" ]; then
	skip udev_node "no udevadm, no BLKBATCH_DISK or no $cli (make cli)"
	skip udev_control "no udevadm, no BLKBATCH_DISK or no $cli (make cli)"
else
	mkdir -p /run/udev/rules.d
	cp "$rule" /run/udev/rules.d/
	if node=$("$cli" attach "$disk"); then
		out=$(udev_says "/sys/class/misc/${node#/dev/}")
		# "DEV: FILE:LINE GROUP 6", "... MODE 0660": the rule applied.
		grep -Eq '60-blkbatch\.rules:[0-9]+ GROUP (6|"?disk"?)' <<<"$out" &&
			grep -Eq '60-blkbatch\.rules:[0-9]+ MODE 0?660' <<<"$out"
		rc=$?
		[ $rc = 0 ] || sed 's/^/# /' <<<"$out" | tail -n 20
		result udev_node $rc
	else
		node=
		result udev_node 1 "$cli attach $disk failed"
	fi
	out=$(udev_says /sys/class/misc/blkbatch-control)
	! grep -Eq '60-blkbatch\.rules:[0-9]+ ' <<<"$out"
	result udev_control $?
	[ -z "$node" ] || "$cli" detach "$node" || failed=1
	node=
	rm -f /run/udev/rules.d/60-blkbatch.rules
fi
exit $failed
