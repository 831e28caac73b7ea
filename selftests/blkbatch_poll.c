// SPDX-License-Identifier: GPL-2.0
/*
 * Completion modes: IOPOLL rings (polled bios on a device with poll
 * queues, the interrupt fallback on one without, entries that cannot be
 * polled, retries when a polled bio would have to wait), SQPOLL rings with
 * and without IOPOLL, a task killed with polled batches in flight, and the
 * library's per-thread rings.
 *
 * The "poll" fixture runs on BLKBATCH_DISK (the NVMe drive, loaded with
 * poll queues by run-vm.sh), each test once with an interrupt ring and
 * once with an IOPOLL one (its variants): the results must be the same,
 * only the path differs.  "pnullb" runs on a null_blk disk made per test.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "blkbatch_test.h"

/* BB_RG_POLL's regions: BB_REGION(32) .. BB_REGION(38). */
#define REGION_RAND		BB_REGION(32)	/* 16 MiB of random 4K slots */
#define REGION_FIXED		BB_REGION(33)
#define REGION_MIXED		BB_REGION(34)
#define REGION_COMMIT		BB_REGION(35)
#define REGION_MANY		BB_REGION(36)
#define REGION_SQPOLL		BB_REGION(37)
#define REGION_THREADS		BB_REGION(38)	/* one MiB per thread */
#define NR_RAND			512
#define NR_MANY_BATCHES		32
#define NR_MANY_ENTRIES		64
#define NR_THREADS		4

/* Random distinct 4 KiB slots of a 16 MiB region (4096 slots). */
static void random_slots(__u64 *off, unsigned int n, __u64 base,
			 unsigned int seed)
{
	static bool used[4096];
	unsigned int i, s;

	memset(used, 0, sizeof(used));
	srand(seed);
	for (i = 0; i < n; i++) {
		do
			s = (unsigned int)rand() % 4096;
		while (used[s]);
		used[s] = true;
		off[i] = base + (__u64)s * SZ_4K;
	}
}

/*
 * Write @n 4 KiB entries at @off from @buf (pattern @seed), then read them
 * back into a poisoned @buf and check (the data too if @data): in one
 * batch each, on @r.  Returns the number of bad entries, or -errno.
 */
