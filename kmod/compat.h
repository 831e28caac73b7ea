/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels blkbatch builds for lives here,
 * and nowhere else: Debian 12's 6.1 LTS and 6.12 LTS, and the newest
 * Debian kernel (7.3).
 */
#ifndef BB_COMPAT_H
#define BB_COMPAT_H

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/version.h>

#if __has_include("linux/io_uring/cmd.h")
#include <linux/io_uring/cmd.h>
#define BB_HAVE_SQE_POINTER	1
#else
#include <linux/io_uring.h>
#include <linux/io_uring_types.h>
#endif

/*
 * The 80-byte command area.  6.1 points ->cmd at it (and at a private
 * copy after -EAGAIN); 6.12 keeps a pointer to the whole SQE; 6.19 makes
 * the accessor check the type's size against the area.
 */
static inline const void *bb_cmd_area(const struct io_uring_cmd *ioucmd)
{
#if defined(io_uring_sqe128_cmd)
	return io_uring_sqe128_cmd(ioucmd->sqe, struct blkbatch_cmd);
#elif defined(BB_HAVE_SQE_POINTER)
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/*
 * SQE fields a batch does not use must be zero so they can gain a meaning
 * later.  6.1 hands the driver only the command area, so there is nothing
 * to check there.
 */
static inline bool bb_sqe_unused_set(const struct io_uring_cmd *ioucmd)
{
#ifdef BB_HAVE_SQE_POINTER
	const struct io_uring_sqe *sqe = ioucmd->sqe;

	return READ_ONCE(sqe->ioprio) || READ_ONCE(sqe->addr) ||
	       READ_ONCE(sqe->len) || READ_ONCE(sqe->file_index);
#else
	return false;
#endif
}

/*
 * Whether the ring was set up by a compat (32-bit) task, which decides the
 * layout of the iovec arrays its batches point to.  in_compat_syscall()
 * cannot tell: later segments are issued from task work, io-wq or the SQ
 * thread, outside the submitter's system call, where x86 reads an
 * interrupt return as an x32 call.  6.12 passes the ring's flag in the
 * issue flags (IO_URING_F_COMPAT, with the same header as the SQE
 * pointer); 6.1 only keeps it in the ring.
 */
static inline bool bb_uring_compat(struct io_uring_cmd *ioucmd,
				   unsigned int issue_flags)
{
#ifdef BB_HAVE_SQE_POINTER
	return issue_flags & IO_URING_F_COMPAT;
#else
	return cmd_to_io_kiocb(ioucmd)->ctx->compat;
#endif
}

/* The block device's page cache: 6.10 moved it out of the inode. */
static inline struct address_space *bb_bdev_mapping(struct block_device *bdev)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	return bdev->bd_mapping;
#else
	return bdev->bd_inode->i_mapping;
#endif
}

/*
 * Whether a REQ_POLLED bio would be polled: 6.1 quietly submits it without
 * polling, 6.12 fails it with -EOPNOTSUPP.
 */
static inline bool bb_bdev_can_poll(struct block_device *bdev)
{
#ifdef BLK_FEAT_POLL
	return bdev_get_queue(bdev)->limits.features & BLK_FEAT_POLL;
#else
	return test_bit(QUEUE_FLAG_POLL, &bdev_get_queue(bdev)->queue_flags);
#endif
}

/*
 * The per-CPU bio cache: 6.1 keeps only polled bios there (their last put
 * is in task context; a bio put in interrupt context warns), 6.2 made it
 * safe for every bio.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define BB_REQ_CACHE		REQ_ALLOC_CACHE
#define BB_REQ_CACHE_POLLED	0
#else
#define BB_REQ_CACHE		0
#define BB_REQ_CACHE_POLLED	REQ_ALLOC_CACHE
#endif

/*
 * A bio built on pages it holds no reference to (a registered buffer's):
 * 6.1's bio_release_pages() drops one per page unless BIO_NO_PAGE_REF is
 * set; 6.5 inverted the flag (BIO_PAGE_REFFED, BIO_PAGE_PINNED).
 */
static inline void bb_bio_no_page_ref(struct bio *bio)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	bio_set_flag(bio, BIO_NO_PAGE_REF);
#endif
}

/*
 * Completion in task context.  BB_TASK_WORK(fn) defines fn, a task work
 * callback in the kernel's form, around a body that receives the command,
 * the issue flags to complete it with and whether the task is dying (its
 * task work is being cancelled): 6.19 passes a token that says so
 * (io_tw_token_t.cancel), 6.12 IO_URING_F_TASK_DEAD, 6.1 nothing.
 * 6.12's lazy variant lets a DEFER_TASKRUN ring wake its waiter once for
 * all the completions it waits for; other rings treat it as the plain one.
 */
