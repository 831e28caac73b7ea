#!/bin/bash
# SPDX-License-Identifier: MIT
#
# userlib/test/snippets.sh CC CFLAGS...: compile every code snippet a
# reader may copy: the README's (each after a "<!-- snippet: NAME -->"
# line) and libblkbatch(7)'s EXAMPLE.  README snippets are statement
# lists, compiled inside a function that declares what the text around
# them names (buf, off, i, ret, dev, ring, b); the man page's is a whole
# function.  Exit status non-zero if one does not compile warning-free.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prologue='#include <errno.h>
#include <fcntl.h>
#include <libblkbatch.h>
'
n=0 failed=0
compile() {
	local what=$1
	shift
	if ! "$cc" "$@" -Wall -Wextra -Werror -fsyntax-only -I. -I../uapi \
		"$tmp/s.c" 2>"$tmp/err"; then
		echo "snippets: $what does not compile:" >&2
		cat "$tmp/err" >&2
		failed=1
	fi
	n=$((n + 1))
}

while read -r name; do
	{
		echo "$prologue"
		echo 'int snippet(char *buf, const __u64 *off);'
		echo 'int snippet(char *buf, const __u64 *off)'
		echo '{'
		echo '	struct blkbatch_dev dev = { .fd = -1 };'
		echo '	struct blkbatch_ring ring = { 0 };'
		echo '	struct blkbatch_batch b = { 0 };'
		echo '	unsigned int i;'
		echo '	int ret = 0;'
		echo '	(void)dev; (void)ring; (void)b;'
		echo '	{'
		awk -v n="$name" '
			$0 == "<!-- snippet: " n " -->" { want = 1; next }
			want && /^```c$/ { inside = 1; next }
			inside && /^```$/ { exit }
			inside { print }' ../README.md
		echo '	}'
		echo '	return ret;'
		echo '}'
	} >"$tmp/s.c"
	compile "README snippet $name" "$@"
done < <(sed -n 's/^<!-- snippet: \(.*\) -->$/\1/p' ../README.md)

{
	echo "$prologue"
	echo 'int read_256(const char *disk, char *buf, const __u64 *offs);'
	sed -n '/^\.SH EXAMPLE/,/^\.SH/{/^\.EX$/,/^\.EE$/p}' man/libblkbatch.7 |
		sed '/^\.EX$/d; /^\.EE$/d; s/\\e/\\/g'
} >"$tmp/s.c"
compile "libblkbatch(7) EXAMPLE" "$@"

[ "$failed" -eq 0 ] || exit 1
echo "snippets: $n compile"