static int rw_check(struct blkbatch_ring *r, int fd, void *buf,
		    const __u64 *off, unsigned int n, __u64 seed, bool fixed,
		    bool data)
{
	struct blkbatch_batch b;
	struct blkbatch_cqe cqe;
	unsigned int i, pass;
	int ret, bad = 0;

	ret = blkbatch_batch_alloc(&b, n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		bb_fill(buf + i * SZ_4K, SZ_4K, off[i], seed);
	for (pass = 0; pass < 2 && !bad; pass++) {
		blkbatch_batch_reset(&b);
		for (i = 0; i < n; i++) {
			if (pass)
				blkbatch_batch_add_read(&b, buf + i * SZ_4K,
							SZ_4K, off[i]);
			else
				blkbatch_batch_add_write(&b, buf + i * SZ_4K,
							 SZ_4K, off[i], 0);
		}
		if (pass)
			memset(buf, 0xa5, (size_t)n * SZ_4K);
		if (fixed) {
			ret = blkbatch_submit_fixed(r, fd, &b, 0, 1);
			if (!ret)
				ret = blkbatch_wait(r, &cqe);
			if (!ret)
				ret = cqe.res;
		} else {
			ret = blkbatch_run(r, fd, &b);
		}
		if (ret < 0)
			break;
		bad += n - ret;
		for (i = 0; i < n; i++)
			if (b.status[i] != (__s32)SZ_4K) {
				fprintf(stderr, "# pass %u entry %u: %d\n",
					pass, i, b.status[i]);
				break;
			}
	}
	for (i = 0; data && ret >= 0 && !bad && i < n; i++)
		if (bb_check(buf + i * SZ_4K, SZ_4K, off[i], seed) != -1)
			bad++;
	blkbatch_batch_free(&b);
	return ret < 0 ? ret : bad;
}

static int rw_verify(struct blkbatch_ring *r, int fd, void *buf,
		     const __u64 *off, unsigned int n, __u64 seed, bool fixed)
{
	return rw_check(r, fd, buf, off, n, seed, fixed, true);
}

static long polled_bios(void)
{
	return bb_debugfs_read(BB_DEBUGFS_POLLED);
}

static long retried_entries(void)
{
	return bb_debugfs_read(BB_DEBUGFS_RETRIED);
}

FIXTURE(poll) {
	struct bb_env env;	/* ring: the variant's mode, CQE32 */
	void *buf;
	size_t len;
};

/* The completion mode of every ring a test makes: 0 or IOPOLL. */
FIXTURE_VARIANT(poll) {
	unsigned int mode;
};

FIXTURE_VARIANT_ADD(poll, irq) {
	.mode = 0,
};

FIXTURE_VARIANT_ADD(poll, iopoll) {
	.mode = BLKBATCH_RING_IOPOLL,
};

FIXTURE_SETUP(poll)
{
	bb_env_init(&self->env);
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	ASSERT_EQ(0, bb_env_setup(&self->env, 64,
				  variant->mode | BLKBATCH_RING_CQE32));
	ASSERT_NE(0, !!(self->env.ctx.info.features & BLKBATCH_F_IOPOLL));
	self->len = (size_t)NR_MANY_BATCHES * NR_MANY_ENTRIES * SZ_4K;
	self->buf = bb_alloc(self->len);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(poll)
{
	bb_free(self->buf, self->len);
	EXPECT_EQ(0, bb_env_teardown(&self->env));
}

/*
 * The bios really are polled where the ring and the disk poll, and only
 * there: debugfs says so.
 */
TEST_F(poll, random_rw_verify)
{
	__u64 off[NR_RAND];
	long before = polled_bios();

	random_slots(off, NR_RAND, REGION_RAND, 1);
	EXPECT_EQ(0, rw_verify(&self->env.ring, self->env.ctx.fd, self->buf, off,
			       NR_RAND, 11, false));
	if (before < 0)
		return;
	if (!variant->mode) {
		EXPECT_EQ(0, polled_bios() - before);
	} else if (bb_disk_polls(bb_disk())) {
		EXPECT_EQ(2 * NR_RAND, polled_bios() - before);
	} else {
		TH_LOG("%s has no poll queues: completed by interrupt",
		       bb_disk());
	}
}

TEST_F(poll, fixed_buffer_and_file)
{
	__u64 off[NR_RAND];

	ASSERT_EQ(0, blkbatch_ring_register_file(&self->env.ring, self->env.ctx.fd));
	EXPECT_EQ(-EBUSY, blkbatch_ring_register_file(&self->env.ring,
						      self->env.ctx.fd));
	ASSERT_EQ(0, blkbatch_ring_register_buffer(&self->env.ring, self->buf,
						   (size_t)NR_RAND * SZ_4K));
	random_slots(off, NR_RAND, REGION_FIXED, 2);
	EXPECT_EQ(0, rw_verify(&self->env.ring, self->env.ctx.fd, self->buf, off,
			       NR_RAND, 12, true));
}

/*
 * Entries that are not polled on an IOPOLL ring: larger than one request,
 * vectored, unaligned buffers; with small ones in between, all in one
 * batch.  Everything completes and lands where it should.
 */
TEST_F(poll, mixed_entries)
{
	static const __u32 lens[] = { SZ_4K, 128 << 10, 2 * SZ_1M, SZ_4K,
				      SZ_1M + SZ_4K };
	struct blkbatch_entry ent[ARRAY_SIZE(lens) + 1];
	__s32 st[ARRAY_SIZE(lens) + 1];
	struct blkbatch_batch b;
	struct iovec iov[3];
	size_t total = 0, i;
	__u64 off = REGION_MIXED;
	void *buf = self->buf;

	for (i = 0; i < ARRAY_SIZE(lens); i++)
		total += lens[i];
	ASSERT_LE(total + 3 * SZ_4K, self->len);
	bb_fill(buf, total + 3 * SZ_4K, off, 21);
	blkbatch_batch_init(&b, ent, st, ARRAY_SIZE(ent));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		blkbatch_batch_add_write(&b, buf, lens[i], off, 0);
		buf += lens[i];
		off += lens[i];
	}
	/* three 4 KiB pieces, out of order in memory */
	iov[0] = (struct iovec){ buf + 2 * SZ_4K, SZ_4K };
	iov[1] = (struct iovec){ buf + SZ_4K, SZ_4K };
	iov[2] = (struct iovec){ buf, SZ_4K };
	blkbatch_batch_add_writev(&b, iov, 3, off, 0);
	EXPECT_EQ((int)ARRAY_SIZE(ent), blkbatch_run(&self->env.ring, self->env.ctx.fd,
						     &b));
	for (i = 0; i < ARRAY_SIZE(lens); i++)
		EXPECT_EQ((__s32)lens[i], st[i]) TH_LOG("entry %zu", i);
	EXPECT_EQ((__s32)(3 * SZ_4K), st[ARRAY_SIZE(lens)]);

	memset(self->buf, 0, total + 3 * SZ_4K);
	ASSERT_EQ(0, bb_disk_io(false, self->buf, total, REGION_MIXED));
	EXPECT_EQ(-1, bb_check(self->buf, total, REGION_MIXED, 21));
	ASSERT_EQ(0, bb_disk_io(false, self->buf, 3 * SZ_4K, off));
	buf = self->buf;
	bb_fill(buf + 3 * SZ_4K, 3 * SZ_4K, off, 21);
	EXPECT_EQ(0, memcmp(buf, buf + 5 * SZ_4K, SZ_4K));
	EXPECT_EQ(0, memcmp(buf + SZ_4K, buf + 4 * SZ_4K, SZ_4K));
	EXPECT_EQ(0, memcmp(buf + 2 * SZ_4K, buf + 3 * SZ_4K, SZ_4K));
}

/* Barriers and a flush on an IOPOLL ring: the next segment is issued too. */
TEST_F(poll, group_commit)
{
	struct blkbatch_entry ent[20];
	__s32 st[20];
	struct blkbatch_batch b;
	unsigned int i;

	bb_fill(self->buf, 17 * SZ_4K, REGION_COMMIT, 31);
	blkbatch_batch_init(&b, ent, st, 20);
	for (i = 0; i < 16; i++)
		blkbatch_batch_add_write(&b, self->buf + i * SZ_4K, SZ_4K,
					 REGION_COMMIT + i * SZ_4K, 0);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_flush(&b);
	blkbatch_batch_add_barrier(&b);
	blkbatch_batch_add_write(&b, self->buf + 16 * SZ_4K, SZ_4K,
				 REGION_COMMIT + 16 * SZ_4K, BLKBATCH_EF_FUA);
	EXPECT_EQ(20, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	EXPECT_EQ((__s32)SZ_4K, st[19]);
	memset(self->buf, 0, 17 * SZ_4K);
	ASSERT_EQ(0, bb_disk_io(false, self->buf, 17 * SZ_4K, REGION_COMMIT));
	EXPECT_EQ(-1, bb_check(self->buf, 17 * SZ_4K, REGION_COMMIT, 31));
}

/* Many batches in flight on one IOPOLL ring, reaped in any order. */
TEST_F(poll, many_batches_in_flight)
{
	struct blkbatch_batch b[NR_MANY_BATCHES];
	struct blkbatch_cqe cqe;
	bool seen[NR_MANY_BATCHES] = { 0 };
	unsigned int i, j;

	for (i = 0; i < NR_MANY_BATCHES; i++) {
		ASSERT_EQ(0, blkbatch_batch_alloc(&b[i], NR_MANY_ENTRIES));
		for (j = 0; j < NR_MANY_ENTRIES; j++) {
			size_t k = (size_t)i * NR_MANY_ENTRIES + j;
			/* spaced out: no two entries merge */
			__u64 off = REGION_MANY + k * 2 * SZ_4K;

			bb_fill(self->buf + k * SZ_4K, SZ_4K, off, 41);
			blkbatch_batch_add_write(&b[i], self->buf + k * SZ_4K,
						 SZ_4K, off, 0);
		}
		ASSERT_EQ(0, blkbatch_submit(&self->env.ring, self->env.ctx.fd, &b[i],
					     i));
	}
	for (i = 0; i < NR_MANY_BATCHES; i++) {
		ASSERT_EQ(0, blkbatch_wait(&self->env.ring, &cqe));
		ASSERT_LT(cqe.user_data, (__u64)NR_MANY_BATCHES);
		EXPECT_FALSE(seen[cqe.user_data]);
		seen[cqe.user_data] = true;
		EXPECT_EQ(NR_MANY_ENTRIES, cqe.res);
	}
	for (i = 0; i < NR_MANY_BATCHES; i++)
		blkbatch_batch_free(&b[i]);
	/* the raw disk, in two halves of the buffer's size */
	for (i = 0; i < 2; i++) {
		__u64 base = REGION_MANY + i * self->len;

		ASSERT_EQ(0, bb_disk_io(false, self->buf, self->len, base));
		for (j = 0; j < self->len / (2 * SZ_4K); j++)
			EXPECT_EQ(-1, bb_check(self->buf + j * 2 * SZ_4K,
					       SZ_4K, base + j * 2 * SZ_4K,
					       41))
				TH_LOG("half %u slot %u", i, j);
	}
}

/* SQPOLL rings: the SQ thread issues, and with IOPOLL also polls. */
TEST_F(poll, sqpoll)
{
	unsigned int seed = variant->mode ? 2 : 1;
	struct blkbatch_ring r;
	__u64 off[64];
	unsigned int i;
	int ret;

	ret = blkbatch_ring_init(&r, 16, BLKBATCH_RING_SQPOLL | variant->mode);
	if (ret == -EPERM)
		SKIP(return, "SQPOLL needs privileges here");
	ASSERT_EQ(0, ret);
	for (i = 0; i < 64; i++)
		off[i] = REGION_SQPOLL + ((__u64)seed * 64 + i) * 2 * SZ_4K;
	/* several rounds: the thread keeps running between batches */
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, rw_verify(&r, self->env.ctx.fd, self->buf, off, 64,
				       seed * 100 + i, false));
	blkbatch_ring_exit(&r);
}

/* --- per-thread rings ------------------------------------------------- */

struct thr {
	int			fd;
	unsigned int		id;
	pthread_barrier_t	*all_up;
	struct blkbatch_ring	*ring;	/* compared only, freed at exit */
	unsigned int		flags;
	bool			same_again;
	int			bad;
};

static void *thr_fn(void *arg)
{
	struct thr *t = arg;
	struct blkbatch_ring *again = NULL;
	__u64 off[32];
	void *buf = bb_alloc(32 * SZ_4K);
	unsigned int i;

	t->bad = -ENOMEM;
	if (!buf)
		return NULL;
	t->bad = blkbatch_thread_ring(&t->ring);
	if (t->bad)
		goto out;
	t->same_again = !blkbatch_thread_ring(&again) && again == t->ring;
	t->flags = t->ring->flags;
	for (i = 0; i < 32; i++)
		off[i] = REGION_THREADS + t->id * SZ_1M + i * 2 * SZ_4K;
	for (i = 0; i < 4 && !t->bad; i++)
		t->bad = rw_verify(t->ring, t->fd, buf, off, 32,
				   t->id * 10 + i, false);
out:
	bb_free(buf, 32 * SZ_4K);
	/* all rings exist at once, so their addresses must differ */
	pthread_barrier_wait(t->all_up);
	return NULL;
}

/*
 * Every thread gets a ring of its own on first use, the same one after,
 * in the configured mode; they run side by side without a shared ring.
 */
TEST_F(poll, thread_rings)
{
	struct thr t[NR_THREADS];
	pthread_t tid[NR_THREADS];
	pthread_barrier_t all_up;
	unsigned int i, j;

	EXPECT_EQ(-EINVAL, blkbatch_thread_ring_config(0, 0));
	EXPECT_EQ(-EINVAL, blkbatch_thread_ring_config(16, 1U << 31));
	ASSERT_EQ(0, blkbatch_thread_ring_config(16, variant->mode));
	ASSERT_EQ(0, pthread_barrier_init(&all_up, NULL, NR_THREADS));
	for (i = 0; i < NR_THREADS; i++) {
		t[i] = (struct thr){ .fd = self->env.ctx.fd, .id = i,
				     .all_up = &all_up };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, thr_fn, &t[i]));
	}
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&all_up);
	for (i = 0; i < NR_THREADS; i++) {
		EXPECT_EQ(0, t[i].bad) TH_LOG("thread %u", i);
		EXPECT_TRUE(t[i].same_again);
		EXPECT_EQ(variant->mode, t[i].flags);
		for (j = 0; j < i; j++)
			EXPECT_NE(t[i].ring, t[j].ring);
	}
	/* this thread's own ring, torn down by hand */
	blkbatch_thread_ring_exit();
	blkbatch_thread_ring_exit();
	ASSERT_EQ(0, blkbatch_thread_ring_config(64, 0));
}

