#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/guest-bench.sh: the benchmark, run inside the VM (see run-vm.sh,
# booted with --nullblk) as root, in the guest's chroot with cwd = the
# repository.
#
#   BLKBATCH_KO     the module to load
#   BLKBATCH_DISK   a scratch NVMe disk, e.g. /dev/nvme0n1 (its data is lost)
#   BLKBATCH_OUT    a writable directory: results.csv, failures.txt,
#                   notes.txt, env.txt and every run's raw output (runs/)
#   BLKBATCH_BENCH_IOS          I/Os per measurement (default 100000)
#   BLKBATCH_BENCH_COUNT_IOS    I/Os of the second run, under strace, that
#                               counts system calls (default 20000)
#   BLKBATCH_BENCH_MAX_SECONDS  a run stops after this long (default 20:
#                               the slowest sane config, psync on NVMe,
#                               needs ~17 s here); notes.txt names the
#                               runs it stopped
#   BLKBATCH_BENCH_ONLY         extended regex: run only the configs whose
#                               "device path mode threads batch iodepth op"
#                               matches (for trying things out)
#   BLKBATCH_BENCH_BIN          default bench/blkbatch-bench
#
# Devices: the NVMe disk (run-vm.sh loads nvme with a poll queue), its
# passthrough char device /dev/ng0n1, and a null_blk disk made here through
# configfs with a poll queue, 4 KiB blocks and no backing memory. For each
# and for randread, randwrite: 4 KiB random I/Os in the first 512 MiB with
# fio (psync, libaio, io_uring in its variants, io_uring_cmd on NVMe) and
# with bench/blkbatch-bench (batch 1/32/256/4096 x interrupt/poll/sqpoll x
# 1/2 threads). Each config runs twice: measured, then under strace to
# count its I/O system calls. One table row per config as it finishes;
# results.csv; failed configs listed at the end.
# Exit status: non-zero if any config failed.
set -uo pipefail

ko=${BLKBATCH_KO:?BLKBATCH_KO not set}
disk=${BLKBATCH_DISK:?BLKBATCH_DISK not set}
out=${BLKBATCH_OUT:?BLKBATCH_OUT not set}
ios=${BLKBATCH_BENCH_IOS:-100000}
count_ios=${BLKBATCH_BENCH_COUNT_IOS:-20000}
max_s=${BLKBATCH_BENCH_MAX_SECONDS:-20}
only=${BLKBATCH_BENCH_ONLY:-}
bench=${BLKBATCH_BENCH_BIN:-bench/blkbatch-bench}
ng=/dev/ng0n1
range_mb=512
# A run that hangs must not eat the VM's whole timeout: each gets this long.
run_tmo=$((4 * max_s + 60))
# The calls that move data or submit and reap I/O on any of the paths.
# Not ioctl: no path here does I/O with it, only setup (fio's block size
# queries, blkbatch-bench's GET_INFO).
syscalls=io_uring_enter,pread64,pwrite64,preadv2,pwritev2,io_submit,io_getevents,io_pgetevents
nullb_name=bbbench
nullb_cfg=/sys/kernel/config/nullb/$nullb_name
runs=$out/runs
csv=$out/results.csv

. qemu/lib.sh # say, strace_c, strace_calls, rmmod_retry
BB_SAY_PREFIX='guest-bench: '
failed=()
notes=()
bbdev=

[ -x "$bench" ] || { say "FAIL: no $bench (make -C bench)"; exit 1; }
[ -b "$disk" ] || { say "FAIL: $disk is not a block device"; exit 1; }
for t in fio strace python3; do
	command -v $t >/dev/null || { say "FAIL: no $t in the guest"; exit 1; }
