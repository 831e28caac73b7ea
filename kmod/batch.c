// SPDX-License-Identifier: GPL-2.0
/*
 * The batch object, and the words for its life:
 *
 * create	copy the entry array once, validate all of it, take the
 *		device's active reference (bb_batch_create).
 * segment	the entries up to and including the next BARRIER, issued
 *		under one plug by the issuing context (bb_batch_issue); the
 *		entries after it wait until every bio of the segment is done.
 * retry	entries whose polled bio could not be had without waiting
 *		(an IOPOLL ring: no tag, a frozen queue, no bio at once) are
 *		issued again, waiting and by interrupt, once the rest of the
 *		segment is done (bb_batch_retry); they belong to the segment.
 * segment end	the last bio of a segment (or of its retries) drops
 *		@pending to zero and calls the transport's ->segment_end, in
 *		any context, often interrupt: the transport gets to task
 *		context (task work, the poll loop, the sync waiter).
 * resume	there, bb_batch_resume() issues what comes next (the retries,
 *		the next segment) or says the batch is over.
 * finish	bb_batch_finish() writes the statuses, frees the batch and
 *		returns the CQE result; the transport completes the request
 *		after it, since that may drop the last reference to the
 *		module.
 *
 * An IOPOLL ring's batch is resumed and finished by the ring's poll loop,
 * not task work: io_uring's exit and exec paths poll such a ring until its
 * requests complete without running task work (uring.c).  A synchronous
 * batch whose waiter is killed is an orphan: its last segment end frees
 * it (sync.c).
 */
#include <linux/file.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "blkbatch.h"
#include "trace.h"

/*
 * One allocation per batch, charged to the submitter's memcg (it decides
 * how big a batch is): the header, the entries, their statuses and, for a
 * polled batch, a bio pointer per entry.  Only the statuses need zeroing.
 */
static struct bb_batch *bb_batch_alloc(u32 nr, bool polled)
{
	struct bb_batch *b;
	size_t size;

	size = struct_size(b, ents, nr) + nr * sizeof(*b->err);
	if (polled)
		size = ALIGN(size, sizeof(*b->poll.bios)) + nr * sizeof(*b->poll.bios);
	b = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->err = (s32 *)&b->ents[nr];
	memset(b->err, 0, nr * sizeof(*b->err));
	if (polled) {
		b->poll.bios = (struct bio **)ALIGN((unsigned long)&b->err[nr],
					      sizeof(*b->poll.bios));
		spin_lock_init(&b->poll.lock);
		b->polled = true;
	}
	b->nr = nr;
	atomic_inc(&bb_live_batches);
	return b;
}

/*
 * The one way a batch goes, created or not.  ->uring_cmd_iopoll may
 * still be looking at an IOPOLL batch: see there.
 */
void bb_batch_free(struct bb_batch *b)
{
	bb_dev_end_batch(b->dev);
	atomic_dec(&bb_live_batches);
	if (b->mm)
		mmdrop(b->mm);
	if (b->iopoll)
		kvfree_rcu(b, rcu);
	else
		kvfree(b);
}

/*
 * Copy the entry array once and validate all of it.  @ioucmd is the
 * command of a fixed-buffer batch, else NULL; @issue_flags are the
 * command's (0 for the ioctl): IO_URING_F_IOPOLL says the ring polls
 * (nobody else would reap a poll queue), so the batch polls if the device
 * can.  On failure *@bad is the index of the offending entry, or
 * BLKBATCH_NO_ENTRY.  A detached device is refused before the command is
 * looked at (the uapi's order).
 */
struct bb_batch *bb_batch_create(struct bb_dev *dev, struct file *file,
				 const struct blkbatch_cmd *cmd,
				 struct io_uring_cmd *ioucmd,
				 unsigned int issue_flags, u64 *bad)
{
	struct bb_batch *b;
	u32 i, poll_max = 0;
	bool polled;
	int ret;

	*bad = BLKBATCH_NO_ENTRY;
	ret = bb_dev_start_batch(dev);
	if (ret)
		return ERR_PTR(ret);
	ret = bb_check_cmd(cmd);
	polled = !ret && (issue_flags & IO_URING_F_IOPOLL) &&
		 bb_dev_poll_max(dev, &poll_max);
	b = ret ? NULL : bb_batch_alloc(cmd->nr, polled);
	if (!b) {
		if (ret)
			bb_stats_add(dev, BB_STAT_INVALID, 1);
		bb_dev_end_batch(dev);
		return ERR_PTR(ret ?: -ENOMEM);
	}
	b->dev = dev;
	b->poll.max = poll_max;
	if (copy_from_user(b->ents, u64_to_user_ptr(cmd->entries),
			   flex_array_size(b, ents, cmd->nr))) {
		ret = -EFAULT;
		goto out_free;
	}

	bb_limits_init(dev, file, !!ioucmd, &b->lim);
	for (i = 0; i < cmd->nr; i++) {
		ret = bb_check_entry(&b->ents[i], &b->lim, ioucmd, issue_flags);
		if (ret) {
			*bad = i;
			goto out_free;
		}
	}
	b->fixed = !!ioucmd;
	b->ustatus = u64_to_user_ptr(cmd->status);
	b->abort_on_error = cmd->flags & BLKBATCH_CMD_F_ABORT_ON_ERROR;
	trace_batch_submit(b);
	return b;

out_free:
	bb_stats_add(dev, BB_STAT_INVALID, 1);
	bb_batch_free(b);
	return ERR_PTR(ret);
}

