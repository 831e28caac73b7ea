// SPDX-License-Identifier: GPL-2.0
/*
 * What a batch means: barriers, abort-on-error, per-entry errors from the
 * device (unsupported ops, bad blocks, injected I/O errors), vectored and
 * fixed-buffer entries at their edges, the synchronous ioctl, and a
 * fail-nth sweep over every allocation of the submit path.
 *
 * The "sem" fixture runs on BLKBATCH_DISK (the NVMe drive); the "nullb"
 * fixture on a null_blk disk made for the test, which can be slow, keep
 * data, have bad blocks or be told to fail.
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "blkbatch_test.h"

/* NVMe regions: after the ones blkbatch_io.c uses (up to 25 * 16 MiB). */
/* BB_RG_SEM's regions: BB_REGION(26) .. BB_REGION(31). */
#define REGION_GROUP		BB_REGION(26)
#define REGION_VEC		BB_REGION(27)
#define REGION_FIXED		BB_REGION(28)
#define REGION_SYNC		BB_REGION(29)
#define REGION_RINGS		BB_REGION(30)
#define REGION_NTH		BB_REGION(31)
#define NR_LOG			64
#define ST_POISON		((__s32)0x5a5a5a5a)

BB_ENV_FIXTURE(sem, BB_RING_DEPTH, BLKBATCH_RING_CQE32);

/* Read @len at @off through blkbatch and compare with pattern @seed. */
static long read_check(struct blkbatch_ring *r, int fd, __u64 off,
		       size_t len, __u64 seed)
{
	void *buf = bb_alloc(len);
	long bad;

	if (!buf)
		return -2;
	memset(buf, 0xa5, len);
	if (blkbatch_pread(r, fd, buf, len, off) != (ssize_t)len)
		bad = -3;
	else
		bad = bb_check(buf, len, off, seed);
	bb_free(buf, len);
	return bad;
}

/*
 * A group commit in one submission: NR_LOG log records, a barrier, a
 * flush, a barrier, the commit record with FUA.  Returns the CQE res.
 */
static int group_commit(struct blkbatch_ring *r, int fd, __u8 sqe_flags,
			void *buf, __u64 off, __s32 *st)
{
	struct blkbatch_entry ent[NR_LOG + 4];
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	unsigned int i;
	int ret;

	blkbatch_batch_init(&b, ent, st, NR_LOG + 4);
	for (i = 0; i < NR_LOG; i++)
		blkbatch_batch_add_write(&b, buf + i * SZ_4K, SZ_4K,
					 off + i * SZ_4K, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_flush(&b);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_write(&b, buf + NR_LOG * SZ_4K, SZ_4K,
				 off + NR_LOG * SZ_4K, BLKBATCH_EF_FUA);
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe)
		return -EBUSY;
	blkbatch_prep_submit(sqe, fd, &b);
	sqe->flags |= sqe_flags;
	ret = io_uring_submit(&r->ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = blkbatch_wait(r, &cqe);
	return ret ? ret : cqe.res;
}

static void check_group_commit(struct __test_metadata *_metadata,
			       FIXTURE_DATA(sem) * self,
			       struct blkbatch_ring *r, __u8 sqe_flags,
			       __u64 off, __u64 seed)
{
	size_t len = (NR_LOG + 1) * SZ_4K;
	__s32 st[NR_LOG + 4];
	void *buf = bb_alloc(len);
	unsigned int i;

	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, off, seed);
	EXPECT_EQ(NR_LOG + 4, group_commit(r, self->env.ctx.fd, sqe_flags, buf,
					   off, st));
	for (i = 0; i < NR_LOG; i++)
		EXPECT_EQ((__s32)SZ_4K, st[i]) TH_LOG("record %u", i);
	EXPECT_EQ(0, st[NR_LOG]);
	EXPECT_EQ(0, st[NR_LOG + 1]);
	EXPECT_EQ(0, st[NR_LOG + 2]);
	EXPECT_EQ((__s32)SZ_4K, st[NR_LOG + 3]);
	EXPECT_EQ(-1, read_check(&self->env.ring, self->env.ctx.fd, off, len, seed));
	bb_free(buf, len);
}

TEST_F(sem, group_commit)
{
	check_group_commit(_metadata, self, &self->env.ring, 0, REGION_GROUP, 1);
}

/* Later segments are issued from task work: also from io-wq and SQPOLL. */
TEST_F(sem, group_commit_iosqe_async)
{
	check_group_commit(_metadata, self, &self->env.ring, IOSQE_ASYNC,
			   REGION_RINGS, 2);
}

TEST_F(sem, group_commit_sqpoll)
{
	struct blkbatch_ring r;

	ASSERT_EQ(0, blkbatch_ring_init(&r, BB_RING_DEPTH,
					BLKBATCH_RING_SQPOLL));
	check_group_commit(_metadata, self, &r, 0, REGION_RINGS + SZ_1M, 3);
	blkbatch_ring_exit(&r);
}

/* Barriers anywhere: first, last, several in a row; all report 0. */
TEST_F(sem, barrier_edges)
{
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	__s32 st[8];
	void *buf = bb_alloc(2 * SZ_4K);

	ASSERT_NE(NULL, buf);
	bb_fill(buf, 2 * SZ_4K, REGION_GROUP + SZ_1M, 4);
	blkbatch_batch_init(&b, ent, st, 8);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_write(&b, buf, 2 * SZ_4K, REGION_GROUP + SZ_1M, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_read(&b, buf, 2 * SZ_4K, REGION_GROUP + SZ_1M);
	blkbatch_batch_add_barrier(&b);
	EXPECT_EQ(6, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ(0, st[0]);
	EXPECT_EQ((__s32)(2 * SZ_4K), st[1]);
	EXPECT_EQ(0, st[3]);
	EXPECT_EQ((__s32)(2 * SZ_4K), st[4]);
	EXPECT_EQ(0, st[5]);
	EXPECT_EQ(-1, bb_check(buf, 2 * SZ_4K, REGION_GROUP + SZ_1M, 4));
	/* the synchronous path walks the segments itself */
	st[4] = ST_POISON;
	EXPECT_EQ(6, blkbatch_run_sync(self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)(2 * SZ_4K), st[4]);
	bb_free(buf, 2 * SZ_4K);
}

/* An entry-level failure before a barrier cancels what follows it. */
TEST_F(sem, abort_stops_at_barrier)
{
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	__s32 st[4];
	void *buf = bb_alloc(SZ_4K);
	int mode;

	ASSERT_NE(NULL, buf);
	for (mode = 0; mode < 2; mode++) {
		blkbatch_batch_init(&b, ent, st, 4);
		if (mode)
			b.flags = BLKBATCH_CMD_F_ABORT_ON_ERROR;
		blkbatch_batch_add_read(&b, buf, SZ_4K, REGION_GROUP);
		ent[0].addr = (uintptr_t)bb_unmapped_addr();
		blkbatch_batch_add_barrier(&b);
		blkbatch_batch_add_read(&b, buf, SZ_4K, REGION_GROUP);
		blkbatch_batch_add_flush(&b);
		EXPECT_EQ(mode ? 0 : 3, blkbatch_run(&self->env.ring,
						     self->env.ctx.fd, &b));
		EXPECT_EQ(-EFAULT, st[0]);
		EXPECT_EQ(mode ? -ECANCELED : 0, st[1]);
		EXPECT_EQ(mode ? -ECANCELED : (__s32)SZ_4K, st[2]);
		EXPECT_EQ(mode ? -ECANCELED : 0, st[3]);
	}
	bb_free(buf, SZ_4K);
}

/* --- vectored entries ---------------------------------------------- */

/* More iovecs than fit on the kernel's stack, and the most allowed. */
TEST_F(sem, vectored_many)
{
	unsigned int nv = self->env.ctx.info.max_vecs, i;
	size_t len = (size_t)nv * self->env.lbs;
	struct iovec *iov = calloc(nv, sizeof(*iov));
	struct blkbatch_entry ent[2];
	struct blkbatch_batch b;
	char *buf = bb_alloc(len);
	__s32 st[2];

	ASSERT_NE(NULL, iov);
	ASSERT_NE(NULL, buf);
	ASSERT_LE(1024U, nv);
	bb_fill(buf, len, REGION_VEC, 5);
	/* backwards: block i of the disk comes from piece nv - 1 - i */
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = buf + (size_t)(nv - 1 - i) * self->env.lbs;
		iov[i].iov_len = self->env.lbs;
	}
	blkbatch_batch_init(&b, ent, st, 2);
	ASSERT_EQ(0, blkbatch_batch_add_writev(&b, iov, nv, REGION_VEC, 0));
	ASSERT_EQ(1, blkbatch_batch_add_writev(&b, iov, 9,
					       REGION_VEC + len, 0));
	ASSERT_EQ(2, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)len, st[0]);
	EXPECT_EQ((__s32)(9 * self->env.lbs), st[1]);
	memset(buf, 0, len);
	ASSERT_EQ((ssize_t)len, blkbatch_pread(&self->env.ring, self->env.ctx.fd,
					       buf, len, REGION_VEC));
	for (i = 0; i < nv; i++)
		ASSERT_EQ(-1, bb_check(buf + (size_t)i * self->env.lbs, self->env.lbs,
				       REGION_VEC +
				       (size_t)(nv - 1 - i) * self->env.lbs, 5))
			TH_LOG("block %u", i);
	free(iov);
	bb_free(buf, len);
}

