// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch data path: GET_INFO, reads and writes of every size and shape
 * the protocol allows, with the data verified, and agreement with the
 * block device underneath.
 *
 * Every test that writes owns a region of the disk (REGION_*), so the
 * tests do not depend on each other's data or order.
 */
#include "blkbatch_test.h"

/* BB_RG_IO's regions: BB_REGION(2) .. BB_REGION(24). */
#define REGION_SINGLE		BB_REGION(2)
#define REGION_MIXED_R		BB_REGION(3)
#define REGION_MIXED_W		BB_REGION(4)
#define REGION_TO_DISK		BB_REGION(5)
#define REGION_FROM_DISK	BB_REGION(6)
#define REGION_LARGE		BB_REGION(8)	/* two regions: 32 MiB */
#define REGION_SYNC		BB_REGION(10)
#define REGION_NOSTATUS		BB_REGION(11)
#define REGION_REWRITE		BB_REGION(12)
#define REGION_INFLIGHT		BB_REGION(13)
#define REGION_VEC		BB_REGION(14)
#define REGION_FUA		BB_REGION(15)
#define REGION_BARRIER		BB_REGION(16)
#define REGION_ZEROES		BB_REGION(17)
#define REGION_IOPOLL		BB_REGION(18)
#define REGION_FIXED		BB_REGION(19)
#define REGION_UNALIGNED	BB_REGION(20)
#define REGION_SYNCIOC		BB_REGION(21)
#define REGION_SQPOLL		BB_REGION(22)
#define REGION_ASYNC		BB_REGION(23)
#define REGION_SHARED		BB_REGION(24)
/* The second half of the SQPOLL region. */
#define REGION_ISSUER		(REGION_SQPOLL + 8 * SZ_1M)
#define REGION_MIXED_SQ		(REGION_ASYNC + 8 * SZ_1M)
#define REGION_LARGE_MAX	(32U * SZ_1M)
/* Seconds for the tests that move tens of MiB on an emulated guest. */
#define SLOW_TIMEOUT		120

BB_ENV_FIXTURE(io, BB_RING_DEPTH, BLKBATCH_RING_CQE32);

static bool has(FIXTURE_DATA(io) * self, __u64 feature)
{
	return (self->env.ctx.info.features & feature) == feature;
}

/* Write @len bytes of pattern @seed at @off through blkbatch. */
static void bb_write_pattern(struct __test_metadata *_metadata,
			     FIXTURE_DATA(io) * self, __u64 off, size_t len,
			     __u64 seed)
{
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, off, seed);
	ASSERT_EQ((ssize_t)len, blkbatch_pwrite(&self->env.ring, self->env.ctx.fd,
						buf, len, off));
	bb_free(buf, len);
}

/* Read @len bytes at @off through blkbatch and check pattern @seed. */
static void bb_expect_pattern(struct __test_metadata *_metadata,
			      FIXTURE_DATA(io) * self, __u64 off, size_t len,
			      __u64 seed)
{
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	memset(buf, 0xa5, len);
	ASSERT_EQ((ssize_t)len, blkbatch_pread(&self->env.ring, self->env.ctx.fd,
					       buf, len, off));
	EXPECT_EQ(-1, bb_check(buf, len, off, seed));
	bb_free(buf, len);
}

TEST_F(io, info)
{
	struct blkbatch_info *info = &self->env.ctx.info, lib;
	__u64 size = 0;
	int lbs = 0, pbs = 0, disk;
	unsigned int i;

	disk = open(bb_disk(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, disk);
	ASSERT_EQ(0, ioctl(disk, BLKGETSIZE64, &size));
	ASSERT_EQ(0, ioctl(disk, BLKSSZGET, &lbs));
	ASSERT_EQ(0, ioctl(disk, BLKPBSZGET, &pbs));
	close(disk);

	EXPECT_EQ((__u32)BLKBATCH_VERSION, info->version);
	EXPECT_EQ(size, info->capacity);
	EXPECT_EQ((__u32)lbs, info->logical_block_size);
	EXPECT_EQ((__u32)pbs, info->physical_block_size);
	EXPECT_EQ(self->env.ctx.index, info->index);
	EXPECT_EQ(0U, info->attach_flags);
	EXPECT_TRUE(has(self, BLKBATCH_F_READ_WRITE));
	EXPECT_NE(0U, info->dma_alignment);
	EXPECT_EQ(0U, info->dma_alignment & (info->dma_alignment - 1));
	EXPECT_LE(1U, info->max_entries);
	EXPECT_LE(info->logical_block_size, info->max_entry_bytes);
	EXPECT_EQ(0U, info->max_entry_bytes % info->logical_block_size);
	EXPECT_LE(info->logical_block_size, info->max_hw_bytes);
	if (has(self, BLKBATCH_F_VEC))
		EXPECT_LE(1U, info->max_vecs);
	EXPECT_EQ(0U, info->rsvd0);
	for (i = 0; i < sizeof(info->rsvd) / sizeof(info->rsvd[0]); i++)
		EXPECT_EQ(0ULL, info->rsvd[i]);

	ASSERT_EQ(0, blkbatch_get_info(self->env.ctx.fd, &lib));
	EXPECT_EQ(0, memcmp(&lib, info, sizeof(lib)));
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_GET_INFO,
			    bb_unmapped_addr()));
	EXPECT_EQ(EFAULT, errno);
	TH_LOG("capacity %llu lbs %u dma %u max_entries %u max_hw %u features %#llx",
	       (unsigned long long)info->capacity, info->logical_block_size,
	       info->dma_alignment, info->max_entries, info->max_hw_bytes,
	       (unsigned long long)info->features);
}

