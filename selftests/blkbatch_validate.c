// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch batch validation: every check of the uapi's list with its errno,
 * the order of the checks, the CQE32 index of the offending entry, and the
 * per-entry errors found only while issuing.
 *
 * SQEs are filled by hand so that any field can be corrupted.
 */
#include "blkbatch_test.h"

#define NR_ENT		16
#define ST_POISON	0x5a5a5a5a
#define BUF_LEN		SZ_1M
/* Regions of the disk the tests here write; nothing else writes them. */
#define REGION_NOISSUE	BB_REGION(BB_RG_VALIDATE)
#define REGION_FAULT	(REGION_NOISSUE + 4 * SZ_1M)
#define REGION_MID	(REGION_NOISSUE + 8 * SZ_1M)
#define REGION_ABORT	(REGION_NOISSUE + 12 * SZ_1M)

FIXTURE(validate) {
	struct bb_ctx ctx;
	struct io_uring ring;
	bool ring_ok;
	void *buf;
	__u32 lbs;
	__u32 len;	/* a valid entry length: max(lbs, 4 KiB) */
	struct blkbatch_entry ent[NR_ENT];
	__s32 st[NR_ENT];
	struct blkbatch_cmd cmd;
};

FIXTURE_SETUP(validate)
{
	unsigned int i;

	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	self->lbs = self->ctx.info.logical_block_size;
	ASSERT_NE(0U, self->lbs);
	self->len = self->lbs > SZ_4K ? self->lbs : SZ_4K;
	ASSERT_LE(NR_ENT * self->len, BUF_LEN);
	self->buf = bb_alloc(BUF_LEN);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, bb_ring_init(&self->ring, IORING_SETUP_CQE32));
	self->ring_ok = true;

	/* NR_ENT valid reads; tests corrupt one and submit some prefix. */
	for (i = 0; i < NR_ENT; i++) {
		bb_entry(&self->ent[i], BLKBATCH_OP_READ,
			 self->buf + i * self->len, self->len,
			 (__u64)i * self->len);
		self->st[i] = ST_POISON;
	}
	self->cmd.entries = (uintptr_t)self->ent;
	self->cmd.status = (uintptr_t)self->st;
	self->cmd.nr = 1;
}

FIXTURE_TEARDOWN(validate)
{
	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	bb_free(self->buf, BUF_LEN);
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
}

static bool has_index(FIXTURE_DATA(validate) * self)
{
	return self->ctx.info.features & BLKBATCH_F_CQE32_INDEX;
}

/*
 * Submit self->cmd on @fd; expect the batch to fail validation with @err
 * naming entry @idx, and nothing to be issued nor any status written.
 */
static void submit_fd_err(struct __test_metadata *_metadata,
			  FIXTURE_DATA(validate) * self, int fd, int err,
			  __u64 idx)
{
	struct bb_res r;
	unsigned int i;

	for (i = 0; i < NR_ENT; i++)
		self->st[i] = ST_POISON;
	ASSERT_EQ(0, bb_run_raw(&self->ring, fd, &self->cmd, &r));
	EXPECT_EQ(err, r.res) TH_LOG("res %d (%s)", r.res, strerror(-r.res));
	if (has_index(self))
		EXPECT_EQ(idx, r.res2);
	for (i = 0; i < NR_ENT; i++)
		EXPECT_EQ(ST_POISON, self->st[i]) TH_LOG("status[%u]", i);
}

static void submit_err(struct __test_metadata *_metadata,
		       FIXTURE_DATA(validate) * self, int err, __u64 idx)
{
	submit_fd_err(_metadata, self, self->ctx.fd, err, idx);
}

/* Submit self->cmd expecting it to run: the CQE res. */
static int submit_ok(struct __test_metadata *_metadata,
		     FIXTURE_DATA(validate) * self)
{
	struct bb_res r = { .res = INT32_MIN };

	EXPECT_EQ(0, bb_run_raw(&self->ring, self->ctx.fd, &self->cmd, &r));
	return r.res;
}

/* --- command checks ----------------------------------------------- */

TEST_F(validate, valid_baseline)
{
	/* what every test below corrupts is itself fine */
	self->cmd.nr = NR_ENT;
	EXPECT_EQ(NR_ENT, submit_ok(_metadata, self));
	EXPECT_EQ((__s32)self->len, self->st[0]);
	EXPECT_EQ((__s32)self->len, self->st[NR_ENT - 1]);
}

