// SPDX-License-Identifier: GPL-2.0
/*
 * Command parsing and validation: everything between the SQE and the
 * first bio.  The order of the checks is part of the uapi (see
 * uapi/linux/blkbatch.h); each check has exactly one errno.
 */
#include <linux/blk-mq.h>
#include <linux/fs.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "blkbatch.h"

/* The private state io_uring lets us keep in the command. */
struct bb_pdu {
	struct bb_batch		*batch;
};

static struct bb_pdu *bb_pdu(struct io_uring_cmd *ioucmd)
{
	BUILD_BUG_ON(sizeof(struct bb_pdu) > sizeof(ioucmd->pdu));
	return (struct bb_pdu *)ioucmd->pdu;
}

u32 bb_max_entry_bytes(struct block_device *bdev)
{
	/*
	 * Keeps every entry's byte count representable in its __s32 status,
	 * and below MAX_RW_COUNT, where import_iovec() clamps: iovecs that
	 * overshoot len can then never add up to it.
	 */
	return (MAX_RW_COUNT - 1) & ~(bdev_logical_block_size(bdev) - 1);
}

u64 bb_features(struct block_device *bdev)
{
	u64 f = BLKBATCH_F_READ_WRITE | BLKBATCH_F_FLUSH | BLKBATCH_F_FUA |
		BLKBATCH_F_VEC | BLKBATCH_F_BARRIER | BLKBATCH_F_ABORT |
		BLKBATCH_F_FIXED | BLKBATCH_F_SYNC | BLKBATCH_F_CQE32_INDEX |
		BLKBATCH_F_IOPOLL;

	if (bdev_max_discard_sectors(bdev))
		f |= BLKBATCH_F_DISCARD;
	if (bdev_write_zeroes_sectors(bdev))
		f |= BLKBATCH_F_WRITE_ZEROES;
	if (bdev_write_cache(bdev))
		f |= BLKBATCH_F_WRITE_CACHE;
	return f;
}

/* What the device says now; it can change between segments. */
void bb_limits_refresh(struct bb_dev *dev, struct bb_limits *lim)
{
	struct block_device *bdev = dev->bdev.bdev;

	lim->capacity = bdev_nr_bytes(bdev);
	lim->lbs_mask = bdev_logical_block_size(bdev) - 1;
	lim->dma_mask = bdev_dma_alignment(bdev);
	lim->max_entry_bytes = bb_max_entry_bytes(bdev);
	lim->can_write = !(dev->attach_flags & BLKBATCH_ATTACH_F_RDONLY) &&
			 !bdev_read_only(bdev);
}

static void bb_limits_init(struct bb_dev *dev, struct file *file, bool fixed,
			   struct bb_limits *lim)
{
	bb_limits_refresh(dev, lim);
	lim->fd_read = file->f_mode & FMODE_READ;
	lim->fd_write = file->f_mode & FMODE_WRITE;
	lim->fixed = fixed;
}

static bool bb_op_has_range(u8 op)
{
	return op != BLKBATCH_OP_FLUSH && op != BLKBATCH_OP_BARRIER;
}

static bool bb_op_has_buffer(u8 op)
{
	return op == BLKBATCH_OP_READ || op == BLKBATCH_OP_WRITE;
}

/* Reserved fields, unknown ops and flags, flags that make no sense. */
static int bb_check_entry_format(const struct blkbatch_entry *e)
{
	if (e->rsvd0 || e->rsvd1 || e->op > BLKBATCH_OP_LAST ||
	    (e->flags & ~BLKBATCH_EF_ALL))
		return -EINVAL;
	if ((e->flags & BLKBATCH_EF_FUA) && e->op != BLKBATCH_OP_WRITE)
		return -EINVAL;
	if ((e->flags & BLKBATCH_EF_VEC) && !bb_op_has_buffer(e->op))
		return -EINVAL;
	return 0;
}

/* Which fields the op takes; the others must be zero. */
static int bb_check_entry_fields(const struct blkbatch_entry *e,
				 const struct bb_limits *lim)
{
	if (!bb_op_has_range(e->op))
		return e->len || e->offset || e->addr || e->nr_vecs ?
		       -EINVAL : 0;
	if (!e->len)
		return -EINVAL;
	if (!bb_op_has_buffer(e->op))
		return e->addr || e->nr_vecs ? -EINVAL : 0;
	if (!(e->flags & BLKBATCH_EF_VEC))
		return e->nr_vecs ? -EINVAL : 0;
	/* io_uring has no registered iovec arrays */
	if (lim->fixed)
		return -EINVAL;
	return !e->nr_vecs || e->nr_vecs > BB_MAX_VECS ? -EINVAL : 0;
}

