#!/bin/bash
# SPDX-License-Identifier: MIT
#
# userlib/test/manpages.sh ALIAS:PAGE...: every exported function has a
# man page or an alias to one, and every .BR reference to a blkbatch page
# resolves in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A have=()
for f in man/*.[37]; do
	b=$(basename "$f")
	have[${b%.*}]=1
done
for a in "$@"; do
	[ -n "${have[${a#*:}]:-}" ] || { echo "manpages: alias $a: no page" >&2; exit 1; }
	have[${a%%:*}]=1
done
bad=0
for sym in $(sed -n 's/^[[:space:]]*\(blkbatch_[a-z0-9_]*\);$/\1/p' libblkbatch.map); do
	[ -n "${have[$sym]:-}" ] || { echo "manpages: $sym has no page" >&2; bad=1; }
done
for ref in $(grep -ho '^\.BR \(blkbatch_[a-z0-9_]*\|libblkbatch\) ([37])' man/* |
	     awk '{ print $2 }' | sort -u); do
	[ -n "${have[$ref]:-}" ] || { echo "manpages: .BR $ref: no such page" >&2; bad=1; }
done
[ "$bad" -eq 0 ] && echo "man pages: every function documented, every reference resolves"
