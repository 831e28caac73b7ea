/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BB_BLKBATCH_H
#define BB_BLKBATCH_H

#undef pr_fmt
#define pr_fmt(fmt) "blkbatch: " fmt

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/llist.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/blkbatch.h>

#include "compat.h"

#define BB_MAX_DEVS		64
#define BB_DEFAULT_MAX_ENTRIES	16384
#define BB_MAX_MAX_ENTRIES	(1024U * 1024U)

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
 * struct bb_batch - one submitted batch, from validation to its CQE.
 *
 * @pending counts bios in flight plus one held by the submitter, so bios
 * completing during submission cannot finish the batch early.  @err[i] is
 * entry i's first error (0 while it has none); bios update it from
 * interrupt context with cmpxchg.
 */
struct bb_batch {
	struct bb_dev		*dev;
	struct io_uring_cmd	*ioucmd;
	void			(*complete)(struct bb_batch *b);
	atomic_t		pending;
	bool			failed;
	bool			abort_on_error;
	s32 __user		*ustatus;
	u32			nr;
	s32			*err;
	struct blkbatch_entry	ents[];
};

/* Front padding of every bio blkbatch allocates from its bioset. */
struct bb_bio {
	struct llist_node	node;		/* on the re-dirty list */
	u32			idx;
	struct bio		bio;		/* must be last */
};

/* What validation needs to know about the device, read once per batch. */
struct bb_limits {
	u64			capacity;	/* bytes */
	u32			lbs_mask;
	u32			dma_mask;
	u32			max_entry_bytes;
	bool			can_write;	/* open mode and device allow it */
	bool			fd_write;	/* the file was opened for writing */
};

extern unsigned int bb_max_entries;

/* ctl.c */
int bb_ctl_init(void);
void bb_ctl_exit(void);
void bb_ctl_attach_list(const char *list);

/* cmd.c */
int bb_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);
u32 bb_max_entry_bytes(struct block_device *bdev);
u64 bb_features(struct block_device *bdev);

/* bio.c */
int bb_bio_init(void);
void bb_bio_exit(void);
void bb_batch_issue(struct bb_batch *b);
int bb_batch_finish(struct bb_batch *b, bool copy_status);

/* ctl.c: the device's active reference, held by each batch. */
int bb_dev_start_batch(struct bb_dev *dev);
void bb_dev_end_batch(struct bb_dev *dev);

#endif /* BB_BLKBATCH_H */