/*
 * The iovec array is read when the entry is issued: what is wrong with
 * it fails that entry only.
 */
TEST_F(sem, vectored_bad_iovecs)
{
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	struct iovec iov[2], odd[2], unaligned[1];
	char *buf = bb_alloc(4 * SZ_4K);
	__s32 st[4];

	ASSERT_NE(NULL, buf);
	iov[0] = (struct iovec){ buf, SZ_4K };
	iov[1] = (struct iovec){ buf + SZ_4K, SZ_4K };
	/* lengths that add up, but a piece is not a block multiple */
	odd[0] = (struct iovec){ buf, SZ_4K - 512 + self->env.lbs / 2 };
	odd[1] = (struct iovec){ buf + SZ_4K, SZ_4K + 512 - self->env.lbs / 2 };
	unaligned[0] = (struct iovec){ buf + 1, 2 * SZ_4K };
	blkbatch_batch_init(&b, ent, st, 4);
	blkbatch_batch_add_readv(&b, iov, 2, REGION_VEC);
	blkbatch_batch_add_readv(&b, iov, 2, REGION_VEC);
	ent[1].addr = (uintptr_t)bb_unmapped_addr();
	blkbatch_batch_add_readv(&b, odd, 2, REGION_VEC);
	blkbatch_batch_add_readv(&b, unaligned, 1, REGION_VEC);
	blkbatch_run(&self->env.ring, self->env.ctx.fd, &b);
	EXPECT_EQ((__s32)(2 * SZ_4K), st[0]);
	EXPECT_EQ(-EFAULT, st[1]);
	EXPECT_EQ(-EINVAL, st[2]);
	/* a base off the DMA alignment, where the device has one */
	EXPECT_EQ(self->env.ctx.info.dma_alignment > 1 ? -EINVAL : (__s32)(2 * SZ_4K),
		  st[3]);
	bb_free(buf, 4 * SZ_4K);
}

/*
 * Zero-length iovecs carry nothing and are skipped, whatever their base;
 * iovecs that add up to more than len are refused, never cut short.
 */
TEST_F(sem, vectored_zero_length_and_beyond_len)
{
	struct blkbatch_entry ent[3];
	struct blkbatch_batch b;
	struct iovec zero[4], beyond[2];
	char *buf = bb_alloc(4 * SZ_4K);
	__s32 st[3];

	ASSERT_NE(NULL, buf);
	bb_fill(buf, 2 * SZ_4K, REGION_VEC + SZ_1M, 7);
	zero[0] = (struct iovec){ buf + 1, 0 };
	zero[1] = (struct iovec){ buf, SZ_4K };
	zero[2] = (struct iovec){ bb_unmapped_addr(), 0 };
	zero[3] = (struct iovec){ buf + SZ_4K, SZ_4K };
	beyond[0] = (struct iovec){ buf, SZ_4K };
	beyond[1] = (struct iovec){ buf + SZ_4K, SZ_4K };
	blkbatch_batch_init(&b, ent, st, 3);
	blkbatch_batch_add_writev(&b, zero, 4, REGION_VEC + SZ_1M, 0);
	blkbatch_batch_add_writev(&b, beyond, 2, REGION_VEC + 2 * SZ_1M, 0);
	ent[1].len = SZ_4K;
	blkbatch_batch_add_barrier(&b);
	EXPECT_EQ(2, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)(2 * SZ_4K), st[0]);
	EXPECT_EQ(-EINVAL, st[1]);
	EXPECT_EQ(-1, read_check(&self->env.ring, self->env.ctx.fd, REGION_VEC + SZ_1M,
				 2 * SZ_4K, 7));
	bb_free(buf, 4 * SZ_4K);
}

/*
 * --- vectored entries after a barrier ----------------------------------
 *
 * Later segments are issued from task work.  When the submitter spins on
 * its CQ in user space, that task work runs on the way back to user mode
 * from an interrupt, outside any system call: a kernel that asked "is
 * this a compat syscall?" there misread the iovec array (x32 says yes for
 * a non-syscall), and the vectored WRITE failed with -EINVAL.  Every way
 * of waiting, a few rounds each.
 */
enum wait_mode { WAIT_SPIN, WAIT_ENTER, WAIT_EPOLL, WAIT_SLEEP, WAIT_MODES };

static const char *const wait_names[] = { "spin", "enter", "epoll", "sleep" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Look at the clock only now and then: without a vDSO clocksource (TCG
 * guests) clock_gettime() is a system call, on whose way out the task
 * work would run, hiding the bug.
 */
#define SPIN_CLOCK_MASK	0xfffffU

/* Wait for one CQE in @mode; 0 and its res, or -ETIMEDOUT. */
static int wait_cqe_mode(struct io_uring *ring, enum wait_mode mode,
			 int *res)
{
	double end = now_s() + BB_CQE_WAIT_S;
	struct io_uring_cqe *cqe = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int n;
	int ep = -1;

	if (mode == WAIT_EPOLL) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ring->ring_fd, &ev))
			return -errno;
	}
	for (n = 0; io_uring_peek_cqe(ring, &cqe); n++) {
		if (!(n & SPIN_CLOCK_MASK) && now_s() > end)
			break;
		if (mode == WAIT_ENTER)
			io_uring_wait_cqe(ring, &cqe);
		else if (mode == WAIT_EPOLL)
			epoll_wait(ep, &ev, 1, 1000);
		else if (mode == WAIT_SLEEP)
			bb_sleep_ms(2);
	}
	if (ep >= 0)
		close(ep);
	if (!cqe)
		return -ETIMEDOUT;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

