#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The blkbatch(8) tool (cli/blkbatch) against the module: attach, list,
# info, stats and read/write, their JSON compared with what sysfs says of
# the disk, the counters with what the test did, and the errors an
# operator meets (busy, not attached, no permission, no module, a failed
# entry).  TAP like the C programs (run by run-guest.sh, as root, from the
# repository root, with BLKBATCH_DISK set and the module loaded).  The
# disk is left detached, whatever happens.
set -u
. "$(dirname "$0")/../qemu/lib.sh" # say, nullb_up, nullb_down
BB_SAY_PREFIX='# '
cli=${BLKBATCH_CLI:-cli/blkbatch}
disk=${BLKBATCH_DISK:-}
PY=python3
n=0
failed=0

tests=(attach sysfs_attrs list_json list_normal info_json info_normal
       write_read read_tty stats_counts stats_watch refuse_invalid write_short
       batches_invalid entries_failed entry_error busy detach_missing
       attach_missing nonroot usage module_not_loaded detach_by_device
       read_only)
echo "TAP version 13"
echo "1..${#tests[@]}"

skip() { n=$((n + 1)); echo "ok $n cli.$1 # SKIP $2"; }

if [ ! -x "$cli" ] || [ -z "$disk" ] || [ ! -b "$disk" ] ||
   ! command -v $PY >/dev/null; then
	for t in "${tests[@]}"; do
		skip "$t" "no $cli (make -C cli), no disk, or no python3"
	done
	exit 0
fi

tmp=$(mktemp -d)
disk_dev=$(cat "/sys/class/block/${disk##*/}/dev")

# Every node attached to @1's MAJ:MIN, by sysfs: the tool may be broken.
nodes_of() {
	local f d
	for f in /sys/class/misc/blkbatch[0-9]*/dev_backing; do
		[ -r "$f" ] && [ "$(cat "$f")" = "$1" ] &&
			{ d=${f%/dev_backing}; echo "${d##*/}"; }
	done
}
# The tool first; the raw ioctl if it could not.
detach_all() { # MAJ:MIN
	local nd
	for nd in $(nodes_of "$1"); do "$cli" detach "$nd" >/dev/null 2>&1; done
	for nd in $(nodes_of "$1"); do
		$PY -c 'import fcntl, os, struct, sys
DETACH = (1 << 30) | (24 << 16) | (0xbb << 8) | 0x02   # _IOW(0xbb, 0x02, 24)
fd = os.open("/dev/blkbatch-control", os.O_RDWR)
fcntl.ioctl(fd, DETACH, struct.pack("<II16x", int(sys.argv[1]), 0))' "${nd#blkbatch}"
	done
}
# lib.sh's nullb_down, after detaching whatever holds the disk.
nullb_gone() {
	[ -b "/dev/$1" ] && detach_all "$(cat "/sys/class/block/$1/dev")"
	nullb_down "$1"
}
cleanup() {
	detach_all "$disk_dev"
	nullb_gone bbcli
	[ $BB_NULLB_LOADED = 0 ] || rmmod null_blk 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# A case: begin, checks that call fail, end NAME.
begin() { case_rc=0; case_log=; }
fail() { case_rc=1; case_log+="$*"$'\n'; }
end() {
	n=$((n + 1))
	if [ $case_rc = 0 ]; then
		echo "ok $n cli.$1"
	else
		echo "not ok $n cli.$1"
		printf '%s' "$case_log" | tail -n 25 | sed 's/^/# /'
		failed=1
	fi
}
# run CMD...: $rc, $out (stdout), $errout (stderr)
run() {
	out=$("$@" 2>"$tmp/stderr")
	rc=$?
	errout=$(<"$tmp/stderr")
}
# ok CMD...: run it, and it must succeed
ok() {
	run "$@"
	[ $rc = 0 ] || fail "$* exited $rc: $errout"
}
# refused STATUS PATTERN CMD...: must exit STATUS saying PATTERN (ERE)
refused() {
	local want=$1 pat=$2
	shift 2
	run "$@"
	[ "$rc" = "$want" ] || fail "$*: exit $rc, want $want (stderr: $errout)"
	grep -qiE -- "$pat" <<<"$errout" ||
		fail "$*: stderr does not say /$pat/: $errout"
}
eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# jget EXPR <JSON: EXPR over the parsed d; booleans/null/lists as JSON
jget() {
	$PY -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (bool, type(None), list, dict)) else v)' "$1" 2>&1
}
# stat_of IDX FIELD: one counter from sysfs, by its position
stat_of() {
	local names=(batches entries bytes_read bytes_written entries_failed
		     batches_invalid polled_bios retried_entries) i
	read -r -a v <"/sys/class/misc/blkbatch$1/stat"
	for i in "${!names[@]}"; do
		[ "${names[$i]}" = "$2" ] && { echo "${v[$i]}"; return; }
	done
}
# stats_json NODE: the tool's counters, as "batches entries ... " for diffing
stats_json() {
	"$cli" -o json stats "$1" | jget '" ".join(str(d[k]) for k in
		("batches", "entries", "bytes_read", "bytes_written",
		 "entries_failed", "batches_invalid", "polled_bios", "retried_entries"))'
}
# delta A B: B - A, field by field
delta() {
	local -a a b
	local i r=()
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	for i in "${!a[@]}"; do r+=($((b[i] - a[i]))); done
	echo "${r[*]}"
}
# The ioctl of one raw batch, for what the tool refuses to submit: "empty"
# (nr 0, refused by validation) or "fault" (one read into an address no
# process maps: issued, its entry fails with -EFAULT).
raw_submit() { # NODE empty|fault
	$PY - "$@" <<'EOF'
import ctypes, fcntl, os, struct, sys
SUBMIT = (3 << 30) | (80 << 16) | (0xbb << 8) | 0x11   # _IOWR(0xbb, 0x11, 80)
fd = os.open(sys.argv[1], os.O_RDWR)
ents = ctypes.create_string_buffer(32)
st = ctypes.create_string_buffer(4)
nr = 0
if sys.argv[2] == "fault":
    nr = 1
    struct.pack_into("<BBHIQQII", ents, 0, 0, 0, 0, 4096, 0, 0x800000000000, 0, 0)
cmd = bytearray(struct.pack("<QQII56x", ctypes.addressof(ents),
                            ctypes.addressof(st), nr, 0))
try:
    r = fcntl.ioctl(fd, SUBMIT, cmd)
except OSError as e:
    print("errno", e.errno)
    sys.exit(0)
print("res", r, "status", struct.unpack("<i", st.raw)[0])
EOF
}