TEST_F(validate, cmd_rsvd_nonzero)
{
	unsigned int i;

	for (i = 0; i < 7; i++) {
		memset(self->cmd.rsvd, 0, sizeof(self->cmd.rsvd));
		self->cmd.rsvd[i] = 1ULL << 63;
		submit_err(_metadata, self, -EINVAL, BLKBATCH_NO_ENTRY);
	}
}

TEST_F(validate, cmd_unknown_flag)
{
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if ((1U << bit) & BLKBATCH_CMD_F_ALL)
			continue;
		self->cmd.flags = 1U << bit;
		submit_err(_metadata, self, -EINVAL, BLKBATCH_NO_ENTRY);
	}
}

TEST_F(validate, cmd_nr_zero)
{
	self->cmd.nr = 0;
	submit_err(_metadata, self, -EINVAL, BLKBATCH_NO_ENTRY);
}

TEST_F(validate, cmd_nr_over_max)
{
	/* must be refused before anything of that size is allocated */
	self->cmd.nr = self->ctx.info.max_entries + 1;
	submit_err(_metadata, self, -E2BIG, BLKBATCH_NO_ENTRY);
}

TEST_F(validate, cmd_nr_uint_max)
{
	self->cmd.nr = UINT32_MAX;
	submit_err(_metadata, self, -E2BIG, BLKBATCH_NO_ENTRY);
}

TEST_F(validate, entries_null)
{
	self->cmd.entries = 0;
	submit_err(_metadata, self, -EFAULT, BLKBATCH_NO_ENTRY);
}

TEST_F(validate, entries_unmapped)
{
	self->cmd.entries = (uintptr_t)bb_unmapped_addr();
	ASSERT_NE(0ULL, self->cmd.entries);
	submit_err(_metadata, self, -EFAULT, BLKBATCH_NO_ENTRY);
	self->cmd.entries = BB_KERNEL_ADDR;
	submit_err(_metadata, self, -EFAULT, BLKBATCH_NO_ENTRY);
}

/* The array runs off the end of its mapping: entry 1 is not there. */
TEST_F(validate, entries_tail_unmapped)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	struct blkbatch_entry *e;
	char *map;

	map = bb_alloc(2 * pg);
	ASSERT_NE(NULL, map);
	ASSERT_EQ(0, munmap(map + pg, pg));
	e = (struct blkbatch_entry *)(map + pg) - 1;
	*e = self->ent[0];
	self->cmd.entries = (uintptr_t)e;
	self->cmd.nr = 2;
	submit_err(_metadata, self, -EFAULT, BLKBATCH_NO_ENTRY);
	munmap(map, pg);
}

TEST_F(validate, status_kernel_addr)
{
	self->cmd.status = BB_KERNEL_ADDR;
	submit_err(_metadata, self, -EFAULT, BLKBATCH_NO_ENTRY);
}

/* Found at validation or only at completion: the CQE says -EFAULT. */
TEST_F(validate, status_unmapped)
{
	struct bb_res r;

	self->cmd.status = (uintptr_t)bb_unmapped_addr();
	ASSERT_NE(0ULL, self->cmd.status);
	ASSERT_EQ(0, bb_run_raw(&self->ring, self->ctx.fd, &self->cmd, &r));
	EXPECT_EQ(-EFAULT, r.res);
}

/* --- entry format ------------------------------------------------- */

TEST_F(validate, entry_rsvd0_nonzero)
{
	self->cmd.nr = 4;
	self->ent[2].rsvd0 = 0x80;
	submit_err(_metadata, self, -EINVAL, 2);
}

TEST_F(validate, entry_rsvd1_nonzero)
{
	self->cmd.nr = 4;
	self->ent[2].rsvd1 = 1;
	submit_err(_metadata, self, -EINVAL, 2);
}

TEST_F(validate, entry_unknown_op)
{
	self->cmd.nr = 4;
	self->ent[3].op = BLKBATCH_OP_LAST + 1;
	submit_err(_metadata, self, -EINVAL, 3);
	self->ent[3].op = 0xff;
	submit_err(_metadata, self, -EINVAL, 3);
}

