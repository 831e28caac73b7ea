/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BB_BLKBATCH_H
#define BB_BLKBATCH_H

#undef pr_fmt
#define pr_fmt(fmt) "blkbatch: " fmt

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/llist.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <linux/blkbatch.h>

#include "compat.h"

#define BB_MAX_DEVS		64
#define BB_DEFAULT_MAX_ENTRIES	16384
#define BB_MAX_MAX_ENTRIES	(1024U * 1024U)
#define BB_MAX_VECS		UIO_MAXIOV

/*
 * Counters of an attached device, in the order sysfs "stat" prints them
 * (the uapi header documents that line).
 */
enum bb_stat {
	BB_STAT_BATCHES,	/* issued and finished */
	BB_STAT_ENTRIES,	/* of those batches */
	BB_STAT_BYTES_READ,	/* READ entries that succeeded */
	BB_STAT_BYTES_WRITTEN,	/* WRITE entries that succeeded */
	BB_STAT_ENTRIES_FAILED,	/* entries whose status is an error */
	BB_STAT_INVALID,	/* batches refused by validation */
	BB_STAT_POLLED_BIOS,
	BB_STAT_RETRIED,	/* entries issued again (bio.c) */
	BB_NR_STATS
};

struct bb_stats {
	u64_stats_t		v[BB_NR_STATS];
	struct u64_stats_sync	syncp;
};

/*
 * struct bb_dev - one attached block device and its /dev/blkbatchN.
 *
 * The kref counts the registry, every open file and a queued @reap_work.
 * @inflight counts batches between validation and completion; detach is
 * refused while it is non-zero and, once @dead is set, nothing touches
 * @bdev again.  @gone: the disk is going away (bb_dev_mark_gone()); no
 * batch starts, and the device detaches itself once @inflight is 0.
 */
struct bb_dev {
	struct kref		ref;
	struct miscdevice	misc;
	char			name[24];
	unsigned int		index;
	u32			attach_flags;
	struct bb_bdev		bdev;
	spinlock_t		lock;	/* protects @dead, @gone, @inflight */
	bool			dead;
	bool			gone;
	unsigned int		inflight;
	struct work_struct	reap_work;
	struct bb_stats __percpu *stats;
};

/*
 * What validation needs to know about the device: read when the batch is
 * created, and again before each later segment is issued (bb_limits_refresh),
 * as the device may have become read-only or changed size meanwhile.
 */
struct bb_limits {
	u64			capacity;	/* bytes */
	u32			lbs_mask;
	u32			dma_mask;
	u32			max_entry_bytes;
	bool			can_write;	/* open mode and device allow it */
	bool			fd_read;	/* the file was opened for reading */
	bool			fd_write;	/* the file was opened for writing */
	bool			fixed;		/* buffers are registered ones */
	bool			gone;		/* the disk is going away */
};

/*
 * The value of @err[i] while entry i waits to be issued again after its
 * polled bio could not be (see bio.c).  Positive, so no errno can be
 * mistaken for it.
 */
#define BB_ERR_RETRY		1

/*
 * struct bb_pollset - the polled bios of a batch on an IOPOLL ring.
 *
 * A poll queue has no interrupt: its bios complete only while someone
 * polls them, so the batch keeps a reference to each until
 * ->uring_cmd_iopoll has seen it done (bio.c).
 */
struct bb_pollset {
	u32			max;	/* largest entry polled, bytes */
	/*
	 * Bios tracked so far: only grows, written by the issuer with
	 * release after the slot, read by the poller with acquire.
	 */
	u32			nr;
	u32			cur;	/* [cur, nr) still held; @lock */
	bool			stopped; /* the segment polls no more */
	spinlock_t		lock;	/* @cur and dropping the references */
	struct bio		**bios;	/* a slot per entry */
};

/*
 * struct bb_batch - one submitted batch, from validation to its CQE.
 *
 * batch.c explains its life and the words for it (segment, retry,
 * segment end, resume, finish).
 */
struct bb_batch {
	/* Set by bb_batch_create(), then only read. */
	struct bb_dev		*dev;		/* its active reference held */
	u32			nr;
	bool			abort_on_error;
	bool			fixed;		/* IORING_URING_CMD_FIXED */
	bool			compat;		/* iovecs in the 32-bit layout */
	bool			polled;		/* may issue polled bios: @poll */
	s32 __user		*ustatus;	/* the status array, or NULL */

	/* The transport's (uring.c, sync.c), set before the first issue. */
	/* Any context: the segment's last bio has completed. */
	void			(*segment_end)(struct bb_batch *b);
	struct io_uring_cmd	*ioucmd;	/* NULL on the ioctl path */
	bool			iopoll;		/* finished by the poll loop */
	/* @iopoll: a segment ended; set with release by its last bio */
	atomic_t		end_pending;
	struct mm_struct	*mm;		/* @iopoll: the submitter's */
	struct rcu_head		rcu;		/* @iopoll: freed after RCU */
	struct completion	done;		/* sync: the waiter's wake-up */
	atomic_t		owners;		/* sync: waiter and completion */
	struct file		*file;		/* sync: held by an orphan */
	struct work_struct	free_work;	/* sync: frees an orphan */