static int bb_check_entry_range(const struct blkbatch_entry *e,
				const struct bb_limits *lim)
{
	u64 end;

	if (!bb_op_has_range(e->op))
		return 0;
	if (e->len > lim->max_entry_bytes)
		return -E2BIG;
	if (check_add_overflow(e->offset, (u64)e->len, &end))
		return -EOVERFLOW;
	if ((e->offset | e->len) & lim->lbs_mask)
		return -EINVAL;
	/* An iovec array's own address needs no alignment; its bases do. */
	if (bb_op_has_buffer(e->op) && !(e->flags & BLKBATCH_EF_VEC) &&
	    (e->addr & lim->dma_mask))
		return -EINVAL;
	if (end > lim->capacity)
		return -ENOSPC;
	return 0;
}

/*
 * Whether every piece of a registered buffer's range is aligned as direct
 * I/O needs (blkdev_dio_invalid() asks the same): a range that starts
 * off a page boundary falls into pieces whose lengths are no multiple of
 * the logical block size, although its address and total length are.
 */
static bool bb_bvec_iter_aligned(const struct iov_iter *iter, u32 addr_mask,
				 u32 len_mask)
{
	const struct bio_vec *bv = iter->bvec;
	size_t skip = iter->iov_offset, left = iov_iter_count(iter);

	for (; left; bv++, skip = 0) {
		size_t len = min_t(size_t, bv->bv_len - skip, left);

		if (((bv->bv_offset + skip) & addr_mask) || (len & len_mask))
			return false;
		left -= len;
	}
	return true;
}

/*
 * A fixed-buffer entry must lie inside the registered buffer, in pieces
 * aligned like any buffer.
 */
static int bb_check_entry_fixed(const struct blkbatch_entry *e,
				const struct bb_limits *lim,
				struct io_uring_cmd *ioucmd)
{
	struct iov_iter iter;
	int ret;

	if (!ioucmd || !bb_op_has_buffer(e->op))
		return 0;
	ret = io_uring_cmd_import_fixed(e->addr, e->len,
					e->op == BLKBATCH_OP_WRITE ?
					ITER_SOURCE : ITER_DEST,
					&iter, ioucmd);
	if (ret)
		return ret;
	return bb_bvec_iter_aligned(&iter, lim->dma_mask, lim->lbs_mask) ?
	       0 : -EINVAL;
}

static int bb_check_entry_access(const struct blkbatch_entry *e,
				 const struct bb_limits *lim)
{
	if (e->op == BLKBATCH_OP_READ)
		return lim->fd_read ? 0 : -EBADF;
	if (!bb_op_writes(e->op))
		return 0;
	if (!lim->fd_write)
		return -EBADF;
	if (!lim->can_write)
		return -EPERM;
	return 0;
}

static int bb_check_entry(const struct blkbatch_entry *e,
			  const struct bb_limits *lim,
			  struct io_uring_cmd *fixed_cmd)
{
	int ret;

	ret = bb_check_entry_format(e);
	if (!ret)
		ret = bb_check_entry_fields(e, lim);
	if (!ret)
		ret = bb_check_entry_range(e, lim);
	if (!ret)
		ret = bb_check_entry_fixed(e, lim, fixed_cmd);
	if (!ret)
		ret = bb_check_entry_access(e, lim);
	return ret;
}

/*
 * Before a later segment is issued: the checks whose answer depends on
 * what the device is now (its size, block size, read-only state).
 */
int bb_entry_recheck(const struct blkbatch_entry *e,
		     const struct bb_limits *lim)
{
	int ret = bb_check_entry_range(e, lim);

	return ret ? ret : bb_check_entry_access(e, lim);
}

static int bb_check_cmd(const struct blkbatch_cmd *cmd)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(cmd->rsvd); i++)
		if (cmd->rsvd[i])
			return -EINVAL;
	if (cmd->flags & ~BLKBATCH_CMD_F_ALL)
		return -EINVAL;
	if (!cmd->nr)
		return -EINVAL;
	if (cmd->nr > bb_max_entries)
		return -E2BIG;
	/* nr <= BB_MAX_MAX_ENTRIES: the sizes cannot overflow */
	if (!access_ok(u64_to_user_ptr(cmd->entries),
		       (size_t)cmd->nr * sizeof(struct blkbatch_entry)))
		return -EFAULT;
	if (cmd->status &&
	    !access_ok(u64_to_user_ptr(cmd->status),
		       (size_t)cmd->nr * sizeof(s32)))
		return -EFAULT;
	return 0;
}

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
		size = ALIGN(size, sizeof(*b->poll)) + nr * sizeof(*b->poll);
	b = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->err = (s32 *)&b->ents[nr];
	memset(b->err, 0, nr * sizeof(*b->err));
	if (polled) {
		b->poll = (struct bio **)ALIGN((unsigned long)&b->err[nr],
					      sizeof(*b->poll));
		spin_lock_init(&b->poll_lock);
		b->polled = true;
	}
	b->nr = nr;
	atomic_inc(&bb_live_batches);
	return b;
}