TEST_F(io, single_write_read)
{
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	__s32 st[1];
	void *buf = bb_alloc(SZ_64K);

	ASSERT_NE(NULL, buf);
	blkbatch_batch_init(&b, ent, st, 1);
	bb_fill(buf, SZ_64K, REGION_SINGLE, 1);
	ASSERT_EQ(0, blkbatch_batch_add_write(&b, buf, SZ_64K, REGION_SINGLE,
					      0));
	EXPECT_EQ(-ENOSPC, blkbatch_batch_add_write(&b, buf, SZ_64K, 0, 0));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_64K, st[0]);

	memset(buf, 0xa5, SZ_64K);
	blkbatch_batch_reset(&b);
	ASSERT_EQ(0, blkbatch_batch_add_read(&b, buf, SZ_64K, REGION_SINGLE));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_64K, st[0]);
	EXPECT_EQ(-1, bb_check(buf, SZ_64K, REGION_SINGLE, 1));
	bb_free(buf, SZ_64K);
}

/* 4096 entries, reads and writes interleaved, every byte verified. */
TEST_F_TIMEOUT(io, batch_4096_mixed, SLOW_TIMEOUT)
{
	unsigned int nr = 4096, half, i;
	struct blkbatch_batch b;
	size_t blk = SZ_4K, half_len;
	void *rbuf, *wbuf, *chk;

	if (self->env.ctx.info.max_entries < nr)
		nr = self->env.ctx.info.max_entries & ~1U;
	ASSERT_LE(2U, nr);
	if (blk < self->env.lbs)
		blk = self->env.lbs;
	half = nr / 2;
	half_len = half * blk;
	ASSERT_LE(half_len, 16 * SZ_1M);
	rbuf = bb_alloc(half_len);
	wbuf = bb_alloc(half_len);
	chk = bb_alloc(half_len);
	ASSERT_NE(NULL, rbuf);
	ASSERT_NE(NULL, wbuf);
	ASSERT_NE(NULL, chk);

	/* the read half reads what the disk was given directly */
	bb_fill(chk, half_len, REGION_MIXED_R, 2);
	ASSERT_EQ(0, bb_disk_io(true, chk, half_len, REGION_MIXED_R));
	memset(rbuf, 0xa5, half_len);
	bb_fill(wbuf, half_len, REGION_MIXED_W, 3);

	ASSERT_EQ(0, blkbatch_batch_alloc(&b, nr));
	for (i = 0; i < half; i++) {
		/* reverse order for the reads: no accidental merging help */
		unsigned int r = half - 1 - i;

		ASSERT_EQ((int)(2 * i), blkbatch_batch_add_write(&b, wbuf + i * blk,
				blk, REGION_MIXED_W + i * blk, 0));
		ASSERT_EQ((int)(2 * i + 1), blkbatch_batch_add_read(&b,
				rbuf + r * blk, blk, REGION_MIXED_R + r * blk));
	}
	ASSERT_EQ((int)nr, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	for (i = 0; i < nr; i++)
		if (b.status[i] != (__s32)blk)
			break;
	EXPECT_EQ(nr, i) TH_LOG("status[%u] = %d", i, b.status[i]);
	EXPECT_EQ(-1, bb_check(rbuf, half_len, REGION_MIXED_R, 2));
	ASSERT_EQ(0, bb_disk_io(false, chk, half_len, REGION_MIXED_W));
	EXPECT_EQ(-1, bb_check(chk, half_len, REGION_MIXED_W, 3));

	blkbatch_batch_free(&b);
	bb_free(rbuf, half_len);
	bb_free(wbuf, half_len);
	bb_free(chk, half_len);
}

/* What blkbatch writes, the block device reads (O_DIRECT, no cache). */
TEST_F(io, write_then_disk_read)
{
	size_t len = SZ_1M;
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	bb_write_pattern(_metadata, self, REGION_TO_DISK, len, 4);
	memset(buf, 0xa5, len);
	ASSERT_EQ(0, bb_disk_io(false, buf, len, REGION_TO_DISK));
	EXPECT_EQ(-1, bb_check(buf, len, REGION_TO_DISK, 4));
	bb_free(buf, len);
}

/* What the block device writes, blkbatch reads. */
TEST_F(io, disk_write_then_read)
{
	size_t len = SZ_1M;
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, REGION_FROM_DISK, 5);
	ASSERT_EQ(0, bb_disk_io(true, buf, len, REGION_FROM_DISK));
	bb_expect_pattern(_metadata, self, REGION_FROM_DISK, len, 5);
	bb_free(buf, len);
}