#define VB_LEN		(2 * SZ_4K)
#define VB_ENTRIES	6

/* WRITE, BARRIER, WRITEV, BARRIER, READ, READV; data checked. */
static void vec_after_barrier(struct __test_metadata *_metadata,
			      struct io_uring *ring, int fd, char *buf,
			      __u64 off, enum wait_mode mode, unsigned int round)
{
	struct iovec wv[2] = { { buf + VB_LEN, SZ_4K },
			       { buf + VB_LEN + SZ_4K, SZ_4K } };
	struct iovec rv[2] = { { buf + 3 * VB_LEN + SZ_4K, SZ_4K },
			       { buf + 3 * VB_LEN, SZ_4K } };
	struct blkbatch_entry ent[VB_ENTRIES];
	struct blkbatch_batch b;
	__s32 st[VB_ENTRIES];
	__u64 seed = 100 + round * WAIT_MODES + mode;
	unsigned int i;
	int res = -1;

	bb_fill(buf, VB_LEN, off, seed);
	bb_fill(buf + VB_LEN, VB_LEN, off + VB_LEN, seed);
	memset(buf + 2 * VB_LEN, 0, 2 * VB_LEN);
	blkbatch_batch_init(&b, ent, st, VB_ENTRIES);
	blkbatch_batch_add_write(&b, buf, VB_LEN, off, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_writev(&b, wv, 2, off + VB_LEN, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_read(&b, buf + 2 * VB_LEN, VB_LEN, off + VB_LEN);
	/* the pieces swapped: block 1 of the disk lands first in memory */
	blkbatch_batch_add_readv(&b, rv, 2, off);
	blkbatch_prep_submit(io_uring_get_sqe(ring), fd, &b);
	ASSERT_EQ(1, io_uring_submit(ring));
	ASSERT_EQ(0, wait_cqe_mode(ring, mode, &res));
	EXPECT_EQ(VB_ENTRIES, res) TH_LOG("%s, round %u", wait_names[mode], round);
	for (i = 0; i < VB_ENTRIES; i++) {
		const struct blkbatch_entry *e = &ent[i];
		__s32 s = st[i];

		EXPECT_EQ((__s32)e->len, s)
			TH_LOG("%s, round %u: entry %u (%s) status %d",
			       wait_names[mode], round, i,
			       blkbatch_op_name(e->op), s);
	}
	EXPECT_EQ(-1, bb_check(buf + 2 * VB_LEN, VB_LEN, off + VB_LEN, seed));
	EXPECT_EQ(-1, bb_check(buf + 3 * VB_LEN + SZ_4K, SZ_4K, off, seed));
	EXPECT_EQ(-1, bb_check(buf + 3 * VB_LEN, SZ_4K, off + SZ_4K, seed));
}

TEST_F(sem, vectored_after_barrier_every_wait)
{
	char *buf = bb_alloc(4 * VB_LEN);
	struct io_uring ring;
	unsigned int round;
	int mode;

	ASSERT_NE(NULL, buf);
	/* a plain ring: peeking its CQ never enters the kernel */
	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	for (mode = 0; mode < WAIT_MODES; mode++)
		for (round = 0; round < 16; round++)
			vec_after_barrier(_metadata, &ring, self->env.ctx.fd, buf,
					  REGION_VEC + 8 * SZ_1M +
					  round * 4 * VB_LEN, mode, round);
	io_uring_queue_exit(&ring);
	bb_free(buf, 4 * VB_LEN);
}

/* --- fixed buffers ------------------------------------------------- */

/* Submit batch @b with the fixed flag on registered buffer @idx. */
static int run_fixed(struct blkbatch_ring *r, int fd, struct blkbatch_batch *b,
		     unsigned int idx, struct bb_res *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		return -EBUSY;
	blkbatch_prep_submit_fixed(sqe, fd, b, idx);
	return bb_submit_reap(&r->ring, res);
}

TEST_F(sem, fixed_buffer_bounds)
{
	struct blkbatch_entry ent[3];
	struct blkbatch_batch b;
	size_t len = 16 * SZ_4K;
	struct iovec reg[2];
	char *buf = bb_alloc(2 * len);
	struct bb_res r;
	__s32 st[3];

	ASSERT_NE(NULL, buf);
	reg[0] = (struct iovec){ buf, len };
	reg[1] = (struct iovec){ buf + len, len };
	ASSERT_EQ(0, io_uring_register_buffers(&self->env.ring.ring, reg, 2));
	bb_fill(buf + len, len, REGION_FIXED, 6);

	/* the second buffer, written across a barrier, read back */
	blkbatch_batch_init(&b, ent, st, 3);
	blkbatch_batch_add_write(&b, buf + len, len, REGION_FIXED, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_read(&b, buf + len, len, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 1, &r));
	EXPECT_EQ(3, r.res);
	EXPECT_EQ((__s32)len, st[2]);
	EXPECT_EQ(-1, bb_check(buf + len, len, REGION_FIXED, 6));

	/* inside buffer 0 but named buffer 1: outside it */
	blkbatch_batch_init(&b, ent, st, 2);
	blkbatch_batch_add_read(&b, buf + len, SZ_4K, REGION_FIXED);
	blkbatch_batch_add_read(&b, buf, SZ_4K, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 1, &r));
	EXPECT_EQ(-EFAULT, r.res);
	EXPECT_EQ(1U, r.res2);

	/* straddling the end of the buffer by one block */
	blkbatch_batch_init(&b, ent, st, 1);
	blkbatch_batch_add_read(&b, buf + 2 * len - SZ_4K, 2 * SZ_4K,
				REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 1, &r));
	EXPECT_EQ(-EFAULT, r.res);
	EXPECT_EQ(0U, r.res2);

	/* inside, but not aligned for DMA */
	if (self->env.ctx.info.dma_alignment > 1) {
		blkbatch_batch_init(&b, ent, st, 1);
		blkbatch_batch_add_read(&b, buf + len + 1, SZ_4K,
					REGION_FIXED);
		ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 1, &r));
		EXPECT_EQ(-EINVAL, r.res);
	}

	/*
	 * Aligned for DMA, but the range crosses a page at an offset that is
	 * no multiple of the block size: its pieces are not block multiples
	 * (direct I/O on the block device refuses such a buffer too).
	 */
	if (self->env.ctx.info.dma_alignment < self->env.lbs) {
		blkbatch_batch_init(&b, ent, st, 2);
		blkbatch_batch_add_read(&b, buf + len, SZ_4K, REGION_FIXED);
		blkbatch_batch_add_read(&b, buf + len +
					self->env.ctx.info.dma_alignment, SZ_4K,
					REGION_FIXED);
		ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 1, &r));
		EXPECT_EQ(-EINVAL, r.res);
		EXPECT_EQ(1U, r.res2);
	}

	/* a buffer index that is not registered: io_uring says -EFAULT */
	blkbatch_batch_init(&b, ent, st, 1);
	blkbatch_batch_add_read(&b, buf, SZ_4K, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 2, &r));
	EXPECT_EQ(-EFAULT, r.res);

	ASSERT_EQ(0, io_uring_unregister_buffers(&self->env.ring.ring));
	bb_free(buf, 2 * len);
}