/* ->uring_cmd_iopoll may still be looking at an IOPOLL batch: see there. */
void bb_batch_free(struct bb_batch *b)
{
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
 * command of a fixed-buffer batch, else NULL.  On failure *@bad is the
 * index of the offending entry, or BLKBATCH_NO_ENTRY.
 */
struct bb_batch *bb_batch_create(struct bb_dev *dev, struct file *file,
				 const struct blkbatch_cmd *cmd,
				 struct io_uring_cmd *ioucmd, bool polled,
				 u64 *bad)
{
	struct bb_batch *b;
	u32 i;
	int ret;

	*bad = BLKBATCH_NO_ENTRY;
	ret = bb_check_cmd(cmd);
	if (ret)
		return ERR_PTR(ret);

	b = bb_batch_alloc(cmd->nr, polled);
	if (!b)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(b->ents, u64_to_user_ptr(cmd->entries),
			   flex_array_size(b, ents, cmd->nr))) {
		ret = -EFAULT;
		goto out_free;
	}

	bb_limits_init(dev, file, !!ioucmd, &b->lim);
	for (i = 0; i < cmd->nr; i++) {
		ret = bb_check_entry(&b->ents[i], &b->lim, ioucmd);
		if (ret) {
			*bad = i;
			goto out_free;
		}
	}
	b->dev = dev;
	b->fixed = !!ioucmd;
	b->ustatus = u64_to_user_ptr(cmd->status);
	b->abort_on_error = cmd->flags & BLKBATCH_CMD_F_ABORT_ON_ERROR;
	return b;

out_free:
	bb_batch_free(b);
	return ERR_PTR(ret);
}

/*
 * A segment is over, in a context that may sleep: issue what comes next,
 * or release everything before io_uring_cmd_done(), which drops the file
 * and with it the module.  @alive: the submitter's address space is ours
 * and its task is not going away.
 */
static void bb_uring_segment_done(struct io_uring_cmd *ioucmd,
				  struct bb_batch *b, bool alive,
				  unsigned int issue_flags)
{
	int res;

	if (bb_batch_continue(b, alive))
		return;
	/* A poller that comes later must not find the batch. */
	WRITE_ONCE(bb_pdu(ioucmd)->batch, NULL);
	res = bb_batch_finish(b, alive);
	io_uring_cmd_done(ioucmd, res, 0, issue_flags);
}

/* Task work of the submitting task. */
static void bb_uring_complete(struct io_uring_cmd *ioucmd,
			      unsigned int issue_flags)
{
	struct bb_batch *b = bb_pdu(ioucmd)->batch;
	bool alive = !bb_task_dead_flag(issue_flags) &&
		     !(current->flags & (PF_EXITING | PF_KTHREAD)) &&
		     current->mm;

	bb_uring_segment_done(ioucmd, b, alive, issue_flags);
}

/* Any context: the segment's last bio has completed. */
static void bb_uring_batch_done(struct bb_batch *b)
{
	bb_complete_in_task(b->ioucmd, bb_uring_complete);
}

/* Any context, IOPOLL ring: leave the rest to the poll loop. */
static void bb_uring_iopoll_done(struct bb_batch *b)
{
	/* Orders the statuses the bios wrote before the flag. */
	atomic_set_release(&b->seg_done, 1);
}

/*
 * The poll loop found the segment over.  It runs in the submitter's task,
 * its SQ thread (same address space), the ring's exit work (none: nothing
 * more is issued, the statuses are not written) or, if the ring is
 * shared, in another process, which hands over to the submitter's task.
 */
static void bb_uring_iopoll_complete(struct io_uring_cmd *ioucmd,
				     struct bb_batch *b)
{
	bool alive = current->mm == b->mm &&
		     !(current->flags & (PF_EXITING | PF_KTHREAD));

	if (current->mm && current->mm != b->mm) {
		bb_complete_in_task(ioucmd, bb_uring_complete);
		return;
	}
	/* Polling holds the ring's lock: io_uring_cmd_done() needs no flag. */
	bb_uring_segment_done(ioucmd, b, alive, 0);
}