#ifdef IO_URING_CMD_TASK_WORK_ISSUE_FLAGS
#define BB_TASK_WORK(fn)						\
static void fn##_body(struct io_uring_cmd *, unsigned int, bool);	\
static void fn(struct io_tw_req tw_req, io_tw_token_t tw)		\
{									\
	fn##_body(io_uring_cmd_from_tw(tw_req),				\
		  IO_URING_CMD_TASK_WORK_ISSUE_FLAGS, tw.cancel);	\
}									\
static void fn##_body

static inline void bb_complete_in_task(struct io_uring_cmd *ioucmd,
				       io_req_tw_func_t cb)
{
	io_uring_cmd_do_in_task_lazy(ioucmd, cb);
}
#else
static inline bool bb_task_dead(unsigned int issue_flags)
{
#ifdef BB_HAVE_SQE_POINTER
	return issue_flags & IO_URING_F_TASK_DEAD;
#else
	return false;
#endif
}

#define BB_TASK_WORK(fn)						\
static void fn##_body(struct io_uring_cmd *, unsigned int, bool);	\
static void fn(struct io_uring_cmd *ioucmd, unsigned int issue_flags)	\
{									\
	fn##_body(ioucmd, issue_flags, bb_task_dead(issue_flags));	\
}									\
static void fn##_body

static inline void bb_complete_in_task(struct io_uring_cmd *ioucmd,
				       void (*cb)(struct io_uring_cmd *,
						  unsigned int))
{
#ifdef BB_HAVE_SQE_POINTER
	io_uring_cmd_do_in_task_lazy(ioucmd, cb);
#else
	io_uring_cmd_complete_in_task(ioucmd, cb);
#endif
}
#endif

/*
 * The CQE, with @res2 in a CQE32's extra word when @cqe32: 6.18 split
 * io_uring_cmd_done() in two, and the plain one lost the extra word.
 */
static inline void bb_uring_cmd_done(struct io_uring_cmd *ioucmd, s32 ret,
				     u64 res2, bool cqe32,
				     unsigned int issue_flags)
{
#ifdef IO_URING_CMD_TASK_WORK_ISSUE_FLAGS
	if (cqe32)
		io_uring_cmd_done32(ioucmd, ret, res2, issue_flags);
	else
		io_uring_cmd_done(ioucmd, ret, issue_flags);
#else
	io_uring_cmd_done(ioucmd, ret, res2, issue_flags);
#endif
}

/*
 * A registered buffer's range.  6.15 wants the issue flags, for the
 * ring's lock around the buffer table lookup; the lookup happens once per
 * request (validation, at submission, with the submission's flags) and
 * later imports, from any context, reuse what it found.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
static inline int bb_import_fixed(u64 ubuf, unsigned long len, int rw,
				  struct iov_iter *iter,
				  struct io_uring_cmd *ioucmd,
				  unsigned int issue_flags)
{
	return io_uring_cmd_import_fixed(ubuf, len, rw, iter, ioucmd,
					 issue_flags);
}

/*
 * 6.15 also reads an iovec array whose bases lie in the registered
 * buffer.  The bvecs land in the request's one vector, which the next
 * import reuses.
 */
#define BB_HAVE_FIXED_VEC	1
static inline int bb_import_fixed_vec(const struct iovec __user *uvec,
				      u32 nr, int rw, struct iov_iter *iter,
				      struct io_uring_cmd *ioucmd,
				      unsigned int issue_flags)
{
	return io_uring_cmd_import_fixed_vec(ioucmd, uvec, nr, rw, iter,
					     issue_flags);
}
#else
static inline int bb_import_fixed(u64 ubuf, unsigned long len, int rw,
				  struct iov_iter *iter,
				  struct io_uring_cmd *ioucmd,
				  unsigned int issue_flags)
{
	return io_uring_cmd_import_fixed(ubuf, len, rw, iter, ioucmd);
}

#define BB_HAVE_FIXED_VEC	0
static inline int bb_import_fixed_vec(const struct iovec __user *uvec,
				      u32 nr, int rw, struct iov_iter *iter,
				      struct io_uring_cmd *ioucmd,
				      unsigned int issue_flags)
{
	return -EOPNOTSUPP;
}
#endif

/*
 * A 128-byte command on a ring of 64-byte SQEs (IORING_SETUP_SQE_MIXED,
 * IORING_OP_URING_CMD128) reaches the driver with IO_URING_F_SQE128, as
 * on an SQE128 ring: nothing to do but say so.
 */
