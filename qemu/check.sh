#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/check.sh [SERIES...]   (default: every series in kernels.conf)
#
# For each kernel series: boot it (run-vm.sh --nullblk) and run
# selftests/run-guest.sh in the guest, then print one summary line:
#   N passed, N failed[, N skipped]
# and exit non-zero if anything failed.
#
# Counting contract with the guest runner (selftests/run-guest.sh):
# every line of its output (OUTDIR/output.txt) that starts in column 0 with
#   "ok "      is one passed test case ("ok N name # SKIP why": one skipped)
#   "not ok "  is one failed test case
# That is what kselftest_harness prints per test case. So the runner must
# not print column-0 "ok"/"not ok" lines of its own (e.g. per-program
# summaries): indent them or prefix them with "# ". Nothing else is parsed.
# A kernel whose VM failed (could not fetch, timeout, panic, splat, W taint)
# adds one failure; so does a non-zero exit without any "not ok" line.
#
# BLKBATCH_GUEST_CMD replaces selftests/run-guest.sh (to test the harness).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo" # the guest runs CMD in the same directory
. "$here/kernels.conf"
[ $# -gt 0 ] || set -- "${KERNEL_SERIES[@]}"
cmd=${BLKBATCH_GUEST_CMD:-selftests/run-guest.sh}
# Memory debugging the stock kernels can do at no build cost: a
# use-after-free or overrun in the module becomes a splat, not a pass.
export BLKBATCH_VM_APPEND=${BLKBATCH_VM_APPEND-slub_debug=FZPU page_poison=1}

pass=0 fail=0 skip=0 why=()
for s in "$@"; do
	if ! kver=$("$here/fetch-kernel.sh" "$s"); then
		echo "# kernel series $s: cannot fetch"
		fail=$((fail + 1)) why+=("series $s: fetch-kernel.sh failed")
		continue
	fi
	echo "# kernel $kver"
	out=$repo/build/vm/check-$kver
	rm -f "$out/output.txt" "$out/result.txt" # never count a stale run
	rc=0
	# shellcheck disable=SC2086 # $cmd may carry arguments
	"$here/run-vm.sh" -k "$kver" -o "$out" --nullblk -- $cmd || rc=$?
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
	fi
done

for r in "${why[@]}"; do echo "# FAIL $r"; done
line="$pass passed, $fail failed"
[ "$skip" -eq 0 ] || line+=", $skip skipped"
echo "$line"
[ "$fail" -eq 0 ]
