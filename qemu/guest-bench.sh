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
#   BLKBATCH_BENCH_IOS          4 KiB I/Os per measurement (default 60000;
#                               at least 16 batches of the depth)
#   BLKBATCH_BENCH_LARGE_MB     MiB written per sequential-write run (512)
#   BLKBATCH_BENCH_COMMITS      group commits per run (300)
#   BLKBATCH_BENCH_REPEAT       runs per config; the row is their median
#                               and the IOPS spread (default 3)
#   BLKBATCH_BENCH_COUNT_IOS    I/Os (or commits / 10) of one more run,
#                               under strace, that counts system calls
#                               (default 5000)
#   BLKBATCH_BENCH_MAX_SECONDS  a run stops after this long (default 20);
#                               notes.txt names the runs it stopped
#   BLKBATCH_BENCH_ONLY         extended regex: run only the configs whose
#                               "device workload op bs depth harness path
#                               mode" matches (for trying things out)
#   BLKBATCH_BENCH_BIN          default bench/blkbatch-bench
#
# Devices: the NVMe disk (run-vm.sh loads nvme with a poll queue), its
# passthrough char device /dev/ng0n1, and a null_blk disk made here through
# configfs with a poll queue, 4 KiB blocks and no backing memory.
# Every peer runs at its best (qemu/lib.sh fio_peer: DEPTH I/Os submitted
# and reaped per system call, registered files and buffers), through two
# harnesses, so that neither's own cost decides:
#   fio       psync, libaio, io_uring, io_uring_cmd (NVMe) and the blkbatch
#             engine (fio/), by interrupt, IOPOLL (hipri) and SQPOLL
#   bench     bench/blkbatch-bench: its blkbatch loop and, in the same
#             program, a plain io_uring loop on the block device and an
#             NVMe passthrough loop on /dev/ng0n1 (interrupt, poll, sqpoll)
# Workloads (first 512 MiB of each disk):
#   rand4k    4 KiB random reads and writes, depth 32, 256, 4096
#   mix70     4 KiB random, 70 % reads, depth 256
#   seq128k   128 KiB sequential writes, depth 32 (full length, never short)
#   seq1m     1 MiB sequential writes, depth 32
#   commit64  group commit: 64 x 4 KiB log records, then a durable commit
#   commit8   record after them, in every form of every path (bench only)
# Each config runs REPEAT times (one row: medians, and the IOPS min and
# max), then once under strace to count its system calls.  One row per
# config as it finishes; results.csv; failed configs listed at the end.
# Exit status: non-zero if any config failed.
set -uo pipefail

ko=${BLKBATCH_KO:?BLKBATCH_KO not set}
disk=${BLKBATCH_DISK:?BLKBATCH_DISK not set}
out=${BLKBATCH_OUT:?BLKBATCH_OUT not set}
ios=${BLKBATCH_BENCH_IOS:-60000}
large_mb=${BLKBATCH_BENCH_LARGE_MB:-512}
commits=${BLKBATCH_BENCH_COMMITS:-300}
repeat=${BLKBATCH_BENCH_REPEAT:-3}
count_ios=${BLKBATCH_BENCH_COUNT_IOS:-5000}
max_s=${BLKBATCH_BENCH_MAX_SECONDS:-20}
only=${BLKBATCH_BENCH_ONLY:-}
bench=${BLKBATCH_BENCH_BIN:-bench/blkbatch-bench}
ng=/dev/ng0n1
range_mb=512
# A run that hangs must not eat the VM's whole timeout: each gets this long.
run_tmo=$((4 * max_s + 60))
# The calls that move data, submit and reap I/O or make it durable on any
# of the paths.  Not ioctl: no path here does I/O with it, only setup
# (fio's block size queries, blkbatch-bench's GET_INFO).
syscalls=io_uring_enter,pread64,pwrite64,preadv,pwritev,preadv2,pwritev2,io_submit,io_getevents,io_pgetevents,fdatasync,fsync
nullb_name=bbbench
runs=$out/runs
csv=$out/results.csv

. qemu/lib.sh # say, strace_c, strace_calls, rmmod_retry, fio_peer, nullb_up
BB_SAY_PREFIX='guest-bench: '
failed=()
notes=()
bbdev=

[ -x "$bench" ] || { say "FAIL: no $bench (make -C bench)"; exit 1; }
[ -f fio/blkbatch-fio.so ] || { say "FAIL: no fio/blkbatch-fio.so (make fio)"; exit 1; }
[ -b "$disk" ] || { say "FAIL: $disk is not a block device"; exit 1; }
for t in fio strace python3; do
	command -v $t >/dev/null || { say "FAIL: no $t in the guest"; exit 1; }
