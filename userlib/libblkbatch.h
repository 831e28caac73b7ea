/* SPDX-License-Identifier: MIT */
/*
 * libblkbatch: a thin layer over liburing for /dev/blkbatchN.
 *
 * Conventions (liburing's): functions return 0 or a count on success and
 * -errno on failure and never set errno; blkbatch_prep_*() cannot fail and
 * return void; nothing on the I/O path allocates memory.
 */
#ifndef LIBBLKBATCH_H
#define LIBBLKBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <liburing.h>
#include <linux/blkbatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open /dev/blkbatchN and what GET_INFO said about it. */
struct blkbatch_dev {
	int			fd;
	unsigned int		index;
	struct blkbatch_info	info;
};

/*
 * What the kernel's uapi has since 6.19 and liburing's copy of it before
 * 2.13 does not name (the opcode is an enum there, so it gets a name of
 * its own here).
 */
#ifndef IORING_SETUP_SQE_MIXED
#define IORING_SETUP_SQE_MIXED		(1U << 19)
#endif
#define BLKBATCH_IORING_OP_URING_CMD128	64	/* IORING_OP_URING_CMD128 */

/* Ring setup flags for blkbatch_ring_init(). */
#define BLKBATCH_RING_IOPOLL	(1U << 0)	/* IORING_SETUP_IOPOLL */
#define BLKBATCH_RING_SQPOLL	(1U << 1)	/* IORING_SETUP_SQPOLL */
#define BLKBATCH_RING_CQE32	(1U << 2)	/* CQE32: res2 names a bad entry */
/*
 * Since 1.2: only the thread that created the ring submits and reaps
 * (IORING_SETUP_SINGLE_ISSUER, and DEFER_TASKRUN without SQPOLL: batches
 * complete when that thread waits or peeks, not by interrupting it).
 */
#define BLKBATCH_RING_SINGLE_ISSUER (1U << 3)
/*
 * Since 1.3: 64-byte SQEs for the ring's other requests
 * (IORING_SETUP_SQE_MIXED, kernel 6.19 and later, else -EOPNOTSUPP);
 * a batch takes two adjacent slots (IORING_OP_URING_CMD128).  Queue
 * batches with blkbatch_queue*() or blkbatch_submit*(), not with
 * blkbatch_prep_submit*().
 */
#define BLKBATCH_RING_SQE_MIXED	(1U << 4)
#define BLKBATCH_RING_ALL	(BLKBATCH_RING_IOPOLL | BLKBATCH_RING_SQPOLL | \
				 BLKBATCH_RING_CQE32 | BLKBATCH_RING_SINGLE_ISSUER | \
				 BLKBATCH_RING_SQE_MIXED)

/* Completions blkbatch_run() can hold back for others on an IOPOLL ring. */
#define BLKBATCH_RING_HELD	16

/* Result of one completed batch. */
struct blkbatch_cqe {
	__u64	user_data;
	__s32	res;		/* entries that succeeded, or -errno */
	__u64	res2;		/* CQE32 only: bad entry or BLKBATCH_NO_ENTRY */
};

/*
 * One io_uring set up for blkbatch: always SQE128; one per thread.  Only
 * @ring (the liburing ring, for your own requests) and @flags
 * (BLKBATCH_RING_*, read-only) are for callers; the rest is the library's
 * and not ABI: its layout may change in any release, with the soname.
 */
struct blkbatch_ring {
	struct io_uring		ring;
	unsigned int		flags;
	/* Not ABI from here on. */
	/*
	 * Completions of other requests that blkbatch_run() had to take off
	 * an IOPOLL ring while waiting (the kernel does not poll while
	 * completions are queued).  blkbatch_wait/peek return them first,
	 * oldest first; reap with those, not with liburing directly, when
	 * mixing blkbatch_run() with other requests on an IOPOLL ring.
	 */
	unsigned int		nr_held;
	struct blkbatch_cqe	held[BLKBATCH_RING_HELD];
	/* blkbatch_ring_register_file(): @reg_fd is fixed file 0. */
	bool			has_reg_fd;
	int			reg_fd;
};

/*
 * A batch under construction.  The entry and status arrays belong to the
 * caller (blkbatch_batch_init) or to the library (blkbatch_batch_alloc);
 * adding entries never allocates.
 */
struct blkbatch_batch {
	struct blkbatch_entry	*entries;
	__s32			*status;
	unsigned int		nr;
	unsigned int		cap;
	__u32			flags;		/* BLKBATCH_CMD_F_* */
	bool			owned;
};

/*
 * user_data that blkbatch_run() (and so blkbatch_pread/pwrite) gives its
 * SQE; do not use it for your own requests on the same ring.  (-1 is
 * liburing's LIBURING_UDATA_TIMEOUT.)
 */
#define BLKBATCH_UDATA_RUN	((__u64)-2)

/* Control device. */
int blkbatch_attach(const char *path, unsigned int flags, unsigned int *index);
int blkbatch_detach(unsigned int index);

/* Devices. */
int blkbatch_open(unsigned int index, int oflags, struct blkbatch_dev *dev);
int blkbatch_open_path(const char *path, int oflags, struct blkbatch_dev *dev);
void blkbatch_close(struct blkbatch_dev *dev);
int blkbatch_get_info(int fd, struct blkbatch_info *info);
/* Name of one BLKBATCH_F_* bit ("unknown" for others or several). */
const char *blkbatch_feature_name(__u64 feature);

/* Rings. */
int blkbatch_ring_init(struct blkbatch_ring *r, unsigned int depth,
		       unsigned int flags);
/* The same, sharing @share's SQ thread (SQPOLL) and io-wq workers. */
int blkbatch_ring_init_shared(struct blkbatch_ring *r, unsigned int depth,
			      unsigned int flags,
			      const struct blkbatch_ring *share);
