#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the blkbatch selftests inside the guest: as root, from the repository
# root, with BLKBATCH_DISK (the scratch disk) and BLKBATCH_KO (absolute path
# of blkbatch.ko) set.
#
# Output contract with the host: every column-0 line starting with "ok " or
# "not ok " is one test case ("# SKIP" marks a skip).  So everything this
# script says itself starts with "# ", and the only result lines it prints
# are a "not ok" for a program that crashed, hung, or could not run, and for
# a module that could not be loaded: a failure is never silent.
#
# Exit status: 0 if every program passed, the module unloaded cleanly and
# the kernel log shows no splat; 1 otherwise.

set -u

DIR=${BLKBATCH_SELFTESTS_DIR:-selftests}
PROGS=(blkbatch_ctl blkbatch_io blkbatch_validate blkbatch_semantics blkbatch_poll blkbatch_stress
       blkbatch_verify blkbatch_compat32 blkbatch_fio.sh blkbatch_cli.sh blkbatch_lifecycle
       blkbatch_stats blkbatch_install.sh)
# Arguments name a subset of the programs to run (for development).
[ $# -eq 0 ] || PROGS=("$@")
# The VM gives the whole run 900 s: a hung program must leave time for more.
PROG_TIMEOUT=${BLKBATCH_PROG_TIMEOUT:-420}
MODULE=blkbatch
MARKER="blkbatch-selftests: start $$"
# BLKBATCH_SPLAT, BLKBATCH_TAINT_BAD, say, rmmod_retry
. "$(dirname "$0")/../qemu/lib.sh"
BB_SAY_PREFIX='# '

failed=0

# One TAP failure line of our own: the host must count it.
not_ok() {
	printf 'not ok %s\n' "$*"
	failed=1
}

module_loaded() {
	[ -d /sys/module/$MODULE ] || grep -q "^$MODULE " /proc/modules 2>/dev/null
}

load_module() {
	if [ -z "${BLKBATCH_KO:-}" ]; then
		not_ok "1 run-guest.insmod # BLKBATCH_KO is not set"
		return 1
	fi
	if [ ! -r "$BLKBATCH_KO" ]; then
		not_ok "1 run-guest.insmod # $BLKBATCH_KO: no such module file"
		return 1
	fi
	if module_loaded; then
		say "$MODULE already loaded, using it"
		return 0
	fi
	if ! out=$(insmod "$BLKBATCH_KO" 2>&1); then
		while IFS= read -r l; do say "$l"; done <<<"$out"
		not_ok "1 run-guest.insmod # insmod $BLKBATCH_KO failed"
		return 1
	fi
	say "loaded $BLKBATCH_KO"
}

unload_module() {
	local out

	module_loaded || return 0
	out=$(rmmod_retry $MODULE 2>&1) && return 0
	while IFS= read -r l; do say "$l"; done <<<"$out"
	return 1
}

# Run one program, pass its TAP through, and check it ran to its end.
run_prog() {
	local prog=$1 path=$DIR/$1 rc=255 plan=-1 results=0 fails=0 line pre
	local -a cmd=("$path")

	if [ ! -x "$path" ]; then
		not_ok "1 $prog # $path missing: run make selftests"
		return
	fi
	if command -v timeout >/dev/null; then
		cmd=(timeout -k 10 "$PROG_TIMEOUT" "$path")
	fi
	say "==== $prog"
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		*__BLKBATCH_RC__=*)
			# glued to a last line that had no newline (crash)
			rc=${line##*__BLKBATCH_RC__=}
			pre=${line%__BLKBATCH_RC__=*}
			[ -n "$pre" ] && printf '%s\n' "$pre"
			continue
			;;
		"ok "*)
			results=$((results + 1))
			;;
		"not ok "*)
			results=$((results + 1))
			fails=$((fails + 1))
			;;
		1..*)
			plan=${line#1..}
			plan=${plan%%[!0-9]*}
			;;
		esac
		printf '%s\n' "$line"
	done < <("${cmd[@]}" 2>&1; echo "__BLKBATCH_RC__=$?")

	say "==== $prog: exit $rc, $results of $plan test cases reported"
	if [ "$rc" -ge 124 ]; then
		# 124/137: timeout; 128+N: killed by signal N
		not_ok "$((results + 1)) $prog # crashed or timed out (exit $rc)"
	elif [ "$plan" -lt 0 ]; then
		not_ok "$((results + 1)) $prog # no TAP plan (exit $rc)"
	elif [ "$results" -lt "$plan" ]; then
		not_ok "$((results + 1)) $prog # stopped after $results of $plan (exit $rc)"
	elif [ "$rc" -ne 0 ] && [ "$fails" -eq 0 ]; then
		not_ok "$((results + 1)) $prog # exit $rc without a failed test"
	elif [ "$rc" -ne 0 ]; then
		failed=1
	fi
}

# Kernel messages since our marker that look like a splat.
check_dmesg() {
	local log

	command -v dmesg >/dev/null || { say "no dmesg: log not checked"; return; }
	log=$(dmesg 2>/dev/null | sed -n "/$MARKER/,\$p")
	if grep -Eq "$BLKBATCH_SPLAT" <<<"$log"; then
		say "kernel log shows a splat:"
		grep -E -A 20 "$BLKBATCH_SPLAT" <<<"$log" | head -n 200 |
			while IFS= read -r l; do say "  $l"; done
		failed=1
	fi
}

check_taint() {
	local before=$1 after

	after=$(cat /proc/sys/kernel/tainted 2>/dev/null || echo 0)
	if (( (after & ~before) & BLKBATCH_TAINT_BAD )); then
		say "kernel newly tainted: $before -> $after"
		failed=1
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	say "must run as root"
	exit 1
fi
[ -n "${BLKBATCH_DISK:-}" ] || say "BLKBATCH_DISK not set: every test will skip"
say "kernel $(uname -r), disk ${BLKBATCH_DISK:-none}, module ${BLKBATCH_KO:-none}"

echo "$MARKER" >/dev/kmsg 2>/dev/null || true
taint0=$(cat /proc/sys/kernel/tainted 2>/dev/null || echo 0)

load_module || exit 1

for p in "${PROGS[@]}"; do
	# A program that unloaded the module and failed to reload it.
	if ! module_loaded; then
		say "$MODULE is not loaded before $p: reloading"
		load_module || break
	fi
	run_prog "$p"
done

if unload_module; then
	say "unloaded $MODULE"
else
	say "rmmod $MODULE failed"
	failed=1
fi
check_dmesg
check_taint "$taint0"

if [ "$failed" -ne 0 ]; then
	say "FAILED"
	exit 1
fi
say "PASSED"
exit 0
