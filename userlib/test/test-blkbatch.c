// SPDX-License-Identifier: MIT
/*
 * Host-side unit test of libblkbatch: needs no module.  Batch building and
 * SQE layout are checked directly; submission and completion are checked
 * against /dev/zero, which rejects the command (no ->uring_cmd) but goes
 * through the same ring paths, and /dev/null, whose ->uring_cmd (Linux
 * 6.0+) completes any command with 0.  Ring tests are skipped if io_uring is not
 * available.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libblkbatch.h"

static int failures, checks;

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,	\
			__LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	checks++;							\
	if (_a != _b) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: FAILED: %s == %s (%lld != %lld)\n", \
			__FILE__, __LINE__, #a, #b, _a, _b);		\
	}								\
} while (0)

static bool entry_is(const struct blkbatch_entry *e, __u8 op, __u16 flags,
		     __u32 len, __u64 offset, __u64 addr, __u32 nr_vecs)
{
	return e->op == op && e->rsvd0 == 0 && e->flags == flags &&
	       e->len == len && e->offset == offset && e->addr == addr &&
	       e->nr_vecs == nr_vecs && e->rsvd1 == 0;
}

static void test_builders(void)
{
	struct blkbatch_entry ents[10];
	__s32 status[10];
	struct blkbatch_batch b;
	char buf[8192];
	struct iovec iov[3] = {
		{ buf, 512 }, { buf + 512, 1024 }, { buf + 4096, 4096 },
	};
	struct iovec big[2] = {
		{ buf, 0xc0000000UL }, { buf, 0x40000000UL },
	};
	struct iovec huge[1] = { { buf, 0x100000000ULL } };

	memset(ents, 0xff, sizeof(ents));
	blkbatch_batch_init(&b, ents, status, 9);
	CHECK(b.entries == ents && b.status == status);
	CHECK_EQ(b.nr, 0);
	CHECK_EQ(b.cap, 9);
	CHECK_EQ(b.flags, 0);
	CHECK(!b.owned);

	CHECK_EQ(blkbatch_batch_add_read(&b, buf, 4096, 8192), 0);
	CHECK(entry_is(&ents[0], BLKBATCH_OP_READ, 0, 4096, 8192,
		       (uintptr_t)buf, 0));
	CHECK_EQ(blkbatch_batch_add_write(&b, buf, 512, 512, BLKBATCH_EF_FUA), 1);
	CHECK(entry_is(&ents[1], BLKBATCH_OP_WRITE, BLKBATCH_EF_FUA, 512, 512,
		       (uintptr_t)buf, 0));
	CHECK_EQ(blkbatch_batch_add_readv(&b, iov, 3, 1 << 20), 2);
	CHECK(entry_is(&ents[2], BLKBATCH_OP_READ, BLKBATCH_EF_VEC,
		       512 + 1024 + 4096, 1 << 20, (uintptr_t)iov, 3));
	CHECK_EQ(blkbatch_batch_add_writev(&b, iov, 2, 4096, BLKBATCH_EF_FUA), 3);
	CHECK(entry_is(&ents[3], BLKBATCH_OP_WRITE,
		       BLKBATCH_EF_FUA | BLKBATCH_EF_VEC, 1536, 4096,
		       (uintptr_t)iov, 2));
	CHECK_EQ(blkbatch_batch_add_flush(&b), 4);
	CHECK(entry_is(&ents[4], BLKBATCH_OP_FLUSH, 0, 0, 0, 0, 0));
	CHECK_EQ(blkbatch_batch_add_discard(&b, 1ULL << 40, 1 << 20), 5);
	CHECK(entry_is(&ents[5], BLKBATCH_OP_DISCARD, 0, 1 << 20, 1ULL << 40,
		       0, 0));
	CHECK_EQ(blkbatch_batch_add_write_zeroes(&b, 4096, 8192), 6);
	CHECK(entry_is(&ents[6], BLKBATCH_OP_WRITE_ZEROES, 0, 8192, 4096, 0, 0));
	CHECK_EQ(blkbatch_batch_add_barrier(&b), 7);
	CHECK(entry_is(&ents[7], BLKBATCH_OP_BARRIER, 0, 0, 0, 0, 0));

	/* Vector lengths: exactly 4 GiB - 1 fits, more does not. */
	big[1].iov_len = 0x3fffffffUL;
	CHECK_EQ(blkbatch_batch_add_readv(&b, big, 2, 0), 8);
	CHECK_EQ(ents[8].len, 0xffffffffU);
	b.nr = 8;
	big[1].iov_len = 0x40000000UL;
	CHECK_EQ(blkbatch_batch_add_readv(&b, big, 2, 0), -EINVAL);
	CHECK_EQ(blkbatch_batch_add_writev(&b, huge, 1, 0, 0), -EINVAL);
	CHECK_EQ(b.nr, 8);

	/* Full. */
	CHECK_EQ(blkbatch_batch_add_read(&b, buf, 4096, 0), 8);
	CHECK_EQ(blkbatch_batch_add_read(&b, buf, 4096, 0), -ENOSPC);
	CHECK_EQ(blkbatch_batch_add_readv(&b, iov, 1, 0), -ENOSPC);
	CHECK_EQ(blkbatch_batch_add_barrier(&b), -ENOSPC);
	CHECK_EQ(b.nr, 9);
	/* The entry past cap was never touched. */
	CHECK_EQ(ents[9].op, 0xff);

	b.flags = BLKBATCH_CMD_F_ABORT_ON_ERROR;
	blkbatch_batch_reset(&b);
	CHECK_EQ(b.nr, 0);
	CHECK_EQ(b.flags, BLKBATCH_CMD_F_ABORT_ON_ERROR);
	CHECK_EQ(blkbatch_batch_add_flush(&b), 0);

	CHECK_EQ(blkbatch_batch_alloc(&b, 0), -EINVAL);
	CHECK_EQ(blkbatch_batch_alloc(&b, 4096), 0);
	CHECK(b.owned && b.entries && b.status);
	CHECK_EQ(b.cap, 4096);
	CHECK_EQ(b.nr, 0);
	for (int i = 0; i < 4096; i++)
		CHECK_EQ(blkbatch_batch_add_read(&b, buf, 4096, 4096ULL * i), i);
	CHECK_EQ(blkbatch_batch_add_read(&b, buf, 4096, 0), -ENOSPC);
	blkbatch_batch_free(&b);
	CHECK(!b.entries && !b.status && !b.owned && b.cap == 0);

	CHECK(!strcmp(blkbatch_op_name(BLKBATCH_OP_READ), "read"));
	CHECK(!strcmp(blkbatch_op_name(BLKBATCH_OP_WRITE_ZEROES),
		      "write-zeroes"));
	CHECK(!strcmp(blkbatch_op_name(BLKBATCH_OP_BARRIER), "barrier"));
	CHECK(!strcmp(blkbatch_op_name(BLKBATCH_OP_LAST + 1), "unknown"));
	CHECK(!strcmp(blkbatch_op_name(~0U), "unknown"));

	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_READ_WRITE), "read-write"));
	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_IOPOLL), "iopoll"));
	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_DEV_T), "dev-t"));
	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_SQE_MIXED), "sqe-mixed"));
	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_SQE_MIXED << 1), "unknown"));
	CHECK(!strcmp(blkbatch_feature_name(0), "unknown"));
	CHECK(!strcmp(blkbatch_feature_name(BLKBATCH_F_FUA | BLKBATCH_F_VEC),
		      "unknown"));
}

