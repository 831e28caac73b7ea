// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit submitter: built with -m32, so its iovec arrays are struct
 * compat_iovec to the kernel.  The module must read them in the ABI of
 * the task that set up the ring (or called the ioctl), also when an entry
 * is issued from task work after a barrier while the submitter spins on
 * its CQ in user space, outside any system call.
 *
 * There is no 32-bit liburing on the build machine: this program drives
 * its ring with the raw system calls, and takes from blkbatch_test.h only
 * what needs no liburing.
 */
#include <sys/uio.h>

#include "blkbatch_test.h"

_Static_assert(sizeof(void *) == 4, "built for 32 bits");

#define REGION_C32	BB_REGION(BB_RG_COMPAT32)
#define C32_LEN		(2 * SZ_4K)
#define C32_ENTRIES	6
#define C32_ROUNDS	16

struct ring32 {
	int			fd;
	unsigned int		*sq_tail, *sq_mask, *sq_array;
	unsigned int		*cq_head, *cq_tail, *cq_mask;
	char			*sqes;		/* 128-byte slots */
	struct io_uring_cqe	*cqes;
	void			*sq_map, *cq_map;
	size_t			sq_len, cq_len, sqes_len;
};

static void *map_ring(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static int ring32_init(struct ring32 *r)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };

	r->fd = syscall(__NR_io_uring_setup, 8, &p);
	if (r->fd < 0)
		return -errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = p.sq_entries * 2 * sizeof(struct io_uring_sqe);
	r->sq_map = map_ring(r->fd, r->sq_len, IORING_OFF_SQ_RING);
	r->cq_map = map_ring(r->fd, r->cq_len, IORING_OFF_CQ_RING);
	r->sqes = map_ring(r->fd, r->sqes_len, IORING_OFF_SQES);
	if (!r->sq_map || !r->cq_map || !r->sqes)
		return -ENOMEM;
	r->sq_tail = (unsigned int *)((char *)r->sq_map + p.sq_off.tail);
	r->sq_mask = (unsigned int *)((char *)r->sq_map + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)((char *)r->sq_map + p.sq_off.array);
	r->cq_head = (unsigned int *)((char *)r->cq_map + p.cq_off.head);
	r->cq_tail = (unsigned int *)((char *)r->cq_map + p.cq_off.tail);
	r->cq_mask = (unsigned int *)((char *)r->cq_map + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
	return 0;
}

static void ring32_exit(struct ring32 *r)
{
	munmap(r->sqes, r->sqes_len);
	munmap(r->cq_map, r->cq_len);
	munmap(r->sq_map, r->sq_len);
	close(r->fd);
}

static int ring32_submit(struct ring32 *r, int fd,
			 const struct blkbatch_cmd *cmd)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe;

	sqe = (struct io_uring_sqe *)(r->sqes + idx * 2 * sizeof(*sqe));
	bb_prep_raw(sqe, fd, cmd);
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	return syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0) == 1 ?
	       0 : -EIO;
}

/*
 * Spin on the CQ in user space for the one CQE, looking at the clock only
 * now and then: without a vDSO clocksource (TCG guests) time() is a
 * system call, on whose way out the task work would run.
 */
static int ring32_spin(struct ring32 *r, int *res)
{
	unsigned int head = *r->cq_head, n;
	time_t end = time(NULL) + BB_CQE_WAIT_S;

	for (n = 0; __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) == head; n++)
		if (!(n & 0xfffffU) && time(NULL) > end)
			return -ETIMEDOUT;
	*res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return 0;
}

FIXTURE(c32) {
	struct bb_ctx ctx;
	char *buf;
};

FIXTURE_SETUP(c32)
{
	self->ctx.fd = -1;
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	self->buf = bb_alloc(4 * C32_LEN);
	/* ASSERT_NE(NULL, ...) casts a pointer to a 64-bit integer */
	ASSERT_TRUE(self->buf != NULL);
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
}

FIXTURE_TEARDOWN(c32)
{
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
	bb_free(self->buf, 4 * C32_LEN);
}

/*
 * WRITE, BARRIER, WRITEV, BARRIER, READ, READV: the vectored entries are
 * issued after a barrier, from the completion.  Fills @cmd for @round.
 */
