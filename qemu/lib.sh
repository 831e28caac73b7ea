# SPDX-License-Identifier: GPL-2.0
#
# Sourced (bash) by the qemu/ scripts on the host and by the ones that run
# in the guest: the project's rules, written once.

# What the kernel prints when something went wrong: blktests' list,
# SLUB debugging's "BUG <cache> (...): Poison overwritten" and friends,
# and the debug kernel's checkers: KASAN, UBSAN, lockdep ("possible
# circular locking dependency", "inconsistent lock state"),
# sleep-in-atomic, RCU usage, kmemleak, hung tasks, soft lockups.
BLKBATCH_SPLAT='BUG:|BUG [^ ]+ \(|WARNING:|Oops|general protection|KASAN|UBSAN|circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|suspicious RCU usage|kmemleak: [1-9][0-9]* new suspected|unreferenced object|refcount_t|list_add corruption|list_del corruption|hung_task|blocked for more than|soft lockup|Call Trace|Poison overwritten|Redzone overwritten|Freepointer corrupt'

# Taint bits no run may set: B (32, bad page or slab corruption: KASAN),
# D (128, an oops), W (512, a WARN), L (16384, a soft lockup).  O (4096)
# and E (8192) come from our out-of-tree unsigned module and are expected.
# The selftests get it as BB_TAINT_BAD (selftests/Makefile generates it).
BLKBATCH_TAINT_BAD=$((32 | 128 | 512 | 16384))

# say WORDS...: one line, prefixed with $BB_SAY_PREFIX.
say() { printf '%s%s\n' "${BB_SAY_PREFIX-}" "$*"; }

# rmmod, giving ring files a moment: io_uring's exit work lets them go
# a little after the process that held them has ended.
rmmod_retry() {
	local m=$1 i
	for i in $(seq 50); do
		rmmod "$m" 2>/dev/null && return 0
		sleep 0.2
	done
	rmmod "$m"
}

# strace_c FILE SYSCALLS CMD...: count SYSCALLS (comma-separated) of CMD
# and its threads into FILE; only the traced calls stop the program
# (seccomp-bpf), the rest run free.  With BB_STRACE_TIMEOUT (seconds) set,
# the whole run is bounded.
strace_c() {
	local file=$1 list=$2
	local -a tmo=()
	shift 2
	[ -z "${BB_STRACE_TIMEOUT:-}" ] || tmo=(timeout -k 10 "$BB_STRACE_TIMEOUT")
	"${tmo[@]}" strace -f --seccomp-bpf -qq -c -o "$file" -e trace="$list" "$@"
}

# strace_calls FILE [SYSCALL...]: calls of those system calls in an
# "strace -c" summary, or of all traced ones without any.
strace_calls() {
	local file=$1 sc n=0 c
	shift
	[ $# -gt 0 ] || set -- total
	for sc in "$@"; do
		c=$(awk -v s="$sc" '$NF == s { print $4 }' "$file")
		n=$((n + ${c:-0}))
	done
	echo "$n"
}

# private_apt DIR TYPES [SUITE...]: set APT_PRIVATE to the apt-get options
# of an apt setup of its own under DIR (its sources, lists and cache),
# which leaves the machine's configuration alone: the stanzas of the
# machine's own Debian sources (so their archive URIs and keyrings, never a
# host name of ours), with Types: TYPES and, if SUITEs are given, those
# suites instead of the machine's.  Then "apt-get "${APT_PRIVATE[@]}"
# update" and the like.
private_apt() {
	local dir=$1 types=$2 src=/etc/apt/sources.list.d/debian.sources
	shift 2
	[ -r "$src" ] || { echo "private_apt: no $src" >&2; return 1; }
	mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/cache/archives/partial"
	sed -E "s/^Types:.*/Types: $types/${*:+; s/^Suites:.*/Suites: $*/}" "$src" \
		>"$dir/sources.list.d/private.sources"
	APT_PRIVATE=(-o Dir::Etc::SourceList=/dev/null
		     -o Dir::Etc::SourceParts="$dir/sources.list.d"
		     -o Dir::State::Lists="$dir/lists"
		     -o Dir::Cache="$dir/cache"
		     -o APT::Sandbox::User=root -qq)
}

# fio_peer ENGINE MODE DEPTH: set FIO_PEER to the fio options that run
# ENGINE at its best at iodepth DEPTH, the one rule the demo and the
# benchmark share.  Every queued engine submits and reaps DEPTH I/Os per
# system call (fio's defaults do one of each per I/O), and the io_uring
# engines use registered buffers and files.  MODE: interrupt, hipri (an
# IOPOLL ring), sqpoll (SQPOLL), sqpoll+hipri; psync ignores it.
fio_peer() {
	local engine=$1 mode=$2 qd=$3
	FIO_PEER=(--iodepth="$qd" --iodepth_batch_submit="$qd"
		  --iodepth_batch_complete_min="$qd")
	case $engine in
	psync) FIO_PEER=(--ioengine=psync --direct=1 --iodepth=1) ; return ;;
	libaio) FIO_PEER+=(--ioengine=libaio --direct=1) ; return ;;
	io_uring) FIO_PEER+=(--ioengine=io_uring --direct=1) ;;
	# The char device takes no O_DIRECT: passthrough never caches.
	io_uring_cmd) FIO_PEER+=(--ioengine=io_uring_cmd --cmd_type=nvme) ;;
	blkbatch) FIO_PEER+=(--ioengine=external:fio/blkbatch-fio.so --direct=1) ;;
	*) echo "fio_peer: no engine $engine" >&2; return 1 ;;
	esac
	FIO_PEER+=(--fixedbufs=1 --registerfiles=1)
	case $mode in
	interrupt) ;;
	hipri) FIO_PEER+=(--hipri=1) ;;
	sqpoll) FIO_PEER+=(--sqthread_poll=1) ;;
	sqpoll+hipri) FIO_PEER+=(--sqthread_poll=1 --hipri=1) ;;
	*) echo "fio_peer: no mode $mode" >&2; return 1 ;;
	esac
}

# nullb_up NAME ATTR=VALUE...: a configfs null_blk disk, /dev/NAME, with
# those attributes set before it is powered on.  null_blk must be loaded
# with configfs (run-vm.sh --nullblk), else it is loaded here from
# $BLKBATCH_MODROOT and BB_NULLB_LOADED says so.  nullb_down NAME: gone.
BB_NULLB_CFG=/sys/kernel/config/nullb
BB_NULLB_LOADED=0
nullb_up() {
	local d=$BB_NULLB_CFG/$1 kv
	if [ ! -d "$BB_NULLB_CFG" ] && [ -n "${BLKBATCH_MODROOT:-}" ] &&
	   modprobe -d "$BLKBATCH_MODROOT" null_blk nr_devices=0 2>/dev/null; then
		BB_NULLB_LOADED=1
	fi
	[ -d "$BB_NULLB_CFG" ] || return 1
	shift
	[ ! -d "$d" ] || nullb_down "${d##*/}"
	mkdir "$d" || return 1
	for kv in "$@"; do echo "${kv#*=}" >"$d/${kv%%=*}" || return 1; done
	echo 1 >"$d/power" || return 1
	for _ in $(seq 100); do [ -b "/dev/${d##*/}" ] && return 0; sleep 0.05; done
	return 1
}
nullb_down() {
	[ -d "$BB_NULLB_CFG/$1" ] || return 0
	echo 0 >"$BB_NULLB_CFG/$1/power"
	rmdir "$BB_NULLB_CFG/$1"
}
