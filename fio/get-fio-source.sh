#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio/get-fio-source.sh CACHE_DIR
#
# Fetch the Debian source package of the fio this machine has installed
# (the engine must be built against that very version) into CACHE_DIR,
# through a private apt setup (qemu/lib.sh: the machine's apt
# configuration is not touched), unpack it with its Debian patches and
# configure it as Debian did.  Prints the tree's path.  Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/lib.sh"

cache=${1:?usage: get-fio-source.sh CACHE_DIR}
ver=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) ||
	{ echo "get-fio-source: fio is not installed (qemu/deps.sh)" >&2; exit 1; }
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
src=$cache/src-$ver
[ -e "$src/.configured" ] && { echo "$src"; exit 0; }

private_apt "$cache/apt" deb-src
apt-get "${APT_PRIVATE[@]}" update >&2
dsc=fio_${ver#*:}.dsc
(cd "$cache" && { [ -e "$dsc" ] ||
	apt-get "${APT_PRIVATE[@]}" source --download-only "fio=$ver" >&2; })
rm -rf "$src"
# dpkg-source checks the .dsc's checksums and applies debian/patches.
dpkg-source -x "$cache/$dsc" "$src" >&2
# Debian's switches (debian/rules) but --enable-gfio and --enable-libnbd,
# which need GTK and libnbd headers and change no struct the engine
# touches (checked: every option offset of struct thread_options matches
# Debian's fio_options[]).
(cd "$src" && ./configure --disable-native --prefix=/usr >configure.log 2>&1) ||
	{ tail -n 20 "$src/configure.log" >&2; exit 1; }
touch "$src/.configured"
echo "$src"
