#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/check.sh [SERIES...]   (default: every series in kernels.conf)
#
# The README's test command (make check) does all of its work here, so
# that whatever fails, the run still ends with the one summary line
#   N passed, N failed[, N skipped]
# and a non-zero exit if anything failed.  Steps, each counted:
#   host.build, host.userlib_test, host.fio_engine, host.checkpatch,
#   host.cli, host.install   on the host
#   per kernel series: fetch (or build: see KERNEL_BUILD in kernels.conf),
#   module build, host.dkms.SERIES (the module as DKMS builds it, loaded
#   in the VM too; a skip when not root), then the selftests in a VM
#
# Counting contract with the guest runner (selftests/run-guest.sh):
# every line of its output (OUTDIR/output.txt) that starts in column 0 with
#   "ok "      is one passed test case ("ok N name # SKIP why": one skipped)
#   "not ok "  is one failed test case
# That is what kselftest_harness prints per test case. So the runner must
# not print column-0 "ok"/"not ok" lines of its own (e.g. per-program
# summaries): indent them or prefix them with "# ". Nothing else is parsed.
# A kernel whose VM failed (timeout, panic, splat, taint) or that ran no
# test adds one failure; so does a non-zero exit without any "not ok".
#
# BLKBATCH_GUEST_CMD replaces selftests/run-guest.sh (to test the harness).
# BLKBATCH_VM_TIMEOUT_DEBUG and BLKBATCH_PROG_TIMEOUT_DEBUG are the debug
# series' VM and per-program time limits (1800 s, 840 s).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo" || exit 1 # the guest runs CMD in the same directory
. "$here/kernels.conf"
[ $# -gt 0 ] || set -- "${KERNEL_SERIES[@]}"
cmd=${BLKBATCH_GUEST_CMD:-selftests/run-guest.sh}
# Memory debugging the stock kernels can do at no build cost: a
# use-after-free or overrun in the module becomes a splat, not a pass.
# The debug kernel has KASAN, which finds all that when it happens: its
# lane skips the (then only slower) SLUB debugging, unless the caller
# asked for a command line.
append_debug=${BLKBATCH_VM_APPEND-}
export BLKBATCH_VM_APPEND=${BLKBATCH_VM_APPEND-slub_debug=FZPU page_poison=1}
logs=$repo/build/check
mkdir -p "$logs"

pass=0 fail=0 skip=0 nhost=0 why=()

summary() {
	local r line
	for r in "${why[@]}"; do echo "# FAIL $r"; done
	line="$pass passed, $fail failed"
	[ "$skip" -eq 0 ] || line+=", $skip skipped"
	echo "$line"
}

# A host step: its output goes to a log, its verdict is one TAP line.
# Exit status 77 is a skip, its reason the log's last line.
step() {
	local name=$1 log=$logs/$1.log rc=0
	shift
	nhost=$((nhost + 1))
	"$@" >"$log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		echo "ok $nhost host.$name"
		pass=$((pass + 1))
		return 0
	fi
	if [ $rc = 77 ]; then
		echo "ok $nhost host.$name # SKIP $(tail -n1 "$log")"
		skip=$((skip + 1))
		return 0
	fi
	echo "not ok $nhost host.$name"
	sed 's/^/# /' "$log" | tail -n 30
	fail=$((fail + 1)) why+=("host.$name: see $log")
	return 1
}

# One kernel: fetch (or build) it, build the module, run the selftests
# in a VM.
kernel() {
	local s=$1 kver out rc=0 p f k get=fetch-kernel.sh what=fetch
	local -a env=()
	if [ -n "${KERNEL_BUILD[$s]:-}" ]; then
		get=${KERNEL_BUILD[$s]} what=build
	fi
	if ! kver=$("$here/$get" "$s" 2>"$logs/$what-$s.log"); then
		echo "# kernel series $s: cannot $what"
		fail=$((fail + 1)) why+=("series $s: $what failed, see $logs/$what-$s.log")
		return
	fi
	if [ "$what" = build ]; then
		# KASAN, lockdep and kmemleak under TCG: the run took 1.3
		# times as long as on Debian's 6.12 when measured; twice the
		# VM's (900 s) and each test program's (420 s) time limits.
		# run-vm.sh passes BLKBATCH_* on to the guest.
		env=(BLKBATCH_VM_APPEND="$append_debug"
		     BLKBATCH_VM_TIMEOUT="${BLKBATCH_VM_TIMEOUT_DEBUG:-1800}"
		     BLKBATCH_PROG_TIMEOUT="${BLKBATCH_PROG_TIMEOUT_DEBUG:-840}")
	fi
	echo "# kernel $kver"
	if ! make --no-print-directory module KVER="$kver" \
		MKDIR="$BLKBATCH_CACHE/$kver/kdir" >"$logs/module-$kver.log" 2>&1; then
		tail -n 30 "$logs/module-$kver.log" | sed 's/^/# /'
		fail=$((fail + 1)) why+=("$kver: module build failed, see $logs/module-$kver.log")
		return
	fi
	# What DKMS builds on a user's machine; the VM loads it too
	# (selftests/blkbatch_install.sh).
	rm -rf "$repo/build/dkms/$kver"
	step "dkms.$s" "$here/dkms-build.sh" "$kver"
	out=$repo/build/vm/check-$kver
	rm -f "$out/output.txt" "$out/result.txt" # never count a stale run
	# shellcheck disable=SC2086 # $cmd may carry arguments
	env "${env[@]}" "$here/run-vm.sh" -k "$kver" -o "$out" --nullblk --disk-mb 768 -- $cmd || rc=$?
	read -r p f k < <(awk '/^ok /    { if (/#[ \t]*[Ss][Kk][Ii][Pp]/) k++; else p++ }
			       /^not ok / { f++ }
			       END        { print p+0, f+0, k+0 }' "$out/output.txt" 2>/dev/null ||
			  echo 0 0 0)
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	if [ -s "$out/result.txt" ] && [ "$(cat "$out/result.txt")" != ok ]; then
		fail=$((fail + 1))
		while read -r r; do why+=("$kver: $r"); done <"$out/result.txt"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail=$((fail + 1)) why+=("$kver: exit status $rc without a failing test")
	elif [ "$rc" -ne 0 ]; then
		why+=("$kver: $f test(s) failed")
	elif [ $((p + f + k)) -eq 0 ]; then
		fail=$((fail + 1)) why+=("$kver: no test ran")
	fi
}

# The kernels built from source, one after the other in the background
# at the lowest priority: a VM under TCG leaves about 40% of the two
# cores idle, which the builds take, so a clean clone does not pay for
# them in full before its lanes.  kernel() then finds a build ready, or
# waits on the build script's lock for the one in progress.
prebuild() {
	local s
	for s in "$@"; do
		[ -n "${KERNEL_BUILD[$s]:-}" ] || continue
		nice -n 19 "$here/${KERNEL_BUILD[$s]}" "$s" \
			>"$logs/prebuild-$s.log" 2>&1 || true
	done
}

export BLKBATCH_CACHE=${BLKBATCH_CACHE:-$repo/.cache}
set -m # its own process group, so that an early exit stops all of it
prebuild "$@" &
prebuild_pid=$!
set +m
trap 'kill -- -$prebuild_pid 2>/dev/null' EXIT
if step build make --no-print-directory userlib selftests cli; then
	step userlib_test make --no-print-directory -C userlib test
	step fio_engine make --no-print-directory -C fio check
	step checkpatch make --no-print-directory checkpatch
	step cli make --no-print-directory -C cli check
	step install bash -c 'k=$("$1" "$2") && "$3" "$k"' _ \
		"$here/fetch-kernel.sh" "${KERNEL_SERIES[0]}" "$here/install-test.sh"
	for s in "$@"; do
		kernel "$s"
	done
fi
summary
[ "$fail" -eq 0 ]