struct c32_batch {
	struct blkbatch_entry	ent[C32_ENTRIES];
	__s32			st[C32_ENTRIES];
	struct iovec		wv[2], rv[2];
	struct blkbatch_cmd	cmd;
	__u64			off, seed;
};

static void c32_prepare(struct c32_batch *t, char *buf, unsigned int round)
{
	memset(t, 0, sizeof(*t));
	t->off = REGION_C32 + (__u64)round * 2 * C32_LEN;
	t->seed = 300 + round;
	bb_fill(buf, 2 * C32_LEN, t->off, t->seed);
	memset(buf + 2 * C32_LEN, 0, 2 * C32_LEN);
	t->wv[0] = (struct iovec){ buf + C32_LEN, SZ_4K };
	t->wv[1] = (struct iovec){ buf + C32_LEN + SZ_4K, SZ_4K };
	t->rv[0] = (struct iovec){ buf + 3 * C32_LEN + SZ_4K, SZ_4K };
	t->rv[1] = (struct iovec){ buf + 3 * C32_LEN, SZ_4K };
	bb_entry(&t->ent[0], BLKBATCH_OP_WRITE, buf, C32_LEN, t->off);
	bb_entry(&t->ent[1], BLKBATCH_OP_BARRIER, NULL, 0, 0);
	bb_entry(&t->ent[2], BLKBATCH_OP_WRITE, t->wv, C32_LEN,
		 t->off + C32_LEN);
	t->ent[2].flags = BLKBATCH_EF_VEC;
	t->ent[2].nr_vecs = 2;
	t->ent[3] = t->ent[1];
	bb_entry(&t->ent[4], BLKBATCH_OP_READ, buf + 2 * C32_LEN, C32_LEN,
		 t->off + C32_LEN);
	bb_entry(&t->ent[5], BLKBATCH_OP_READ, t->rv, C32_LEN, t->off);
	t->ent[5].flags = BLKBATCH_EF_VEC;
	t->ent[5].nr_vecs = 2;
	t->cmd.entries = (uintptr_t)t->ent;
	t->cmd.status = (uintptr_t)t->st;
	t->cmd.nr = C32_ENTRIES;
}

static void c32_check(struct __test_metadata *_metadata,
		      const struct c32_batch *t, const char *buf, int res,
		      unsigned int round)
{
	unsigned int i;

	EXPECT_EQ(C32_ENTRIES, res) TH_LOG("round %u", round);
	for (i = 0; i < C32_ENTRIES; i++) {
		__s32 want = t->ent[i].len, got = t->st[i];

		EXPECT_EQ(want, got) TH_LOG("round %u entry %u", round, i);
	}
	EXPECT_EQ(-1, bb_check(buf + 2 * C32_LEN, C32_LEN, t->off + C32_LEN,
			       t->seed));
	EXPECT_EQ(-1, bb_check(buf + 3 * C32_LEN + SZ_4K, SZ_4K, t->off,
			       t->seed));
	EXPECT_EQ(-1, bb_check(buf + 3 * C32_LEN, SZ_4K, t->off + SZ_4K,
			       t->seed));
}

TEST_F(c32, ring_vectored_after_barrier)
{
	struct c32_batch t;
	struct ring32 r = { .fd = -1 };
	unsigned int round;
	int res = -1;

	ASSERT_EQ(0, ring32_init(&r));
	for (round = 0; round < C32_ROUNDS; round++) {
		c32_prepare(&t, self->buf, round);
		ASSERT_EQ(0, ring32_submit(&r, self->ctx.fd, &t.cmd));
		ASSERT_EQ(0, ring32_spin(&r, &res));
		c32_check(_metadata, &t, self->buf, res, round);
	}
	ring32_exit(&r);
}

TEST_F(c32, sync_ioctl_vectored_after_barrier)
{
	struct c32_batch t;
	unsigned int round;

	for (round = 0; round < C32_ROUNDS; round++) {
		c32_prepare(&t, self->buf, round);
		c32_check(_metadata, &t, self->buf,
			  ioctl(self->ctx.fd, BLKBATCH_IOC_SUBMIT, &t.cmd),
			  round);
	}
}

TEST_HARNESS_MAIN
