// SPDX-License-Identifier: MIT
/*
 * libblkbatch: rings, submission and completion.
 *
 * Nothing here allocates; the only system calls are the ones liburing
 * makes (io_uring_setup, io_uring_enter) and BLKBATCH_IOC_SUBMIT.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "libblkbatch.h"

#ifndef IORING_URING_CMD_FIXED
#define IORING_URING_CMD_FIXED	(1U << 0)
#endif

/*
 * What BLKBATCH_RING_SINGLE_ISSUER asks of the kernel: no locking for
 * other submitters, and task work (a batch's completion) run when the
 * thread waits rather than by interrupting it.  DEFER_TASKRUN needs a
 * task that waits itself, which an SQPOLL ring's thread does not.
 */
static unsigned int single_issuer_flags(unsigned int flags)
{
	if (!(flags & BLKBATCH_RING_SINGLE_ISSUER))
		return 0;
	if (flags & BLKBATCH_RING_SQPOLL)
		return IORING_SETUP_SINGLE_ISSUER;
	return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
}


/* Idle time of the SQPOLL thread before it sleeps, in milliseconds. */
#define BLKBATCH_SQ_THREAD_IDLE	1000

/* The command area is the last 80 bytes of a 128-byte SQE. */
#define SQE128_SIZE		128
_Static_assert(offsetof(struct io_uring_sqe, cmd) + sizeof(struct blkbatch_cmd)
	       == SQE128_SIZE, "struct blkbatch_cmd must fill the command area");

int blkbatch_ring_init_shared(struct blkbatch_ring *r, unsigned int depth,
			      unsigned int flags,
			      const struct blkbatch_ring *share)
{
	struct io_uring_params p;
	unsigned int base = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	if (flags & ~BLKBATCH_RING_ALL)
		return -EINVAL;

	if (flags & BLKBATCH_RING_IOPOLL)
		base |= IORING_SETUP_IOPOLL;
	if (flags & BLKBATCH_RING_SQPOLL)
		base |= IORING_SETUP_SQPOLL;

	memset(&p, 0, sizeof(p));
	p.flags = base | ((flags & BLKBATCH_RING_SQE_MIXED) ?
			  IORING_SETUP_SQE_MIXED : IORING_SETUP_SQE128);
	if (flags & BLKBATCH_RING_CQE32)
		p.flags |= IORING_SETUP_CQE32;
	if (flags & BLKBATCH_RING_SQPOLL)
		p.sq_thread_idle = BLKBATCH_SQ_THREAD_IDLE;
	if (share) {
		p.flags |= IORING_SETUP_ATTACH_WQ;
		p.wq_fd = (__u32)share->ring.ring_fd;
	}

	p.flags |= single_issuer_flags(flags);
	ret = io_uring_queue_init_params(depth, &r->ring, &p);
	if (ret == -EINVAL && single_issuer_flags(flags)) {
		/* Before 6.1: the same ring without them. */
		p.flags &= ~single_issuer_flags(flags);
		ret = io_uring_queue_init_params(depth, &r->ring, &p);
	}
	if (ret == -EINVAL) {
		/*
		 * Kernels before 5.19 reject SQE128/CQE32 as unknown flags,
		 * before 6.19 SQE_MIXED.  Tell that apart from a bad depth:
		 * if the same ring without them can be set up, the kernel
		 * lacks them.
		 */
		struct io_uring probe;

		memset(&p, 0, sizeof(p));
		p.flags = base;
		if (flags & BLKBATCH_RING_SQPOLL)
			p.sq_thread_idle = BLKBATCH_SQ_THREAD_IDLE;
		if (io_uring_queue_init_params(depth, &probe, &p) == 0) {
			io_uring_queue_exit(&probe);
			ret = -EOPNOTSUPP;
		}
	}
	if (ret) {
		memset(r, 0, sizeof(*r));
		return ret;
	}
	if (!(r->ring.flags & (IORING_SETUP_SQE128 | IORING_SETUP_SQE_MIXED))) {
		io_uring_queue_exit(&r->ring);
		memset(r, 0, sizeof(*r));
		return -EOPNOTSUPP;
	}
	/* One thread enters it: a registered ring fd saves a lookup per call. */
	if (r->ring.flags & IORING_SETUP_SINGLE_ISSUER)
		io_uring_register_ring_fd(&r->ring);
	r->flags = flags;
	return 0;
}

int blkbatch_ring_init(struct blkbatch_ring *r, unsigned int depth,
		       unsigned int flags)
{
	return blkbatch_ring_init_shared(r, depth, flags, NULL);
}

void blkbatch_ring_exit(struct blkbatch_ring *r)
{
	io_uring_queue_exit(&r->ring);
	memset(r, 0, sizeof(*r));
}