/*
 * An IOPOLL ring polls each command until it completes.  The batch may be
 * finishing on another thread meanwhile (6.1 runs task work without the
 * ring's lock): it is freed only after an RCU grace period, and its
 * pointer cleared before that.
 */
int bb_uring_cmd_iopoll(struct io_uring_cmd *ioucmd, struct io_comp_batch *iob,
			unsigned int poll_flags)
{
	struct bb_batch *b;
	int ret = 0;

	rcu_read_lock();
	b = READ_ONCE(bb_pdu(ioucmd)->batch);
	if (b && atomic_read_acquire(&b->seg_done) &&
	    atomic_xchg(&b->seg_done, 0)) {
		/* Ours alone now: nobody else frees it. */
		rcu_read_unlock();
		bb_uring_iopoll_complete(ioucmd, b);
		return 1;
	}
	if (b && b->polled)
		ret = bb_batch_iopoll(b, iob, poll_flags);
	rcu_read_unlock();
	return ret;
}

/*
 * Poll a batch only if the ring polls (nobody else reaps a poll queue)
 * and the device can, without waiting.  The largest polled entry fits
 * one bio and one request whatever its alignment.
 */
static bool bb_uring_polled(struct bb_dev *dev, unsigned int issue_flags,
			    u32 *poll_max)
{
	struct block_device *bdev = dev->bdev.bdev;
	struct request_queue *q = bdev_get_queue(bdev);

	if (!(issue_flags & IO_URING_F_IOPOLL) || !bb_bdev_can_poll(bdev) ||
	    !bdev_nowait(bdev))
		return false;
	/* Bios by interrupt could wait for tags our polled requests hold. */
	if (q->tag_set && (q->tag_set->flags & BLK_MQ_F_TAG_HCTX_SHARED))
		return false;
	*poll_max = min3((u64)queue_max_sectors(q) << SECTOR_SHIFT,
			 (u64)(queue_max_segments(q) - 1) << PAGE_SHIFT,
			 (u64)(BIO_MAX_VECS - 1) << PAGE_SHIFT);
	return true;
}

/*
 * Transport checks first (the SQE itself), then the batch.  Errors that
 * name an entry set *@bad.
 */
static int bb_uring_submit(struct io_uring_cmd *ioucmd,
			   unsigned int issue_flags, u64 *bad)
{
	struct bb_dev *dev = ioucmd->file->private_data;
	struct blkbatch_cmd cmd;
	struct bb_batch *b;
	u32 poll_max = 0;
	bool polled;
	int ret;

	BUILD_BUG_ON(sizeof(cmd) != 80);
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EOPNOTSUPP;
	if (bb_sqe_unused_set(ioucmd))
		return -EINVAL;
	if (ioucmd->flags & ~IORING_URING_CMD_FIXED)
		return -EOPNOTSUPP;
	/* The command area is user-writable: snapshot it, read it once. */
	memcpy(&cmd, bb_cmd_area(ioucmd), sizeof(cmd));

	ret = bb_dev_start_batch(dev);
	if (ret)
		return ret;
	polled = bb_uring_polled(dev, issue_flags, &poll_max);
	b = bb_batch_create(dev, ioucmd->file, &cmd,
			    ioucmd->flags & IORING_URING_CMD_FIXED ? ioucmd : NULL,
			    polled, bad);
	if (IS_ERR(b)) {
		bb_dev_end_batch(dev);
		return PTR_ERR(b);
	}

	b->poll_max = poll_max;
	b->ioucmd = ioucmd;
	b->compat = bb_uring_compat(ioucmd, issue_flags);
	b->complete = bb_uring_batch_done;
	if ((issue_flags & IO_URING_F_IOPOLL) && current->mm) {
		b->iopoll = true;
		b->mm = current->mm;
		mmgrab(b->mm);
		b->complete = bb_uring_iopoll_done;
	}
	bb_pdu(ioucmd)->batch = b;
	bb_batch_issue(b);
	return -EIOCBQUEUED;
}

int bb_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	u64 bad = BLKBATCH_NO_ENTRY;
	int ret;

	/*
	 * Before any check can fail: ->uring_cmd_iopoll must never find what
	 * an earlier command in this slot left.
	 */
	bb_pdu(ioucmd)->batch = NULL;
	switch (ioucmd->cmd_op) {
	case BLKBATCH_URING_CMD_SUBMIT:
		ret = bb_uring_submit(ioucmd, issue_flags, &bad);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	if (ret == -EIOCBQUEUED || !(issue_flags & IO_URING_F_CQE32))
		return ret;
	/* A CQE32 says which entry was bad, or that none was. */
	io_uring_cmd_done(ioucmd, ret, bad, issue_flags);
	return -EIOCBQUEUED;
}