/* An entry the device must split: one status, the full length, not short. */
TEST_F_TIMEOUT(io, entry_larger_than_max_hw, SLOW_TIMEOUT)
{
	__u32 hw = self->env.ctx.info.max_hw_bytes;
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	size_t len = 8 * SZ_1M;
	__s32 st[1];
	void *buf;

	if (len <= hw)
		len = 2 * (size_t)hw;
	if (len > self->env.ctx.info.max_entry_bytes)
		SKIP(return, "max_entry_bytes %u <= 2 * max_hw_bytes %u",
		     self->env.ctx.info.max_entry_bytes, hw);
	if (len > REGION_LARGE_MAX)
		SKIP(return, "max_hw_bytes %u: too large to test", hw);
	buf = bb_alloc(len);
	ASSERT_NE(NULL, buf);
	blkbatch_batch_init(&b, ent, st, 1);

	bb_fill(buf, len, REGION_LARGE, 6);
	ASSERT_EQ(0, blkbatch_batch_add_write(&b, buf, len, REGION_LARGE, 0));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)len, st[0]);

	memset(buf, 0xa5, len);
	blkbatch_batch_reset(&b);
	ASSERT_EQ(0, blkbatch_batch_add_read(&b, buf, len, REGION_LARGE));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)len, st[0]);
	EXPECT_EQ(-1, bb_check(buf, len, REGION_LARGE, 6));

	/* and the disk agrees */
	memset(buf, 0xa5, len);
	ASSERT_EQ(0, bb_disk_io(false, buf, len, REGION_LARGE));
	EXPECT_EQ(-1, bb_check(buf, len, REGION_LARGE, 6));
	bb_free(buf, len);
}

/* The library's one-off helpers, at the first and the last block too. */
TEST_F(io, sync_pread_pwrite)
{
	__u64 last = self->env.ctx.info.capacity - self->env.lbs;
	void *buf = bb_alloc(SZ_64K);

	ASSERT_NE(NULL, buf);
	bb_write_pattern(_metadata, self, REGION_SYNC, SZ_64K, 7);
	bb_expect_pattern(_metadata, self, REGION_SYNC, SZ_64K, 7);
	bb_write_pattern(_metadata, self, last, self->env.lbs, 8);
	bb_expect_pattern(_metadata, self, last, self->env.lbs, 8);

	/* errors come back as -errno */
	EXPECT_EQ(-ENOSPC, blkbatch_pread(&self->env.ring, self->env.ctx.fd, buf,
					  self->env.lbs,
					  self->env.ctx.info.capacity));
	EXPECT_EQ(-EINVAL, blkbatch_pread(&self->env.ring, self->env.ctx.fd, buf,
					  self->env.lbs + 1, 0));
	bb_free(buf, SZ_64K);
}

/* status == 0: only the CQE count comes back. */
TEST_F(io, no_status_array)
{
	struct blkbatch_entry ent[8];
	struct blkbatch_batch b;
	void *buf = bb_alloc(8 * SZ_4K);
	unsigned int i;

	ASSERT_NE(NULL, buf);
	blkbatch_batch_init(&b, ent, NULL, 8);
	bb_fill(buf, 8 * SZ_4K, REGION_NOSTATUS, 9);
	for (i = 0; i < 8; i++)
		ASSERT_LE(0, blkbatch_batch_add_write(&b, buf + i * SZ_4K,
				SZ_4K, REGION_NOSTATUS + i * SZ_4K, 0));
	EXPECT_EQ(8, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	bb_expect_pattern(_metadata, self, REGION_NOSTATUS, 8 * SZ_4K, 9);
	bb_free(buf, 8 * SZ_4K);
}

/* The kernel copied the entries at submit: rewriting them changes nothing. */
TEST_F(io, entries_rewritten_after_submit)
{
	unsigned int i, nr = 64;
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	size_t len = nr * SZ_4K;
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, nr));
	bb_fill(buf, len, REGION_REWRITE, 10);
	for (i = 0; i < nr; i++)
		ASSERT_LE(0, blkbatch_batch_add_write(&b, buf + i * SZ_4K,
				SZ_4K, REGION_REWRITE + i * SZ_4K, 0));
	ASSERT_EQ(0, blkbatch_submit(&self->env.ring, self->env.ctx.fd, &b, 42));
	/* garbage that would fail validation if it were read now */
	memset(b.entries, 0xff, nr * sizeof(*b.entries));
	ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
	EXPECT_EQ(42ULL, cqe.user_data);
	EXPECT_EQ((int)nr, cqe.res);
	EXPECT_EQ((__s32)SZ_4K, b.status[nr - 1]);
	bb_expect_pattern(_metadata, self, REGION_REWRITE, len, 10);
	blkbatch_batch_free(&b);
	bb_free(buf, len);
}