static void test_prep(void)
{
	union {
		struct io_uring_sqe sqe;
		unsigned char bytes[128];
	} u;
	struct blkbatch_entry ents[2];
	__s32 status[2];
	struct blkbatch_batch b;
	struct blkbatch_cmd cmd;
	unsigned char zero[128] = { 0 };
	char buf[4096];

	blkbatch_batch_init(&b, ents, status, 2);
	blkbatch_batch_add_read(&b, buf, 4096, 0);
	blkbatch_batch_add_write(&b, buf, 4096, 4096, 0);
	b.flags = BLKBATCH_CMD_F_ABORT_ON_ERROR;

	memset(&u, 0xa5, sizeof(u));
	blkbatch_prep_submit(&u.sqe, 7, &b);
	CHECK_EQ(u.sqe.opcode, IORING_OP_URING_CMD);
	CHECK_EQ(u.sqe.flags, 0);
	CHECK_EQ(u.sqe.ioprio, 0);
	CHECK_EQ(u.sqe.fd, 7);
	CHECK_EQ(u.sqe.cmd_op, BLKBATCH_URING_CMD_SUBMIT);
	CHECK_EQ(u.sqe.__pad1, 0);
	CHECK_EQ(u.sqe.addr, 0);
	CHECK_EQ(u.sqe.len, 0);
	CHECK_EQ(u.sqe.uring_cmd_flags, 0);
	CHECK_EQ(u.sqe.user_data, 0);
	CHECK_EQ(u.sqe.buf_index, 0);
	CHECK_EQ(u.sqe.personality, 0);
	CHECK_EQ(u.sqe.file_index, 0);
	/* The command area: bytes 48..127. */
	CHECK_EQ(offsetof(struct io_uring_sqe, cmd), 48);
	memcpy(&cmd, u.bytes + 48, sizeof(cmd));
	CHECK_EQ(cmd.entries, (uintptr_t)ents);
	CHECK_EQ(cmd.status, (uintptr_t)status);
	CHECK_EQ(cmd.nr, 2);
	CHECK_EQ(cmd.flags, BLKBATCH_CMD_F_ABORT_ON_ERROR);
	CHECK(!memcmp(cmd.rsvd, zero, sizeof(cmd.rsvd)));
	/*
	 * Nothing of the fill survives outside the named fields.  Pointers
	 * may hold a 0xa5 byte by chance, so fill twice with different
	 * bytes: only a byte prep never writes keeps the fill both times.
	 */
	{
		union { struct io_uring_sqe sqe; unsigned char bytes[128]; } v;

		memset(&v, 0x5a, sizeof(v));
		blkbatch_prep_submit(&v.sqe, 7, &b);
		for (int i = 0; i < 128; i++)
			CHECK(u.bytes[i] != 0xa5 || v.bytes[i] != 0x5a);
	}

	memset(&u, 0xa5, sizeof(u));
	b.status = NULL;
	blkbatch_prep_submit_fixed(&u.sqe, 3, &b, 5);
	CHECK_EQ(u.sqe.opcode, IORING_OP_URING_CMD);
	CHECK_EQ(u.sqe.fd, 3);
	CHECK_EQ(u.sqe.cmd_op, BLKBATCH_URING_CMD_SUBMIT);
	CHECK_EQ(u.sqe.uring_cmd_flags, IORING_URING_CMD_FIXED);
	CHECK_EQ(u.sqe.buf_index, 5);
	CHECK_EQ(u.sqe.addr, 0);
	CHECK_EQ(u.sqe.len, 0);
	memcpy(&cmd, u.bytes + 48, sizeof(cmd));
	CHECK_EQ(cmd.status, 0);
	CHECK_EQ(cmd.nr, 2);
}