static void fill_cmd(struct blkbatch_cmd *cmd, const struct blkbatch_batch *b)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->entries = (__u64)(uintptr_t)b->entries;
	cmd->status = (__u64)(uintptr_t)b->status;
	cmd->nr = b->nr;
	cmd->flags = b->flags;
}

static void prep(struct io_uring_sqe *sqe, __u8 opcode, int fd,
		 const struct blkbatch_batch *b, __u32 uring_cmd_flags,
		 unsigned int buf_index)
{
	struct blkbatch_cmd cmd;
	unsigned char *area = (unsigned char *)sqe +
			      offsetof(struct io_uring_sqe, cmd);

	/* Every field not named here must be 0, addr/len/ioprio included. */
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->fd = fd;
	sqe->cmd_op = BLKBATCH_URING_CMD_SUBMIT;
	sqe->uring_cmd_flags = uring_cmd_flags;
	sqe->buf_index = (__u16)buf_index;

	fill_cmd(&cmd, b);
	memcpy(area, &cmd, sizeof(cmd));
}

void blkbatch_prep_submit(struct io_uring_sqe *sqe, int fd,
			  const struct blkbatch_batch *b)
{
	prep(sqe, IORING_OP_URING_CMD, fd, b, 0, 0);
}

void blkbatch_prep_submit_fixed(struct io_uring_sqe *sqe, int fd,
				const struct blkbatch_batch *b,
				unsigned int buf_index)
{
	prep(sqe, IORING_OP_URING_CMD, fd, b, IORING_URING_CMD_FIXED,
	     buf_index);
}

/* An SQE, 64 bytes, that does nothing and posts no CQE when it succeeds. */
static void prep_quiet_nop(struct io_uring_sqe *sqe)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_NOP;
	sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
}

/*
 * Room for one batch command: an SQE of an SQE128 ring, two adjacent
 * ones of an SQE_MIXED ring.  The pair cannot start in the ring's last
 * slot (the kernel reads 128 bytes from where it starts), which is then
 * filled with a quiet NOP first.  NULL if the SQ has no room.
 */
static struct io_uring_sqe *get_cmd_sqe(struct blkbatch_ring *r)
{
	struct io_uring *ring = &r->ring;
	struct io_uring_sqe *sqe;
	bool last;

	if (!(r->flags & BLKBATCH_RING_SQE_MIXED))
		return io_uring_get_sqe(ring);
	last = (ring->sq.sqe_tail & ring->sq.ring_mask) == ring->sq.ring_mask;
	if (io_uring_sq_space_left(ring) < 2U + last)
		return NULL;
	if (last)
		prep_quiet_nop(io_uring_get_sqe(ring));
	sqe = io_uring_get_sqe(ring);
	io_uring_get_sqe(ring);		/* its second half */
	return sqe;
}

/* How often a submission is retried on -EAGAIN/-EINTR before giving up. */
#define SUBMIT_TRIES	64

/*
 * Hand the SQE just queued to the kernel.  Without SQPOLL, success means
 * the kernel has consumed every queued SQE, ours (the last one) included.
 * If it could not be made to, the SQE is turned into a NOP that posts no
 * CQE, so that no later submission issues a batch the caller was told had
 * failed (its arrays may be gone by then).  The SQEs before it, if the
 * caller queued some by hand, stay queued as liburing leaves them.
 */
static int submit_one(struct blkbatch_ring *r, struct io_uring_sqe *sqe)
{
	struct io_uring *ring = &r->ring;
	int tries, ret = 0;

	if (ring->flags & IORING_SETUP_SQPOLL) {
		/*
		 * The SQ thread takes the SQE on its own; io_uring_submit()
		 * only enters the kernel if the thread needs a wakeup.  An
		 * error here is a failed wakeup: the SQE is already visible
		 * to the thread and cannot be taken back safely.
		 */
		ret = io_uring_submit(ring);
		return ret < 0 ? ret : 0;
	}

	for (tries = 0; tries < SUBMIT_TRIES; tries++) {
		ret = io_uring_submit(ring);
		if (io_uring_sq_ready(ring) == 0)
			return 0;
		if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
			break;
	}
	if (ret >= 0)
		ret = -EAGAIN;

	prep_quiet_nop(sqe);
	if (r->flags & BLKBATCH_RING_SQE_MIXED)
		prep_quiet_nop(sqe + 1);
	return ret;
}

int blkbatch_ring_register_file(struct blkbatch_ring *r, int fd)
{
	int ret;

	if (r->has_reg_fd)
		return -EBUSY;
	ret = io_uring_register_files(&r->ring, &fd, 1);
	if (ret)
		return ret;
	r->has_reg_fd = true;
	r->reg_fd = fd;
	return 0;
}