/* Several batches in flight on one ring: one CQE each, none mixed up. */
TEST_F_TIMEOUT(io, batches_in_flight, SLOW_TIMEOUT)
{
	enum { NB = 8, PER = 16 };
	struct blkbatch_batch b[NB];
	struct blkbatch_cqe cqe;
	unsigned int i, j, seen = 0;
	size_t len = (size_t)NB * PER * SZ_4K;
	void *buf = bb_alloc(len);

	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, REGION_INFLIGHT, 11);
	ASSERT_EQ(0, bb_disk_io(true, buf, len, REGION_INFLIGHT));
	memset(buf, 0xa5, len);
	for (i = 0; i < NB; i++) {
		ASSERT_EQ(0, blkbatch_batch_alloc(&b[i], PER));
		for (j = 0; j < PER; j++) {
			size_t o = ((size_t)i * PER + j) * SZ_4K;

			ASSERT_LE(0, blkbatch_batch_add_read(&b[i], buf + o,
					SZ_4K, REGION_INFLIGHT + o));
		}
		ASSERT_EQ(0, blkbatch_submit(&self->env.ring, self->env.ctx.fd, &b[i],
					     100 + i));
	}
	for (i = 0; i < NB; i++) {
		ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
		ASSERT_LE(100ULL, cqe.user_data);
		ASSERT_GT(100ULL + NB, cqe.user_data);
		j = cqe.user_data - 100;
		EXPECT_EQ(0U, seen & (1U << j)) TH_LOG("batch %u twice", j);
		seen |= 1U << j;
		EXPECT_EQ(PER, cqe.res);
	}
	EXPECT_EQ(-EAGAIN, blkbatch_peek(&self->env.ring, &cqe));
	EXPECT_EQ(-1, bb_check(buf, len, REGION_INFLIGHT, 11));
	for (i = 0; i < NB; i++)
		blkbatch_batch_free(&b[i]);
	bb_free(buf, len);
}

/* Buffers need dma_alignment only, not page alignment: cross pages. */
TEST_F(io, buffer_not_page_aligned)
{
	__u32 align = self->env.ctx.info.dma_alignment;
	size_t len = 4 * SZ_4K;
	char *map, *buf;

	if (align >= SZ_4K)
		SKIP(return, "dma_alignment %u", align);
	map = bb_alloc(len + SZ_4K);
	ASSERT_NE(NULL, map);
	buf = map + align * 3;
	if ((uintptr_t)buf % SZ_4K == 0)
		buf += align;
	bb_fill(buf, len, REGION_UNALIGNED, 12);
	ASSERT_EQ((ssize_t)len, blkbatch_pwrite(&self->env.ring, self->env.ctx.fd,
						buf, len, REGION_UNALIGNED));
	memset(map, 0xa5, len + SZ_4K);
	buf = map + align;
	ASSERT_EQ((ssize_t)len, blkbatch_pread(&self->env.ring, self->env.ctx.fd,
					       buf, len, REGION_UNALIGNED));
	EXPECT_EQ(-1, bb_check(buf, len, REGION_UNALIGNED, 12));
	/* nothing written around the buffer */
	EXPECT_TRUE(bb_all_bytes(map, align, 0xa5));
	EXPECT_TRUE(bb_all_bytes(buf + len, SZ_4K - align, 0xa5));
	bb_free(map, len + SZ_4K);
}

/* --- optional features: each skips unless info.features has it ----- */