done
mkdir -p "$runs"
rm -f "$runs"/* "$out"/{results.csv,failures.txt,notes.txt,env.txt}

cleanup() {
	[ -z "$bbdev" ] || "$bench" --detach "$bbdev" || say "FAIL: detach $bbdev"
	if [ -d "$nullb_cfg" ]; then
		echo 0 >"$nullb_cfg/power"
		rmdir "$nullb_cfg" || say "FAIL: cannot remove $nullb_cfg"
	fi
	rmmod_retry blkbatch || { say "FAIL: rmmod blkbatch"; exit 1; }
}

say "kernel $(uname -r), module $ko"
insmod "$ko" || { say "FAIL: insmod $ko"; exit 1; }
trap cleanup EXIT

# ---- devices ----
# The NVMe image is sparse on the host: write the range once, so that
# every config reads and writes allocated blocks, whichever runs first.
say "filling the first $range_mb MiB of $disk"
dd if=/dev/zero of="$disk" bs=1M count=$range_mb oflag=direct status=none ||
	{ say "FAIL: cannot write $disk"; exit 1; }

# null_blk (loaded by run-vm.sh --nullblk, with the default poll_queues=1,
# which is also the most a configfs disk may have): 4 KiB blocks like the
# NVMe namespace, as many tags as nvme's 1023, a queue per vCPU plus the
# poll queue, no memory behind it, so that it costs nothing but the block
# layer's path.
nullb_up() {
	local a
	[ -d /sys/kernel/config/nullb ] ||
		modprobe -d "${BLKBATCH_MODROOT:-/}" null_blk nr_devices=0 ||
		return 1
	[ -d /sys/kernel/config/nullb ] || return 1
	[ ! -d "$nullb_cfg" ] || { echo 0 >"$nullb_cfg/power"; rmdir "$nullb_cfg"; }
	mkdir "$nullb_cfg" || return 1
	for a in size=1024 blocksize=4096 memory_backed=0 hw_queue_depth=1024 \
		 submit_queues="$(nproc)" poll_queues=1 power=1; do
		echo "${a#*=}" >"$nullb_cfg/${a%%=*}" || { say "null_blk: $a refused"; return 1; }
	done
	for _ in $(seq 100); do
		[ -b /dev/$nullb_name ] && return 0
		sleep 0.1
	done
	return 1
}
nullb_ok=1
nullb_up || { say "FAIL: cannot make the null_blk disk $nullb_name"; nullb_ok=0; }

qinfo() { # block device name
	local q=/sys/block/$1/queue
	echo "$1: nr_requests $(cat "$q/nr_requests") io_poll $(cat "$q/io_poll")" \
	     "hw queues $(find "/sys/block/$1/mq/" -mindepth 1 -maxdepth 1 | wc -l)" \
	     "logical block $(cat "$q/logical_block_size")"
}
{
	echo "guest_kernel=$(uname -r)"
	echo "fio=$(fio --version)"
	echo "vcpus=$(nproc)"
	echo "ios=$ios count_ios=$count_ios max_seconds=$max_s range_mib=$range_mb"
	qinfo "$(basename "$disk")"
	[ $nullb_ok = 0 ] || qinfo $nullb_name
} >"$out/env.txt"
sed 's/^/guest-bench: /' "$out/env.txt"

# ---- the configs ----
# One row each: device path mode threads batch iodepth op. "-": no batch.
rows=()
add() { rows+=("$*"); }
for dev in nvme null_blk; do
	for op in randread randwrite; do
		add $dev psync sync 1 - 1 $op
		for qd in 32 4096; do add $dev libaio interrupt 1 - $qd $op; done
		for qd in 32 4096; do add $dev io_uring interrupt 1 - $qd $op; done
		add $dev io_uring fixed+regfile 1 - 4096 $op
		add $dev io_uring hipri 1 - 4096 $op
		if [ $dev = nvme ]; then
			for qd in 32 4096; do add $dev io_uring_cmd interrupt 1 - $qd $op; done
			add $dev io_uring_cmd fixed 1 - 4096 $op
			# Polled passthrough above the queue depth (1023) fails
			# some I/Os with EFAULT on 6.12 (see bench/README.md):
			# it runs at the queue depth instead.
			add $dev io_uring_cmd hipri 1 - 1024 $op
		fi
		for b in 1 32 256 4096; do
			for m in interrupt poll sqpoll; do
				for t in 1 2; do add $dev blkbatch $m $t $b $b $op; done
			done
		done
	done
done
if [ -n "$only" ]; then
	sel=()
	for r in "${rows[@]}"; do [[ $r =~ $only ]] && sel+=("$r"); done
	rows=("${sel[@]}")
fi
total=${#rows[@]}

# ---- measuring ----
# Traced runs are bounded like the others.
BB_STRACE_TIMEOUT=$run_tmo
# The first line of a run's output that says what went wrong.
first_err() { grep -m1 -iE 'FAIL|error|fio:' "$1" || tail -n1 "$1"; }

# fio's JSON: "ios iops lat_mean_us lat_p99_us cpu_us_per_io", or an error
# message on stderr. Latency: lat_ns is fio's total latency (submission to
# completion), its mean; the 99th percentile is of clat_ns (completion
# latency), the only one fio reports percentiles of by default. CPU: the
# job's usr_cpu + sys_cpu are percentages of its runtime.
fio_parse() { # json-file read|write
	python3 - "$1" "$2" <<-'EOF'
	import json, sys
	text = open(sys.argv[1]).read()
	try:
	    d = json.loads(text[text.index('{'):])
	except ValueError as e:
	    sys.exit("no JSON from fio: %s" % e)
	j = d["jobs"][0]
	if j.get("error"):
	    sys.exit("fio job error %d" % j["error"])
	r = j[sys.argv[2]]
	n = r["total_ios"]
	if not n:
	    sys.exit("fio did no I/O")
	p99 = r["clat_ns"].get("percentile", {}).get("99.000000", 0)
	cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100 * j["job_runtime"] * 1000 / n
	print(n, "%.0f" % r["iops"], "%.1f" % (r["lat_ns"]["mean"] / 1000),
	      "%.1f" % (p99 / 1000), "%.3f" % cpu)
	EOF
}

# blkbatch-bench's result line, as fio_parse prints it.
bb_parse() { # output-file
	local line
	line=$(grep -m1 '^result ' "$1") || return 1
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       print v["ios"], v["iops"], v["lat_mean_us"], v["lat_p99_us"],
		     v["cpu_us_per_io"], v["capped"] }' <<<"$line"
}

# Sets res_ios res_iops res_lat res_p99 res_cpu res_sc, or fails with the
# reason in why.
run_fio() { # dev path mode depth op tag
	local dev=$1 path=$2 mode=$3 qd=$4 op=$5 tag=$6 file args=() p n c
	file=$([ $dev = nvme ] && echo "$disk" || echo /dev/$nullb_name)
	case $path in
	psync | libaio | io_uring) args+=(--ioengine="$path" --direct=1) ;;
	# The char device takes no O_DIRECT: passthrough never caches.
	io_uring_cmd) file=$ng; args+=(--ioengine=io_uring_cmd --cmd_type=nvme) ;;
	esac
	case $mode in
	fixed+regfile) args+=(--fixedbufs=1 --registerfiles=1) ;;
	fixed) args+=(--fixedbufs=1) ;;
	hipri) args+=(--hipri=1) ;;
	esac
	args+=(--name=bench --filename="$file" --iodepth="$qd" --rw="$op"
	       --bs=4k --size="${range_mb}M" --norandommap --randrepeat=0
	       --runtime="$max_s" --output-format=json)
	if ! timeout -k 10 $run_tmo fio "${args[@]}" --number_ios="$ios" \
		--output="$runs/$tag.json" >"$runs/$tag.txt" 2>&1; then
		why="fio failed: $(first_err "$runs/$tag.txt")"
		return 1
	fi
	p=$(fio_parse "$runs/$tag.json" "${op#rand}" 2>&1) ||
		{ why=$p; return 1; }
	read -r res_ios res_iops res_lat res_p99 res_cpu <<<"$p"
	[ "$res_ios" -ge "$ios" ] || notes+=("$row: stopped after ${max_s} s: $res_ios I/Os")
	if ! strace_c "$runs/$tag.strace" "$syscalls" fio "${args[@]}" \
		--number_ios="$count_ios" --output="$runs/$tag-strace.json" \
		>"$runs/$tag-strace.txt" 2>&1; then
		why="fio under strace failed: $(first_err "$runs/$tag-strace.txt")"
		return 1
	fi
	p=$(fio_parse "$runs/$tag-strace.json" "${op#rand}" 2>&1) ||
		{ why="under strace: $p"; return 1; }
	read -r n _ <<<"$p"
	c=$(strace_calls "$runs/$tag.strace")
	res_sc=$(awk -v c="${c:-0}" -v n="$n" 'BEGIN { printf "%.6f", c / n }')
}

run_bb() { # mode threads batch op tag
	local mode=$1 t=$2 b=$3 op=$4 tag=$5 args p n c capped
	[ -n "$bbdev" ] || { why="device not attached to blkbatch"; return 1; }
	args=(--dev "$bbdev" --op "${op#rand}" --batch "$b" --mode "$mode"
	      --threads "$t" --range "${range_mb}M" --bs 4096
	      --max-seconds "$max_s")
	if ! timeout -k 10 $run_tmo "$bench" "${args[@]}" --ios "$ios" \
		>"$runs/$tag.txt" 2>&1; then
		why="blkbatch-bench failed: $(first_err "$runs/$tag.txt")"
		return 1
	fi
	p=$(bb_parse "$runs/$tag.txt") || { why="no result line"; return 1; }
	read -r res_ios res_iops res_lat res_p99 res_cpu capped <<<"$p"
	[ "$capped" = 0 ] || notes+=("$row: stopped after ${max_s} s: $res_ios I/Os")
	if ! strace_c "$runs/$tag.strace" "$syscalls" "$bench" "${args[@]}" \
		--ios "$count_ios" >"$runs/$tag-strace.txt" 2>&1; then
		why="blkbatch-bench under strace failed: $(first_err "$runs/$tag-strace.txt")"
		return 1
	fi
	p=$(bb_parse "$runs/$tag-strace.txt") || { why="no result line under strace"; return 1; }
	read -r n _ <<<"$p"
	c=$(strace_calls "$runs/$tag.strace")
	res_sc=$(awk -v c="${c:-0}" -v n="$n" 'BEGIN { printf "%.6f", c / n }')
}

attach() { # device
	local blk
	blk=$([ $1 = nvme ] && echo "$disk" || echo /dev/$nullb_name)
	bbdev=$("$bench" --attach "$blk" 2>"$runs/attach-$1.txt") ||
		{ bbdev=; say "FAIL: attach $blk: $(cat "$runs/attach-$1.txt")"; }
}
detach() {
	[ -z "$bbdev" ] || "$bench" --detach "$bbdev" ||
		failed+=("detach $bbdev failed")
	bbdev=
}

fmt='%-8s %-12s %-13s %2s %5s %5s %-9s %9s %10s %10s %10s %9s\n'
say "$total configs: $ios random 4 KiB I/Os each in the first $range_mb MiB" \
    "(at most ${max_s} s), then $count_ios under strace"
printf "%-9s $fmt" '' device path mode thr batch depth op IOPS lat_mean_us \
	lat_p99_us syscall/io cpu_us/io
echo "device,path,mode,threads,batch,iodepth,op,iops,lat_mean_us,lat_p99_us,syscalls_per_io,cpu_us_per_io" >"$csv"

n=0 start=$SECONDS cur_dev=
for row in "${rows[@]}"; do
	read -r dev path mode t b qd op <<<"$row"
	n=$((n + 1))
	if [ "$dev" != "$cur_dev" ]; then
		detach
		cur_dev=$dev
		[ $dev = nvme ] || [ $nullb_ok = 1 ] && attach $dev
	fi
	tag=$(echo "$row" | tr ' +' '_p')
	why=
	if [ $dev = null_blk ] && [ $nullb_ok = 0 ]; then
		why="no null_blk disk"; false
	elif [ $path = blkbatch ]; then
		run_bb $mode $t $b $op "$tag"
	else
		run_fio $dev $path $mode $qd $op "$tag"
	fi
	if [ -z "$why" ]; then
		printf "[%3d/%d] $fmt" $n $total $dev $path $mode $t $b $qd $op \
			"$res_iops" "$res_lat" "$res_p99" "$res_sc" "$res_cpu"
		[ "$b" != - ] || b=
		echo "$dev,$path,$mode,$t,$b,$qd,$op,$res_iops,$res_lat,$res_p99,$res_sc,$res_cpu" >>"$csv"
	else
		printf "[%3d/%d] %-8s %-12s %-13s %2s %5s %5s %-9s FAILED: %s\n" \
			$n $total $dev $path $mode $t $b $qd $op "$why"
		failed+=("$row: $why")
	fi
done
detach
say "$total configs in $((SECONDS - start)) s; results in $csv, raw output in $runs"

[ ${#notes[@]} -eq 0 ] || printf '%s\n' "${notes[@]}" >"$out/notes.txt"
if [ ${#notes[@]} -gt 0 ]; then
	say "${#notes[@]} config(s) stopped at the time limit (their numbers are from fewer I/Os):"
	printf '  %s\n' "${notes[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
	printf '%s\n' "${failed[@]}" >"$out/failures.txt"
	say "${#failed[@]} FAILED:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
say ok