/* A bio of the segment is done (or the issuer's own hold). */
void bb_batch_put(struct bb_batch *b)
{
	if (atomic_dec_and_test(&b->pending))
		b->segment_end(b);
}

/*
 * A killed submitter stops issuing.  The SIGKILL reaches every thread of
 * the process, io-wq workers and the SQPOLL thread included.  Nothing
 * else cuts a batch short: io_uring's own threads see signal_pending()
 * for mere task work, and issuing is bounded anyway.
 */
static bool bb_issue_interrupted(void)
{
	return fatal_signal_pending(current);
}

/*
 * Issue entry @i; what fails before any bio is out is its status.  An
 * entry issued after the batch was validated (@recheck) is checked again
 * against what the device is now.
 */
static void bb_issue_one(struct bb_batch *b, u32 idx, bool recheck)
{
	const struct blkbatch_entry *e = &b->ents[idx];
	int ret = recheck ? bb_entry_recheck(e, &b->lim) : 0;

	if (!ret && bb_op_writes(e->op))
		ret = bb_cache_before_write(b, e);
	if (!ret)
		ret = bb_issue_entry(b, idx);
	if (ret)
		bb_entry_fail(b, idx, ret);
	cond_resched();
}

/*
 * Why entry @i is not issued, or 0 to issue it: an abort-on-error batch
 * stops at its first failure, a killed submitter stops at once.
 */
static int bb_skip_entry(struct bb_batch *b)
{
	if (b->abort_on_error && READ_ONCE(b->failed))
		return -ECANCELED;
	if (bb_issue_interrupted())
		return -EINTR;
	return 0;
}

/* The first BARRIER at or after @from, or the end of the batch. */
static u32 bb_segment_end(const struct bb_batch *b, u32 from)
{
	while (from < b->nr && b->ents[from].op != BLKBATCH_OP_BARRIER)
		from++;
	return from;
}

/*
 * Tell blk-mq how many requests follow, as io_uring does with
 * blk_start_plug_nr_ios() (not exported): when the plug's cache of
 * requests is empty, the next bio allocates that many tags at once
 * instead of one.  blk-mq uses the hint once and resets it, so it is
 * renewed before each entry; only a plug of our own is told.  blk-mq caps
 * it at 32 (BLK_MAX_REQUEST_COUNT, private to block/).
 */
#define BB_PLUG_MAX_IOS		32

static void bb_plug_hint(struct blk_plug *plug, u32 left)
{
	if (current->plug == plug)
		plug->nr_ios = min_t(u32, left, BB_PLUG_MAX_IOS);
}

/*
 * Issue the next segment under one plug: the entries up to and including
 * the next BARRIER.  Completion may run before we return.
 */
void bb_batch_issue(struct bb_batch *b)
{
	bool recheck = b->next;
	struct blk_plug plug;
	u32 i, end;
	int ret;

	/* Nothing of the previous segment is in flight. */
	atomic_set(&b->pending, 1);
	b->seg_start = b->next;
	b->in_retry = false;
	b->poll.stopped = false;
	if (recheck)
		bb_limits_refresh(b->dev, &b->lim);
	end = bb_segment_end(b, b->next);
	blk_start_plug(&plug);
	while (b->next < b->nr) {
		i = b->next++;
		ret = bb_skip_entry(b);
		if (ret) {
			b->err[i] = ret;
			continue;
		}
		if (b->ents[i].op == BLKBATCH_OP_BARRIER)
			break;
		bb_plug_hint(&plug, end - i);
		bb_issue_one(b, i, recheck);
	}
	blk_finish_plug(&plug);
	bb_batch_put(b);
}

/*
 * The BARRIER that ended the segment is passed once every entry before it
 * has completed: in an abort-on-error batch it reports -ECANCELED if any
 * of them failed, whether the failure was found at issue or at completion.
 */
static void bb_barrier_pass(struct bb_batch *b)
{
	u32 i = b->next - 1;

	if (b->next && b->ents[i].op == BLKBATCH_OP_BARRIER &&
	    b->abort_on_error && READ_ONCE(b->failed) && !b->err[i])
		b->err[i] = -ECANCELED;
}