/*
 * Vectored entries in a fixed-buffer batch (6.15 and later): iovecs in
 * the registered buffer.  Before, a clean -EOPNOTSUPP naming the entry.
 */
#define FV_PIECES	300U	/* more than one bio's 256 bvecs */

TEST_F(sem, fixed_buffer_vectored)
{
	const size_t lbs = self->env.lbs, len = 2 * FV_PIECES * lbs;
	struct iovec reg, iov[FV_PIECES], bad[2];
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	char *buf = bb_alloc(len);
	struct bb_res r;
	__s32 st[8];
	unsigned int i;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(FV_PIECES, self->env.ctx.info.max_vecs);
	reg = (struct iovec){ buf, len };
	ASSERT_EQ(0, io_uring_register_buffers(&self->env.ring.ring, &reg, 1));
	/* every other block of the buffer: FV_PIECES separate pieces */
	for (i = 0; i < FV_PIECES; i++)
		iov[i] = (struct iovec){ buf + 2 * i * lbs, lbs };

	blkbatch_batch_init(&b, ent, st, 2);
	blkbatch_batch_add_flush(&b);
	blkbatch_batch_add_readv(&b, iov, 2, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	if (!(self->env.ctx.info.features & BLKBATCH_F_FIXED_VEC)) {
		EXPECT_EQ(-EOPNOTSUPP, r.res);
		EXPECT_EQ(1U, r.res2);
		goto out;
	}
	EXPECT_EQ(2, r.res);

	/*
	 * Eight entries of 4 pieces, then across a barrier one of all of
	 * them: each entry's import reuses io_uring's one vector, so an
	 * entry whose bio pointed into it would carry the next one's data.
	 */
	for (i = 0; i < FV_PIECES; i++)
		bb_fill(iov[i].iov_base, lbs, REGION_FIXED + i * lbs, 9);
	blkbatch_batch_init(&b, ent, st, 8);
	for (i = 0; i < 8; i++)
		blkbatch_batch_add_writev(&b, iov + 4 * i, 4,
					  REGION_FIXED + 4 * i * lbs, 0);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(8, r.res);
	blkbatch_batch_init(&b, ent, st, 3);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_writev(&b, iov + 32, FV_PIECES - 32,
				  REGION_FIXED + 32 * lbs, 0);
	blkbatch_batch_add_readv(&b, iov, 1, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(3, r.res);
	EXPECT_EQ((__s32)((FV_PIECES - 32) * lbs), st[1]);
	memset(buf, 0, len);
	blkbatch_batch_init(&b, ent, st, 1);
	blkbatch_batch_add_readv(&b, iov, FV_PIECES, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(1, r.res);
	EXPECT_EQ((__s32)(FV_PIECES * lbs), st[0]);
	for (i = 0; i < FV_PIECES; i++)
		EXPECT_EQ(-1, bb_check(iov[i].iov_base, lbs,
				       REGION_FIXED + i * lbs, 9))
			TH_LOG("piece %u", i);

	/* an iovec outside the buffer, a zero-length one too: -EFAULT */
	bad[0] = iov[0];
	bad[1] = (struct iovec){ buf + len, lbs };
	blkbatch_batch_init(&b, ent, st, 2);
	blkbatch_batch_add_flush(&b);
	blkbatch_batch_add_readv(&b, bad, 2, REGION_FIXED);
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(-EFAULT, r.res);
	EXPECT_EQ(1U, r.res2);
	bad[1] = (struct iovec){ bb_unmapped_addr(), 0 };
	ent[1].nr_vecs = 2;
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(-EFAULT, r.res);
	EXPECT_EQ(1U, r.res2);

	/* lengths that do not add up to len, over or under: -EINVAL */
	blkbatch_batch_init(&b, ent, st, 1);
	blkbatch_batch_add_readv(&b, iov, 2, REGION_FIXED);
	ent[0].len = lbs;
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(-EINVAL, r.res);
	ent[0].len = 4 * lbs;
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(-EINVAL, r.res);
	/* the array itself unreadable */
	ent[0].addr = (uintptr_t)bb_unmapped_addr();
	ent[0].len = 2 * lbs;
	ASSERT_EQ(0, run_fixed(&self->env.ring, self->env.ctx.fd, &b, 0, &r));
	EXPECT_EQ(-EFAULT, r.res);
out:
	ASSERT_EQ(0, io_uring_unregister_buffers(&self->env.ring.ring));
	bb_free(buf, len);
}

/* --- the block device's page cache --------------------------------- */

#define REGION_CACHE		(REGION_FIXED + 8 * SZ_1M)

/* Buffered I/O on the raw disk, beside blkbatch: 0 or -errno. */
static int raw_buffered(bool write, void *buf, size_t len, __u64 off)
{
	int fd = open(bb_disk(), O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * blkbatch writes as the kernel's direct I/O does: dirty cached pages of
 * the range are written back first (they must not land later, over the
 * batch's data), clean ones dropped (a buffered reader must not see the
 * old blocks).  Likewise for WRITE_ZEROES and DISCARD.
 */
TEST_F(sem, page_cache_coherent)
{
	size_t len = 4 * SZ_4K;
	char *a = bb_alloc(len), *b = bb_alloc(len);
	__u64 off = REGION_CACHE;
	int fd;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	/* a buffered writer's dirty pages, then a batch over them */
	bb_fill(a, len, off, 70);
	ASSERT_EQ(0, raw_buffered(true, a, len, off));
	bb_fill(b, len, off, 71);
	ASSERT_EQ((ssize_t)len, blkbatch_pwrite(&self->env.ring, self->env.ctx.fd, b,
						len, off));
	fd = open(bb_disk(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, bb_disk_io(false, a, len, off));
	EXPECT_EQ(-1, bb_check(a, len, off, 71));

	/* a buffered reader cached the old blocks; a batch rewrites them */
	ASSERT_EQ(0, raw_buffered(false, a, len, off));
	EXPECT_EQ(-1, bb_check(a, len, off, 71));
	bb_fill(b, len, off, 72);
	ASSERT_EQ((ssize_t)len, blkbatch_pwrite(&self->env.ring, self->env.ctx.fd, b,
						len, off));
	ASSERT_EQ(0, raw_buffered(false, a, len, off));
	EXPECT_EQ(-1, bb_check(a, len, off, 72));

	if (self->env.ctx.info.features & BLKBATCH_F_WRITE_ZEROES) {
		struct blkbatch_entry ent[1];
		struct blkbatch_batch bt;
		__s32 st[1];

		blkbatch_batch_init(&bt, ent, st, 1);
		blkbatch_batch_add_write_zeroes(&bt, off, len);
		EXPECT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &bt));
		ASSERT_EQ(0, raw_buffered(false, a, len, off));
		EXPECT_TRUE(bb_all_bytes(a, len, 0));
	}
	if (self->env.ctx.info.features & BLKBATCH_F_DISCARD) {
		struct blkbatch_entry ent[1];
		struct blkbatch_batch bt;
		__s32 st[1];

		/* What a discarded block reads as is the device's business. */
		ASSERT_EQ(0, raw_buffered(false, a, len, off));
		blkbatch_batch_init(&bt, ent, st, 1);
		blkbatch_batch_add_discard(&bt, off, len);
		EXPECT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &bt));
		ASSERT_EQ(0, raw_buffered(false, a, len, off));
		ASSERT_EQ(0, bb_disk_io(false, b, len, off));
		EXPECT_EQ(0, memcmp(a, b, len));
	}
	bb_free(a, len);
	bb_free(b, len);
}

/* --- NVMe controller reset under load ------------------------------- */

struct reset_load {
	struct blkbatch_ring	*ring;
	int			fd;
	char			*buf;
	volatile bool		stop;
	unsigned int		batches, bad;
};

#define RESET_ENTRIES	32

/* Batches of reads until told to stop: each entry ends, well or not. */
static void *reset_load_fn(void *arg)
{
	struct reset_load *l = arg;
	struct blkbatch_entry ent[RESET_ENTRIES];
	__s32 st[RESET_ENTRIES];
	struct blkbatch_batch b;
	unsigned int i;
	int res;

	while (!l->stop) {
		blkbatch_batch_init(&b, ent, st, RESET_ENTRIES);
		for (i = 0; i < RESET_ENTRIES; i++)
			blkbatch_batch_add_read(&b, l->buf + i * SZ_4K, SZ_4K,
						REGION_RINGS + i * SZ_64K);
		res = blkbatch_run(l->ring, l->fd, &b);
		if (res < 0 || res > RESET_ENTRIES)
			l->bad++;
		for (i = 0; i < RESET_ENTRIES; i++)
			if (st[i] != (__s32)SZ_4K && st[i] >= 0)
				l->bad++;
		l->batches++;
	}
	return NULL;
}

/* /sys/class/nvme/nvmeC, the controller of BLKBATCH_DISK, if NVMe. */
static int nvme_ctrl_dir(char *path, size_t len)
{
	const char *name = strrchr(bb_disk(), '/') + 1;
	unsigned int ctrl;

	if (sscanf(name, "nvme%un", &ctrl) != 1)
		return -ENODEV;
	snprintf(path, len, "/sys/class/nvme/nvme%u", ctrl);
	return access(path, F_OK) ? -errno : 0;
}

TEST_F_TIMEOUT(sem, nvme_reset_under_load, 300)
{
	struct reset_load l = { .ring = &self->env.ring, .fd = self->env.ctx.fd };
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	char path[96];
	pthread_t t;
	__s32 st[1];
	int i;

	if (nvme_ctrl_dir(path, sizeof(path)))
		SKIP(return, "BLKBATCH_DISK is not an NVMe namespace");
	/*
	 * Seen on 6.1.192 with QEMU's emulated NVMe, in one run of three:
	 * after the resets, queue 1 stops completing commands (the same
	 * command times out, is aborted and reset, for minutes), and every
	 * later test on the disk hangs.  The driver's or the emulator's, not
	 * the module's: the batches of this test all completed.
	 */
	if (bb_kernel_version() < BB_KV(6, 12))
		SKIP(return, "6.1 + emulated NVMe can wedge a queue after resets");
	l.buf = bb_alloc(RESET_ENTRIES * SZ_4K);
	ASSERT_NE(NULL, l.buf);
	ASSERT_EQ(0, pthread_create(&t, NULL, reset_load_fn, &l));
	for (i = 0; i < 3; i++) {
		bb_sleep_ms(100);
		EXPECT_EQ(0, bb_cfg_write(path, "reset_controller", 1)) TH_LOG("reset %d", i);
	}
	bb_sleep_ms(100);
	l.stop = true;
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%u batches across 3 resets", l.batches);
	EXPECT_EQ(0U, l.bad);
	/* and the device works afterwards */
	blkbatch_batch_init(&b, ent, st, 1);
	blkbatch_batch_add_read(&b, l.buf, SZ_4K, REGION_RINGS);
	EXPECT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	bb_free(l.buf, RESET_ENTRIES * SZ_4K);
}

/* --- the synchronous ioctl ------------------------------------------ */

TEST_F(sem, sync_ioctl_errors)
{
	struct blkbatch_entry ent[2];
	struct blkbatch_cmd cmd = { };
	char *buf = bb_alloc(SZ_4K);

	ASSERT_NE(NULL, buf);
	bb_entry(&ent[0], BLKBATCH_OP_READ, buf, SZ_4K, REGION_SYNC);
	bb_entry(&ent[1], BLKBATCH_OP_READ, buf, SZ_4K - 1, REGION_SYNC);
	cmd.entries = (uintptr_t)ent;

	cmd.nr = 0;
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(EINVAL, errno);
	cmd.nr = self->env.ctx.info.max_entries + 1;
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(E2BIG, errno);
	cmd.nr = 2;
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(EINVAL, errno);
	cmd.nr = 1;
	cmd.rsvd[6] = 1;
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(EINVAL, errno);
	cmd.rsvd[6] = 0;
	EXPECT_EQ(1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT,
			    bb_unmapped_addr()));
	EXPECT_EQ(EFAULT, errno);
	bb_free(buf, SZ_4K);
}

/* The ioctl path on a read-only fd: reads yes, writes -EBADF. */
TEST_F(sem, sync_ioctl_rdonly_fd)
{
	struct blkbatch_entry ent[1];
	struct blkbatch_cmd cmd = { };
	char *buf = bb_alloc(SZ_4K);
	int fd = bb_open_index(self->env.ctx.index, O_RDONLY);

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	bb_entry(&ent[0], BLKBATCH_OP_READ, buf, SZ_4K, REGION_SYNC);
	cmd.entries = (uintptr_t)ent;
	cmd.nr = 1;
	EXPECT_EQ(1, ioctl(fd, BLKBATCH_IOC_SUBMIT, &cmd));
	ent[0].op = BLKBATCH_OP_WRITE;
	EXPECT_EQ(-1, ioctl(fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(EBADF, errno);
	close(fd);
	bb_free(buf, SZ_4K);
}

/* --- fail-nth: every allocation of the submit path, one at a time --- */

static int fail_nth_open(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	return open(path, O_RDWR | O_CLOEXEC);
}

static int fail_nth_set(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* True if the armed fault was injected (the counter ran down to 0). */
static bool fail_nth_hit(int fd)
{
	char buf[16] = "";

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return false;
	return atoi(buf) == 0;
}

/*
 * Make failslab fail sleeping allocations too.  Every fault kind counts
 * down fail-nth, so all of them must fail quietly: a stack dump in the
 * log would read as a splat.
 */
static int failslab_setup(void)
{
	static const char *const kinds[] = {
		"failslab", "fail_page_alloc", "fail_make_request",
		"fail_io_timeout", "fail_usercopy", "fail_futex",
	};
	char dir[96];
	unsigned int i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(dir, sizeof(dir), "/sys/kernel/debug/%s", kinds[i]);
		if (!access(dir, F_OK) && bb_cfg_write(dir, "verbose", 0))
			return -EIO;
	}
	return bb_cfg_write("/sys/kernel/debug/failslab", "ignore-gfp-wait", 0);
}

/* The batch each sweep step submits: every kind of entry there is. */
#define NTH_ENTRIES	7

static void nth_batch(struct blkbatch_batch *b, struct blkbatch_entry *ent,
		      __s32 *st, char *buf, struct iovec *iov)
{
	unsigned int i;

	for (i = 0; i < 10; i++)	/* > UIO_FASTIOV: allocates */
		iov[i] = (struct iovec){ buf + i * SZ_4K, SZ_4K };
	blkbatch_batch_init(b, ent, st, NTH_ENTRIES);
	blkbatch_batch_add_write(b, buf, 64 * SZ_4K, REGION_NTH, 0);
	blkbatch_batch_add_writev(b, iov, 10, REGION_NTH + SZ_1M, 0);
	blkbatch_batch_add_barrier(b);
	blkbatch_batch_add_flush(b);
	blkbatch_batch_add_barrier(b);
	blkbatch_batch_add_read(b, buf, 64 * SZ_4K, REGION_NTH);
	blkbatch_batch_add_readv(b, iov, 10, REGION_NTH + SZ_1M);
}

/* A result under fault injection: success or -ENOMEM, batch or entry. */
static bool nth_result_ok(int res, const __s32 *st,
			  const struct blkbatch_entry *ent)
{
	unsigned int i;

	if (res == -ENOMEM || res == -EAGAIN)
		return true;
	if (res < 0)
		return false;
	for (i = 0; i < NTH_ENTRIES; i++)
		if (st[i] != -ENOMEM && st[i] != -ECANCELED &&
		    st[i] != (ent[i].op == BLKBATCH_OP_BARRIER ||
			      ent[i].op == BLKBATCH_OP_FLUSH ? 0 :
			      (__s32)ent[i].len))
			return false;
	return true;
}

#define NTH_MAX		4000U

TEST_F_TIMEOUT(sem, fail_nth_sync, 600)
{
	struct blkbatch_entry ent[NTH_ENTRIES];
	struct blkbatch_batch b;
	struct iovec iov[10];
	__s32 st[NTH_ENTRIES];
	char *buf = bb_alloc(2 * SZ_1M);
	unsigned int n, hits = 0;
	int nth, res;

	nth = fail_nth_open();
	if (nth < 0 || failslab_setup())
		SKIP(return, "no fail-nth or failslab (not the debug kernel)");
	ASSERT_NE(NULL, buf);
	nth_batch(&b, ent, st, buf, iov);
	for (n = 1; n < NTH_MAX; n++) {
		memset(st, 0x5a, sizeof(st));
		ASSERT_EQ(0, fail_nth_set(nth, n));
		res = blkbatch_run_sync(self->env.ctx.fd, &b);
		if (!fail_nth_hit(nth)) {
			fail_nth_set(nth, 0);
			EXPECT_EQ(NTH_ENTRIES, res);
			break;
		}
		hits++;
		EXPECT_TRUE(nth_result_ok(res, st, ent))
			TH_LOG("fault %u: res %d", n, res);
	}
	fail_nth_set(nth, 0);
	TH_LOG("%u allocation points failed one by one", hits);
	EXPECT_LT(n, NTH_MAX);
	EXPECT_LT(0U, hits);
	close(nth);
	bb_free(buf, 2 * SZ_1M);
}

TEST_F_TIMEOUT(sem, fail_nth_uring, 600)
{
	struct blkbatch_entry ent[NTH_ENTRIES];
	struct io_uring *ring = &self->env.ring.ring;
	struct io_uring_sqe *sqe;
	struct blkbatch_batch b;
	struct iovec iov[10];
	__s32 st[NTH_ENTRIES];
	char *buf = bb_alloc(2 * SZ_1M);
	unsigned int n, hits = 0;
	struct bb_res r;
	int nth, ret;
	bool hit;

	nth = fail_nth_open();
	if (nth < 0 || failslab_setup())
		SKIP(return, "no fail-nth or failslab (not the debug kernel)");
	ASSERT_NE(NULL, buf);
	nth_batch(&b, ent, st, buf, iov);
	for (n = 1; n < NTH_MAX; n++) {
		memset(st, 0x5a, sizeof(st));
		sqe = io_uring_get_sqe(ring);
		ASSERT_NE(NULL, sqe);
		blkbatch_prep_submit(sqe, self->env.ctx.fd, &b);
		/* only the submission runs with the fault armed */
		ASSERT_EQ(0, fail_nth_set(nth, n));
		ret = io_uring_submit(ring);
		hit = fail_nth_hit(nth);
		fail_nth_set(nth, 0);
		if (ret != 1)	/* io_uring's own allocation failed */
			ASSERT_EQ(1, io_uring_submit(ring))
				TH_LOG("fault %u: submit %d", n, ret);
		ASSERT_EQ(0, bb_reap(ring, &r, BB_CQE_WAIT_S));
		if (!hit) {
			EXPECT_EQ(NTH_ENTRIES, r.res);
			break;
		}
		hits++;
		EXPECT_TRUE(nth_result_ok(r.res, st, ent))
			TH_LOG("fault %u: res %d", n, r.res);
	}
	TH_LOG("%u allocation points failed one by one", hits);
	EXPECT_LT(n, NTH_MAX);
	EXPECT_LT(0U, hits);
	close(nth);
	bb_free(buf, 2 * SZ_1M);
}

/* --- a null_blk disk of our own -------------------------------------- */

/* A null_blk disk whose I/O completes after @ms (0: at once). */
static struct bb_nullb_opts nullb_opts(unsigned int ms)
{
	struct bb_nullb_opts o = { 0 };

	if (ms) {
		o.irqmode = 2;
		o.completion_nsec = ms * 1000000ULL;
	}
	return o;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Requests in flight on @d: reads + writes, from sysfs. */
static long nullb_inflight(const struct bb_slow_disk *d)
{
	char path[128];
	long r = -1, w = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/inflight",
		 strrchr(d->dev, '/') + 1);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld %ld", &r, &w) != 2)
		r = w = -1;
	fclose(f);
	return r + w;
}

FIXTURE(nullb) {
	struct bb_env env;	/* on the null_blk disk */
	struct bb_slow_disk disk;
	bool disk_ok;
	char *buf;
	long reads0;	/* reads the disk had done before the test */
};

#define NB_BUF		(64 * SZ_64K)
#define NB_GAP		SZ_64K		/* entries this far apart never merge */

FIXTURE_SETUP(nullb)
{
	bb_env_init(&self->env);
	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no configfs null_blk");
	self->buf = bb_alloc(NB_BUF);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, bb_env_ring(&self->env, BB_RING_DEPTH,
				 BLKBATCH_RING_CQE32));
}

FIXTURE_TEARDOWN(nullb)
{
	EXPECT_EQ(0, bb_env_teardown(&self->env));
	if (self->disk_ok)
		bb_slow_disk_destroy(&self->disk);
	bb_free(self->buf, NB_BUF);
}

static void nullb_up(struct __test_metadata *_metadata,
		     FIXTURE_DATA(nullb) * self, const struct bb_nullb_opts *o)
{
	unsigned int i;

	ASSERT_EQ(0, bb_nullb_create(&self->disk, "bbsem", o));
	self->disk_ok = true;
	ASSERT_EQ(0, bb_env_attach(&self->env, self->disk.dev));
	/* the partition scan of a new disk must not count as ours */
	for (i = 0; i < 3000 && nullb_inflight(&self->disk); i++)
		bb_sleep_ms(10);
	ASSERT_EQ(0, nullb_inflight(&self->disk));
	self->reads0 = bb_disk_reads(&self->disk);
}

/* Ops the device cannot do fail per entry, and GET_INFO said so. */
TEST_F(nullb, op_not_supported_per_entry)
{
	struct bb_nullb_opts o = nullb_opts(0);
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	__s32 st[4];
	int mode;

	nullb_up(_metadata, self, &o);
	EXPECT_FALSE(!!(self->env.ctx.info.features & BLKBATCH_F_DISCARD));
	EXPECT_FALSE(!!(self->env.ctx.info.features & BLKBATCH_F_WRITE_ZEROES));
	EXPECT_EQ(0U, self->env.ctx.info.max_discard_bytes);
	for (mode = 0; mode < 2; mode++) {
		blkbatch_batch_init(&b, ent, st, 4);
		b.flags = mode ? BLKBATCH_CMD_F_ABORT_ON_ERROR : 0;
		blkbatch_batch_add_write(&b, self->buf, SZ_4K, 0, 0);
		blkbatch_batch_add_discard(&b, SZ_1M, SZ_1M);
		blkbatch_batch_add_write_zeroes(&b, 2 * SZ_1M, SZ_1M);
		blkbatch_batch_add_read(&b, self->buf, SZ_4K, 0);
		EXPECT_EQ(mode ? 1 : 2, blkbatch_run(&self->env.ring,
						     self->env.ctx.fd, &b));
		EXPECT_EQ((__s32)SZ_4K, st[0]);
		EXPECT_EQ(-EOPNOTSUPP, st[1]);
		EXPECT_EQ(mode ? -ECANCELED : -EOPNOTSUPP, st[2]);
		EXPECT_EQ(mode ? -ECANCELED : (__s32)SZ_4K, st[3]);
	}
}

/*
 * The entries after a barrier wait for the ones before it, in the kernel:
 * the submitter is back at once, with only the first segment in flight.
 */
TEST_F_TIMEOUT(nullb, barrier_defers_next_segment, 120)
{
	struct bb_nullb_opts o = nullb_opts(1500);
	struct blkbatch_entry ent[17];
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	__s32 st[17];
	unsigned int i;

	nullb_up(_metadata, self, &o);
	blkbatch_batch_init(&b, ent, st, 17);
	for (i = 0; i < 17; i++) {
		if (i == 8)
			blkbatch_batch_add_barrier(&b);
		else
			blkbatch_batch_add_read(&b, self->buf + i * SZ_4K,
						SZ_4K, (__u64)i * NB_GAP);
	}
	sqe = io_uring_get_sqe(&self->env.ring.ring);
	ASSERT_NE(NULL, sqe);
	blkbatch_prep_submit(sqe, self->env.ctx.fd, &b);
	ASSERT_EQ(1, io_uring_submit(&self->env.ring.ring));
	EXPECT_EQ(8, nullb_inflight(&self->disk));
	EXPECT_EQ(-EAGAIN, blkbatch_peek(&self->env.ring, &cqe));
	ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
	EXPECT_EQ(17, cqe.res);
	EXPECT_EQ(16, bb_disk_reads(&self->disk) - self->reads0);
}

/* A write before the barrier is on the disk when the read after it runs. */
TEST_F(nullb, barrier_orders_on_slow_disk)
{
	struct bb_nullb_opts o = nullb_opts(50);
	struct blkbatch_entry ent[3];
	struct blkbatch_batch b;
	char *w = self->buf, *r = self->buf + SZ_64K;
	__s32 st[3];
	unsigned int i;

	o.memory = true;
	nullb_up(_metadata, self, &o);
	for (i = 0; i < 4; i++) {
		bb_fill(w, SZ_64K, 0, 40 + i);
		memset(r, 0xa5, SZ_64K);
		blkbatch_batch_init(&b, ent, st, 3);
		blkbatch_batch_add_write(&b, w, SZ_64K, 0, 0);
		blkbatch_batch_add_barrier(&b);
		blkbatch_batch_add_read(&b, r, SZ_64K, 0);
		ASSERT_EQ(3, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
		ASSERT_EQ(-1, bb_check(r, SZ_64K, 0, 40 + i)) TH_LOG("%u", i);
	}
}

/*
 * The device turns read-only while the batch waits at a barrier: the
 * WRITE after it is checked again when it is issued, and refused.
 */
TEST_F_TIMEOUT(nullb, read_only_between_segments, 120)
{
	struct bb_nullb_opts o = nullb_opts(300);
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	int one = 1, zero = 0, raw;
	__s32 st[4];

	o.memory = true;
	nullb_up(_metadata, self, &o);
	raw = open(self->disk.dev, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, raw);
	memset(self->buf, 0, SZ_4K);
	bb_fill(self->buf + SZ_4K, SZ_4K, NB_GAP, 61);
	blkbatch_batch_init(&b, ent, st, 4);
	blkbatch_batch_add_read(&b, self->buf, SZ_4K, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_write(&b, self->buf + SZ_4K, SZ_4K, NB_GAP, 0);
	blkbatch_batch_add_flush(&b);
	blkbatch_prep_submit(io_uring_get_sqe(&self->env.ring.ring), self->env.ctx.fd,
			     &b);
	ASSERT_EQ(1, io_uring_submit(&self->env.ring.ring));
	ASSERT_EQ(0, ioctl(raw, BLKROSET, &one));
	ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
	EXPECT_EQ(0, ioctl(raw, BLKROSET, &zero));
	EXPECT_EQ(3, cqe.res);
	EXPECT_EQ((__s32)SZ_4K, st[0]);
	EXPECT_EQ(0, st[1]);
	EXPECT_EQ(-EPERM, st[2]);
	EXPECT_EQ(0, st[3]);
	/* nothing reached the disk: it still reads as zeros */
	memset(self->buf, 0xa5, SZ_4K);
	EXPECT_EQ((ssize_t)SZ_4K, blkbatch_pread(&self->env.ring, self->env.ctx.fd,
						 self->buf, SZ_4K, NB_GAP));
	EXPECT_TRUE(bb_all_bytes(self->buf, SZ_4K, 0));
	close(raw);
}

/*
 * Bad blocks under entry 3 of 8 writes: -EIO there only, the other
 * entries' data intact.  With abort-on-error the entries of the same
 * segment were already issued; the segment after the barrier is cancelled.
 */
TEST_F(nullb, io_error_on_one_entry)
{
	struct bb_nullb_opts o = nullb_opts(20);
	struct blkbatch_entry ent[10];
	struct blkbatch_batch b;
	__s32 st[10];
	unsigned int i;
	int mode;

	o.memory = true;
	/* entry 3 covers sectors 384..391 (3 * 64 KiB, 4 KiB) */
	o.badblocks = "+384-391";
	nullb_up(_metadata, self, &o);
	for (mode = 0; mode < 2; mode++) {
		__u64 seed = 50 + mode;

		blkbatch_batch_init(&b, ent, st, 10);
		b.flags = mode ? BLKBATCH_CMD_F_ABORT_ON_ERROR : 0;
		for (i = 0; i < 8; i++) {
			bb_fill(self->buf + i * SZ_4K, SZ_4K, i * NB_GAP, seed);
			blkbatch_batch_add_write(&b, self->buf + i * SZ_4K,
						 SZ_4K, i * NB_GAP, 0);
		}
		blkbatch_batch_add_barrier(&b);
		bb_fill(self->buf + 8 * SZ_4K, SZ_4K, 8 * NB_GAP, seed);
		blkbatch_batch_add_write(&b, self->buf + 8 * SZ_4K, SZ_4K,
					 8 * NB_GAP, 0);
		EXPECT_EQ(mode ? 7 : 9, blkbatch_run(&self->env.ring,
						     self->env.ctx.fd, &b));
		for (i = 0; i < 8; i++)
			EXPECT_EQ(i == 3 ? -EIO : (__s32)SZ_4K, st[i])
				TH_LOG("mode %d entry %u", mode, i);
		/*
		 * Reached before the failure was known, the barrier is
		 * passed only after it: in abort mode it is canceled, as
		 * for a failure found at issue (sem.abort_stops_at_barrier).
		 */
		EXPECT_EQ(mode ? -ECANCELED : 0, st[8]);
		EXPECT_EQ(mode ? -ECANCELED : (__s32)SZ_4K, st[9]);
		for (i = 0; i < 9; i++) {
			long bad;

			if (i == 3 || (mode && i == 8))
				continue;
			bad = read_check(&self->env.ring, self->env.ctx.fd,
					 i * NB_GAP, SZ_4K, seed);
			EXPECT_EQ(-1, bad) TH_LOG("mode %d entry %u", mode, i);
		}
	}
}

/*
 * fail_make_request: the block layer fails the k-th bio of the device.
 * Entry k reports -EIO, the others wrote their data.
 */
TEST_F(nullb, fail_make_request)
{
	static const char *const fmr = "/sys/kernel/debug/fail_make_request";
	struct bb_nullb_opts o = nullb_opts(0);
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	char path[128];
	unsigned int i, k = 5;
	__s32 st[8];

	o.memory = true;
	if (access(fmr, F_OK))
		SKIP(return, "no fail_make_request (not the debug kernel)");
	nullb_up(_metadata, self, &o);
	snprintf(path, sizeof(path), "/sys/block/%s",
		 strrchr(self->disk.dev, '/') + 1);
	ASSERT_EQ(0, bb_cfg_write(fmr, "verbose", 0));
	ASSERT_EQ(0, bb_cfg_write(fmr, "probability", 100));
	ASSERT_EQ(0, bb_cfg_write(fmr, "interval", 1));
	/* every 4 KiB bio before the k-th passes, then one fails */
	ASSERT_EQ(0, bb_cfg_write(fmr, "space", k * SZ_4K + 1));
	ASSERT_EQ(0, bb_cfg_write(fmr, "times", 1));
	ASSERT_EQ(0, bb_cfg_write(path, "make-it-fail", 1));

	blkbatch_batch_init(&b, ent, st, 8);
	for (i = 0; i < 8; i++) {
		bb_fill(self->buf + i * SZ_4K, SZ_4K, i * NB_GAP, 60);
		blkbatch_batch_add_write(&b, self->buf + i * SZ_4K, SZ_4K,
					 i * NB_GAP, 0);
	}
	EXPECT_EQ(7, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	bb_cfg_write(path, "make-it-fail", 0);
	bb_cfg_write(fmr, "probability", 0);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(i == k ? -EIO : (__s32)SZ_4K, st[i]) TH_LOG("%u", i);
		if (i != k)
			EXPECT_EQ(-1, read_check(&self->env.ring, self->env.ctx.fd,
						 i * NB_GAP, SZ_4K, 60));
	}
}

/*
 * A killed synchronous submitter: the ioctl ends at once, the bios finish
 * later, the orphaned batch is freed and the device can be detached.
 */
TEST_F_TIMEOUT(nullb, sync_submitter_killed, 120)
{
	struct bb_nullb_opts o = nullb_opts(2000);
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	__s32 st[8];
	unsigned int i;
	int status;
	pid_t pid;

	nullb_up(_metadata, self, &o);
	blkbatch_batch_init(&b, ent, st, 8);
	for (i = 0; i < 8; i++)
		blkbatch_batch_add_read(&b, self->buf + i * SZ_4K, SZ_4K,
					i * NB_GAP);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(blkbatch_run_sync(self->env.ctx.fd, &b) == 8 ? 0 : 1);
	/* wait until the child's bios are in flight, then kill it */
	for (i = 0; i < 500 && nullb_inflight(&self->disk) < 8; i++)
		bb_sleep_ms(10);
	EXPECT_EQ(8, nullb_inflight(&self->disk));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	/* the child is gone while its bios are still in flight */
	EXPECT_EQ(8, nullb_inflight(&self->disk));
	if (bb_live_batches() >= 0)
		EXPECT_EQ(1, bb_live_batches());
	/* teardown: detach waits for the orphan, then nothing is left */
}

/*
 * Kills that land anywhere in a synchronous batch's life: before, during
 * and after its completion.  KASAN (debug kernel) sees it if the killed
 * waiter and the completion ever both free the batch, or one too early.
 */
TEST_F_TIMEOUT(nullb, sync_kill_race, 300)
{
	struct bb_nullb_opts o = nullb_opts(0);
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	unsigned int i, round;
	__s32 st[8];
	int status;
	pid_t pid;

	o.irqmode = 2;
	o.completion_nsec = 200000;	/* 0.2 ms */
	nullb_up(_metadata, self, &o);
	blkbatch_batch_init(&b, ent, st, 8);
	for (i = 0; i < 8; i++)
		blkbatch_batch_add_read(&b, self->buf + i * SZ_4K, SZ_4K,
					i * NB_GAP);
	srand(getpid());
	for (round = 0; round < 40; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			for (;;)
				blkbatch_run_sync(self->env.ctx.fd, &b);
		bb_sleep_ms(1 + rand() % 20);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status));
	}
	/* teardown: every orphan freed, nothing pinned, no taint */
}

/* A signal ends the waiter's wait, not the batch: its CQE comes later. */
TEST_F_TIMEOUT(nullb, wait_interrupted_by_signal, 120)
{
	struct bb_nullb_opts o = nullb_opts(1000);
	struct sigaction sa = { .sa_handler = on_alarm };
	struct blkbatch_entry ent[2];
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	__s32 st[2];

	nullb_up(_metadata, self, &o);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));	/* no SA_RESTART */
	blkbatch_batch_init(&b, ent, st, 2);
	blkbatch_batch_add_read(&b, self->buf, SZ_4K, 0);
	blkbatch_batch_add_read(&b, self->buf + SZ_4K, SZ_4K, NB_GAP);
	sqe = io_uring_get_sqe(&self->env.ring.ring);
	ASSERT_NE(NULL, sqe);
	blkbatch_prep_submit(sqe, self->env.ctx.fd, &b);
	ASSERT_EQ(1, io_uring_submit(&self->env.ring.ring));
	ualarm(100000, 0);
	EXPECT_EQ(-EINTR, blkbatch_wait(&self->env.ring, &cqe));
	ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
	EXPECT_EQ(2, cqe.res);
}

/* A plain signal neither ends the wait nor cuts the batch short. */
TEST_F_TIMEOUT(nullb, sync_ignores_plain_signals, 120)
{
	struct bb_nullb_opts o = nullb_opts(300);
	struct sigaction sa = { .sa_handler = on_alarm };
	struct blkbatch_entry ent[3];
	struct blkbatch_batch b;
	__s32 st[3];

	nullb_up(_metadata, self, &o);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	blkbatch_batch_init(&b, ent, st, 3);
	blkbatch_batch_add_read(&b, self->buf, SZ_4K, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_read(&b, self->buf, SZ_4K, NB_GAP);
	ualarm(100000, 100000);
	EXPECT_EQ(3, blkbatch_run_sync(self->env.ctx.fd, &b));
	ualarm(0, 0);
	EXPECT_EQ((__s32)SZ_4K, st[2]);
}

TEST_HARNESS_MAIN