TEST_F(io, sync_ioctl_submit)
{
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	struct blkbatch_cmd cmd = { };
	__s32 st[4];
	void *buf = bb_alloc(4 * SZ_4K);
	unsigned int i;

	if (!has(self, BLKBATCH_F_SYNC))
		SKIP(return, "no BLKBATCH_F_SYNC");
	ASSERT_NE(NULL, buf);
	blkbatch_batch_init(&b, ent, st, 4);
	bb_fill(buf, 4 * SZ_4K, REGION_SYNCIOC, 13);
	for (i = 0; i < 4; i++)
		ASSERT_LE(0, blkbatch_batch_add_write(&b, buf + i * SZ_4K,
				SZ_4K, REGION_SYNCIOC + i * SZ_4K, 0));
	EXPECT_EQ(4, blkbatch_run_sync(self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_4K, st[3]);
	bb_expect_pattern(_metadata, self, REGION_SYNCIOC, 4 * SZ_4K, 13);
	/* the same validation as the io_uring path */
	cmd.entries = (uintptr_t)ent;
	EXPECT_EQ(-1, ioctl(self->env.ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_EQ(EINVAL, errno);
	bb_free(buf, 4 * SZ_4K);
}

TEST_F(io, vectored)
{
	struct iovec wv[4], rv[3];
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	size_t len = 4 * SZ_4K;
	char *wbuf, *rbuf;
	__s32 st[1];

	if (!has(self, BLKBATCH_F_VEC))
		SKIP(return, "no BLKBATCH_F_VEC");
	ASSERT_LE(4U, self->env.ctx.info.max_vecs);
	wbuf = bb_alloc(len);
	rbuf = bb_alloc(len);
	ASSERT_NE(NULL, wbuf);
	ASSERT_NE(NULL, rbuf);
	blkbatch_batch_init(&b, ent, st, 1);

	/* written from four pieces out of order; the disk sees them in order */
	bb_fill(wbuf, len, REGION_VEC, 14);
	wv[0] = (struct iovec){ wbuf + 3 * SZ_4K, SZ_4K };
	wv[1] = (struct iovec){ wbuf + 2 * SZ_4K, SZ_4K };
	wv[2] = (struct iovec){ wbuf + SZ_4K, SZ_4K };
	wv[3] = (struct iovec){ wbuf, SZ_4K };
	ASSERT_EQ(0, blkbatch_batch_add_writev(&b, wv, 4, REGION_VEC, 0));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)len, st[0]);
	ASSERT_EQ(0, bb_disk_io(false, rbuf, len, REGION_VEC));
	EXPECT_EQ(-1, bb_check(rbuf + 3 * SZ_4K, SZ_4K, REGION_VEC, 14));
	EXPECT_EQ(-1, bb_check(rbuf, SZ_4K, REGION_VEC + 3 * SZ_4K, 14));

	/* read back into three pieces of other sizes */
	bb_fill(wbuf, len, REGION_VEC, 114);
	ASSERT_EQ(0, bb_disk_io(true, wbuf, len, REGION_VEC));
	memset(rbuf, 0xa5, len);
	rv[0] = (struct iovec){ rbuf, 2 * SZ_4K };
	rv[1] = (struct iovec){ rbuf + 2 * SZ_4K, SZ_4K };
	rv[2] = (struct iovec){ rbuf + 3 * SZ_4K, SZ_4K };
	blkbatch_batch_reset(&b);
	ASSERT_EQ(0, blkbatch_batch_add_readv(&b, rv, 3, REGION_VEC));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)len, st[0]);
	EXPECT_EQ(-1, bb_check(rbuf, len, REGION_VEC, 114));
	bb_free(wbuf, len);
	bb_free(rbuf, len);
}

/* len must be the sum of the iovec lengths; where it is caught is open. */
TEST_F(io, vectored_len_mismatch)
{
	struct iovec iov = { NULL, SZ_4K };
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	__s32 st[1] = { 0 };
	int res;

	if (!has(self, BLKBATCH_F_VEC))
		SKIP(return, "no BLKBATCH_F_VEC");
	iov.iov_base = bb_alloc(2 * SZ_4K);
	ASSERT_NE(NULL, iov.iov_base);
	blkbatch_batch_init(&b, ent, st, 1);
	ASSERT_LE(0, blkbatch_batch_add_readv(&b, &iov, 1, REGION_VEC));
	ent[0].len = 2 * SZ_4K;
	res = blkbatch_run(&self->env.ring, self->env.ctx.fd, &b);
	EXPECT_TRUE(res == -EINVAL || (res == 0 && st[0] == -EINVAL))
		TH_LOG("res %d status %d", res, st[0]);
	bb_free(iov.iov_base, 2 * SZ_4K);
}

TEST_F(io, fua_write)
{
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	__s32 st[1];
	void *buf = bb_alloc(SZ_64K);

	if (!has(self, BLKBATCH_F_FUA))
		SKIP(return, "no BLKBATCH_F_FUA");
	ASSERT_NE(NULL, buf);
	bb_fill(buf, SZ_64K, REGION_FUA, 15);
	blkbatch_batch_init(&b, ent, st, 1);
	ASSERT_EQ(0, blkbatch_batch_add_write(&b, buf, SZ_64K, REGION_FUA,
					      BLKBATCH_EF_FUA));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_64K, st[0]);
	bb_expect_pattern(_metadata, self, REGION_FUA, SZ_64K, 15);
	bb_free(buf, SZ_64K);
}

TEST_F(io, flush)
{
	struct blkbatch_entry ent[2];
	struct blkbatch_batch b;
	__s32 st[2];
	void *buf = bb_alloc(SZ_64K);

	if (!has(self, BLKBATCH_F_FLUSH))
		SKIP(return, "no BLKBATCH_F_FLUSH");
	ASSERT_NE(NULL, buf);
	bb_fill(buf, SZ_64K, REGION_FUA + SZ_1M, 16);
	blkbatch_batch_init(&b, ent, st, 2);
	ASSERT_EQ(0, blkbatch_batch_add_write(&b, buf, SZ_64K,
					      REGION_FUA + SZ_1M, 0));
	ASSERT_EQ(1, blkbatch_batch_add_flush(&b));
	ASSERT_EQ(2, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_64K, st[0]);
	EXPECT_EQ(0, st[1]);
	bb_free(buf, SZ_64K);
}

