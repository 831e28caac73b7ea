#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/apt-suite.sh SUITE candidate PACKAGE
# qemu/apt-suite.sh SUITE depends PACKAGE
# qemu/apt-suite.sh SUITE download DIR PACKAGE=VERSION...
#
# Another Debian suite (e.g. trixie-backports, for the newest kernel
# source) through a private apt setup under $BLKBATCH_CACHE/apt/SUITE:
# its own sources file, lists and package cache, nothing added to the
# machine's apt configuration and no root needed.  The archive is the one
# the machine's own sources name for its release (so a mirror or proxy
# configured there is used here too), with the same keyring.
#   candidate prints the version apt would take of PACKAGE
#   depends   prints "NAME VERSION" of the first package the candidate of
#             PACKAGE depends on (a meta package's target)
#   download  leaves the .deb files in DIR
# The lists are refreshed when older than a day.  Everything but the
# result goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=${1:?usage: apt-suite.sh SUITE candidate|depends PKG | download DIR PKG=VER...}
cmd=${2:?usage: apt-suite.sh SUITE candidate|depends PKG | download DIR PKG=VER...}
shift 2
cache=${BLKBATCH_CACHE:-$(dirname "$here")/.cache}
top=$cache/apt/$suite

say() { echo "apt-suite: $*" >&2; }
die() { say "$*"; exit 1; }

# "URI KEYRING" of the machine's sources for its own release, deb822
# (*.sources) first, then one-line lists.
machine_source() {
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || return 1
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# One stanza per paragraph: the first whose Suites has the
		# release itself (not -security, -updates).
		awk -v rel="$codename" '
			function flush() {
				if (ok && uri != "") { print uri, (key == "" ? "-" : key); found = 1; exit }
				ok = 0; uri = ""; key = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^URIs:/ { uri = $2 }
			/^Signed-By:/ { key = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == rel) ok = 1 }
			END { if (!found) flush() }' "$f" | head -n1 | grep . && return 0
	done
	# "deb [signed-by=K ...] URI SUITE COMPONENTS..."
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		sed -nE 's/^deb +(\[([^]]*)\] +)?([^ ]+) +([^ ]+) .*/\4 \3 \2/p' "$f" |
			awk -v rel="$codename" '$1 == rel {
				key = "-"
				for (i = 3; i <= NF; i++)
					if ($i ~ /^signed-by=/) key = substr($i, 11)
				print $2, key; exit
			}' | grep . && return 0
	done
	return 1
}

opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$top/sources"
      -o "Dir::State::Lists=$top/lists" -o "Dir::Cache=$top/cache"
      -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Architecture=amd64"
      -o "Debug::NoLocking=true")

setup() {
	local src uri key
	src=$(machine_source) || die "no apt source for this machine's release in /etc/apt"
	uri=${src%% *} key=${src#* }
	mkdir -p "$top/sources" "$top/lists/partial" "$top/cache/archives/partial"
	{
		echo "Types: deb deb-src"
		echo "URIs: $uri"
		echo "Suites: $suite"
		echo "Components: main"
		[ "$key" = - ] || echo "Signed-By: $key"
	} >"$top/sources/$suite.sources.new"
	if ! cmp -s "$top/sources/$suite.sources.new" "$top/sources/$suite.sources"; then
		mv "$top/sources/$suite.sources.new" "$top/sources/$suite.sources"
		rm -f "$top/.updated"
	else
		rm -f "$top/sources/$suite.sources.new"
	fi
	if [ -z "$(find "$top/.updated" -mmin -1440 2>/dev/null)" ]; then
		say "updating the lists of $suite (private apt setup in $top)"
		apt-get "${opts[@]}" -qq update >&2 || die "apt-get update of $suite failed"
		touch "$top/.updated"
	fi
}

candidate() {
	local v
	v=$(apt-cache "${opts[@]}" policy "$1" | sed -n 's/^ *Candidate: //p')
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "$suite has no $1"
	echo "$v"
}

setup
case $cmd in
candidate)
	candidate "${1:?which package?}"
	;;
depends)
	pkg=${1:?which package?}
	ver=$(candidate "$pkg")
	dep=$(apt-cache "${opts[@]}" show "$pkg=$ver" |
		sed -nE 's/^Depends: ([^ ,]+).*/\1/p' | head -n1)
	[ -n "$dep" ] || die "$pkg $ver depends on nothing"
	dver=$(apt-cache "${opts[@]}" show "$pkg=$ver" |
		sed -nE 's/^Depends: [^ ,]+ \(= ([^)]+)\).*/\1/p' | head -n1)
	[ -n "$dver" ] || dver=$(candidate "$dep")
	echo "$dep $dver"
	;;
download)
	dir=${1:?where to?}
	shift
	mkdir -p "$dir"
	(cd "$dir" && apt-get "${opts[@]}" -qq download "$@") >&2 ||
		die "apt-get download $* from $suite failed"
	;;
*)
	die "unknown command $cmd"
	;;
esac
