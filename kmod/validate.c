// SPDX-License-Identifier: GPL-2.0
/*
 * The checks of the uapi, in the order uapi/linux/blkbatch.h documents,
 * one errno each: pure functions of the command, the entries and the
 * device's limits.  No I/O, and no allocation but io_uring's own when it
 * reads the iovec array of a fixed-buffer entry; batch.c runs them.
 */
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "blkbatch.h"

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
	lim->gone = bb_disk_gone(bdev);
	if (lim->gone)
		bb_dev_mark_gone(dev, "deleted");
}

void bb_limits_init(struct bb_dev *dev, struct file *file, bool fixed,
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
	if (!e->nr_vecs || e->nr_vecs > BB_MAX_VECS)
		return -EINVAL;
	/* Before 6.15 io_uring cannot find iovecs in a registered buffer. */
	return lim->fixed && !BB_HAVE_FIXED_VEC ? -EOPNOTSUPP : 0;
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
 * The iovec array of a fixed-buffer entry, as pieces of the registered
 * buffer: every iovec inside it (-EFAULT), adding up to exactly len, in
 * pieces aligned like any buffer.  io_uring reads the array (in the
 * ring's ABI) into the request's one vector, which the next call reuses:
 * use @iter before that.
 */
int bb_fixed_vec_iter(const struct blkbatch_entry *e,
		      const struct bb_limits *lim, struct io_uring_cmd *ioucmd,
		      unsigned int issue_flags, struct iov_iter *iter)
{
	int ret;

	ret = bb_import_fixed_vec(u64_to_user_ptr(e->addr), e->nr_vecs,
				  e->op == BLKBATCH_OP_WRITE ?
				  ITER_SOURCE : ITER_DEST,
				  iter, ioucmd, issue_flags);
	if (ret)
		return ret;
	if (iov_iter_count(iter) != e->len ||
	    !bb_bvec_iter_aligned(iter, lim->dma_mask, lim->lbs_mask))
		return -EINVAL;
	return 0;
}

/*
 * A fixed-buffer entry must lie inside the registered buffer, in pieces
 * aligned like any buffer.  This first import, with the submission's
 * issue flags, is also the one that looks the buffer up (compat.h).
 */
static int bb_check_entry_fixed(const struct blkbatch_entry *e,
				const struct bb_limits *lim,
				struct io_uring_cmd *ioucmd,
				unsigned int issue_flags)
{
	struct iov_iter iter;
	int ret;

	if (!ioucmd || !bb_op_has_buffer(e->op))
		return 0;
	if (e->flags & BLKBATCH_EF_VEC)
		return bb_fixed_vec_iter(e, lim, ioucmd, issue_flags, &iter);
	ret = bb_import_fixed(e->addr, e->len,
			      e->op == BLKBATCH_OP_WRITE ? ITER_SOURCE : ITER_DEST,
			      &iter, ioucmd, issue_flags);
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

int bb_check_entry(const struct blkbatch_entry *e,
		   const struct bb_limits *lim,
		   struct io_uring_cmd *fixed_cmd, unsigned int issue_flags)
{
	int ret;

	ret = bb_check_entry_format(e);
	if (!ret)
		ret = bb_check_entry_fields(e, lim);
	if (!ret)
		ret = bb_check_entry_range(e, lim);
	if (!ret)
		ret = bb_check_entry_fixed(e, lim, fixed_cmd, issue_flags);
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
	int ret;

	if (lim->gone)
		return -ENODEV;
	ret = bb_check_entry_range(e, lim);
	return ret ? ret : bb_check_entry_access(e, lim);
}

int bb_check_cmd(const struct blkbatch_cmd *cmd)
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
 * What direct I/O asks of every piece, and exactly the promised total: an
 * array that adds up to more than @len is refused, not cut short.
 * Zero-length iovecs carry nothing and are skipped, base and all.
 */
int bb_check_iovecs(const struct iovec *iov, u32 nr, u32 len,
		    const struct bb_limits *lim)
{
	size_t total = 0;
	u32 i;

	for (i = 0; i < nr; i++) {
		size_t n = iov[i].iov_len;

		if (!n)
			continue;
		if (n > len - total)
			return -EINVAL;
		if (!access_ok(iov[i].iov_base, n))
			return -EFAULT;
		if (((unsigned long)iov[i].iov_base & lim->dma_mask) ||
		    (n & lim->lbs_mask))
			return -EINVAL;
		total += n;
	}
	return total == len ? 0 : -EINVAL;
}
