#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/bench.sh [SERIES]   (default: the first series in kernels.conf)
#
# Boot that kernel with the NVMe drive and null_blk and run
# qemu/guest-bench.sh in it (output live; everything the VM left is in
# build/vm/bench-<kver>/, the raw output of every run in its runs/), then
# write, on the host:
#   bench/results.csv   one row per config that ran (guest-bench.sh's)
#   bench/results.png   IOPS and CPU per I/O of randread by path, per device
#   bench/results.md    the table, the machine, failures and notes
# and print the table. The module and bench/blkbatch-bench must be built
# ("make bench" does that). Exit status: run-vm.sh's (non-zero if any
# config failed), or 1 if no results came back or the report failed.
# Environment: BLKBATCH_BENCH_VM_TIMEOUT (default 2700 s) and the
# BLKBATCH_BENCH_* knobs of guest-bench.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo" || exit 1 # the guest runs the benchmark in the same directory
. "$here/kernels.conf"

say() { echo "bench: $*"; }

kver=$("$here/fetch-kernel.sh" "${1:-${KERNEL_SERIES[0]}}") || exit 1
[ -f "build/$kver/blkbatch.ko" ] ||
	{ say "no build/$kver/blkbatch.ko: run make bench"; exit 1; }
make --no-print-directory -C bench >/dev/null || { say "cannot build bench/"; exit 1; }

# The plot is the one thing the host needs beyond make's deps (deps.sh
# names gnuplot-nox too; this covers running the script by hand).
if ! command -v gnuplot >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
	else
		say "no gnuplot: apt-get install gnuplot-nox (as root); no plot this time"
	fi
fi

out=$repo/build/vm/bench-$kver
rm -f "$out"/{results.csv,failures.txt,notes.txt,env.txt}
start=$SECONDS
# Room for the 100000 I/Os of 512 MiB writes on the NVMe image; ~20 min of
# runs under TCG, with margin for a slow host.
"$here/run-vm.sh" -k "$kver" -o "$out" -t "${BLKBATCH_BENCH_VM_TIMEOUT:-2700}" \
	--disk-mb 1024 --nullblk -- qemu/guest-bench.sh
rc=$?
vm_s=$((SECONDS - start))
say "VM ran ${vm_s} s"

[ -s "$out/results.csv" ] || { say "FAIL: no results.csv from the VM"; exit 1; }
cp "$out/results.csv" bench/results.csv

# ---- plot: randread on each device, one bar per config ----
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# "label" iops cpu_us_per_io color: fio peers first, then blkbatch.
plot_data() { # device
	awk -F, -v dev="$1" '
	NR > 1 && $1 == dev && $7 == "randread" {
		if ($2 == "blkbatch")
			label = sprintf("blkbatch %s t%s b%s", $3, $4, $5)
		else
			label = sprintf("%s %s qd%s", $2, $3, $6)
		color = $2 == "blkbatch" ? 5 : $2 == "io_uring_cmd" ? 4 : \
			$2 == "io_uring" ? 3 : $2 == "libaio" ? 2 : 1
		printf "\"%s\" %s %s %d\n", label, $8, $12, color
	}' bench/results.csv
}
plot_data nvme >"$tmp/nvme.dat"
plot_data null_blk >"$tmp/null_blk.dat"
rm -f bench/results.png
if command -v gnuplot >/dev/null; then
	if ! gnuplot -e "nvme='$tmp/nvme.dat'; nullb='$tmp/null_blk.dat'; out='bench/results.png'" \
		bench/plot.gp; then
		say "FAIL: gnuplot"
		rc=1
	fi
fi

# ---- results.md ----
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cores=$(grep -c '^processor' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
gkernel=$(sed -n 's/^guest_kernel=//p' "$out/env.txt" 2>/dev/null)
qemu=$(qemu-system-x86_64 --version | head -n1 | sed 's/^QEMU emulator version //')
# What the guest ran with (its defaults unless the environment said).
knob() { sed -n "s/.*\<$1=\([0-9]*\).*/\1/p" "$out/env.txt" 2>/dev/null; }
{
	echo "# blkbatch benchmark results"
	echo
	echo "Machine: ${cpu:-unknown CPU}, $cores cores, $mem memory (host);" \
	     "guest kernel ${gkernel:-$kver} under QEMU $qemu, TCG (no KVM)," \
	     "2 vCPUs, 2 GiB; $(date -u '+%Y-%m-%d %H:%M UTC'); the VM ran ${vm_s} s."
	echo
	echo "$(knob ios) random 4 KiB I/Os per config in the first $(knob range_mib) MiB" \
	     "(O_DIRECT; a config stops after $(knob max_seconds) s), system calls" \
	     "counted by strace in a second run of $(knob count_ios) I/Os. What the columns" \
	     "mean: [README.md](README.md)."
	[ ! -s "$out/env.txt" ] || { echo; echo '```'; cat "$out/env.txt"; echo '```'; }
	echo
	echo "| device | path | mode | threads | batch | iodepth | op | IOPS | lat mean µs | lat p99 µs | syscalls/IO | CPU µs/IO |"
	echo "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"
	tail -n +2 bench/results.csv | awk -F, -v OFS=' | ' '{ $1 = $1; print "| " $0 " |" }'
	if [ -s "$out/failures.txt" ]; then
		echo
		echo "Failed configs (not in the table):"
		echo
		sed 's/^/- /' "$out/failures.txt"
	fi
	if [ -s "$out/notes.txt" ]; then
		echo
		echo "Stopped at the time limit (numbers from fewer I/Os):"
		echo
		sed 's/^/- /' "$out/notes.txt"
	fi
	echo
	echo '![IOPS and CPU per I/O, randread](results.png)'
} >bench/results.md

echo
column -t -s, bench/results.csv
[ ! -s "$out/failures.txt" ] || { echo; say "failed:"; sed 's/^/  /' "$out/failures.txt"; }
echo
say "bench/results.csv, bench/results.md$([ -s bench/results.png ] && echo ', bench/results.png');" \
    "VM ran ${vm_s} s"
exit $rc