TEST_F(validate, entry_unknown_flag)
{
	unsigned int bit;

	self->cmd.nr = 2;
	for (bit = 0; bit < 16; bit++) {
		if ((1U << bit) & BLKBATCH_EF_ALL)
			continue;
		self->ent[1].flags = 1U << bit;
		submit_err(_metadata, self, -EINVAL, 1);
	}
}

/* Known flags on ops they mean nothing for; the op need not be supported. */
TEST_F(validate, entry_flag_invalid_for_op)
{
	struct blkbatch_entry *e = &self->ent[1];

	self->cmd.nr = 2;
	e->flags = BLKBATCH_EF_FUA;		/* FUA on a read */
	submit_err(_metadata, self, -EINVAL, 1);

	bb_entry(e, BLKBATCH_OP_DISCARD, NULL, self->len, 0);
	e->flags = BLKBATCH_EF_FUA;
	submit_err(_metadata, self, -EINVAL, 1);

	bb_entry(e, BLKBATCH_OP_FLUSH, NULL, 0, 0);
	e->flags = BLKBATCH_EF_VEC;
	submit_err(_metadata, self, -EINVAL, 1);

	bb_entry(e, BLKBATCH_OP_BARRIER, NULL, 0, 0);
	e->flags = BLKBATCH_EF_VEC;
	submit_err(_metadata, self, -EINVAL, 1);
}

/* A vectored entry names 1 .. max_vecs iovecs. */
TEST_F(validate, entry_vec_nr_vecs)
{
	struct iovec iov = { self->buf, self->len };
	struct blkbatch_entry *e = &self->ent[1];

	self->cmd.nr = 2;
	bb_entry(e, BLKBATCH_OP_READ, &iov, self->len, 0);
	e->flags = BLKBATCH_EF_VEC;
	e->nr_vecs = 0;
	submit_err(_metadata, self, -EINVAL, 1);
	e->nr_vecs = self->ctx.info.max_vecs + 1;
	submit_err(_metadata, self, -EINVAL, 1);
	e->nr_vecs = 1;
	EXPECT_EQ(2, submit_ok(_metadata, self));
}

TEST_F(validate, entry_len_zero)
{
	self->cmd.nr = 3;
	self->ent[1].len = 0;
	submit_err(_metadata, self, -EINVAL, 1);
}

TEST_F(validate, entry_nr_vecs_without_vec)
{
	self->cmd.nr = 3;
	self->ent[2].nr_vecs = 1;
	submit_err(_metadata, self, -EINVAL, 2);
}

/* FLUSH and BARRIER take no range and no buffer; DISCARD no buffer. */
TEST_F(validate, entry_field_must_be_zero)
{
	__u64 f = self->ctx.info.features;
	struct blkbatch_entry *e = &self->ent[0];
	bool tested = false;

	if (f & BLKBATCH_F_FLUSH) {
		bb_entry(e, BLKBATCH_OP_FLUSH, NULL, self->len, 0);
		submit_err(_metadata, self, -EINVAL, 0);
		bb_entry(e, BLKBATCH_OP_FLUSH, NULL, 0, self->len);
		submit_err(_metadata, self, -EINVAL, 0);
		bb_entry(e, BLKBATCH_OP_FLUSH, self->buf, 0, 0);
		submit_err(_metadata, self, -EINVAL, 0);
		tested = true;
	}
	if (f & BLKBATCH_F_BARRIER) {
		bb_entry(e, BLKBATCH_OP_BARRIER, NULL, self->len, 0);
		submit_err(_metadata, self, -EINVAL, 0);
		tested = true;
	}
	if (f & BLKBATCH_F_DISCARD) {
		bb_entry(e, BLKBATCH_OP_DISCARD, self->buf, self->len, 0);
		submit_err(_metadata, self, -EINVAL, 0);
		tested = true;
	}
	if (!tested)
		SKIP(return, "no FLUSH, BARRIER or DISCARD to test");
}

/* --- entry range -------------------------------------------------- */

TEST_F(validate, entry_len_over_max)
{
	__u64 len = (__u64)self->ctx.info.max_entry_bytes + self->lbs;

	len &= ~(__u64)(self->lbs - 1);
	if (len > UINT32_MAX)
		SKIP(return, "max_entry_bytes %u: no larger aligned __u32",
		     self->ctx.info.max_entry_bytes);
	self->cmd.nr = 2;
	self->ent[1].len = len;
	submit_err(_metadata, self, -E2BIG, 1);
}

