#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu/demo.sh [SERIES]   (default: the first series in kernels.conf)
#
# Boot that kernel and run qemu/guest-demo.sh in it, output live; the
# output is also kept in build/vm/demo-<kver>/. Exit status as run-vm.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo" # the guest runs the demo in the same directory
. "$here/kernels.conf"
kver=$("$here/fetch-kernel.sh" "${1:-${KERNEL_SERIES[0]}}")
exec "$here/run-vm.sh" -k "$kver" -o "$repo/build/vm/demo-$kver" -- qemu/guest-demo.sh