/* --- a null_blk disk with poll queues ---------------------------------- */

FIXTURE(pnullb) {
	struct bb_env env;	/* on the null_blk disk; ring: IOPOLL, CQE32 */
	struct bb_slow_disk disk;
	bool disk_ok;
	void *buf;
};

#define PN_ENTRIES	256
#define PN_BUF		((size_t)PN_ENTRIES * SZ_4K)

FIXTURE_SETUP(pnullb)
{
	bb_env_init(&self->env);
	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no configfs null_blk");
	self->buf = bb_alloc(PN_BUF);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, bb_env_ring(&self->env, 16,
				 BLKBATCH_RING_IOPOLL | BLKBATCH_RING_CQE32));
}

FIXTURE_TEARDOWN(pnullb)
{
	EXPECT_EQ(0, bb_env_teardown(&self->env));
	if (self->disk_ok)
		bb_slow_disk_destroy(&self->disk);
	bb_free(self->buf, PN_BUF);
}

/*
 * 0, or a reason to skip: an old null_blk may lack poll_queues.  Not
 * memory backed: null_blk then allocates (and may sleep) in its poll
 * handler, which runs under RCU; so these tests check statuses, and the
 * NVMe ones check data.
 */
static int pnullb_up(struct __test_metadata *_metadata,
		     FIXTURE_DATA(pnullb) * self, struct bb_nullb_opts *o)
{
	int ret;

	ret = bb_nullb_create(&self->disk, "bbpoll", o);
	if (ret == -ENOENT && (o->poll_queues || o->no_poll))
		return ret;
	ASSERT_EQ(0, ret) {
		return ret;
	}
	self->disk_ok = true;
	ASSERT_EQ(0, bb_env_attach(&self->env, self->disk.dev)) {
		return -EIO;
	}
	return 0;
}