static void test_ctl(void)
{
	struct blkbatch_dev dev;
	unsigned int idx = 12345;

	if (access(BLKBATCH_CTL_DEV, F_OK) == 0) {
		printf("  (skipping control tests: %s exists)\n",
		       BLKBATCH_CTL_DEV);
		return;
	}
	errno = 0;
	CHECK_EQ(blkbatch_attach("/dev/null", 0, &idx), -ENOENT);
	CHECK_EQ(idx, 12345);
	CHECK_EQ(blkbatch_detach(0), -ENOENT);
	CHECK_EQ(blkbatch_open(9999, O_RDWR, &dev), -ENOENT);
	CHECK_EQ(dev.fd, -1);
	/* Not a blkbatch device: GET_INFO fails, nothing stays open. */
	CHECK_EQ(blkbatch_open_path("/dev/null", O_RDONLY, &dev), -ENOTTY);
	CHECK_EQ(dev.fd, -1);
	blkbatch_close(&dev);
}

static bool have_io_uring(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(2, &ring, 0))
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

/* On a file without ->uring_cmd the command fails with -EOPNOTSUPP. */

/*
 * Under SQPOLL the thread may post a CQE before it publishes the new SQ
 * head, so "the batch completed" does not yet mean "its SQE slot is free".
 */
static void sq_drain(struct blkbatch_ring *r)
{
	int ms;

	for (ms = 0; ms < 5000; ms++) {
		if (io_uring_sq_space_left(&r->ring) == r->ring.sq.ring_entries)
			return;
		usleep(1000);
	}
}

/* Three NOPs (user_data 7, 8, 9) ahead of whatever comes next. */
static void submit_nops(struct blkbatch_ring *r)
{
	struct io_uring_sqe *sqe;
	int i;

	sq_drain(r);
	for (i = 0; i < 3; i++) {
		sqe = io_uring_get_sqe(&r->ring);
		io_uring_prep_nop(sqe);
		sqe->user_data = 7 + i;
	}
	CHECK_EQ(io_uring_submit(&r->ring), 3);
}