TEST_F(validate, entry_offset_len_overflow)
{
	self->cmd.nr = 2;
	self->ent[1].offset = -(__u64)self->lbs;
	self->ent[1].len = 2 * self->lbs;
	submit_err(_metadata, self, -EOVERFLOW, 1);
	self->ent[1].offset = UINT64_MAX & ~(__u64)(self->lbs - 1);
	self->ent[1].len = self->len;
	submit_err(_metadata, self, -EOVERFLOW, 1);
}

TEST_F(validate, entry_misaligned_offset)
{
	self->cmd.nr = 2;
	self->ent[1].offset = self->lbs / 2;
	submit_err(_metadata, self, -EINVAL, 1);
	self->ent[1].offset = self->len + 1;
	submit_err(_metadata, self, -EINVAL, 1);
}

TEST_F(validate, entry_misaligned_len)
{
	self->cmd.nr = 2;
	self->ent[1].len = self->len + self->lbs / 2;
	submit_err(_metadata, self, -EINVAL, 1);
	self->ent[1].len = self->lbs - 1;
	submit_err(_metadata, self, -EINVAL, 1);
}

TEST_F(validate, entry_misaligned_buffer)
{
	__u32 align = self->ctx.info.dma_alignment;

	if (align < 2)
		SKIP(return, "dma_alignment %u: any address is fine", align);
	self->cmd.nr = 2;
	self->ent[1].addr += 1;
	submit_err(_metadata, self, -EINVAL, 1);
	self->ent[1].addr += align / 2 - 1;
	if (align > 2)
		submit_err(_metadata, self, -EINVAL, 1);
}

TEST_F(validate, entry_beyond_capacity)
{
	__u64 cap = self->ctx.info.capacity;

	self->cmd.nr = 2;
	self->ent[1].offset = cap;
	self->ent[1].len = self->lbs;
	submit_err(_metadata, self, -ENOSPC, 1);
	self->ent[1].offset = cap + SZ_1M;
	submit_err(_metadata, self, -ENOSPC, 1);
}

TEST_F(validate, entry_straddles_end)
{
	self->cmd.nr = 2;
	self->ent[1].offset = self->ctx.info.capacity - self->lbs;
	self->ent[1].len = 2 * self->lbs;
	submit_err(_metadata, self, -ENOSPC, 1);
}

/* The last block is inside: the range check is not off by one. */
TEST_F(validate, entry_ends_at_capacity)
{
	self->ent[0].offset = self->ctx.info.capacity - self->len;
	EXPECT_EQ(1, submit_ok(_metadata, self));
	EXPECT_EQ((__s32)self->len, self->st[0]);
	self->ent[0].offset = self->ctx.info.capacity - self->lbs;
	self->ent[0].len = self->lbs;
	EXPECT_EQ(1, submit_ok(_metadata, self));
	EXPECT_EQ((__s32)self->lbs, self->st[0]);
}

/* --- access ------------------------------------------------------- */

TEST_F(validate, write_on_rdonly_fd)
{
	int ro;

	ro = bb_open_index(self->ctx.index, O_RDONLY);
	ASSERT_LE(0, ro);
	self->cmd.nr = 3;
	self->ent[2].op = BLKBATCH_OP_WRITE;
	submit_fd_err(_metadata, self, ro, -EBADF, 2);
	/* the range is checked first */
	self->ent[2].offset = self->ctx.info.capacity;
	submit_fd_err(_metadata, self, ro, -ENOSPC, 2);
	close(ro);
}

TEST_F(validate, read_on_rdonly_fd)
{
	struct bb_res r;
	int ro;

	ro = bb_open_index(self->ctx.index, O_RDONLY);
	ASSERT_LE(0, ro);
	self->cmd.nr = 3;
	ASSERT_EQ(0, bb_run_raw(&self->ring, ro, &self->cmd, &r));
	EXPECT_EQ(3, r.res);
	close(ro);
}

/*
 * A READ needs read access, as a pread() of the block device would: a
 * write-only file must not read the disk, by either transport.
 */