/* Spaced 4 KiB slots of the null_blk disk: never merged. */
static void spaced_slots(__u64 *off, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		off[i] = (__u64)i * 2 * SZ_4K;
}

/*
 * Two tags on the poll queue and 256 entries: most polled bios find no tag
 * and are not allowed to wait for one (only this task's polling would
 * free it).  They are issued again, by interrupt, and every entry is done
 * in full.
 */
TEST_F(pnullb, retry_when_tags_run_out)
{
	struct bb_nullb_opts o = { .qd = 2, .poll_queues = 1 };
	__u64 off[PN_ENTRIES];
	long polled = polled_bios(), retried = retried_entries();

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	spaced_slots(off, PN_ENTRIES);
	EXPECT_EQ(0, rw_check(&self->env.ring, self->env.ctx.fd, self->buf, off,
			      PN_ENTRIES, 51, false, false));
	if (polled < 0)
		return;
	EXPECT_LT(0, polled_bios() - polled);
	EXPECT_LT(0, retried_entries() - retried);
}

/*
 * A waiting bio that really fails with -EAGAIN is an error of its entry,
 * not a poll retry: with retries pending in the same segment, the entry
 * must report -EAGAIN and not be issued a second time.  The module's
 * fail_again fault (debug kernels) gives the one bio that status.
 */