/* Issue the segment's entries that wait for a retry (bb_entry_retry). */
static void bb_batch_retry(struct bb_batch *b)
{
	struct blk_plug plug;
	u32 i, n = 0;

	atomic_set(&b->pending, 1);
	b->retry_pending = false;
	b->in_retry = true;
	bb_limits_refresh(b->dev, &b->lim);
	blk_start_plug(&plug);
	for (i = b->seg_start; i < b->next; i++) {
		if (b->err[i] != BB_ERR_RETRY)
			continue;
		n++;
		/*
		 * Issued before any failure could cancel them: only a fatal
		 * signal stops them now (see bb_skip_entry()).
		 */
		b->err[i] = bb_issue_interrupted() ? -EINTR : 0;
		if (!b->err[i])
			bb_issue_one(b, i, true);
	}
	blk_finish_plug(&plug);
	atomic_add(n, &bb_retried_entries);
	bb_stats_add(b->dev, BB_STAT_RETRIED, n);
	bb_batch_put(b);
}

/*
 * Task context, every bio of the segment done: issue what comes next (the
 * retries, then the next segment) and return true, or return false when
 * the batch is ready for bb_batch_finish().  A task that is not @alive
 * issues nothing more; what it leaves reports -EINTR.
 */
bool bb_batch_resume(struct bb_batch *b, bool alive)
{
	u32 i;

	bb_poll_release(b);
	if (b->retry_pending) {
		if (alive) {
			bb_batch_retry(b);
			return true;
		}
		for (i = b->seg_start; i < b->next; i++)
			if (b->err[i] == BB_ERR_RETRY)
				b->err[i] = -EINTR;
	}
	bb_cache_after_writes(b);
	bb_barrier_pass(b);
	if (b->next < b->nr) {
		if (alive) {
			bb_batch_issue(b);
			return true;
		}
		while (b->next < b->nr)
			b->err[b->next++] = -EINTR;
	}
	return false;
}

static s32 bb_entry_result(const struct blkbatch_entry *e)
{
	switch (e->op) {
	case BLKBATCH_OP_READ:
	case BLKBATCH_OP_WRITE:
		return e->len;
	default:
		return 0;
	}
}

/*
 * Every bio done: publish the statuses and free the batch.  Returns the
 * CQE result: entries that succeeded, or -EFAULT if the status array
 * could not be written (@copy_status is false for a dying task).
 */
/* What a finished batch adds to its device's counters. */
static void bb_batch_count(struct bb_batch *b, u32 failed, u64 rd, u64 wr)
{
	struct bb_dev *dev = b->dev;

	bb_stats_add(dev, BB_STAT_BATCHES, 1);
	bb_stats_add(dev, BB_STAT_ENTRIES, b->nr);
	bb_stats_add(dev, BB_STAT_BYTES_READ, rd);
	bb_stats_add(dev, BB_STAT_BYTES_WRITTEN, wr);
	bb_stats_add(dev, BB_STAT_ENTRIES_FAILED, failed);
	if (b->polled) {
		atomic_add(b->poll.nr, &bb_polled_bios);
		bb_stats_add(dev, BB_STAT_POLLED_BIOS, b->poll.nr);
	}
}

int bb_batch_finish(struct bb_batch *b, bool copy_status)
{
	u32 i, ok = 0;
	u64 rd = 0, wr = 0;
	int res;

	for (i = 0; i < b->nr; i++) {
		const struct blkbatch_entry *e = &b->ents[i];

		if (!b->err[i])
			b->err[i] = bb_entry_result(e);
		if (b->err[i] < 0) {
			trace_entry_error(b, i, b->err[i]);
			continue;
		}
		ok++;
		if (e->op == BLKBATCH_OP_READ)
			rd += e->len;
		else if (e->op == BLKBATCH_OP_WRITE)
			wr += e->len;
	}
	res = ok;
	if (b->ustatus && !copy_status)
		res = -EFAULT;
	else if (b->ustatus &&
		 copy_to_user(b->ustatus, b->err, b->nr * sizeof(*b->err)))
		res = -EFAULT;

	bb_batch_count(b, b->nr - ok, rd, wr);
	trace_batch_done(b, res);
	bb_batch_free(b);
	return res;
}

/*
 * A batch whose synchronous submitter was killed: freed by the last
 * completion, which may run in interrupt context, hence the work item.
 * It is the batch's own, so queueing it is the last touch of the batch.
 */
static void bb_orphan_fn(struct work_struct *work)
{
	struct bb_batch *b = container_of(work, struct bb_batch, free_work);
	struct file *file = b->file;

	bb_batch_finish(b, false);
	fput(file);
}

void bb_batch_free_async(struct bb_batch *b)
{
	INIT_WORK(&b->free_work, bb_orphan_fn);
	queue_work(bb_wq, &b->free_work);
}