int blkbatch_ring_unregister_file(struct blkbatch_ring *r)
{
	int ret;

	if (!r->has_reg_fd)
		return -ENXIO;
	ret = io_uring_unregister_files(&r->ring);
	if (ret)
		return ret;
	r->has_reg_fd = false;
	r->reg_fd = -1;
	return 0;
}

int blkbatch_ring_register_buffer(struct blkbatch_ring *r, void *buf,
				  size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return io_uring_register_buffers(&r->ring, &iov, 1);
}

/* Queue one batch: on the registered file if @fd is the one registered. */
static struct io_uring_sqe *queue_batch(struct blkbatch_ring *r, int fd,
					const struct blkbatch_batch *b,
					__u32 uring_cmd_flags,
					unsigned int buf_index,
					__u64 user_data)
{
	struct io_uring_sqe *sqe = get_cmd_sqe(r);

	if (!sqe)
		return NULL;
	prep(sqe, (r->flags & BLKBATCH_RING_SQE_MIXED) ?
		  BLKBATCH_IORING_OP_URING_CMD128 : IORING_OP_URING_CMD,
	     fd, b, uring_cmd_flags, buf_index);
	if (r->has_reg_fd && fd == r->reg_fd) {
		sqe->fd = 0;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	sqe->user_data = user_data;
	return sqe;
}

struct io_uring_sqe *blkbatch_queue(struct blkbatch_ring *r, int fd,
				    const struct blkbatch_batch *b,
				    __u64 user_data)
{
	return queue_batch(r, fd, b, 0, 0, user_data);
}

struct io_uring_sqe *blkbatch_queue_fixed(struct blkbatch_ring *r, int fd,
					  const struct blkbatch_batch *b,
					  unsigned int buf_index,
					  __u64 user_data)
{
	return queue_batch(r, fd, b, IORING_URING_CMD_FIXED, buf_index,
			   user_data);
}

static int submit_batch(struct blkbatch_ring *r, int fd,
			struct blkbatch_batch *b, __u32 uring_cmd_flags,
			unsigned int buf_index, __u64 user_data)
{
	struct io_uring_sqe *sqe;

	sqe = queue_batch(r, fd, b, uring_cmd_flags, buf_index, user_data);
	return sqe ? submit_one(r, sqe) : -EBUSY;
}

int blkbatch_submit(struct blkbatch_ring *r, int fd, struct blkbatch_batch *b,
		    __u64 user_data)
{
	return submit_batch(r, fd, b, 0, 0, user_data);
}

int blkbatch_submit_fixed(struct blkbatch_ring *r, int fd,
			  struct blkbatch_batch *b, unsigned int buf_index,
			  __u64 user_data)
{
	return submit_batch(r, fd, b, IORING_URING_CMD_FIXED, buf_index,
			    user_data);
}

static void fill_cqe(const struct io_uring *ring,
		     const struct io_uring_cqe *c, struct blkbatch_cqe *out)
{
	out->user_data = c->user_data;
	out->res = c->res;
	out->res2 = (ring->flags & IORING_SETUP_CQE32) ? c->big_cqe[0]
						       : BLKBATCH_NO_ENTRY;
}

/* The oldest completion blkbatch_run() held back, if any. */
static bool pop_held(struct blkbatch_ring *r, struct blkbatch_cqe *cqe)
{
	if (!r->nr_held)
		return false;
	*cqe = r->held[0];
	r->nr_held--;
	memmove(&r->held[0], &r->held[1], r->nr_held * sizeof(r->held[0]));
	return true;
}

/* One completion: waiting for it, or -EAGAIN if there is none. */
static int reap(struct blkbatch_ring *r, struct blkbatch_cqe *cqe, bool wait)
{
	struct io_uring_cqe *c = NULL;
	int ret;

	if (pop_held(r, cqe))
		return 0;
	ret = wait ? io_uring_wait_cqe(&r->ring, &c)
		   : io_uring_peek_cqe(&r->ring, &c);
	/* Deferred task work posts completions only when asked to. */
	if (!wait && ret == -EAGAIN &&
	    (r->ring.flags & IORING_SETUP_DEFER_TASKRUN)) {
		io_uring_get_events(&r->ring);
		ret = io_uring_peek_cqe(&r->ring, &c);
	}
	if (ret < 0)
		return ret;
	if (!c)
		return -EAGAIN;
	fill_cqe(&r->ring, c, cqe);
	io_uring_cqe_seen(&r->ring, c);
	return 0;
}

int blkbatch_wait(struct blkbatch_ring *r, struct blkbatch_cqe *cqe)
{
	return reap(r, cqe, true);
}

int blkbatch_peek(struct blkbatch_ring *r, struct blkbatch_cqe *cqe)
{
	return reap(r, cqe, false);
}

static struct io_uring_cqe *cqe_at(struct io_uring *ring, unsigned int idx)
{
	unsigned int shift = (ring->flags & IORING_SETUP_CQE32) ? 1 : 0;

	return &ring->cq.cqes[(idx & ring->cq.ring_mask) << shift];
}

/*
 * Reap the completion with @user_data and leave every other one queued, in
 * order.  The entries between the CQ head and tail belong to userspace
 * until the head moves past them, so a match found behind others is moved
 * to the head (the ones before it slide back by one) and then consumed.
 * An IOPOLL ring is only polled while its CQ is empty, so there the others
 * are moved to r->held first (all of them older than anything still in
 * the CQ, so blkbatch_wait/peek keep the order by returning them first).
 * Signals do not interrupt the wait: the caller's batch is still in flight
 * and returning would let the kernel write into memory the caller may
 * reuse.
 */
static int wait_tagged(struct blkbatch_ring *r, __u64 user_data,
		       struct blkbatch_cqe *out)
{
	struct io_uring *ring = &r->ring;
	size_t sz = sizeof(struct io_uring_cqe) *
		    ((ring->flags & IORING_SETUP_CQE32) ? 2 : 1);

	for (;;) {
		unsigned int head = *ring->cq.khead;
		unsigned int tail = io_uring_smp_load_acquire(ring->cq.ktail);
		unsigned int ready = tail - head, i;
		struct io_uring_cqe *c;
		int ret;

		for (i = 0; i < ready; i++)
			if (cqe_at(ring, head + i)->user_data == user_data)
				break;
		if (i < ready) {
			if (i) {
				unsigned char tmp[2 * sizeof(struct io_uring_cqe)];

				memcpy(tmp, cqe_at(ring, head + i), sz);
				for (; i; i--)
					memcpy(cqe_at(ring, head + i),
					       cqe_at(ring, head + i - 1), sz);
				memcpy(cqe_at(ring, head), tmp, sz);
			}
			c = cqe_at(ring, head);
			fill_cqe(ring, c, out);
			io_uring_cqe_seen(ring, c);
			return 0;
		}
		if (ready && (ring->flags & IORING_SETUP_IOPOLL)) {
			if (r->nr_held + ready > BLKBATCH_RING_HELD)
				return -EBUSY;
			for (i = 0; i < ready; i++)
				fill_cqe(ring, cqe_at(ring, head + i),
					 &r->held[r->nr_held++]);
			io_uring_cq_advance(ring, ready);
			ready = 0;
		}
		/* Full of other completions: ours cannot be posted. */
		if (ready >= ring->cq.ring_entries)
			return -EBUSY;
		/* Wait for one more completion than is there now. */
		ret = io_uring_wait_cqe_nr(ring, &c, ready + 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
			return ret;
	}
}

int blkbatch_run(struct blkbatch_ring *r, int fd, struct blkbatch_batch *b)
{
	struct blkbatch_cqe cqe;
	int ret;

	ret = blkbatch_submit(r, fd, b, BLKBATCH_UDATA_RUN);
	if (ret)
		return ret;
	ret = wait_tagged(r, BLKBATCH_UDATA_RUN, &cqe);
	return ret ? ret : cqe.res;
}

int blkbatch_run_sync(int fd, struct blkbatch_batch *b)
{
	struct blkbatch_cmd cmd;
	int ret;

	fill_cmd(&cmd, b);
	ret = ioctl(fd, BLKBATCH_IOC_SUBMIT, &cmd);
	return ret < 0 ? -errno : ret;
}

/* One entry, on the stack: the whole length or -errno. */
static ssize_t one_entry(struct blkbatch_ring *r, int fd, bool write,
			 void *buf, size_t len, __u64 offset)
{
	struct blkbatch_entry e;
	struct blkbatch_batch b;
	__s32 status = -EIO;
	int ret;

	if (len > UINT32_MAX)
		return -EINVAL;
	blkbatch_batch_init(&b, &e, &status, 1);
	if (write)
		blkbatch_batch_add_write(&b, buf, (__u32)len, offset, 0);
	else
		blkbatch_batch_add_read(&b, buf, (__u32)len, offset);

	ret = r ? blkbatch_run(r, fd, &b) : blkbatch_run_sync(fd, &b);
	if (ret < 0)
		return ret;
	if (ret == 1)
		/* Entries are never short: the status is the length. */
		return (ssize_t)len;
	return status < 0 ? status : -EIO;
}

ssize_t blkbatch_pread(struct blkbatch_ring *r, int fd, void *buf, size_t len,
		       __u64 offset)
{
	return one_entry(r, fd, false, buf, len, offset);
}

ssize_t blkbatch_pwrite(struct blkbatch_ring *r, int fd, const void *buf,
			size_t len, __u64 offset)
{
	return one_entry(r, fd, true, (void *)buf, len, offset);
}
