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
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <linux/blkbatch.h>

#include "compat.h"

#define BB_MAX_DEVS		64
#define BB_DEFAULT_MAX_ENTRIES	16384
#define BB_MAX_MAX_ENTRIES	(1024U * 1024U)
#define BB_MAX_VECS		UIO_MAXIOV

/*
 * struct bb_dev - one attached block device and its /dev/blkbatchN.
 *
 * The kref counts the registry and every open file.  @inflight counts
 * batches between validation and completion; detach is refused while it is
 * non-zero and, once @dead is set, nothing touches @bdev again.
 */
struct bb_dev {
	struct kref		ref;
	struct miscdevice	misc;
	char			name[24];
	unsigned int		index;
	u32			attach_flags;
	struct bb_bdev		bdev;
	spinlock_t		lock;		/* protects @dead, @inflight */
	bool			dead;
	unsigned int		inflight;
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
};

/*
 * The value of @err[i] while entry i waits to be issued again after its
 * polled bio could not be (see bio.c).  Positive, so no errno can be
 * mistaken for it.
 */
#define BB_ERR_RETRY		1

/*
 * struct bb_batch - one submitted batch, from validation to its CQE.
 *
 * A batch is issued in segments: the entries up to and including the next
 * BARRIER.  @next is the first entry not yet issued; only the issuing
 * context touches it, and segments never overlap.  @pending counts the
 * segment's bios in flight plus one held by the issuer, so bios
 * completing during submission cannot end the segment early.  When it
 * drops to zero, @complete runs (in any context) and either issues the
 * next segment or finishes the batch.  @err[i] is entry i's first error (0
 * while it has none); bios update it from interrupt context with cmpxchg.
 *
 * On an IOPOLL ring whose device can poll, small READ and WRITE entries go
 * out as one polled, non-waiting bio each (see bio.c).  The batch keeps a
 * reference to each in @poll so that ->uring_cmd_iopoll has a bio to poll
 * until all are done; @poll_lock orders that with their release, and the
 * batch itself is freed after an RCU grace period.  Entries whose polled
 * bio could not get what it needed without waiting (@err BB_ERR_RETRY,
 * noted in @retry) are issued again, waiting and not polled, once the
 * segment is over; the first such failure ends polling for the rest of
 * the segment (@poll_stop), as a full poll queue would only fail the next
 * one too.
 *
 * A batch on an IOPOLL ring (@iopoll) is finished by the ring's poll loop,
 * not by task work: io_uring's exit and exec paths poll such a ring until
 * its requests complete without running task work.  The last bio of a
 * segment sets @seg_done and the next ->uring_cmd_iopoll call, in the
 * submitter's address space (@mm) or none, does what task work would.
 *
 * The synchronous ioctl path (sync.c) shares the batch between the waiting
 * task and the completion: @owners counts the two, and whichever drops it
 * to zero frees the batch.  A waiter that is killed leaves, holding a
 * reference on @file so that the module outlives the orphaned batch.
 */
struct bb_batch {
	struct bb_dev		*dev;
	struct io_uring_cmd	*ioucmd;	/* NULL on the ioctl path */
	void			(*complete)(struct bb_batch *b);
	atomic_t		pending;
	u32			next;
	bool			failed;
	bool			abort_on_error;
	bool			fixed;		/* IORING_URING_CMD_FIXED */
	bool			polled;		/* may issue polled bios */
	bool			retrying;	/* issuing the -EAGAIN entries */
	bool			retry;		/* some entries wait for that */
	bool			poll_stop;	/* the segment polls no more */
	bool			iopoll;		/* on an IOPOLL ring */
	bool			compat;		/* iovecs in the 32-bit layout */
	atomic_t		seg_done;
	struct mm_struct	*mm;		/* @iopoll: the submitter's */
	s32 __user		*ustatus;
	u32			nr;
	u32			seg_start;	/* first entry of the segment */
	s32			*err;
	struct bb_limits	lim;

	/* Polled bios: see above.  @npoll only grows; [pcur, npoll) held. */
	u32			poll_max;	/* largest polled entry, bytes */
	u32			npoll;
	u32			pcur;
	spinlock_t		poll_lock;	/* @pcur and the puts */
	struct bio		**poll;
	struct rcu_head		rcu;

	struct completion	done;
	atomic_t		owners;
	struct file		*file;
	struct work_struct	free_work;	/* frees an orphan */

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
/* the device's active reference, held by each batch */
int bb_dev_start_batch(struct bb_dev *dev);
void bb_dev_end_batch(struct bb_dev *dev);

/* validate.c */
void bb_limits_init(struct bb_dev *dev, struct file *file, bool fixed,
		    struct bb_limits *lim);
void bb_limits_refresh(struct bb_dev *dev, struct bb_limits *lim);
int bb_check_cmd(const struct blkbatch_cmd *cmd);
int bb_check_entry(const struct blkbatch_entry *e,
		   const struct bb_limits *lim, struct io_uring_cmd *fixed_cmd);
int bb_entry_recheck(const struct blkbatch_entry *e,
		     const struct bb_limits *lim);
int bb_check_iovecs(const struct iovec *iov, u32 nr, u32 len,
		    const struct bb_limits *lim);

/* batch.c */
struct bb_batch *bb_batch_create(struct bb_dev *dev, struct file *file,
				 const struct blkbatch_cmd *cmd,
				 struct io_uring_cmd *ioucmd, bool polled,
				 u64 *bad);
void bb_batch_free(struct bb_batch *b);
void bb_batch_put(struct bb_batch *b);
void bb_batch_issue(struct bb_batch *b);
bool bb_batch_continue(struct bb_batch *b, bool alive);
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
