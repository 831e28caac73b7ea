#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/guest-demo.sh: the demo, run inside the VM (see run-vm.sh) as root,
# in the guest's chroot with cwd = the repository.
#
#   BLKBATCH_KO     the module to load
#   BLKBATCH_DISK   a scratch disk, e.g. /dev/nvme0n1 (its data is lost)
#   BLKBATCH_OUT    a writable directory for the detailed results
#   BLKBATCH_DEMO_IOS    random reads per measurement (default 20000)
#   BLKBATCH_DEMO_DEPTH  I/Os in flight for io_uring and blkbatch (256)
#
# 1. insmod; the examples of userlib/examples, each of which verifies
#    what it does: hello-batch, group-commit (both forms), threads;
# 2. 4 KiB random reads on the same disk, same range and count: fio psync,
#    fio io_uring at its best (DEPTH SQEs submitted and reaped per system
#    call, registered file and buffers), the fio blkbatch engine and
#    bench/blkbatch-bench, both with DEPTH-entry batches; each once more
#    under strace to count its I/O system calls;
# 3. a table; rmmod.
# Exit status: non-zero if anything failed or did not verify.
set -uo pipefail

ko=${BLKBATCH_KO:?BLKBATCH_KO not set}
disk=${BLKBATCH_DISK:?BLKBATCH_DISK not set}
out=${BLKBATCH_OUT:?BLKBATCH_OUT not set}
ios=${BLKBATCH_DEMO_IOS:-20000}
depth=${BLKBATCH_DEMO_DEPTH:-256}
ex=userlib/examples
bench=bench/blkbatch-bench
range=256M
syscalls=pread64,io_uring_enter
rc=0

. qemu/lib.sh # say, strace_c, strace_calls, rmmod_retry
BB_SAY_PREFIX='guest-demo: '
fail() { say "FAIL: $*"; rc=1; }

for p in $ex/hello-batch $ex/group-commit $ex/threads $bench; do
	[ -x "$p" ] || { say "FAIL: no $p (make userlib bench)"; exit 1; }
done
for t in fio strace; do
	command -v $t >/dev/null || { say "FAIL: no $t in the guest"; exit 1; }
done
[ -b "$disk" ] || { say "FAIL: $disk is not a block device"; exit 1; }
mkdir -p "$out"

say "kernel $(uname -r), module $ko, disk $disk (overwritten)"
insmod "$ko" || { say "FAIL: insmod $ko"; exit 1; }
trap 'rmmod_retry blkbatch || { say "FAIL: rmmod blkbatch"; exit 1; }' EXIT

# ---- 1. the examples ----
example() {
	echo "\$ $*"
	"$@" || fail "$*"
}
echo
example $ex/hello-batch "$disk"
example $ex/group-commit "$disk" 64 200 flush
example $ex/group-commit "$disk" 8 200 fua
example $ex/threads "$disk" 2 200

# ---- 2. the comparison ----
# run NAME CMD...: sets iops (from fio's terse line or blkbatch-bench's
# result line) and calls (I/O system calls of a second, traced run).
run() {
	local name=$1 line
	shift
	iops='' calls=''
	if "$@" >"$out/$name.txt" 2>&1; then
		# fio terse v3: field 8 is the read IOPS.
		line=$(grep -m1 '^3;' "$out/$name.txt")
		if [ -n "$line" ]; then
			iops=$(echo "$line" | cut -d';' -f8)
		else
			iops=$(sed -n 's/^result .* iops=\([0-9.]*\).*/\1/p' "$out/$name.txt")
		fi
	else
		fail "$name (see $out/$name.txt)"
	fi
	if strace_c "$out/strace-$name.txt" "$syscalls" "$@" >/dev/null 2>&1; then
		calls=$(strace_calls "$out/strace-$name.txt")
	else
		fail "$name under strace"
	fi
}
fio_args=(--filename="$disk" --direct=1 --rw=randread --bs=4k --size="$range"
	  --norandommap --number_ios="$ios" --output-format=terse --terse-version=3)

say "$ios random 4 KiB O_DIRECT reads in the first $range of $disk"
fio_peer psync sync 1
run fio-psync fio --name=psync "${FIO_PEER[@]}" "${fio_args[@]}"
ps_iops=$iops ps_calls=$calls
# Every peer at its best (qemu/lib.sh fio_peer, what make bench uses too):
# the depth in every submit and reap, registered file and buffers.
fio_peer io_uring interrupt "$depth"
run fio-io_uring fio --name=io_uring "${FIO_PEER[@]}" "${fio_args[@]}"
ur_iops=$iops ur_calls=$calls
bbdev=$($bench --attach "$disk") || fail "attach $disk"
fio_peer blkbatch interrupt "$depth"
run fio-blkbatch fio --name=blkbatch "${FIO_PEER[@]}" "${fio_args[@]/#--filename=*/--filename=$bbdev}"
fb_iops=$iops fb_calls=$calls
$bench --detach "$bbdev" || fail "detach $bbdev"
run blkbatch $bench --dev "$disk" --op read --batch "$depth" --mode interrupt \
	--ios "$ios" --range $((256 << 20))
bb_iops=$iops bb_calls=$calls

# ---- 3. the table ----
row() { # label iops calls
	local ratio=-
	[ -z "$3" ] || ratio=$(awk -v c="$3" -v n="$ios" 'BEGIN { printf "%.4f", c / n }')
	printf '  %-52s %8s   %s\n' "$1" "${2:--}" "$ratio"
}
echo
echo "== $ios random 4 KiB reads, first $range of $disk, O_DIRECT =="
printf '  %-52s %8s   %s\n' "path" "IOPS" "I/O syscalls per I/O (strace)"
row "fio psync, iodepth 1" "$ps_iops" "$ps_calls"
row "fio io_uring, iodepth $depth, batched submit+reap, fixed" "$ur_iops" "$ur_calls"
row "fio blkbatch engine, $depth-entry batches, fixed" "$fb_iops" "$fb_calls"
row "blkbatch-bench, $depth-entry batches, fixed buffers" "$bb_iops" "$bb_calls"
echo "  (details in $out; make bench for every depth, mode and device)"
echo

if [ $rc = 0 ]; then say ok; else say FAILED; fi
exit $rc