/* A read after a barrier sees the write before it, every time. */
TEST_F(io, barrier_orders)
{
	struct blkbatch_entry ent[3];
	struct blkbatch_batch b;
	__s32 st[3];
	size_t len = SZ_1M;
	void *wbuf = bb_alloc(len), *rbuf = bb_alloc(len);
	unsigned int i;

	if (!has(self, BLKBATCH_F_BARRIER))
		SKIP(return, "no BLKBATCH_F_BARRIER");
	ASSERT_NE(NULL, wbuf);
	ASSERT_NE(NULL, rbuf);
	blkbatch_batch_init(&b, ent, st, 3);
	for (i = 0; i < 16; i++) {
		bb_fill(wbuf, len, REGION_BARRIER, 100 + i);
		memset(rbuf, 0xa5, len);
		blkbatch_batch_reset(&b);
		ASSERT_EQ(0, blkbatch_batch_add_write(&b, wbuf, len,
						      REGION_BARRIER, 0));
		ASSERT_EQ(1, blkbatch_batch_add_barrier(&b));
		ASSERT_EQ(2, blkbatch_batch_add_read(&b, rbuf, len,
						     REGION_BARRIER));
		ASSERT_EQ(3, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
		EXPECT_EQ(0, st[1]);
		ASSERT_EQ(-1, bb_check(rbuf, len, REGION_BARRIER, 100 + i))
			TH_LOG("round %u", i);
	}
	bb_free(wbuf, len);
	bb_free(rbuf, len);
}

TEST_F(io, write_zeroes)
{
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	size_t len = SZ_1M;
	void *buf = bb_alloc(len);
	__s32 st[1];

	if (!has(self, BLKBATCH_F_WRITE_ZEROES))
		SKIP(return, "no BLKBATCH_F_WRITE_ZEROES");
	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, REGION_ZEROES, 17);
	ASSERT_EQ(0, bb_disk_io(true, buf, len, REGION_ZEROES));
	blkbatch_batch_init(&b, ent, st, 1);
	ASSERT_EQ(0, blkbatch_batch_add_write_zeroes(&b, REGION_ZEROES, len));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ(0, st[0]);
	memset(buf, 0xa5, len);
	ASSERT_EQ((ssize_t)len, blkbatch_pread(&self->env.ring, self->env.ctx.fd,
					       buf, len, REGION_ZEROES));
	EXPECT_TRUE(bb_all_bytes(buf, len, 0));
	bb_free(buf, len);
}

/* Discarded data is undefined; only the status is. */
TEST_F(io, discard)
{
	struct blkbatch_entry ent[1];
	struct blkbatch_batch b;
	__u32 len = SZ_1M;
	__s32 st[1];

	if (!has(self, BLKBATCH_F_DISCARD))
		SKIP(return, "no BLKBATCH_F_DISCARD");
	if (self->env.ctx.info.max_discard_bytes &&
	    len > self->env.ctx.info.max_discard_bytes)
		len = self->env.ctx.info.max_discard_bytes &
		      ~(self->env.lbs - 1);
	blkbatch_batch_init(&b, ent, st, 1);
	ASSERT_EQ(0, blkbatch_batch_add_discard(&b, REGION_ZEROES + 4 * SZ_1M,
						len));
	ASSERT_EQ(1, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ(0, st[0]);
}

TEST_F(io, iopoll_ring)
{
	struct blkbatch_ring pr;
	void *buf = bb_alloc(SZ_64K);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, blkbatch_ring_init(&pr, BB_RING_DEPTH,
					BLKBATCH_RING_IOPOLL));
	if (!has(self, BLKBATCH_F_IOPOLL)) {
		/* a clean refusal, never a hang or a half-done batch */
		EXPECT_EQ(-EOPNOTSUPP, blkbatch_pread(&pr, self->env.ctx.fd, buf,
						      SZ_64K, REGION_IOPOLL));
		blkbatch_ring_exit(&pr);
		bb_free(buf, SZ_64K);
		return;
	}
	bb_fill(buf, SZ_64K, REGION_IOPOLL, 18);
	EXPECT_EQ(SZ_64K, blkbatch_pwrite(&pr, self->env.ctx.fd, buf, SZ_64K,
					  REGION_IOPOLL));
	memset(buf, 0xa5, SZ_64K);
	EXPECT_EQ(SZ_64K, blkbatch_pread(&pr, self->env.ctx.fd, buf, SZ_64K,
					 REGION_IOPOLL));
	EXPECT_EQ(-1, bb_check(buf, SZ_64K, REGION_IOPOLL, 18));
	blkbatch_ring_exit(&pr);
	bb_free(buf, SZ_64K);
}