static void test_ring(unsigned int flags)
{
	struct blkbatch_ring r;
	struct blkbatch_batch b;
	struct blkbatch_entry ents[4];
	__s32 status[4];
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	char buf[4096] __attribute__((aligned(4096)));
	int fd, ret, i, iter;

	ret = blkbatch_ring_init(&r, 4, flags);
	CHECK_EQ(ret, 0);
	if (ret)
		return;
	CHECK(r.ring.flags & IORING_SETUP_SQE128);
	CHECK_EQ(!!(r.ring.flags & IORING_SETUP_CQE32),
		 !!(flags & BLKBATCH_RING_CQE32));
	CHECK_EQ(r.flags, flags);

	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	blkbatch_batch_init(&b, ents, status, 4);
	blkbatch_batch_add_read(&b, buf, 4096, 0);

	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	CHECK_EQ(blkbatch_submit(&r, fd, &b, 42), 0);
	CHECK_EQ(blkbatch_wait(&r, &cqe), 0);
	CHECK_EQ(cqe.user_data, 42);
	CHECK_EQ(cqe.res, -EOPNOTSUPP);
	if (flags & BLKBATCH_RING_CQE32)
		CHECK_EQ(cqe.res2, 0);	/* not a blkbatch completion */
	else
		CHECK_EQ(cqe.res2, BLKBATCH_NO_ENTRY);
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);

	/* The SQ fills up: -EBUSY, nothing lost. */
	sq_drain(&r);
	for (i = 0; i < 4; i++) {
		sqe = io_uring_get_sqe(&r.ring);
		CHECK(sqe != NULL);
		blkbatch_prep_submit(sqe, fd, &b);
		sqe->user_data = 100 + i;
	}
	CHECK_EQ(blkbatch_submit(&r, fd, &b, 99), -EBUSY);
	CHECK_EQ(io_uring_submit(&r.ring), 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(blkbatch_wait(&r, &cqe), 0);
		CHECK_EQ(cqe.user_data, 100 + i);
		CHECK_EQ(cqe.res, -EOPNOTSUPP);
	}
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);

	/*
	 * run picks its own CQE out from behind others and keeps them in the
	 * CQ, in order: why wait_tagged() reorders rather than taking them
	 * off.  A caller who reaps its other requests with liburing itself
	 * (here io_uring_peek_cqe(), on the second round) still finds every
	 * one of them there, and no bound on how many may be waiting.
	 */
	for (iter = 0; iter < 2; iter++) {
		struct io_uring_cqe *c;

		submit_nops(&r);
		/* SQPOLL: the thread may not have run them yet. */
		CHECK_EQ(io_uring_wait_cqe_nr(&r.ring, &c, 3), 0);
		CHECK_EQ(io_uring_cq_ready(&r.ring), 3);
		CHECK_EQ(blkbatch_run(&r, fd, &b), -EOPNOTSUPP);
		CHECK_EQ(io_uring_cq_ready(&r.ring), 3);
		for (i = 0; i < 3; i++) {
			if (iter) {
				CHECK_EQ(io_uring_peek_cqe(&r.ring, &c), 0);
				CHECK_EQ(c->user_data, 7 + i);
				io_uring_cqe_seen(&r.ring, c);
				continue;
			}
			CHECK_EQ(blkbatch_peek(&r, &cqe), 0);
			CHECK_EQ(cqe.user_data, 7 + i);
			CHECK_EQ(cqe.res, 0);
		}
		CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	}

	/* The one-entry helpers, through the ring and through the ioctl. */
	CHECK_EQ(blkbatch_pread(&r, fd, buf, 4096, 0), -EOPNOTSUPP);
	CHECK_EQ(blkbatch_pwrite(&r, fd, buf, 4096, 0), -EOPNOTSUPP);
	CHECK_EQ(blkbatch_pread(&r, fd, buf, 1ULL << 32, 0), -EINVAL);
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	CHECK_EQ(blkbatch_pread(NULL, fd, buf, 4096, 0), -ENOTTY);
	CHECK_EQ(blkbatch_run_sync(fd, &b), -ENOTTY);

	close(fd);

	/*
	 * A CQE res of 0 for a 1-entry batch means the entry failed: the
	 * helpers return its status, here the value left in place.
	 */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	ret = blkbatch_run(&r, fd, &b);
	if (ret == 0) {
		CHECK_EQ(blkbatch_pread(&r, fd, buf, 4096, 0), -EIO);
	} else {
		CHECK_EQ(ret, -EOPNOTSUPP);	/* kernel before 6.0 */
	}
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	close(fd);

	blkbatch_ring_exit(&r);
}