TEST_F(validate, read_on_wronly_fd)
{
	int wo;

	wo = bb_open_index(self->ctx.index, O_WRONLY);
	ASSERT_LE(0, wo);
	self->cmd.nr = 3;
	self->ent[0].op = BLKBATCH_OP_WRITE;
	self->ent[1].op = BLKBATCH_OP_FLUSH;
	self->ent[1].len = self->ent[1].offset = self->ent[1].addr = 0;
	submit_fd_err(_metadata, self, wo, -EBADF, 2);
	EXPECT_EQ(-1, ioctl(wo, BLKBATCH_IOC_SUBMIT, &self->cmd));
	EXPECT_EQ(EBADF, errno);
	/* without the READ, the rest runs */
	self->cmd.nr = 2;
	self->ent[0].offset = REGION_NOISSUE;
	EXPECT_EQ(2, ioctl(wo, BLKBATCH_IOC_SUBMIT, &self->cmd));
	close(wo);
}

/* DISCARD and WRITE_ZEROES change data; a FLUSH does not. */
TEST_F(validate, other_ops_on_rdonly_fd)
{
	struct bb_res r;
	int ro;

	ro = bb_open_index(self->ctx.index, O_RDONLY);
	ASSERT_LE(0, ro);
	self->cmd.nr = 2;
	bb_entry(&self->ent[1], BLKBATCH_OP_DISCARD, NULL, self->len,
		 REGION_MID);
	submit_fd_err(_metadata, self, ro, -EBADF, 1);
	bb_entry(&self->ent[1], BLKBATCH_OP_WRITE_ZEROES, NULL, self->len,
		 REGION_MID);
	submit_fd_err(_metadata, self, ro, -EBADF, 1);
	bb_entry(&self->ent[1], BLKBATCH_OP_FLUSH, NULL, 0, 0);
	ASSERT_EQ(0, bb_run_raw(&self->ring, ro, &self->cmd, &r));
	EXPECT_EQ(2, r.res);
	EXPECT_EQ(0, self->st[1]);
	close(ro);
}

/* --- order, index, and what a refused batch leaves behind --------- */

/* Within an entry the first failing check of the uapi's list wins. */
TEST_F(validate, check_order_in_entry)
{
	__u64 cap = self->ctx.info.capacity;
	struct blkbatch_entry *e = &self->ent[0];

	/* unknown op beats len 0 (both -EINVAL) and the range */
	e->op = 0x7f;
	e->len = 0;
	e->offset = cap;
	submit_err(_metadata, self, -EINVAL, 0);

	/* len 0 beats beyond capacity */
	bb_entry(e, BLKBATCH_OP_READ, self->buf, 0, cap);
	submit_err(_metadata, self, -EINVAL, 0);

	/* len over the maximum beats overflow */
	if ((__u64)self->ctx.info.max_entry_bytes + self->lbs <= UINT32_MAX) {
		bb_entry(e, BLKBATCH_OP_READ, self->buf,
			 self->ctx.info.max_entry_bytes + self->lbs,
			 UINT64_MAX & ~(__u64)(self->lbs - 1));
		submit_err(_metadata, self, -E2BIG, 0);
	}

	/* overflow beats misalignment */
	bb_entry(e, BLKBATCH_OP_READ, self->buf, self->len, UINT64_MAX);
	submit_err(_metadata, self, -EOVERFLOW, 0);

	/* misalignment beats beyond capacity */
	bb_entry(e, BLKBATCH_OP_READ, self->buf, self->len, cap + 1);
	submit_err(_metadata, self, -EINVAL, 0);
}

TEST_F(validate, check_order_cmd)
{
	/* nr over the limit beats an unreadable entry array */
	self->cmd.nr = self->ctx.info.max_entries + 1;
	self->cmd.entries = 0;
	submit_err(_metadata, self, -E2BIG, BLKBATCH_NO_ENTRY);
	/* command checks beat entry checks */
	self->cmd.entries = (uintptr_t)self->ent;
	self->cmd.nr = 1;
	self->cmd.flags = 1U << 31;
	self->ent[0].len = 0;
	submit_err(_metadata, self, -EINVAL, BLKBATCH_NO_ENTRY);
}

