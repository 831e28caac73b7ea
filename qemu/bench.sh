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
#   bench/results.md    every row by workload, the best of each side, the
#                       targets, the machine, failures and notes
#   bench/summary.md    the best of each side and the targets, which also
#                       replace README.md's part between its bench:begin
#                       and bench:end markers
#   bench/results.png   IOPS and CPU per I/O of the 4 KiB random reads at
#                       depth 256, every path, per device
# (bench/report.py writes all but the CSV) and print the CSV. The module and bench/blkbatch-bench must be built
# ("make bench" does that). Exit status: run-vm.sh's (non-zero if any
# config failed), or 1 if no results came back or the report failed.
# Environment: BLKBATCH_BENCH_VM_TIMEOUT (default 5400 s) and the
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
# Room for the 512 MiB sequential writes on the NVMe image; ~45 min of
# runs under TCG, with margin for a slow host.
"$here/run-vm.sh" -k "$kver" -o "$out" -t "${BLKBATCH_BENCH_VM_TIMEOUT:-5400}" \
	--disk-mb 1024 --nullblk -- qemu/guest-bench.sh
rc=$?
vm_s=$((SECONDS - start))
say "VM ran ${vm_s} s"

[ -s "$out/results.csv" ] || { say "FAIL: no results.csv from the VM"; exit 1; }
cp "$out/results.csv" bench/results.csv

# ---- report: results.md, summary.md, the plot ----
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cores=$(grep -c '^processor' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
gkernel=$(sed -n 's/^guest_kernel=//p' "$out/env.txt" 2>/dev/null)
qemu=$(qemu-system-x86_64 --version | head -n1 | sed 's/^QEMU emulator version //')
machine="Machine: ${cpu:-unknown CPU}, $cores cores, $mem memory (host); guest kernel ${gkernel:-$kver} under QEMU $qemu, TCG (no KVM), 2 vCPUs, 2 GiB; $(date -u '+%Y-%m-%d %H:%M UTC'); the VM ran ${vm_s} s."
if ! python3 bench/report.py bench/results.csv "$out" "$machine" "$tmp"; then
	say "FAIL: bench/report.py"
	rc=1
fi
rm -f bench/results.png
if command -v gnuplot >/dev/null && [ -s "$tmp/nvme.dat" ]; then
	if ! gnuplot -e "nvme='$tmp/nvme.dat'; nullb='$tmp/null_blk.dat'; out='bench/results.png'" \
		bench/plot.gp; then
		say "FAIL: gnuplot"
		rc=1
	fi
fi
# The README's performance section shows this run's summary.
if [ -s bench/summary.md ] && grep -q '^<!-- bench:begin -->' README.md; then
	awk 'FNR == NR { s = s $0 "\n"; next }
	     /^<!-- bench:begin -->/ { print; printf "%s", s; skip = 1; next }
	     /^<!-- bench:end -->/ { skip = 0 }
	     !skip' bench/summary.md README.md >"$tmp/README.md" &&
		cp "$tmp/README.md" README.md
fi

echo
column -t -s, bench/results.csv
[ ! -s "$out/failures.txt" ] || { echo; say "failed:"; sed 's/^/  /' "$out/failures.txt"; }
echo
say "bench/results.csv, bench/results.md$([ -s bench/results.png ] && echo ', bench/results.png');" \
    "VM ran ${vm_s} s"
exit $rc