/*
 * A mixed-size SQ: a batch is two adjacent 64-byte slots, never starting
 * in the last one (padded with a NOP that posts nothing), and the kernel
 * takes the pair as one command (/dev/zero has no uring_cmd:
 * -EOPNOTSUPP, one CQE).  Before 6.19: refused at setup.
 */
static void test_sqe_mixed(unsigned int flags)
{
	struct blkbatch_ring r;
	struct blkbatch_batch b;
	struct blkbatch_entry ents[1];
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	__s32 status[1];
	char buf[4096] __attribute__((aligned(4096)));
	int fd, ret, i;

	ret = blkbatch_ring_init(&r, 4, flags | BLKBATCH_RING_SQE_MIXED);
	if (ret == -EOPNOTSUPP) {
		printf("  (kernel without IORING_SETUP_SQE_MIXED: refused)\n");
		return;
	}
	CHECK_EQ(ret, 0);
	if (ret)
		return;
	CHECK(!(r.ring.flags & IORING_SETUP_SQE128));
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	blkbatch_batch_init(&b, ents, status, 1);
	blkbatch_batch_add_read(&b, buf, 4096, 0);

	CHECK_EQ(blkbatch_run(&r, fd, &b), -EOPNOTSUPP);
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);

	/* Slots 2 (a NOP of ours) and 3 (padding): the batch wraps to 0. */
	sq_drain(&r);
	sqe = io_uring_get_sqe(&r.ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = 7;
	sqe = blkbatch_queue(&r, fd, &b, 43);
	CHECK(sqe == &r.ring.sq.sqes[0]);
	CHECK_EQ(sqe->opcode, BLKBATCH_IORING_OP_URING_CMD128);
	CHECK_EQ(r.ring.sq.sqes[3].opcode, IORING_OP_NOP);
	CHECK_EQ(r.ring.sq.sqes[3].flags, IOSQE_CQE_SKIP_SUCCESS);
	CHECK(blkbatch_queue(&r, fd, &b, 44) == NULL);	/* full */
	CHECK(io_uring_submit(&r.ring) >= 0);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(blkbatch_wait(&r, &cqe), 0);
		CHECK_EQ(cqe.user_data, i ? 43 : 7);
		CHECK_EQ(cqe.res, i ? -EOPNOTSUPP : 0);
	}
	CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	close(fd);
	blkbatch_ring_exit(&r);
}

/*
 * On an IOPOLL ring blkbatch_run() holds other completions back instead of
 * leaving them in the CQ.  With SQPOLL the SQ thread takes the batch a
 * little later, so the others are usually there first.
 */
static void test_run_held(void)
{
	struct blkbatch_ring r;
	struct blkbatch_batch b;
	struct blkbatch_entry ent;
	struct blkbatch_cqe cqe;
	struct io_uring_cqe *c;
	char buf[4096] __attribute__((aligned(4096)));
	__s32 status;
	int fd, i, iter, held = 0;

	if (blkbatch_ring_init(&r, 8, BLKBATCH_RING_SQPOLL |
			       BLKBATCH_RING_IOPOLL)) {
		printf("  (skipping SQPOLL+IOPOLL test)\n");
		return;
	}
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	blkbatch_batch_init(&b, &ent, &status, 1);
	blkbatch_batch_add_read(&b, buf, 4096, 0);
	for (iter = 0; iter < 200; iter++) {
		submit_nops(&r);
		CHECK_EQ(io_uring_wait_cqe_nr(&r.ring, &c, 3), 0);
		CHECK_EQ(blkbatch_run(&r, fd, &b), -EOPNOTSUPP);
		held += r.nr_held == 3;
		for (i = 0; i < 3; i++) {
			CHECK_EQ(blkbatch_peek(&r, &cqe), 0);
			CHECK_EQ(cqe.user_data, 7 + i);
		}
		CHECK_EQ(r.nr_held, 0);
		CHECK_EQ(blkbatch_peek(&r, &cqe), -EAGAIN);
	}
	printf("  blkbatch_run held others back in %d of %d runs\n", held,
	       iter);
	close(fd);
	blkbatch_ring_exit(&r);
}

/* Per-thread rings: one per thread, the same one again, gone at exit. */
static void *thread_ring_fn(void *arg)
{
	struct blkbatch_ring **out = arg, *again = NULL;

	if (blkbatch_thread_ring(&out[0]))
		return NULL;
	if (!blkbatch_thread_ring(&again) && again == out[0])
		out[1] = again;
	out[2] = (void *)(uintptr_t)out[0]->flags;
	return NULL;
}

