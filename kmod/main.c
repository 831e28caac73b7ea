// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch: batched block I/O through one io_uring command.
 *
 * Module parameters and init/exit.  See uapi/linux/blkbatch.h for the
 * protocol.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "blkbatch.h"

unsigned int bb_max_entries = BB_DEFAULT_MAX_ENTRIES;
module_param_named(max_entries, bb_max_entries, uint, 0444);
MODULE_PARM_DESC(max_entries,
		 "Largest number of entries in one batch (1..1048576). Default: 16384");

static char *g_attach;
module_param_named(attach, g_attach, charp, 0444);
MODULE_PARM_DESC(attach,
		 "Comma-separated block devices to attach at load time. Default: none");

atomic_t bb_live_batches = ATOMIC_INIT(0);
atomic_t bb_polled_bios = ATOMIC_INIT(0);
atomic_t bb_retried_entries = ATOMIC_INIT(0);
static struct dentry *bb_debugfs;

/*
 * debugfs blkbatch/batches: batches allocated and not yet freed.  Every
 * bio holds its batch, so zero means nothing of ours is in flight or
 * pinned; the selftests check it after each test.  "polled" and "retried"
 * count polled bios and the entries issued again after one could not be
 * (both wrap), so that tests can tell which path their I/O took.
 * "fail_again", on kernels with fault injection, is bio.c's.
 */
static void bb_debugfs_init(void)
{
	bb_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_atomic_t("batches", 0400, bb_debugfs,
				&bb_live_batches);
	debugfs_create_atomic_t("polled", 0400, bb_debugfs, &bb_polled_bios);
	debugfs_create_atomic_t("retried", 0400, bb_debugfs,
				&bb_retried_entries);
	bb_fault_init(bb_debugfs);
}

static int __init bb_init(void)
{
	int ret;

	if (!bb_max_entries || bb_max_entries > BB_MAX_MAX_ENTRIES) {
		pr_err("max_entries must be 1..%u\n", BB_MAX_MAX_ENTRIES);
		return -EINVAL;
	}

	ret = bb_bio_init();
	if (ret)
		return ret;
	ret = bb_ctl_init();
	if (ret)
		goto out_bio;
	bb_debugfs_init();
	if (g_attach)
		bb_ctl_attach_list(g_attach);
	return 0;

out_bio:
	bb_bio_exit();
	return ret;
}

static void __exit bb_exit(void)
{
	debugfs_remove(bb_debugfs);
	bb_ctl_exit();
	bb_bio_exit();
	WARN_ON_ONCE(atomic_read(&bb_live_batches));
}

module_init(bb_init);
module_exit(bb_exit);

MODULE_AUTHOR("The blkbatch developers");
MODULE_DESCRIPTION("Batched block I/O through one io_uring command");
MODULE_LICENSE("GPL");
MODULE_VERSION(BLKBATCH_MODVER);