/* The first bad entry is named, not a later one with another error. */
TEST_F(validate, cqe32_names_first_bad_entry)
{
	if (!has_index(self))
		SKIP(return, "no BLKBATCH_F_CQE32_INDEX");
	self->cmd.nr = NR_ENT;
	self->ent[11].offset = self->ctx.info.capacity;
	submit_err(_metadata, self, -ENOSPC, 11);
	self->ent[5].len = 0;
	submit_err(_metadata, self, -EINVAL, 5);
	self->ent[0].rsvd1 = 1;
	submit_err(_metadata, self, -EINVAL, 0);
}

/* Without CQE32 the errno is the same, there is just no index. */
TEST_F(validate, error_on_plain_cqe_ring)
{
	struct io_uring ring;
	struct bb_res r;

	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	self->cmd.nr = 4;
	self->ent[3].offset = self->ctx.info.capacity;
	ASSERT_EQ(0, bb_run_raw(&ring, self->ctx.fd, &self->cmd, &r));
	EXPECT_EQ(-ENOSPC, r.res);
	EXPECT_EQ(ST_POISON, self->st[0]);
	io_uring_queue_exit(&ring);
}

/* A refused batch issues nothing: the valid write before it is not done. */
TEST_F(validate, refused_batch_issues_nothing)
{
	void *old = bb_alloc(self->len);
	void *chk = bb_alloc(self->len);

	ASSERT_NE(NULL, old);
	ASSERT_NE(NULL, chk);
	bb_fill(old, self->len, REGION_NOISSUE, 6);
	ASSERT_EQ(0, bb_disk_io(true, old, self->len, REGION_NOISSUE));

	bb_fill(self->buf, self->len, REGION_NOISSUE, 7);
	bb_entry(&self->ent[0], BLKBATCH_OP_WRITE, self->buf, self->len,
		 REGION_NOISSUE);
	self->ent[1].len = 0;
	self->cmd.nr = 2;
	submit_err(_metadata, self, -EINVAL, 1);
	ASSERT_EQ(0, bb_disk_io(false, chk, self->len, REGION_NOISSUE));
	EXPECT_EQ(-1, bb_check(chk, self->len, REGION_NOISSUE, 6));
	bb_free(old, self->len);
	bb_free(chk, self->len);
}

/* --- the io_uring side -------------------------------------------- */

TEST_F(validate, unknown_cmd_op)
{
	static const __u32 ops[] = {
		0,
		_IOWR(BLKBATCH_IOC_MAGIC, 0x7f, struct blkbatch_cmd),
		BLKBATCH_IOC_SUBMIT,	/* the ioctl number is not a cmd_op */
	};
	struct io_uring_sqe *sqe;
	struct bb_res r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		bb_prep_raw(sqe, self->ctx.fd, &self->cmd);
		sqe->cmd_op = ops[i];
		ASSERT_EQ(0, bb_submit_reap(&self->ring, &r));
		EXPECT_EQ(-ENOTTY, r.res) TH_LOG("cmd_op %#x", ops[i]);
		/* a CQE32 error that names no entry says so */
		if (has_index(self))
			EXPECT_EQ(BLKBATCH_NO_ENTRY, r.res2);
	}
}

/* The 80-byte command does not fit a 64-byte SQE. */
/* The command in a 64-byte SQE: only 16 bytes of it (entries, status). */
static int run_sqe64(FIXTURE_DATA(validate) * self, struct io_uring *ring,
		     struct bb_res *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = self->ctx.fd;
	sqe->cmd_op = BLKBATCH_URING_CMD_SUBMIT;
	memcpy(sqe->cmd, &self->cmd, 16);
	return bb_submit_reap(ring, r);
}

TEST_F(validate, ring_without_sqe128)
{
	struct io_uring ring;
	struct bb_res r;

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	ASSERT_EQ(0, run_sqe64(self, &ring, &r));
	EXPECT_TRUE(r.res == -EOPNOTSUPP || r.res == -EINVAL)
		TH_LOG("res %d", r.res);
	EXPECT_EQ(ST_POISON, self->st[0]);
	io_uring_queue_exit(&ring);
}

/*
 * IORING_OP_URING_CMD128 (6.19): the same command, on an SQE128 ring as
 * on a mixed one, where a 64-byte IORING_OP_URING_CMD is refused like on
 * any ring without SQE128.  Older kernels do not know the opcode.
 */