#define FAIL_AGAIN	"/sys/kernel/debug/blkbatch/fail_again"
#define BIG_ENTRY	(2 * SZ_1M)

TEST_F(pnullb, real_eagain_is_not_a_retry)
{
	struct bb_nullb_opts o = { .qd = 2, .poll_queues = 1, .size_mb = 128 };
	long retried = retried_entries();
	struct blkbatch_batch b;
	unsigned int i, n = 64;
	char *big;

	if (access(FAIL_AGAIN, F_OK))
		SKIP(return, "no %s (not the debug kernel)", FAIL_AGAIN);
	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	big = bb_alloc(BIG_ENTRY);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, n + 1));
	/* too big to poll: waiting bios, issued first */
	blkbatch_batch_add_read(&b, big, BIG_ENTRY, 64 * SZ_1M);
	for (i = 0; i < n; i++)
		blkbatch_batch_add_read(&b, self->buf + i * SZ_4K, SZ_4K,
					(__u64)i * 2 * SZ_4K);
	ASSERT_EQ(0, bb_cfg_write(FAIL_AGAIN, "verbose", 0));
	ASSERT_EQ(0, bb_cfg_write(FAIL_AGAIN, "interval", 1));
	ASSERT_EQ(0, bb_cfg_write(FAIL_AGAIN, "times", 1));
	ASSERT_EQ(0, bb_cfg_write(FAIL_AGAIN, "probability", 100));
	EXPECT_EQ((int)n, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	bb_cfg_write(FAIL_AGAIN, "probability", 0);
	EXPECT_EQ(-EAGAIN, b.status[0]);
	for (i = 1; i <= n; i++)
		EXPECT_EQ((__s32)SZ_4K, b.status[i]) TH_LOG("entry %u", i);
	/* the bug needs retries in the same segment */
	EXPECT_LT(0, retried_entries() - retried);
	blkbatch_batch_free(&b);
	bb_free(big, BIG_ENTRY);
}

