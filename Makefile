# SPDX-License-Identifier: GPL-2.0
#
#   make          build the module for every kernel, the library, the tests,
#                 the fio engine
#   make demo     boot the default kernel and run the demo (the main job)
#   make bench    benchmark blkbatch against fio in a VM on the default kernel
#   make check    run the selftests in a VM on every kernel
#   make KDIR=... build the module against one local kernel tree only
#   make install  install for the running kernel (or KVER=): the module,
#                 the library, its header, .pc and man pages, the udev rule;
#                 DESTDIR and PREFIX are honoured.  make uninstall undoes it.

CACHE		?= $(CURDIR)/.cache
# Kernel series come from qemu/kernels.conf, the one place they are named.
KERNELS		?= $(shell bash -c '. qemu/kernels.conf; echo $${KERNEL_SERIES[*]}')
DEFAULT_KERNEL	?= $(firstword $(KERNELS))
W		?= 1

export BLKBATCH_CACHE := $(CACHE)

# Kbuild runs in build/<kernel>/ with the sources linked in (dkms.conf
# holds the module's version).
KSRC := Kbuild dkms.conf $(wildcard kmod/*.c kmod/*.h) uapi
# Warnings are errors here; an install for someone else's compiler and
# kernel does not fail on a new warning.
MOD_KCFLAGS	?= -Werror

# make install
PREFIX		?= /usr/local
KVER_INSTALL	:= $(or $(KVER),$(shell uname -r))
KDIR_INSTALL	?= /lib/modules/$(KVER_INSTALL)/build
MODDIR		?= /lib/modules/$(KVER_INSTALL)/updates
UDEVRULESDIR	?= /lib/udev/rules.d

.PHONY: all deps modules module userlib selftests fio cli demo bench check checkpatch clean \
	install install-module install-udev uninstall

all: deps modules userlib selftests fio cli

deps:
	@qemu/deps.sh

ifeq ($(KDIR),)
# A series is fetched, or built (the debug kernel: KERNEL_BUILD in
# kernels.conf; a few minutes the first time).
modules: deps
	@set -e; for s in $(KERNELS); do \
		get=$$(bash -c '. qemu/kernels.conf; \
			echo $${KERNEL_BUILD[$$1]:-fetch-kernel.sh}' _ $$s); \
		kver=$$(qemu/$$get $$s); \
		$(MAKE) --no-print-directory module KVER=$$kver \
			MKDIR=$(CACHE)/$$kver/kdir; \
	done
else
modules:
	@$(MAKE) --no-print-directory module KVER=local MKDIR=$(KDIR)
endif

module:
	@mkdir -p build/$(KVER)/kmod
	@for f in $(KSRC); do ln -sfn $(CURDIR)/$$f build/$(KVER)/$$f; done
	$(MAKE) -C $(MKDIR) M=$(CURDIR)/build/$(KVER) W=$(W) KCFLAGS=$(MOD_KCFLAGS) modules

userlib: deps
	$(MAKE) -C userlib

# blkbatch(8); selftests/blkbatch_cli.sh runs it in the VM.
cli: userlib
	$(MAKE) -C cli

selftests: userlib cli
	$(MAKE) -C selftests

# fio's source (for its headers) is fetched into the cache the first time.
fio: userlib
	$(MAKE) -C fio CACHE=$(CACHE)

# Only the default kernel's module: the demo must not wait for the debug
# kernel to build.
demo: deps userlib fio
	@$(MAKE) --no-print-directory modules KERNELS=$(DEFAULT_KERNEL)
	$(MAKE) -C bench
	qemu/demo.sh $(DEFAULT_KERNEL)

# The same kernel as the demo; about 45 minutes of VM time. Results in
# bench/results.{csv,md,png}, the summary in README.md.
bench: deps userlib fio
	@$(MAKE) --no-print-directory modules KERNELS=$(DEFAULT_KERNEL)
	$(MAKE) -C bench
	qemu/bench.sh $(DEFAULT_KERNEL)

# check.sh does the building itself, so that any failure is still counted
# in its one summary line.
check: deps
	qemu/check.sh $(KERNELS)

# checkpatch.pl --strict from Debian's linux-source-6.12, never committed.
# compat.h alone may compare LINUX_VERSION_CODE: that is its job.
CP_DIR := build/checkpatch
CP := $(CP_DIR)/checkpatch.pl --strict --no-tree --quiet --show-types -f

$(CP_DIR)/.stamp:
	@mkdir -p $(CP_DIR)
	tar -xJf /usr/src/linux-source-6.12.tar.xz -C $(CP_DIR) \
		--strip-components=2 --wildcards '*/scripts/checkpatch.pl' \
		'*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
	@touch $@

# trace.h is laid out the way every TRACE_EVENT is, which --strict's
# layout checks do not know.
checkpatch: deps $(CP_DIR)/.stamp
	$(CP) $(filter-out kmod/compat.h kmod/trace.h,$(wildcard kmod/*.[ch])) \
		uapi/linux/blkbatch.h
	$(CP) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON kmod/compat.h
	$(CP) --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT kmod/trace.h

# No deps: installing must not install build tools on someone's server.
# depmod and the udev reload only for the live system, not into DESTDIR
# (a package runs them when it is installed).
install: install-module install-udev
	$(MAKE) -C userlib install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	$(MAKE) -C cli install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

install-module:
	@[ -d $(KDIR_INSTALL) ] || { echo "no kernel headers in $(KDIR_INSTALL):" \
		"install linux-headers-$(KVER_INSTALL), or give KDIR_INSTALL=" >&2; exit 1; }
	$(MAKE) --no-print-directory module KVER=$(KVER_INSTALL) \
		MKDIR=$(KDIR_INSTALL) W= MOD_KCFLAGS=
	install -D -m 644 build/$(KVER_INSTALL)/blkbatch.ko \
		$(DESTDIR)$(MODDIR)/blkbatch.ko
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER_INSTALL)

install-udev:
	install -D -m 644 udev/60-blkbatch.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-blkbatch.rules
	[ -n "$(DESTDIR)" ] || ! command -v udevadm >/dev/null || \
		udevadm control --reload

uninstall:
	rm -f $(DESTDIR)$(MODDIR)/blkbatch.ko \
		$(DESTDIR)$(UDEVRULESDIR)/60-blkbatch.rules
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER_INSTALL)
	$(MAKE) -C userlib uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	$(MAKE) -C cli uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

clean:
	rm -rf build
	$(MAKE) -C userlib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C bench clean
	$(MAKE) -C cli clean
	$(MAKE) -C fio clean