TEST_F(validate, uring_cmd128)
{
	bool mixed = self->ctx.info.features & BLKBATCH_F_SQE_MIXED;
	struct io_uring_params p = { .flags = IORING_SETUP_SQE_MIXED };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct bb_res r;

	sqe = io_uring_get_sqe(&self->ring);
	ASSERT_NE(NULL, sqe);
	bb_prep_raw(sqe, self->ctx.fd, &self->cmd);
	sqe->opcode = BLKBATCH_IORING_OP_URING_CMD128;
	ASSERT_EQ(0, bb_submit_reap(&self->ring, &r));
	if (!mixed) {
		EXPECT_EQ(-EINVAL, r.res);
		EXPECT_EQ(ST_POISON, self->st[0]);
		EXPECT_NE(0, io_uring_queue_init_params(4, &ring, &p));
		return;
	}
	EXPECT_EQ((int)self->cmd.nr, r.res);

	ASSERT_EQ(0, io_uring_queue_init_params(4, &ring, &p));
	ASSERT_EQ(0, run_sqe64(self, &ring, &r));
	EXPECT_EQ(-EOPNOTSUPP, r.res);
	/* slot 1, 2: a 128-byte one; slot 3, the last: io_uring refuses */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	bb_prep_raw(sqe, self->ctx.fd, &self->cmd);
	sqe->opcode = BLKBATCH_IORING_OP_URING_CMD128;
	ASSERT_NE(NULL, io_uring_get_sqe(&ring));
	ASSERT_EQ(2, io_uring_submit(&ring));	/* slots, not requests */
	ASSERT_EQ(0, bb_reap(&ring, &r, BB_CQE_WAIT_S));
	EXPECT_EQ((int)self->cmd.nr, r.res);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = BLKBATCH_IORING_OP_URING_CMD128;
	sqe->fd = self->ctx.fd;
	ASSERT_EQ(0, bb_submit_reap(&ring, &r));
	EXPECT_EQ(-EINVAL, r.res);
	io_uring_queue_exit(&ring);
}

/* SQE fields a batch does not use (drivers see them since 6.7). */
TEST_F(validate, sqe_unused_fields)
{
	struct io_uring_sqe *sqe;
	unsigned int i;
	struct bb_res r;

	if (bb_kernel_version() < BB_KV(6, 7))
		SKIP(return, "kernel does not expose the SQE to drivers");
	for (i = 0; i < 4; i++) {
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		bb_prep_raw(sqe, self->ctx.fd, &self->cmd);
		switch (i) {
		case 0:
			sqe->addr = (uintptr_t)self->buf;
			break;
		case 1:
			sqe->len = 1;
			break;
		case 2:
			sqe->ioprio = 1;
			break;
		case 3:
			sqe->file_index = 1;
			break;
		}
		ASSERT_EQ(0, bb_submit_reap(&self->ring, &r));
		EXPECT_EQ(-EINVAL, r.res) TH_LOG("field %u", i);
		/* io_uring refuses ioprio itself, before the driver runs */
		if (has_index(self) && i != 2)
			EXPECT_EQ(BLKBATCH_NO_ENTRY, r.res2);
	}
}

/*
 * What io_uring itself refuses before the module sees the SQE (6.1 and
 * 6.12): ioprio, uring_cmd_flags it does not know, a fixed buffer index
 * that is not registered.  The CQE32 extra word is then io_uring's 0, not
 * BLKBATCH_NO_ENTRY: the header documents both.
 */
TEST_F(validate, sqe_checked_by_io_uring_first)
{
	struct io_uring_sqe *sqe;
	unsigned int i;
	struct bb_res r;

	for (i = 0; i < 3; i++) {
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		bb_prep_raw(sqe, self->ctx.fd, &self->cmd);
		if (i == 0)
			sqe->ioprio = 1;
		else if (i == 1)
			sqe->uring_cmd_flags = 1U << 7;
		else
			sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		if (i == 2)
			sqe->buf_index = 3;
		ASSERT_EQ(0, bb_submit_reap(&self->ring, &r));
		EXPECT_EQ(i == 2 ? -EFAULT : -EINVAL, r.res) TH_LOG("case %u", i);
		EXPECT_EQ(0U, r.res2) TH_LOG("case %u", i);
	}
	EXPECT_EQ(ST_POISON, self->st[0]);
}