/* Entries inside a registered buffer; one outside it must fail. */
TEST_F(io, fixed_buffer)
{
	struct io_uring *ring = &self->env.ring.ring;
	struct blkbatch_entry ent[4];
	struct blkbatch_batch b;
	struct io_uring_sqe *sqe;
	size_t len = 4 * SZ_64K;
	struct iovec iov;
	struct bb_res r;
	void *outside;
	__s32 st[4];
	unsigned int i;

	iov.iov_base = bb_alloc(len);
	iov.iov_len = len;
	outside = bb_alloc(SZ_64K);
	ASSERT_NE(NULL, iov.iov_base);
	ASSERT_NE(NULL, outside);
	ASSERT_EQ(0, io_uring_register_buffers(ring, &iov, 1));
	if (!has(self, BLKBATCH_F_FIXED)) {
		blkbatch_batch_init(&b, ent, st, 4);
		ASSERT_LE(0, blkbatch_batch_add_read(&b, iov.iov_base, SZ_64K,
						     REGION_FIXED));
		sqe = io_uring_get_sqe(ring);
		ASSERT_NE(NULL, sqe);
		blkbatch_prep_submit_fixed(sqe, self->env.ctx.fd, &b, 0);
		ASSERT_EQ(0, bb_submit_reap(ring, &r));
		EXPECT_EQ(-EOPNOTSUPP, r.res);
		io_uring_unregister_buffers(ring);
		bb_free(iov.iov_base, len);
		bb_free(outside, SZ_64K);
		return;
	}

	bb_fill(iov.iov_base, len, REGION_FIXED, 19);
	blkbatch_batch_init(&b, ent, st, 4);
	for (i = 0; i < 4; i++)
		ASSERT_LE(0, blkbatch_batch_add_write(&b,
				iov.iov_base + i * SZ_64K, SZ_64K,
				REGION_FIXED + i * SZ_64K, 0));
	sqe = io_uring_get_sqe(ring);
	ASSERT_NE(NULL, sqe);
	blkbatch_prep_submit_fixed(sqe, self->env.ctx.fd, &b, 0);
	ASSERT_EQ(0, bb_submit_reap(ring, &r));
	EXPECT_EQ(4, r.res);
	bb_expect_pattern(_metadata, self, REGION_FIXED, len, 19);

	blkbatch_batch_reset(&b);
	ASSERT_LE(0, blkbatch_batch_add_read(&b, outside, SZ_64K,
					     REGION_FIXED));
	st[0] = 0;
	sqe = io_uring_get_sqe(ring);
	ASSERT_NE(NULL, sqe);
	blkbatch_prep_submit_fixed(sqe, self->env.ctx.fd, &b, 0);
	ASSERT_EQ(0, bb_submit_reap(ring, &r));
	EXPECT_TRUE(r.res < 0 || (r.res == 0 && st[0] < 0))
		TH_LOG("res %d status %d", r.res, st[0]);

	io_uring_unregister_buffers(ring);
	bb_free(iov.iov_base, len);
	bb_free(outside, SZ_64K);
}

/*
 * Write then read back NR_RING_ENTRIES x 4 KiB at @off in two batches on
 * ring @r, each SQE with @sqe_flags: other ring kinds, same results.
 */
#define NR_RING_ENTRIES	32U

static void rw_on_ring(struct __test_metadata *_metadata,
		       FIXTURE_DATA(io) * self, struct blkbatch_ring *r,
		       __u8 sqe_flags, __u64 off, __u64 seed)
{
	size_t len = NR_RING_ENTRIES * SZ_4K;
	struct blkbatch_entry ent[NR_RING_ENTRIES];
	__s32 st[NR_RING_ENTRIES];
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	struct io_uring_sqe *sqe;
	void *buf = bb_alloc(len);
	unsigned int i, pass;

	ASSERT_NE(NULL, buf);
	bb_fill(buf, len, off, seed);
	for (pass = 0; pass < 2; pass++) {
		blkbatch_batch_init(&b, ent, st, NR_RING_ENTRIES);
		for (i = 0; i < NR_RING_ENTRIES; i++) {
			if (pass)
				blkbatch_batch_add_read(&b, buf + i * SZ_4K,
							SZ_4K, off + i * SZ_4K);
			else
				blkbatch_batch_add_write(&b, buf + i * SZ_4K,
							 SZ_4K,
							 off + i * SZ_4K, 0);
		}
		if (pass)
			memset(buf, 0xa5, len);
		/* A 64-byte SQE of our own ahead: batches move round the SQ. */
		if (r->flags & BLKBATCH_RING_SQE_MIXED) {
			sqe = io_uring_get_sqe(&r->ring);
			ASSERT_NE(NULL, sqe);
			io_uring_prep_nop(sqe);
			sqe->user_data = 5;
		}
		sqe = blkbatch_queue(r, self->env.ctx.fd, &b, 77 + pass);
		ASSERT_NE(NULL, sqe);
		sqe->flags |= sqe_flags;
		ASSERT_LE(0, io_uring_submit(&r->ring));
		ASSERT_EQ(0, blkbatch_wait(r, &cqe));
		if (cqe.user_data == 5) {
			EXPECT_EQ(0, cqe.res);
			ASSERT_EQ(0, blkbatch_wait(r, &cqe));
		}
		EXPECT_EQ(77U + pass, cqe.user_data);
		EXPECT_EQ((int)NR_RING_ENTRIES, cqe.res);
		for (i = 0; i < NR_RING_ENTRIES; i++)
			EXPECT_EQ((__s32)SZ_4K, st[i]);
	}
	EXPECT_EQ(-1, bb_check(buf, len, off, seed));
	bb_free(buf, len);
}