done
mkdir -p "$runs"
rm -f "$runs"/* "$out"/{results.csv,failures.txt,notes.txt,env.txt}

cleanup() {
	[ -z "$bbdev" ] || "$bench" --detach "$bbdev" || say "FAIL: detach $bbdev"
	nullb_down $nullb_name || say "FAIL: cannot remove the null_blk disk"
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
nullb_ok=1
nullb_up $nullb_name size=1024 blocksize=4096 memory_backed=0 \
	hw_queue_depth=1024 submit_queues="$(nproc)" poll_queues=1 ||
	{ say "FAIL: cannot make the null_blk disk $nullb_name"; nullb_ok=0; }

qinfo() { # block device name
	local q=/sys/block/$1/queue
	echo "$1: nr_requests $(cat "$q/nr_requests") io_poll $(cat "$q/io_poll")" \
	     "hw queues $(find "/sys/block/$1/mq/" -mindepth 1 -maxdepth 1 | wc -l)" \
	     "logical block $(cat "$q/logical_block_size")" \
	     "write cache $(cat "$q/write_cache") fua $(cat "$q/fua" 2>/dev/null || echo ?)"
}
{
	echo "guest_kernel=$(uname -r)"
	echo "fio=$(fio --version)"
	echo "vcpus=$(nproc)"
	echo "ios=$ios large_mb=$large_mb commits=$commits repeat=$repeat" \
	     "count_ios=$count_ios max_seconds=$max_s range_mib=$range_mb"
	qinfo "$(basename "$disk")"
	[ $nullb_ok = 0 ] || qinfo $nullb_name
} >"$out/env.txt"
sed 's/^/guest-bench: /' "$out/env.txt"

# ---- the configs ----
# One row each: device workload op bs depth harness path mode.
# For commits, depth is the number of records and mode the form.
rows=()
add() { rows+=("$*"); }
# The 4 KiB random configs of one device at one depth.
add_rand() { # dev workload op depth
	local dev=$1 w=$2 op=$3 qd=$4 m cmdq
	add "$dev" "$w" "$op" 4096 "$qd" fio libaio interrupt
	for m in interrupt hipri sqpoll; do
		add "$dev" "$w" "$op" 4096 "$qd" fio io_uring $m
	done
	if [ "$dev" = nvme ]; then
		# Polled passthrough above the queue depth (1023) fails
		# some I/Os with EFAULT on 6.12 (bench/README.md): it runs
		# at the queue depth instead.
		cmdq=$((qd > 1024 ? 1024 : qd))
		add "$dev" "$w" "$op" 4096 "$qd" fio io_uring_cmd interrupt
		add "$dev" "$w" "$op" 4096 "$cmdq" fio io_uring_cmd hipri
	fi
	for m in interrupt hipri sqpoll; do
		add "$dev" "$w" "$op" 4096 "$qd" fio blkbatch $m
	done
	for m in interrupt poll sqpoll; do
		add "$dev" "$w" "$op" 4096 "$qd" bench io_uring $m
		[ "$dev" != nvme ] || add "$dev" "$w" "$op" 4096 "$qd" bench uring_cmd $m
		add "$dev" "$w" "$op" 4096 "$qd" bench blkbatch $m
	done
}
add_seq() { # dev workload bs
	local dev=$1 w=$2 bs=$3
	add "$dev" "$w" write "$bs" 1 fio psync sync
	add "$dev" "$w" write "$bs" 32 fio libaio interrupt
	add "$dev" "$w" write "$bs" 32 fio io_uring interrupt
	add "$dev" "$w" write "$bs" 32 fio blkbatch interrupt
	add "$dev" "$w" write "$bs" 32 bench io_uring interrupt
	add "$dev" "$w" write "$bs" 32 bench blkbatch interrupt
}
add_commit() { # dev records
	local dev=$1 r=$2 f
	for f in dsync dsync2; do
		add "$dev" "commit$r" commit 4096 "$r" bench psync $f
	done
	for f in dsync2 fsync3 drainlink link dsynclink dsyncdrain coalesce; do
		add "$dev" "commit$r" commit 4096 "$r" bench io_uring $f
	done
	for f in flush fua coalesce; do
		add "$dev" "commit$r" commit 4096 "$r" bench blkbatch $f
	done
}
for dev in nvme null_blk; do
	for op in randread randwrite; do
		add $dev rand4k $op 4096 1 fio psync sync
		for qd in 32 256 4096; do add_rand $dev rand4k $op $qd; done
	done
	add_rand $dev mix70 randrw 256
	add_seq $dev seq128k 128k
	add_seq $dev seq1m 1m
	add_commit $dev 64
	add_commit $dev 8
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
# The median of numbers (the upper one of an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$(($# / 2 + 1))p"; }
bytes() { numfmt --from=iec "${1^^}"; }

# fio's JSON: "ios iops lat_mean_us lat_p99_us cpu_us_per_io mib_s", or an
# error message on stderr.  Latency: lat_ns is fio's total latency
# (submission to completion), its mean; the 99th percentile is of clat_ns
# (completion latency), the only one fio reports percentiles of by default;
# of a mixed job, the larger of the two directions'.  CPU: the job's
# usr_cpu + sys_cpu are percentages of its runtime.
fio_parse() { # json-file
	python3 - "$1" <<-'EOF'
	import json, sys
	text = open(sys.argv[1]).read()
	try:
	    d = json.loads(text[text.index('{'):])
	except ValueError as e:
	    sys.exit("no JSON from fio: %s" % e)
	j = d["jobs"][0]
	if j.get("error"):
	    sys.exit("fio job error %d" % j["error"])
	dirs = [j[k] for k in ("read", "write") if j[k]["total_ios"]]
	n = sum(r["total_ios"] for r in dirs)
	if not n:
	    sys.exit("fio did no I/O")
	lat = sum(r["lat_ns"]["mean"] * r["total_ios"] for r in dirs) / n
	p99 = max(r["clat_ns"].get("percentile", {}).get("99.000000", 0) for r in dirs)
	cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100 * j["job_runtime"] * 1000 / n
	print(n, "%.0f" % sum(r["iops"] for r in dirs), "%.1f" % (lat / 1000),
	      "%.1f" % (p99 / 1000), "%.3f" % cpu,
	      "%.1f" % (sum(r["bw_bytes"] for r in dirs) / 1048576))
	EOF
}

# blkbatch-bench's result line, as fio_parse prints it, plus "capped".
# A commit's numbers stand in the same columns: commits/s as IOPS.
bb_parse() { # output-file
	local line
	line=$(grep -m1 '^result ' "$1") || return 1
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       if (v["workload"] == "commit")
		       print v["commits"], v["commits_per_s"], v["lat_mean_us"],
			     v["lat_p99_us"], v["cpu_us_per_commit"], 0, v["capped"]
	       else
		       print v["ios"], v["iops"], v["lat_mean_us"], v["lat_p99_us"],
			     v["cpu_us_per_io"], v["mib_s"], v["capped"] }' <<<"$line"
}

# The command of one run of the current row, doing N I/Os (or commits):
# sets cmd and json (fio's output file, empty for blkbatch-bench).
make_cmd() { # N tag
	local n=$1 tag=$2 file
	file=$([ "$dev" = nvme ] && echo "$disk" || echo /dev/$nullb_name)
	json=
	if [ "$harness" = fio ]; then
		fio_peer "$path" "$mode" "$qd" || return 1
		case $path in
		io_uring_cmd) file=$ng ;;
		blkbatch) file=$bbdev ;;
		esac
		json=$runs/$tag.json
		cmd=(fio --name=bench --filename="$file" "${FIO_PEER[@]}"
		     --rw="$op" --rwmixread=70 --bs="$bs" --size="${range_mb}M"
		     --io_size=$((n * $(bytes "$bs"))) --norandommap
		     --randrepeat=0 --runtime="$max_s" --output-format=json
		     --output="$json")
		return 0
	fi
	case $path in
	uring_cmd) file=$ng ;;
	blkbatch) file=$bbdev ;;
	esac
	cmd=("$bench" --dev "$file" --engine "$path" --range "${range_mb}M"
	     --max-seconds "$max_s" --ios "$n")
	if [ "$op" = commit ]; then
		cmd+=(--workload commit --records "$qd" --form "$mode")
	else
		cmd+=(--rw "$op" --rwmixread 70 --bs "$(bytes "$bs")"
		      --depth "$qd" --mode "$mode")
	fi
}

# One measured run: sets r_ios r_iops r_lat r_p99 r_cpu r_mib r_capped,
# or fails with the reason in why.
run_once() { # N tag
	local p
	make_cmd "$1" "$2" || { why="no such config"; return 1; }
	if ! timeout -k 10 $run_tmo "${cmd[@]}" >"$runs/$2.txt" 2>&1; then
		why="$harness $path failed: $(first_err "$runs/$2.txt")"
		return 1
	fi
	if [ -n "$json" ]; then
		p=$(fio_parse "$json" 2>&1) || { why=$p; return 1; }
		p+=" 0"
	else
		p=$(bb_parse "$runs/$2.txt") || { why="no result line"; return 1; }
	fi
	read -r r_ios r_iops r_lat r_p99 r_cpu r_mib r_capped <<<"$p"
}

# Every run of the current row: sets the res_* medians, res_min, res_max
# and res_sc (I/O system calls per I/O or commit), or fails with why.
measure() { # tag
	local tag=$1 n k c iops=() lat=() p99=() cpu=() mib=()
	case $op in
	commit) n=$commits ;;
	write) n=$((large_mb * 1048576 / $(bytes "$bs"))) ;;
	*) n=$((ios > 16 * qd ? ios : 16 * qd)) ;;
	esac
	[ "$path" != psync ] || [ "$op" = commit ] || n=$((n / 4))
	for k in $(seq "$repeat"); do
		run_once "$n" "$tag-$k" || return 1
		iops+=("$r_iops") lat+=("$r_lat") p99+=("$r_p99") cpu+=("$r_cpu")
		mib+=("$r_mib")
		if [ "$r_capped" != 0 ] || [ "$r_ios" -lt "$n" ]; then
			notes+=("$row: run $k stopped after ${max_s} s: $r_ios of $n")
		fi
	done
	res_iops=$(median "${iops[@]}") res_lat=$(median "${lat[@]}")
	res_p99=$(median "${p99[@]}") res_cpu=$(median "${cpu[@]}")
	res_mib=$(median "${mib[@]}")
	res_min=$(printf '%s\n' "${iops[@]}" | sort -g | head -n1)
	res_max=$(printf '%s\n' "${iops[@]}" | sort -g | tail -n1)
	# The count: a shorter run, the same config.
	n=$([ "$op" = commit ] && echo $((count_ios / 10)) || echo "$count_ios")
	[ "$op" = commit ] || [ "$n" -ge $((4 * qd)) ] || n=$((4 * qd))
	make_cmd "$n" "$tag-strace"
	if ! strace_c "$runs/$tag.strace" "$syscalls" "${cmd[@]}" \
		>"$runs/$tag-strace.txt" 2>&1; then
		why="under strace: $(first_err "$runs/$tag-strace.txt")"
		return 1
	fi
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

fmt='%-8s %-8s %-9s %4s %4s %-5s %-12s %-12s %9s %9s %10s %10s %9s %9s\n'
say "$total configs, $repeat runs each and one under strace"
printf "%-9s $fmt" '' device workload op bs depth harn path mode IOPS \
	lat_mean_us lat_p99_us syscall/io cpu_us/io spread%
echo "device,path,mode,threads,batch,iodepth,op,iops,lat_mean_us,lat_p99_us,syscalls_per_io,cpu_us_per_io,workload,harness,bs,mib_s,runs,iops_min,iops_max" >"$csv"

n=0 start=$SECONDS cur_dev=
for row in "${rows[@]}"; do
	read -r dev workload op bs qd harness path mode <<<"$row"
	n=$((n + 1))
	if [ "$dev" != "$cur_dev" ]; then
		detach
		cur_dev=$dev
		[ $dev = nvme ] || [ $nullb_ok = 1 ] && attach $dev
	fi
	tag=$(echo "$row" | tr ' +' '_p')
	why=
	if [ $dev = null_blk ] && [ $nullb_ok = 0 ]; then
		why="no null_blk disk"
	elif [ $path = blkbatch ] && [ -z "$bbdev" ]; then
		why="device not attached to blkbatch"
	else
		measure "$tag"
	fi
	if [ -z "$why" ]; then
		spread=$(awk -v a="$res_min" -v b="$res_max" -v m="$res_iops" \
			'BEGIN { printf "%.0f", m ? (b - a) * 100 / m : 0 }')
		printf "[%3d/%d] $fmt" $n $total $dev $workload $op $bs $qd \
			$harness $path $mode "$res_iops" "$res_lat" "$res_p99" \
			"$res_sc" "$res_cpu" "$spread"
		# blkbatch's batch is its depth; the other paths have none.
		b=$([ $path = blkbatch ] && echo "$qd")
		echo "$dev,$path,$mode,1,$b,$qd,$op,$res_iops,$res_lat,$res_p99,$res_sc,$res_cpu,$workload,$harness,$bs,$res_mib,$repeat,$res_min,$res_max" >>"$csv"
	else
		printf "[%3d/%d] %-8s %-8s %-9s %4s %4s %-5s %-12s %-12s FAILED: %s\n" \
			$n $total $dev $workload $op $bs $qd $harness $path $mode "$why"
		failed+=("$row: $why")
	fi
done
detach
say "$total configs in $((SECONDS - start)) s; results in $csv, raw output in $runs"

[ ${#notes[@]} -eq 0 ] || printf '%s\n' "${notes[@]}" >"$out/notes.txt"
if [ ${#notes[@]} -gt 0 ]; then
	say "${#notes[@]} run(s) stopped at the time limit (their numbers are from fewer I/Os):"
	printf '  %s\n' "${notes[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
	printf '%s\n' "${failed[@]}" >"$out/failures.txt"
	say "${#failed[@]} FAILED:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
say ok