/* --- errors found while issuing: per entry, the batch goes on ------ */

TEST_F(validate, buffer_unmapped)
{
	void *bad = bb_unmapped_addr();

	ASSERT_NE(NULL, bad);
	self->cmd.nr = 2;
	self->ent[0].addr = (uintptr_t)bad;
	bb_entry(&self->ent[1], BLKBATCH_OP_WRITE, bad, self->len,
		 REGION_FAULT);
	EXPECT_EQ(0, submit_ok(_metadata, self));
	EXPECT_EQ(-EFAULT, self->st[0]);
	EXPECT_EQ(-EFAULT, self->st[1]);
}

TEST_F(validate, buffer_kernel_addr)
{
	self->ent[0].addr = BB_KERNEL_ADDR;
	EXPECT_EQ(0, submit_ok(_metadata, self));
	EXPECT_EQ(-EFAULT, self->st[0]);
}

/* A read must write its buffer. */
TEST_F(validate, buffer_read_only_for_read)
{
	void *ro = mmap(NULL, self->len, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	self->ent[0].addr = (uintptr_t)ro;
	EXPECT_EQ(0, submit_ok(_metadata, self));
	EXPECT_EQ(-EFAULT, self->st[0]);
	munmap(ro, self->len);
}

/* Only the last page is missing: pins of the others must be released. */
TEST_F(validate, buffer_tail_unmapped)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	size_t len = 16 * pg;
	char *map = bb_alloc(len);
	unsigned int i;

	ASSERT_NE(NULL, map);
	ASSERT_EQ(0, munmap(map + len - pg, pg));
	self->ent[0].addr = (uintptr_t)map;
	self->ent[0].len = len;
	/* repeated: leaked pins or bios would pile up */
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, submit_ok(_metadata, self));
		ASSERT_EQ(-EFAULT, self->st[0]);
	}
	munmap(map, len - pg);
}

/* One bad buffer among good entries: -EFAULT there, data elsewhere. */
TEST_F(validate, bad_buffer_mid_batch)
{
	unsigned int i, nr = 8, bad = 4;
	size_t all = nr * self->len;
	void *src = bb_alloc(all);

	ASSERT_NE(NULL, src);
	bb_fill(src, all, REGION_MID, 8);
	ASSERT_EQ(0, bb_disk_io(true, src, all, REGION_MID));
	memset(self->buf, 0xa5, all);
	for (i = 0; i < nr; i++)
		self->ent[i].offset = REGION_MID + i * self->len;
	self->ent[bad].addr = (uintptr_t)bb_unmapped_addr();
	self->cmd.nr = nr;
	EXPECT_EQ((int)nr - 1, submit_ok(_metadata, self));
	for (i = 0; i < nr; i++) {
		if (i == bad) {
			EXPECT_EQ(-EFAULT, self->st[i]);
			continue;
		}
		EXPECT_EQ((__s32)self->len, self->st[i]) TH_LOG("entry %u", i);
		EXPECT_EQ(-1, bb_check(self->buf + i * self->len, self->len,
				       self->ent[i].offset, 8))
			TH_LOG("entry %u data", i);
	}
	bb_free(src, all);
}

/* ABORT_ON_ERROR: what follows the bad entry is not issued. */
TEST_F(validate, abort_on_error)
{
	unsigned int i, nr = 8, bad = 4;

	if (!(self->ctx.info.features & BLKBATCH_F_ABORT))
		SKIP(return, "no BLKBATCH_F_ABORT");
	for (i = 0; i < nr; i++)
		self->ent[i].offset = REGION_ABORT + i * self->len;
	self->ent[bad].addr = (uintptr_t)bb_unmapped_addr();
	self->cmd.nr = nr;
	self->cmd.flags = BLKBATCH_CMD_F_ABORT_ON_ERROR;
	EXPECT_EQ((int)bad, submit_ok(_metadata, self));
	for (i = 0; i < nr; i++) {
		int want = i < bad ? (int)self->len :
			   i == bad ? -EFAULT : -ECANCELED;

		EXPECT_EQ(want, self->st[i]) TH_LOG("entry %u", i);
	}
}

TEST_HARNESS_MAIN
