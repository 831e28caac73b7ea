// SPDX-License-Identifier: GPL-2.0
/*
 * BLKBATCH_IOC_SUBMIT: the same batch, for callers without io_uring.
 *
 * The task waits for each segment end and resumes the batch itself.  A
 * fatal signal ends the wait, but not the bios in flight: the batch then
 * is an orphan.  @owners counts the waiter and the segment end; whichever
 * drops it to zero frees the batch, and a killed waiter leaves holding a
 * reference on the file, so that the module outlives the orphan.
 */
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "blkbatch.h"

/* Any context: the segment's last bio has completed. */
static void bb_sync_segment_end(struct bb_batch *b)
{
	if (atomic_dec_and_test(&b->owners))
		bb_batch_free_async(b);
	else
		complete(&b->done);
}

/* Killed while bios are in flight: let the completion free the batch. */
static void bb_sync_abandon(struct bb_batch *b)
{
	struct file *file = get_file(b->file);

	if (!atomic_dec_and_test(&b->owners))
		return;
	/*
	 * The completion dropped its owner first, so it is about to call
	 * complete(), or has: the batch is ours once that is over.
	 */
	wait_for_completion(&b->done);
	bb_batch_finish(b, false);
	fput(file);
}

/* Both owners hold the batch again before anything more is issued. */
static void bb_sync_arm(struct bb_batch *b)
{
	atomic_set(&b->owners, 2);
	reinit_completion(&b->done);
}

static int bb_sync_run(struct bb_batch *b)
{
	bb_sync_arm(b);
	bb_batch_issue(b);
	for (;;) {
		if (wait_for_completion_killable(&b->done)) {
			bb_sync_abandon(b);
			return -EINTR;
		}
		bb_sync_arm(b);
		if (!bb_batch_resume(b, true))
			break;
	}
	return bb_batch_finish(b, true);
}

long bb_ioctl_submit(struct file *file, struct blkbatch_cmd __user *ucmd)
{
	struct bb_dev *dev = file->private_data;
	struct blkbatch_cmd cmd;
	struct bb_batch *b;
	u64 bad;

	if (copy_from_user(&cmd, ucmd, sizeof(cmd)))
		return -EFAULT;
	b = bb_batch_create(dev, file, &cmd, NULL, 0, &bad);
	if (IS_ERR(b))
		return PTR_ERR(b);
	b->file = file;
	/* The caller's own system call: its ABI is the batch's. */
	b->compat = in_compat_syscall();
	b->segment_end = bb_sync_segment_end;
	init_completion(&b->done);
	return bb_sync_run(b);
}