/* An IOPOLL ring on a disk that cannot poll: interrupts, no error. */
TEST_F(pnullb, no_poll_queues_falls_back)
{
	struct bb_nullb_opts o = { .no_poll = true };
	__u64 off[PN_ENTRIES];
	long polled = polled_bios();

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	ASSERT_FALSE(bb_disk_polls(self->disk.dev));
	spaced_slots(off, PN_ENTRIES);
	EXPECT_EQ(0, rw_check(&self->env.ring, self->env.ctx.fd, self->buf, off,
			      PN_ENTRIES, 52, false, false));
	if (polled >= 0)
		EXPECT_EQ(0, polled_bios() - polled);
}

/* A bad block fails its polled entry, and only that one. */
TEST_F(pnullb, io_error_polled)
{
	struct bb_nullb_opts o = { .poll_queues = 1, .badblocks = "+80-87" };
	struct blkbatch_batch b;
	unsigned int i;

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, 16));
	/* entry 5 covers sectors 80..87 */
	for (i = 0; i < 16; i++)
		blkbatch_batch_add_read(&b, self->buf + i * SZ_4K, SZ_4K,
					(__u64)i * 2 * SZ_4K);
	EXPECT_EQ(15, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	for (i = 0; i < 16; i++)
		EXPECT_EQ(i == 5 ? -EIO : (__s32)SZ_4K, b.status[i])
			TH_LOG("entry %u", i);
	blkbatch_batch_free(&b);
}

/*
 * A task killed with polled batches in flight: its ring is torn down, the
 * batches are reaped by the ring's exit and freed; nothing stays behind
 * (the teardown checks live batches and page pins).
 */
