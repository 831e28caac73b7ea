/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels blkbatch builds for lives here,
 * and nowhere else: Debian 12's 6.1 LTS and 6.12 LTS.
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
 * copy after -EAGAIN); 6.12 keeps a pointer to the whole SQE.
 */
static inline const void *bb_cmd_area(const struct io_uring_cmd *ioucmd)
{
#ifdef BB_HAVE_SQE_POINTER
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

/* 6.12 runs task work of a dying task with IO_URING_F_TASK_DEAD. */
static inline bool bb_task_dead_flag(unsigned int issue_flags)
{
#ifdef BB_HAVE_SQE_POINTER
	return issue_flags & IO_URING_F_TASK_DEAD;
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
 * Completion in task context.  6.12's lazy variant lets a DEFER_TASKRUN
 * ring wake its waiter once for all the completions it waits for; other
 * rings treat it as the plain one.
 */
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

/*
 * An exclusively opened block device.  6.9 replaced
 * blkdev_get_by_path()/blkdev_put() by a struct file.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
struct bb_bdev {
	struct block_device	*bdev;
	struct file		*file;
};

static inline int bb_bdev_open(struct bb_bdev *h, const char *path,
			       bool write, void *holder)
{
	blk_mode_t mode = BLK_OPEN_READ | (write ? BLK_OPEN_WRITE : 0);
	struct file *file;

	file = bdev_file_open_by_path(path, mode, holder, NULL);
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

static inline int bb_bdev_open(struct bb_bdev *h, const char *path,
			       bool write, void *holder)
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