/* The SQ thread submits; it is also where the completion work runs. */
TEST_F(io, sqpoll_ring)
{
	struct blkbatch_ring r;

	ASSERT_EQ(0, blkbatch_ring_init(&r, BB_RING_DEPTH,
					BLKBATCH_RING_SQPOLL));
	rw_on_ring(_metadata, self, &r, 0, REGION_SQPOLL, 22);
	blkbatch_ring_exit(&r);
	bb_expect_pattern(_metadata, self, REGION_SQPOLL,
			  NR_RING_ENTRIES * SZ_4K, 22);
}

/*
 * A ring of 64-byte SQEs with batches as 128-byte IORING_OP_URING_CMD128
 * (6.19 and later), plain and under SQPOLL; three rounds on a 4-slot SQ
 * put a batch at the last slot, where the library pads.  Before: the
 * kernel refuses the ring and the module does not claim the feature.
 */
TEST_F(io, sqe_mixed_ring)
{
	static const unsigned int kinds[] = { 0, BLKBATCH_RING_SQPOLL };
	struct blkbatch_ring r;
	unsigned int k, round;
	int ret;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		ret = blkbatch_ring_init(&r, 4,
					 kinds[k] | BLKBATCH_RING_SQE_MIXED);
		if (!has(self, BLKBATCH_F_SQE_MIXED)) {
			EXPECT_EQ(-EOPNOTSUPP, ret);
			continue;
		}
		ASSERT_EQ(0, ret);
		for (round = 0; round < 3; round++)
			rw_on_ring(_metadata, self, &r, 0,
				   REGION_MIXED_SQ + k * SZ_1M, 30 + k + round);
		blkbatch_ring_exit(&r);
		bb_expect_pattern(_metadata, self, REGION_MIXED_SQ + k * SZ_1M,
				  NR_RING_ENTRIES * SZ_4K, 30 + k + 2);
	}
}

/*
 * A ring only its creator uses: completions are deferred task work,
 * posted when the thread waits, and found by peeking too.
 */
TEST_F(io, single_issuer_ring)
{
	struct blkbatch_entry e;
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	struct blkbatch_ring r;
	void *buf = bb_alloc(SZ_4K);
	__s32 st = 0;
	int ret, spins;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, blkbatch_ring_init(&r, BB_RING_DEPTH,
					BLKBATCH_RING_SINGLE_ISSUER));
	rw_on_ring(_metadata, self, &r, 0, REGION_ISSUER, 25);
	blkbatch_batch_init(&b, &e, &st, 1);
	blkbatch_batch_add_read(&b, buf, SZ_4K, REGION_ISSUER);
	ASSERT_EQ(0, blkbatch_submit(&r, self->env.ctx.fd, &b, 5));
	for (spins = 0; spins < 100000; spins++) {
		ret = blkbatch_peek(&r, &cqe);
		if (ret != -EAGAIN)
			break;
		bb_sleep_ms(1);
	}
	ASSERT_EQ(0, ret);
	EXPECT_EQ(5U, cqe.user_data);
	EXPECT_EQ(1, cqe.res);
	EXPECT_EQ((__s32)SZ_4K, st);
	EXPECT_EQ(-1, bb_check(buf, SZ_4K, REGION_ISSUER, 25));
	blkbatch_ring_exit(&r);
	bb_free(buf, SZ_4K);
	bb_expect_pattern(_metadata, self, REGION_ISSUER,
			  NR_RING_ENTRIES * SZ_4K, 25);
}

/* Issued from an io-wq worker instead of the submitting task. */
TEST_F(io, iosqe_async)
{
	rw_on_ring(_metadata, self, &self->env.ring, IOSQE_ASYNC, REGION_ASYNC,
		   23);
	bb_expect_pattern(_metadata, self, REGION_ASYNC,
			  NR_RING_ENTRIES * SZ_4K, 23);
}

/*
 * Reads into a shared file mapping: the pages must end up dirty in the
 * page cache (the module dirties them, as direct I/O does), so the file
 * holds the data after munmap.
 */
TEST_F(io, read_into_shared_mapping)
{
	char path[] = "/dev/shm/blkbatch-io-XXXXXX";
	size_t len = 16 * SZ_4K;
	void *map, *back;
	int fd;

	bb_write_pattern(_metadata, self, REGION_SHARED, len, 24);
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ((ssize_t)len, blkbatch_pread(&self->env.ring, self->env.ctx.fd, map,
					       len, REGION_SHARED));
	ASSERT_EQ(0, munmap(map, len));
	back = bb_alloc(len);
	ASSERT_NE(NULL, back);
	ASSERT_EQ((ssize_t)len, pread(fd, back, len, 0));
	EXPECT_EQ(-1, bb_check(back, len, REGION_SHARED, 24));
	bb_free(back, len);
	close(fd);
}

TEST_HARNESS_MAIN