TEST_F_TIMEOUT(pnullb, killed_with_polled_batches, 120)
{
	struct bb_nullb_opts o = { .poll_queues = 1 };
	int status;
	pid_t pid;

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct blkbatch_batch b[8];
		unsigned int i, j;

		for (i = 0; i < 8; i++) {
			if (blkbatch_batch_alloc(&b[i], PN_ENTRIES / 8))
				_exit(2);
			for (j = 0; j < PN_ENTRIES / 8; j++)
				blkbatch_batch_add_read(&b[i], self->buf +
					(i * PN_ENTRIES / 8 + j) * SZ_4K,
					SZ_4K, (__u64)j * 2 * SZ_4K);
		}
		/* never reaped: their polled bios wait for us to poll */
		for (i = 0; i < 8; i++)
			if (blkbatch_submit(&self->env.ring, self->env.ctx.fd, &b[i],
					    i))
				_exit(3);
		for (;;)
			pause();
	}
	bb_sleep_ms(300);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
}

/* Fill @b with @n spaced 4 KiB reads into @buf. */
static int spaced_reads(struct blkbatch_batch *b, void *buf, unsigned int n)
{
	unsigned int i;
	int ret = blkbatch_batch_alloc(b, n);

	for (i = 0; !ret && i < n; i++)
		blkbatch_batch_add_read(b, buf + (size_t)i * SZ_4K, SZ_4K,
					(__u64)i * 2 * SZ_4K);
	return ret;
}

/* Wait up to @s seconds for @pid; SIGKILL and fail if it hangs. */
static int wait_exit(pid_t pid, unsigned int s, int *status)
{
	unsigned int ms;

	for (ms = 0; ms < s * 1000; ms += 20) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		bb_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -ETIMEDOUT;
}

/*
 * execve() cancels the task's io_uring requests by polling the ring until
 * they complete, without running task work: a batch must complete from
 * the poll loop itself, or exec spins forever.
 */
TEST_F_TIMEOUT(pnullb, exec_with_polled_batches, 120)
{
	struct bb_nullb_opts o = { .poll_queues = 1 };
	int status;
	pid_t pid;

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct blkbatch_batch b[8];
		struct blkbatch_ring r;
		unsigned int i;

		if (blkbatch_ring_init(&r, 16, BLKBATCH_RING_IOPOLL))
			_exit(2);
		for (i = 0; i < 8; i++)
			if (spaced_reads(&b[i], self->buf, PN_ENTRIES / 8) ||
			    blkbatch_submit(&r, self->env.ctx.fd, &b[i], i))
				_exit(3);
		execl("/bin/true", "true", (char *)NULL);
		_exit(4);
	}
	ASSERT_EQ(0, wait_exit(pid, 60, &status));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * An SQPOLL + IOPOLL ring's SQ thread, when its process is killed, polls
 * the ring empty before it exits: same as exec, with the SQ thread.
 */
TEST_F_TIMEOUT(pnullb, sqpoll_iopoll_killed, 120)
{
	struct bb_nullb_opts o = { .poll_queues = 1 };
	int status;
	pid_t pid;

	if (pnullb_up(_metadata, self, &o))
		SKIP(return, "null_blk has no poll_queues");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct blkbatch_batch b[8];
		struct blkbatch_ring r;
		struct blkbatch_cqe cqe;
		unsigned int i;

		if (blkbatch_ring_init(&r, 16, BLKBATCH_RING_IOPOLL |
				       BLKBATCH_RING_SQPOLL))
			_exit(2);
		for (i = 0; i < 8; i++)
			if (spaced_reads(&b[i], self->buf, PN_ENTRIES / 8))
				_exit(3);
		/* keep batches in flight until killed */
		for (i = 0; ; i = (i + 1) % 8) {
			while (blkbatch_peek(&r, &cqe) == 0)
				;
			blkbatch_submit(&r, self->env.ctx.fd, &b[i], i);
		}
	}
	bb_sleep_ms(500);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(0, wait_exit(pid, 60, &status));
	EXPECT_TRUE(WIFSIGNALED(status));
}

TEST_HARNESS_MAIN