	/* Issuing: only the issuing context, one segment at a time. */
	u32			next;		/* first entry not yet issued */
	u32			seg_start;	/* first entry of the segment */
	bool			in_retry;	/* issuing the segment's retries */
	struct bb_limits	lim;		/* the device, per segment */

	/*
	 * Written by ->bi_end_io, without a lock.  @pending counts the
	 * segment's bios in flight plus one held while issuing; the atomic
	 * that drops it to zero orders every write below before the
	 * segment end.  @err[i]: 0, entry i's first error (cmpxchg), or
	 * BB_ERR_RETRY.  @failed and @retry_pending are also read, racily
	 * and harmlessly, while issuing (WRITE_ONCE/READ_ONCE).
	 */
	atomic_t		pending;
	bool			failed;
	bool			retry_pending;	/* some @err is BB_ERR_RETRY */
	s32			*err;
	struct bb_pollset	poll;

	struct blkbatch_entry	ents[];
};

/* Front padding of every bio blkbatch allocates from its bioset. */
struct bb_bio {
	struct llist_node	node;		/* on the re-dirty list */
	u32			idx;
	bool			done;		/* polled bios: ->bi_end_io ran */
	struct bio		bio;		/* must be last */
};

extern unsigned int bb_max_entries;

/* Ops that change the device's contents.  A flush does not. */
static inline bool bb_op_writes(u8 op)
{
	return op == BLKBATCH_OP_WRITE || op == BLKBATCH_OP_DISCARD ||
	       op == BLKBATCH_OP_WRITE_ZEROES;
}

/* main.c: debugfs counters for the selftests. */
extern atomic_t bb_live_batches;
extern atomic_t bb_polled_bios;
extern atomic_t bb_retried_entries;

/* dev.c */
int bb_ctl_init(void);
void bb_ctl_exit(void);
void bb_ctl_attach_list(const char *list);
u32 bb_max_entry_bytes(struct block_device *bdev);
u64 bb_features(struct block_device *bdev);
bool bb_dev_poll_max(struct bb_dev *dev, u32 *poll_max);
/* the device's active reference, held by each batch */
int bb_dev_start_batch(struct bb_dev *dev);
void bb_dev_end_batch(struct bb_dev *dev);
bool bb_disk_gone(struct block_device *bdev);
void bb_dev_mark_gone(struct bb_dev *dev, const char *why);

/* stats.c */
extern const struct attribute_group *bb_dev_groups[];
int bb_stats_alloc(struct bb_dev *dev);
void bb_stats_free(struct bb_dev *dev);
void bb_stats_add(struct bb_dev *dev, enum bb_stat which, u64 n);

/* validate.c */
void bb_limits_init(struct bb_dev *dev, struct file *file, bool fixed,
		    struct bb_limits *lim);
void bb_limits_refresh(struct bb_dev *dev, struct bb_limits *lim);
int bb_check_cmd(const struct blkbatch_cmd *cmd);
int bb_check_entry(const struct blkbatch_entry *e,
		   const struct bb_limits *lim, struct io_uring_cmd *fixed_cmd,
		   unsigned int issue_flags);
int bb_fixed_vec_iter(const struct blkbatch_entry *e,
		      const struct bb_limits *lim, struct io_uring_cmd *ioucmd,
		      unsigned int issue_flags, struct iov_iter *iter);
int bb_entry_recheck(const struct blkbatch_entry *e,
		     const struct bb_limits *lim);
int bb_check_iovecs(const struct iovec *iov, u32 nr, u32 len,
		    const struct bb_limits *lim);

/* batch.c */
struct bb_batch *bb_batch_create(struct bb_dev *dev, struct file *file,
				 const struct blkbatch_cmd *cmd,
				 struct io_uring_cmd *ioucmd,
				 unsigned int issue_flags, u64 *bad);
void bb_batch_free(struct bb_batch *b);
void bb_batch_put(struct bb_batch *b);
void bb_batch_issue(struct bb_batch *b);
bool bb_batch_resume(struct bb_batch *b, bool alive);
int bb_batch_finish(struct bb_batch *b, bool copy_status);
void bb_batch_free_async(struct bb_batch *b);

/* bio.c */
extern struct workqueue_struct *bb_wq;
int bb_bio_init(void);
void bb_bio_exit(void);
void bb_fault_init(struct dentry *dir);
int bb_issue_entry(struct bb_batch *b, u32 idx);
void bb_entry_fail(struct bb_batch *b, u32 idx, int err);
int bb_cache_before_write(struct bb_batch *b, const struct blkbatch_entry *e);
void bb_cache_after_writes(struct bb_batch *b);
void bb_poll_release(struct bb_batch *b);
int bb_batch_iopoll(struct bb_batch *b, struct io_comp_batch *iob,
		    unsigned int poll_flags);

/* uring.c */
int bb_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);
int bb_uring_cmd_iopoll(struct io_uring_cmd *ioucmd, struct io_comp_batch *iob,
			unsigned int poll_flags);

/* sync.c */
long bb_ioctl_submit(struct file *file, struct blkbatch_cmd __user *ucmd);

#endif /* BB_BLKBATCH_H */