#ifdef IORING_SETUP_SQE_MIXED
#define BB_HAVE_SQE_MIXED	1
#else
#define BB_HAVE_SQE_MIXED	0
#endif

/*
 * User or registered pages into a bio; the entry was checked against the
 * device's alignment already.  6.18 takes the length's alignment, 7.2 the
 * memory's too, and 7.3 (the one built after 6.12) no longer exports it:
 * there the same is done with what it does export.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
/* Drop the tail past a multiple of @lbs_mask + 1, as the block layer does. */
static inline int bb_bio_align_down(struct bio *bio, struct iov_iter *iter,
				    u32 lbs_mask)
{
	size_t trim = bio->bi_iter.bi_size & lbs_mask;
	struct bio_vec *bv = &bio->bi_io_vec[bio->bi_vcnt - 1];

	if (!trim)
		return 0;
	iov_iter_revert(iter, trim);
	bio->bi_iter.bi_size -= trim;
	while (trim >= bv->bv_len) {
		if (bio_flagged(bio, BIO_PAGE_PINNED))
			unpin_user_page(bv->bv_page);
		if (!--bio->bi_vcnt)
			return -EFAULT;
		trim -= bv->bv_len;
		bv--;
	}
	bv->bv_len -= trim;
	return 0;
}

static inline int bb_bio_get_pages(struct bio *bio, struct iov_iter *iter,
				   u32 dma_mask, u32 lbs_mask)
{
	ssize_t got;

	if (iov_iter_is_bvec(iter)) {
		/* A registered buffer: the bio points at its bvecs. */
		bio->bi_io_vec = (struct bio_vec *)iter->bvec;
		bio->bi_iter.bi_idx = 0;
		bio->bi_iter.bi_offset = iter->iov_offset;
		bio->bi_iter.bi_size = iov_iter_count(iter);
		bio_set_flag(bio, BIO_CLONED);
		iov_iter_advance(iter, bio->bi_iter.bi_size);
		return 0;
	}
	if (iov_iter_extract_will_pin(iter))
		bio_set_flag(bio, BIO_PAGE_PINNED);
	do {
		got = iov_iter_extract_bvecs(iter, bio->bi_io_vec,
					     BIO_MAX_SIZE - bio->bi_iter.bi_size,
					     &bio->bi_vcnt, bio->bi_max_vecs,
					     dma_mask, 0);
		if (got <= 0) {
			if (!bio->bi_vcnt)
				return got ?: -EFAULT;
			break;
		}
		bio->bi_iter.bi_size += got;
	} while (iov_iter_count(iter) && bio->bi_vcnt < bio->bi_max_vecs);
	return bb_bio_align_down(bio, iter, lbs_mask);
}
#else
static inline int bb_bio_get_pages(struct bio *bio, struct iov_iter *iter,
				   u32 dma_mask, u32 lbs_mask)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
	return bio_iov_iter_get_pages(bio, iter, lbs_mask);
#else
	return bio_iov_iter_get_pages(bio, iter);
#endif
}
#endif

/*
 * An exclusively opened block device.  6.9 replaced
 * blkdev_get_by_path()/blkdev_put() by a struct file.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
struct bb_bdev {
	struct block_device	*bdev;
	struct file		*file;
};

#define BB_HAVE_HOLDER_OPS	1
static inline int bb_bdev_open(struct bb_bdev *h, const char *path,
			       bool write, void *holder,
			       const struct blk_holder_ops *hops)
{
	blk_mode_t mode = BLK_OPEN_READ | (write ? BLK_OPEN_WRITE : 0);
	struct file *file;

	file = bdev_file_open_by_path(path, mode, holder, hops);
	if (IS_ERR(file))
		return PTR_ERR(file);
	h->file = file;
	h->bdev = file_bdev(file);
	return 0;
}

static inline void bb_bdev_close(struct bb_bdev *h)
{
	bdev_fput(h->file);
}
#else
struct bb_bdev {
	struct block_device	*bdev;
	fmode_t			mode;
};

/* No holder operations: nothing tells the holder its disk is going. */
#define BB_HAVE_HOLDER_OPS	0
static inline int bb_bdev_open(struct bb_bdev *h, const char *path,
			       bool write, void *holder, const void *hops)
{
	fmode_t mode = FMODE_READ | FMODE_EXCL | (write ? FMODE_WRITE : 0);
	struct block_device *bdev;

	bdev = blkdev_get_by_path(path, mode, holder);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	h->bdev = bdev;
	h->mode = mode;
	return 0;
}

static inline void bb_bdev_close(struct bb_bdev *h)
{
	blkdev_put(h->bdev, h->mode);
}
#endif

#endif /* BB_COMPAT_H */