say "$("$cli" version | head -n1), disk $disk ($disk_dev)"
# The protocol the tool was built with (BLKBATCH_VERSION), as the module's.
proto=$("$cli" version | sed -n '1s/.*(protocol \([0-9]*\)).*/\1/p')
disk_bytes=$(($(cat /sys/class/block/${disk##*/}/size) * 512))
q=/sys/block/${disk##*/}/queue
detach_all "$disk_dev"

# ---- attach: JSON with the node, and the node exists
begin
ok "$cli" attach "$disk" -o json
node=$(jget 'd["node"]' <<<"$out")
idx=$(jget 'd["index"]' <<<"$out")
eq node "$node" "/dev/blkbatch$idx"
eq device "$(jget 'd["device"]' <<<"$out")" "$(realpath "$disk")"
eq read_only "$(jget 'd["read_only"]' <<<"$out")" false
[ -c "$node" ] || fail "$node is not a character device"
end attach
if [ ! -c "${node:-/nonexistent}" ]; then
	for t in "${tests[@]:1}"; do skip "$t" "attach failed"; done
	exit 1
fi
sys=/sys/class/misc/blkbatch$idx

# ---- sysfs attributes against the disk's own
begin
eq dev_backing "$(cat $sys/dev_backing)" "$disk_dev"
eq read_only "$(cat $sys/read_only)" 0
eq inflight "$(cat $sys/inflight)" 0
read -r -a st <$sys/stat
eq "stat fields" "${#st[@]}" 8
eq "stat of a fresh attach" "${st[*]}" "0 0 0 0 0 0 0 0"
end sysfs_attrs

# ---- list -o json (after the command): our disk, its MAJ:MIN and size
begin
ok "$cli" list -o json
e="[x for x in d['devices'] if x['node'] == '$node'][0]"
eq dev "$(jget "${e}['dev']" <<<"$out")" "$disk_dev"
eq dev_major:dev_minor "$(jget "'%d:%d' % (${e}['dev_major'], ${e}['dev_minor'])" <<<"$out")" "$disk_dev"
eq device "$(jget "${e}['device']" <<<"$out")" "$(realpath "$disk")"
eq size "$(jget "${e}['size']" <<<"$out")" "$disk_bytes"
eq logical_block_size "$(jget "${e}['logical_block_size']" <<<"$out")" "$(cat $q/logical_block_size)"
eq read_only "$(jget "${e}['read_only']" <<<"$out")" false
eq inflight "$(jget "${e}['inflight']" <<<"$out")" 0
end list_json

begin
ok "$cli" list
grep -Eq "^$node +$(realpath "$disk") +$disk_dev +$disk_bytes " <<<"$out" ||
	fail "no row for $node $disk $disk_dev $disk_bytes in: $out"
end list_normal

# ---- info -o json: GET_INFO against sysfs
begin
ok "$cli" -o json info "$node"
j=$out
eq index "$(jget 'd["index"]' <<<"$j")" "$idx"
eq version "$(jget 'd["version"]' <<<"$j")" "$proto"
eq dev "$(jget 'd["dev"]' <<<"$j")" "$disk_dev"
eq dev_major:dev_minor "$(jget '"%d:%d" % (d["dev_major"], d["dev_minor"])' <<<"$j")" "$(cat $sys/dev_backing)"
eq capacity "$(jget 'd["capacity"]' <<<"$j")" "$disk_bytes"
eq logical_block_size "$(jget 'd["logical_block_size"]' <<<"$j")" "$(cat $q/logical_block_size)"
eq physical_block_size "$(jget 'd["physical_block_size"]' <<<"$j")" "$(cat $q/physical_block_size)"
[ -r $q/dma_alignment ] &&
	eq dma_alignment "$(jget 'd["dma_alignment"]' <<<"$j")" "$(($(cat $q/dma_alignment) + 1))"
u32=$(( (1 << 32) - 1 ))
dmax=$(cat $q/discard_max_bytes)
eq max_discard_bytes "$(jget 'd["max_discard_bytes"]' <<<"$j")" $((dmax > u32 ? u32 : dmax))
hw=$(($(cat $q/max_hw_sectors_kb) * 1024))
eq max_hw_bytes "$(jget 'd["max_hw_bytes"]' <<<"$j")" $((hw > u32 ? u32 : hw))
eq read_only "$(jget 'd["read_only"]' <<<"$j")" false
eq attach_flags "$(jget 'd["attach_flags"]' <<<"$j")" 0
for f in read-write flush sync barrier dev-t; do
	eq "feature $f" "$(jget "'$f' in d['features']" <<<"$j")" true
done
eq "features are names" "$(jget 'all(isinstance(f, str) and not f.startswith("bit") for f in d["features"])' <<<"$j")" true
eq "feature discard" "$(jget "'discard' in d['features']" <<<"$j")" \
	"$([ "$dmax" -gt 0 ] && echo true || echo false)"
eq "feature write-cache" "$(jget "'write-cache' in d['features']" <<<"$j")" \
	"$([ "$(cat $q/write_cache)" = "write back" ] && echo true || echo false)"
eq "feature_bits" "$(jget 'd["feature_bits"] & (1 << 13) != 0' <<<"$j")" true
end info_json

begin
ok "$cli" info "blkbatch$idx"
grep -q "^features *:.* dev-t" <<<"$out" || fail "no features line: $out"
grep -q "^device *: $(realpath "$disk") ($disk_dev)" <<<"$out" || fail "no device line: $out"
# NODE may be the attached disk itself
ok "$cli" info -o json "$disk"
eq "info by disk" "$(jget 'd["node"]' <<<"$out")" "$node"
end info_normal

# ---- write a pattern, read it back to a file and to stdout
begin
s0=$(stats_json "$node")
head -c 1M /dev/urandom >"$tmp/pattern"
ok "$cli" write "$node" --offset 1m --length 1m --data "$tmp/pattern"
ok "$cli" read "$node" --offset 1m --length 1m --data "$tmp/back"
cmp "$tmp/pattern" "$tmp/back" >/dev/null 2>&1 || fail "read back (--data) differs"
"$cli" read "$node" --offset 1048576 --length 1024k >"$tmp/back2" 2>"$tmp/stderr" ||
	fail "read to stdout failed: $(<"$tmp/stderr")"
cmp "$tmp/pattern" "$tmp/back2" >/dev/null 2>&1 || fail "read back (stdout) differs"
# stdin, and -o json
ok "$cli" write "$node" -o json --offset 2m --length 4k <"$tmp/pattern"
eq "write json entries" "$(jget 'd["entries"]' <<<"$out")" 1
eq "write json length" "$(jget 'd["length"]' <<<"$out")" 4096
s1=$(stats_json "$node")
end write_read

# ---- to a terminal, read prints a hex dump (hexdump -C's layout)
if command -v script >/dev/null && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	begin
	printf 'blkbatch\n' >"$tmp/hello"
	head -c 4088 /dev/zero >>"$tmp/hello"
	ok "$cli" write "$node" --offset 3m --length 4k --data "$tmp/hello"
	out=$(script -qec "$cli read $node --offset 3m --length 4k" /dev/null </dev/null)
	grep -q "^00300000  62 6c 6b 62 61 74 63 68  0a 00 00 00 00 00 00 00  |blkbatch\.\.\.\.\.\.\.\.|" <<<"$out" ||
		fail "no hex dump of the first line: $out"
	grep -q "^00301000" <<<"$out" || fail "no end offset: $out"
	end read_tty
else
	skip read_tty "no script(1)"
fi

# ---- the counters say what the test did: 4 batches of 1 entry
begin
eq "stats delta (batches entries read written failed invalid ...)" \
	"$(delta "$s0" "$s1" | cut -d' ' -f1-6)" "4 4 2097152 1052672 0 0"
eq "stats json equals sysfs" "$(stats_json "$node" | cut -d' ' -f1)" "$(stat_of $idx batches)"
ok "$cli" stats "$node"
grep -Eq "^ *bytes_written *: *$(stat_of $idx bytes_written)$" <<<"$out" ||
	fail "normal stats lack bytes_written: $out"
end stats_counts

# ---- --watch 1 --count 2: two samples, the second with rates
begin
ok "$cli" -o json stats "$node" --watch 1 --count 2
eq "json samples" "$(wc -l <<<"$out")" 2
eq "first sample has no rates" "$(head -n1 <<<"$out" | jget 'd["rates"]')" null
eq "second sample rates" "$(tail -n1 <<<"$out" | jget 'sorted(d["rates"]) == sorted(["batches", "entries", "bytes_read", "bytes_written", "entries_failed", "batches_invalid", "polled_bios", "retried_entries"]) and d["interval"] > 0.5')" true
ok "$cli" stats "$node" -w 1 -c 2
eq "normal samples" "$(grep -c "^$node at " <<<"$out")" 2
grep -q "batches .*/s" <<<"$out" || fail "no rates in: $out"
end stats_watch

# ---- the tool checks what the kernel would refuse, and submits nothing
begin
s0=$(stats_json "$node")
refused 1 "multiple of the logical block size" "$cli" read "$node" --offset 1 --length 4k --data "$tmp/x"
refused 1 "multiple of the logical block size" "$cli" write "$node" --offset 0 --length 100 --data "$tmp/pattern"
refused 1 "beyond the device" "$cli" read "$node" --offset $((disk_bytes - 4096)) --length 8k --data "$tmp/x"
refused 1 "beyond the device" "$cli" read "$node" --offset $((disk_bytes + 4096)) --length 4k --data "$tmp/x"
eq "counters after refusals" "$(stats_json "$node")" "$s0"
end refuse_invalid

begin
s0=$(stats_json "$node")
head -c 4096 /dev/zero >"$tmp/short"
refused 1 "less than --length" "$cli" write "$node" --offset 0 --length 8k --data "$tmp/short"
eq "counters after a short input" "$(stats_json "$node")" "$s0"
end write_short

# ---- batches_invalid and entries_failed, through batches the tool
# would never send
begin
s0=$(stats_json "$node")
eq "nr 0" "$(raw_submit "$node" empty)" "errno 22"
eq "delta" "$(delta "$s0" "$(stats_json "$node")")" "0 0 0 0 0 1 0 0"
end batches_invalid

begin
s0=$(stats_json "$node")
eq "read to an unmapped buffer" "$(raw_submit "$node" fault)" "res 0 status -14"
eq "delta" "$(delta "$s0" "$(stats_json "$node")")" "1 1 0 0 1 0 0 0"
end entries_failed

# ---- an entry that fails on the device: reported with its offset
begin
if nullb_up bbcli size=64 memory_backed=1 blocksize=4096 badblocks=+2048-2055; then
	ok "$cli" attach /dev/bbcli
	bnode=$out
	refused 1 "entry 0 \(offset 1048576, 1048576 bytes\) failed: Input/output error" \
		"$cli" read "$bnode" --offset 1m --length 1m --data "$tmp/x"
	grep -q "1 of 1 entries failed" <<<"$errout" || fail "no summary: $errout"
	eq "entries_failed" "$("$cli" -o json stats "$bnode" | jget 'd["entries_failed"]')" 1
	ok "$cli" read "$bnode" --offset 0 --length 1m --data "$tmp/x"
	ok "$cli" detach "$bnode"
	nullb_gone bbcli
	end entry_error
else
	nullb_gone bbcli
	skip entry_error "no configfs null_blk"
fi

# ---- errors
begin
refused 1 "busy: already attached as $node" "$cli" attach "$disk"
end busy

begin
free=63
while [ -e /sys/class/misc/blkbatch$free ]; do free=$((free - 1)); done
refused 1 "blkbatch$free: not attached.*blkbatch list" "$cli" detach "blkbatch$free"
refused 1 "not attached.*blkbatch list" "$cli" detach "/dev/blkbatch$free"
refused 1 "nothing is attached as blkbatch$free" "$cli" info "/dev/blkbatch$free"
end detach_missing

begin
refused 1 "/dev/bb-no-such-disk: No such file" "$cli" attach /dev/bb-no-such-disk
refused 1 "not a block device" "$cli" attach /dev/null
end attach_missing

if command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups "$cli" version >/dev/null 2>&1; then
	begin
	nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	refused 1 "needs root" "${nobody[@]}" "$cli" attach "$disk"
	refused 1 "needs root" "${nobody[@]}" "$cli" detach "$node"
	refused 1 "$node: permission denied.*group disk" "${nobody[@]}" "$cli" info "$node"
	# list and stats need no open node: sysfs is everyone's
	ok "${nobody[@]}" "$cli" -o json list
	e="[x for x in d['devices'] if x['node'] == '$node'][0]"
	eq "nobody's list size" "$(jget "${e}['size']" <<<"$out")" "$disk_bytes"
	eq "nobody's list dev" "$(jget "${e}['dev']" <<<"$out")" "$disk_dev"
	ok "${nobody[@]}" "$cli" stats "$node"
	end nonroot
else
	skip nonroot "no setpriv, or nobody cannot run $cli"
fi

begin
refused 2 "unknown command" "$cli" frobnicate
refused 2 "needs --offset and --length" "$cli" read "$node" --length 4k
refused 2 "bad --length" "$cli" read "$node" --offset 0 --length 4x
refused 2 "unknown output format" "$cli" -o yaml list
refused 2 "unknown option" "$cli" list --frob
refused 2 "needs --data" "$cli" -o json read "$node" --offset 0 --length 4k
ok "$cli" help
end usage

# Without the module is hard to have while it is loaded: hide it in a
# mount namespace of our own (an empty /dev and /sys/module).
if command -v unshare >/dev/null &&
   unshare -m sh -c 'mount -t tmpfs none /sys/module && mount -t tmpfs none /dev' 2>/dev/null; then
	begin
	refused 1 "not loaded.*modprobe blkbatch" unshare -m sh -c \
		'mount -t tmpfs none /sys/module && mount -t tmpfs none /dev && exec "$0" list' "$cli"
	refused 1 "not loaded.*modprobe blkbatch" unshare -m sh -c \
		'mount -t tmpfs none /sys/module && mount -t tmpfs none /dev && exec "$0" attach /dev/x' "$cli"
	end module_not_loaded
else
	skip module_not_loaded "no unshare, or no tmpfs mounts in a new namespace"
fi

# ---- detach by the block device's path
begin
ok "$cli" detach "$disk"
eq "detach output" "$out" "detached $node ($(realpath "$disk"))"
[ -e "$sys" ] && fail "$sys still there"
ok "$cli" list -o json
eq "list after detach" "$(jget "[x for x in d['devices'] if x['dev'] == '$disk_dev']" <<<"$out")" "[]"
end detach_by_device

# ---- --read-only: every view says so, writes are refused
begin
ok "$cli" -o json attach --read-only "$disk"
eq "attach read_only" "$(jget 'd["read_only"]' <<<"$out")" true
node=$(jget 'd["node"]' <<<"$out")
idx=$(jget 'd["index"]' <<<"$out")
eq "sysfs read_only" "$(cat /sys/class/misc/blkbatch$idx/read_only 2>&1)" 1
eq "sysfs dev_backing" "$(cat /sys/class/misc/blkbatch$idx/dev_backing 2>&1)" "$disk_dev"
ok "$cli" -o json info "$node"
eq "info read_only" "$(jget 'd["read_only"]' <<<"$out")" true
eq "info attach_flags" "$(jget 'd["attach_flags"]' <<<"$out")" 1
ok "$cli" -o json list
eq "list read_only" "$(jget "[x['read_only'] for x in d['devices'] if x['node'] == '$node']" <<<"$out")" "[true]"
refused 1 "attached read-only" "$cli" write "$node" --offset 0 --length 4k --data "$tmp/pattern"
ok "$cli" read "$node" --offset 1m --length 4k --data "$tmp/x"
cmp -n 4096 "$tmp/pattern" "$tmp/x" >/dev/null 2>&1 || fail "read-only read differs"
ok "$cli" detach "$node"
end read_only

exit $failed
