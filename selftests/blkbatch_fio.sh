#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio through the blkbatch engine (fio/blkbatch-fio.so), checked by fio
# itself: its verify=crc32c and md5 over random writes of mixed sizes,
# with and without fsync=, in every ring mode, on the NVMe drive and on
# null_blk; an I/O error reaches fio as the entry's error; one commit is
# one batch.  TAP like the C programs (run by run-guest.sh, as root, from
# the repository root, with BLKBATCH_DISK set and the module loaded).
set -u
. "$(dirname "$0")/../qemu/lib.sh" # BLKBATCH_* rules, say, nullb_up
BB_SAY_PREFIX='# '
engine=fio/blkbatch-fio.so
disk=${BLKBATCH_DISK:-}
n=0

tests=(crc32c_randwrite crc32c_fsync md5_backlog hipri sqthread_poll
       fixed_registered fua trimwrite one_batch_per_commit nullb_crc32c
       nullb_io_error example_job)
echo "TAP version 13"
echo "1..${#tests[@]}"

# fio_ok NAME ARGS...: one test case, fio must succeed; its output is
# kept in $out for the case to look at.
out=
failed=0
result() { # NAME STATUS [WHY]
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n fio.$1"
	else
		echo "not ok $n fio.$1${3:+ # $3}"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/# /'
		failed=1
	fi
}
skip() { n=$((n + 1)); echo "ok $n fio.$1 # SKIP $2"; }
fio_run() { out=$(fio --ioengine=external:$engine --direct=1 --verify_state_save=0 "$@" 2>&1); }
fio_ok() {
	local name=$1
	shift
	fio_run --name="$name" "$@"
	result "$name" $?
}

# Mixed sizes, random writes, then fio reads all back and checks.
verify_args=(--rw=randwrite --bsrange=4k-64k --size=48m --iodepth=32
	     --iodepth_batch_submit=32 --iodepth_batch_complete_max=32
	     --verify_fatal=1 --do_verify=1)


if [ ! -e "$engine" ] || [ -z "$disk" ] || ! command -v fio >/dev/null; then
	for t in "${tests[@]}"; do skip "$t" "no engine, disk or fio"; done
	exit 0
fi

fio_ok crc32c_randwrite --filename="$disk" "${verify_args[@]}" --verify=crc32c
fio_ok crc32c_fsync --filename="$disk" "${verify_args[@]}" --verify=crc32c --fsync=8
fio_ok md5_backlog --filename="$disk" "${verify_args[@]}" --verify=md5 \
	--verify_backlog=64 --fdatasync=16
fio_ok hipri --filename="$disk" "${verify_args[@]}" --verify=crc32c --hipri=1
fio_ok sqthread_poll --filename="$disk" "${verify_args[@]}" --verify=crc32c \
	--sqthread_poll=1
fio_ok fixed_registered --filename="$disk" "${verify_args[@]}" --verify=crc32c \
	--fixedbufs=1 --registerfiles=1
fio_ok fua --filename="$disk" "${verify_args[@]}" --verify=crc32c --bb_fua=1
fio_ok trimwrite --filename="$disk" --rw=trimwrite --bs=64k --size=16m \
	--iodepth=16 --iodepth_batch_submit=16

# iodepth=N iodepth_batch_submit=N: each commit is one batch of N.
fio_run --name=one_batch_per_commit --filename="$disk" --rw=randread --bs=4k \
	--size=64m --number_ios=6400 --iodepth=64 --iodepth_batch_submit=64 \
	--iodepth_batch_complete_min=64 --bb_stats=1
rc=$?
if [ $rc = 0 ] && ! grep -q 'blkbatch: one_batch_per_commit: 100 batches, 6400 io_us' <<<"$out"; then
	rc=1
fi
result one_batch_per_commit $rc "want 100 batches of 64"

if nullb_up bbfio size=128 memory_backed=1 blocksize=4096; then
	fio_ok nullb_crc32c --filename=/dev/bbfio "${verify_args[@]}" --verify=crc32c \
		--fsync=4
	nullb_down bbfio
else
	skip nullb_crc32c "no configfs null_blk"
fi

# Sectors 2048..2055 (1 MiB) are bad: the read that covers them fails
# with EIO, which fio reports as the job's error.
if nullb_up bbfioerr size=64 memory_backed=1 blocksize=4096 badblocks=+2048-2055; then
	fio_run --name=nullb_io_error --filename=/dev/bbfioerr --rw=read --bs=64k \
		--size=4m --iodepth=8 --iodepth_batch_submit=8
	rc=$?
	if [ $rc != 0 ] && grep -q 'Input/output error' <<<"$out"; then
		result nullb_io_error 0
	else
		result nullb_io_error 1 "want fio to fail with EIO (exit $rc)"
	fi
	nullb_down bbfioerr
else
	skip nullb_io_error "no configfs null_blk"
fi

out=$(DISK=$disk fio fio/blkbatch.fio 2>&1)
result example_job $?

exit $failed