static void test_thread_rings(void)
{
	struct blkbatch_ring *a[3] = { 0 }, *b[3] = { 0 }, *mine = NULL;
	pthread_t ta, tb;

	CHECK_EQ(blkbatch_thread_ring_config(0, 0), -EINVAL);
	CHECK_EQ(blkbatch_thread_ring_config(8, 1U << 7), -EINVAL);
	CHECK_EQ(blkbatch_thread_ring_config(8, BLKBATCH_RING_CQE32), 0);
	CHECK_EQ(blkbatch_thread_ring(&mine), 0);
	CHECK(mine != NULL);
	if (!mine)
		return;
	CHECK(mine->ring.flags & IORING_SETUP_CQE32);
	/* both threads live while compared: mine outlives them */
	CHECK_EQ(pthread_create(&ta, NULL, thread_ring_fn, a), 0);
	CHECK_EQ(pthread_join(ta, NULL), 0);
	CHECK_EQ(pthread_create(&tb, NULL, thread_ring_fn, b), 0);
	CHECK_EQ(pthread_join(tb, NULL), 0);
	CHECK(a[0] && a[1] == a[0] && a[0] != mine);
	CHECK(b[0] && b[1] == b[0] && b[0] != mine);
	CHECK_EQ((uintptr_t)a[2], BLKBATCH_RING_CQE32);
	blkbatch_thread_ring_exit();
	blkbatch_thread_ring_exit();	/* a second time is a no-op */

	/* SQPOLL: later rings attach to the first one's SQ thread */
	CHECK_EQ(blkbatch_thread_ring_config(8, BLKBATCH_RING_SQPOLL), 0);
	mine = NULL;
	memset(a, 0, sizeof(a));
	CHECK_EQ(blkbatch_thread_ring(&mine), 0);
	CHECK_EQ(pthread_create(&ta, NULL, thread_ring_fn, a), 0);
	CHECK_EQ(pthread_join(ta, NULL), 0);
	CHECK(a[0] && a[1] == a[0]);
	CHECK_EQ((uintptr_t)a[2], BLKBATCH_RING_SQPOLL);
	blkbatch_thread_ring_exit();
	/* the owner gone, the next ring starts a new SQ thread */
	memset(b, 0, sizeof(b));
	CHECK_EQ(pthread_create(&tb, NULL, thread_ring_fn, b), 0);
	CHECK_EQ(pthread_join(tb, NULL), 0);
	CHECK(b[0] && b[1] == b[0]);
	CHECK_EQ(blkbatch_thread_ring_config(64, 0), 0);
}

/* A registered file can be let go and another registered (1.1). */
static void test_register_file(void)
{
	struct blkbatch_ring r;
	int a = open("/dev/zero", O_RDWR | O_CLOEXEC);
	int b = open("/dev/null", O_RDWR | O_CLOEXEC);

	CHECK_EQ(blkbatch_ring_init(&r, 4, 0), 0);
	CHECK_EQ(blkbatch_ring_unregister_file(&r), -ENXIO);
	CHECK_EQ(blkbatch_ring_register_file(&r, a), 0);
	CHECK_EQ(blkbatch_ring_register_file(&r, b), -EBUSY);
	CHECK_EQ(blkbatch_ring_unregister_file(&r), 0);
	CHECK_EQ(blkbatch_ring_unregister_file(&r), -ENXIO);
	CHECK_EQ(blkbatch_ring_register_file(&r, b), 0);
	CHECK_EQ(r.reg_fd, b);
	blkbatch_ring_exit(&r);
	close(a);
	close(b);
}

int main(void)
{
	struct blkbatch_ring r;

	test_builders();
	test_prep();
	test_ctl();

	CHECK_EQ(blkbatch_ring_init(&r, 4, 1U << 7), -EINVAL);
	if (have_io_uring()) {
		test_ring(0);
		test_ring(BLKBATCH_RING_CQE32);
		test_ring(BLKBATCH_RING_IOPOLL);
		test_ring(BLKBATCH_RING_SQPOLL | BLKBATCH_RING_CQE32);
		test_run_held();
		test_thread_rings();
		test_register_file();
		test_sqe_mixed(0);
		test_sqe_mixed(BLKBATCH_RING_SQPOLL);
	} else {
		printf("  (skipping ring tests: no io_uring here)\n");
	}

	printf("test-blkbatch: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
