#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/guest-demo.sh: the demo, run inside the VM (see run-vm.sh) as root,
# in the guest's chroot with cwd = the repository.
#
#   BLKBATCH_KO     the module to load
#   BLKBATCH_DISK   a scratch disk, e.g. /dev/nvme0n1 (its data is lost)
#   BLKBATCH_OUT    a writable directory for the detailed results
#   BLKBATCH_DEMO_IOS        random reads per measurement (default 20000)
#   BLKBATCH_DEMO_COUNT_IOS  reads of the fio runs under strace (default 5000)
#   BLKBATCH_DEMO_BIN        the demo program (default: the one built in
#                            userlib/examples; for testing this script)
#
# 1. insmod, then userlib/examples/blkbatch-demo DISK: correctness (it
#    verifies everything it writes) and its own throughput numbers;
# 2. the blkbatch measurement once more under strace, to count its system
#    calls;
# 3. fio 4 KiB random reads on the same disk, same range and count, with
#    psync (iodepth 1) and io_uring (iodepth 32), each also once under
#    strace to count its I/O system calls;
# 4. a table of all three; rmmod.
# Exit status: non-zero if anything failed or did not verify.
set -uo pipefail

ko=${BLKBATCH_KO:?BLKBATCH_KO not set}
disk=${BLKBATCH_DISK:?BLKBATCH_DISK not set}
out=${BLKBATCH_OUT:?BLKBATCH_OUT not set}
ios=${BLKBATCH_DEMO_IOS:-20000}
count_ios=${BLKBATCH_DEMO_COUNT_IOS:-5000}
demo=${BLKBATCH_DEMO_BIN:-userlib/examples/blkbatch-demo}
range=256M
rc=0

. qemu/lib.sh # say, strace_c, strace_calls, rmmod_retry
BB_SAY_PREFIX='guest-demo: '
fail() { say "FAIL: $*"; rc=1; }

[ -x "$demo" ] || { say "FAIL: no $demo (make -C userlib)"; exit 1; }
[ -b "$disk" ] || { say "FAIL: $disk is not a block device"; exit 1; }
mkdir -p "$out"

say "kernel $(uname -r), module $ko, disk $disk"
insmod "$ko" || { say "FAIL: insmod $ko"; exit 1; }
trap 'rmmod_retry blkbatch || { say "FAIL: rmmod blkbatch"; exit 1; }' EXIT

per_io() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.4f", c / n }'; }

# ---- 1. the demo ----
echo
say "blkbatch-demo $disk"
"$demo" --ios "$ios" --result "$out/demo-result.txt" "$disk" ||
	fail "blkbatch-demo"
bb_iops=$(sed -n 's/^blkbatch_iops=//p' "$out/demo-result.txt" 2>/dev/null)
bb_batch=$(sed -n 's/^per_batch=//p' "$out/demo-result.txt" 2>/dev/null)

# ---- 2. blkbatch's system calls, counted ----
have_strace=1
command -v strace >/dev/null || { fail "no strace in the guest"; have_strace=0; }
bb_calls=
if [ $have_strace = 1 ]; then
	if strace_c "$out/strace-blkbatch.txt" io_uring_enter,pread64 \
		"$demo" --bench-only --ios "$ios" "$disk" \
		>"$out/demo-bench-only.txt" 2>&1; then
		bb_calls=$(strace_calls "$out/strace-blkbatch.txt" io_uring_enter pread64)
	else
		fail "blkbatch-demo --bench-only under strace (see $out/demo-bench-only.txt)"
	fi
fi

# ---- 3. fio on the same disk, blkbatch detached ----
# fio_run NAME ENGINE DEPTH: sets fio_iops and fio_calls.
fio_run() {
	local name=$1 engine=$2 depth=$3 args line
	args=(--name="$name" --filename="$disk" --ioengine="$engine"
	      --iodepth="$depth" --direct=1 --rw=randread --bs=4k
	      --size="$range" --norandommap --output-format=terse
	      --terse-version=3)
	fio_iops='' fio_calls=''
	if fio "${args[@]}" --number_ios="$ios" >"$out/fio-$name.txt" 2>&1; then
		# terse v3: field 8 is the read IOPS.
		line=$(grep '^3;' "$out/fio-$name.txt" | tail -n1)
		fio_iops=$(echo "$line" | cut -d';' -f8)
	else
		fail "fio $name (see $out/fio-$name.txt)"
	fi
	[ $have_strace = 1 ] || return 0
	if strace_c "$out/strace-fio-$name.txt" pread64,io_uring_enter \
		fio "${args[@]}" --number_ios="$count_ios" >/dev/null 2>&1; then
		fio_calls=$(strace_calls "$out/strace-fio-$name.txt" pread64 io_uring_enter)
	else
		fail "fio $name under strace"
	fi
}

if command -v fio >/dev/null; then
	say "fio: $ios random 4 KiB O_DIRECT reads in the first $range of $disk"
	fio_run psync psync 1
	ps_iops=$fio_iops ps_calls=$fio_calls
	fio_run io_uring io_uring 32
	ur_iops=$fio_iops ur_calls=$fio_calls
else
	fail "no fio in the guest"
	ps_iops='' ps_calls='' ur_iops='' ur_calls=''
fi

# ---- 4. the table ----
row() { # label iops calls nios
	local ratio=- detail=
	if [ -n "$3" ]; then
		ratio=$(per_io "$3" "$4")
		detail="($3 for $4 I/Os)"
	fi
	printf '  %-44s %8s   %-8s %s\n' "$1" "${2:--}" "$ratio" "$detail"
}
echo
echo "== $ios random 4 KiB reads, first $range of $disk, O_DIRECT =="
printf '  %-44s %8s   %s\n' "path" "IOPS" "I/O syscalls per I/O (pread64 + io_uring_enter, counted by strace)"
row "fio psync, iodepth 1" "$ps_iops" "$ps_calls" "$count_ios"
row "fio io_uring, iodepth 32" "$ur_iops" "$ur_calls" "$count_ios"
row "blkbatch, ${bb_batch:-?}-entry batches, 2 in flight" "$bb_iops" "$bb_calls" "$ios"
echo "  (details in $out: demo-result.txt, fio-*.txt, strace-*.txt)"
echo

if [ $rc = 0 ]; then say ok; else say FAILED; fi
exit $rc