void blkbatch_ring_exit(struct blkbatch_ring *r);

/*
 * Registered resources: the file, looked up once instead of per SQE, and
 * one buffer (index 0) whose pages stay pinned, so batches inside it skip
 * per-I/O pinning (blkbatch_submit_fixed).  One of each per ring.
 */
int blkbatch_ring_register_file(struct blkbatch_ring *r, int fd);
/* Since 1.1: let the file go again, e.g. before registering another. */
int blkbatch_ring_unregister_file(struct blkbatch_ring *r);
int blkbatch_ring_register_buffer(struct blkbatch_ring *r, void *buf,
				  size_t len);

/*
 * Per-thread rings: each thread that asks gets its own ring (its own SQ
 * and CQ), created on first use with the process-wide settings of
 * blkbatch_thread_ring_config() and destroyed when the thread exits.  No
 * lock is shared between threads on the I/O path.  In SQPOLL mode the
 * rings share one SQ thread, so that threads do not each bring a spinning
 * kernel thread of their own.
 */
int blkbatch_thread_ring_config(unsigned int depth, unsigned int flags);
int blkbatch_thread_ring(struct blkbatch_ring **rp);
void blkbatch_thread_ring_exit(void);

/* Batches. */
void blkbatch_batch_init(struct blkbatch_batch *b, struct blkbatch_entry *ents,
			 __s32 *status, unsigned int cap);
int blkbatch_batch_alloc(struct blkbatch_batch *b, unsigned int cap);
void blkbatch_batch_free(struct blkbatch_batch *b);
void blkbatch_batch_reset(struct blkbatch_batch *b);
/* Each returns the new entry's index, or -ENOSPC when the batch is full. */
int blkbatch_batch_add_read(struct blkbatch_batch *b, void *buf, __u32 len,
			    __u64 offset);
int blkbatch_batch_add_write(struct blkbatch_batch *b, const void *buf,
			     __u32 len, __u64 offset, __u16 flags);
int blkbatch_batch_add_readv(struct blkbatch_batch *b, const struct iovec *iov,
			     unsigned int nr_vecs, __u64 offset);
int blkbatch_batch_add_writev(struct blkbatch_batch *b,
			      const struct iovec *iov, unsigned int nr_vecs,
			      __u64 offset, __u16 flags);
int blkbatch_batch_add_flush(struct blkbatch_batch *b);
int blkbatch_batch_add_discard(struct blkbatch_batch *b, __u64 offset,
			       __u32 len);
int blkbatch_batch_add_write_zeroes(struct blkbatch_batch *b, __u64 offset,
				    __u32 len);
int blkbatch_batch_add_barrier(struct blkbatch_batch *b);

/* Fill an SQE128 for one batch; the caller sets flags/user_data. */
void blkbatch_prep_submit(struct io_uring_sqe *sqe, int fd,
			  const struct blkbatch_batch *b);
/* Same on a registered buffer: every data entry lies inside buf_index. */
void blkbatch_prep_submit_fixed(struct io_uring_sqe *sqe, int fd,
				const struct blkbatch_batch *b,
				unsigned int buf_index);

/*
 * Since 1.3: queue one batch on @r without submitting it, in an SQE of
 * the size the ring needs (on the registered file if @fd is the one
 * registered): the SQE, for the caller's flags, or NULL if the SQ has no
 * room.  io_uring_submit() hands it to the kernel.
 */
struct io_uring_sqe *blkbatch_queue(struct blkbatch_ring *r, int fd,
				    const struct blkbatch_batch *b,
				    __u64 user_data);
struct io_uring_sqe *blkbatch_queue_fixed(struct blkbatch_ring *r, int fd,
					  const struct blkbatch_batch *b,
					  unsigned int buf_index,
					  __u64 user_data);

/* Queue one batch and submit it (one io_uring_enter, none under SQPOLL). */
int blkbatch_submit(struct blkbatch_ring *r, int fd, struct blkbatch_batch *b,
		    __u64 user_data);
/* Same with the batch's data inside registered buffer @buf_index. */
int blkbatch_submit_fixed(struct blkbatch_ring *r, int fd,
			  struct blkbatch_batch *b, unsigned int buf_index,
			  __u64 user_data);
/* Wait for one batch completion. */
int blkbatch_wait(struct blkbatch_ring *r, struct blkbatch_cqe *cqe);
/* Reap one completion if there is one: 0, or -EAGAIN if none. */
int blkbatch_peek(struct blkbatch_ring *r, struct blkbatch_cqe *cqe);
/*
 * Submit one batch and wait for it: the CQE res.  Other completions that
 * arrive first stay queued for blkbatch_wait/peek; signals do not end the
 * wait.
 */
int blkbatch_run(struct blkbatch_ring *r, int fd, struct blkbatch_batch *b);
/* Synchronous BLKBATCH_IOC_SUBMIT: the same result without io_uring. */
int blkbatch_run_sync(int fd, struct blkbatch_batch *b);

/*
 * One-off synchronous I/O: bytes transferred (always len) or -errno.
 * With r == NULL they use BLKBATCH_IOC_SUBMIT instead of a ring.
 */
ssize_t blkbatch_pread(struct blkbatch_ring *r, int fd, void *buf, size_t len,
		       __u64 offset);
ssize_t blkbatch_pwrite(struct blkbatch_ring *r, int fd, const void *buf,
			size_t len, __u64 offset);

/* Human-readable name of an op, for diagnostics. */
const char *blkbatch_op_name(unsigned int op);

#ifdef __cplusplus
}
#endif

#endif /* LIBBLKBATCH_H */
