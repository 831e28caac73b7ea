// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch under load: a bounded random soak against a shadow model of the
 * disk, many threads with their own rings on one device and on several
 * devices, an entry array rewritten while it is being submitted, and a
 * ring full of batches in flight.
 *
 * Threads never use the harness: each reports its first failure and an
 * error count, and the test body asserts on them after joining.
 *
 * BLKBATCH_STRESS_SEED=N replays a soak (the seed is logged);
 * BLKBATCH_STRESS_ITERS=N makes it N batches per thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>

#include "blkbatch_test.h"

/*
 * Disk layout (512 MiB in the VM): blkbatch_validate.c writes 16..32 MiB,
 * blkbatch_io.c 16 MiB regions up to 400 MiB and the last block,
 * blkbatch_lifecycle.c 64 KiB at 400 MiB, blkbatch_semantics.c 416 MiB
 * on.  Ours lie in between, 401..415 MiB.
 */
#define STRESS_BASE		(BB_REGION(BB_RG_STRESS) + SZ_1M)
#define REGION_THREADS		STRESS_BASE			/* 2 MiB */
#define REGION_REWRITE		(STRESS_BASE + 2 * SZ_1M)	/* 64 KiB */
#define REGION_DEVICES		(STRESS_BASE + 3 * SZ_1M)	/* 512 KiB */
#define REGION_INFLIGHT		(STRESS_BASE + 4 * SZ_1M)	/* 2 MiB */
#define REGION_SOAK		(STRESS_BASE + 6 * SZ_1M)	/* 4 x 2 MiB */
#define STRESS_END		(STRESS_BASE + 14 * SZ_1M)

#define BUILD_BUG_ON(cond)	((void)sizeof(char[1 - 2 * !!(cond)]))

#define STRESS_TIMEOUT		120
#define ST_UNSET		0x5a5a5a5a

/* --- helpers -------------------------------------------------------- */

/* What a thread hands back: how many failures, and the first one. */
struct th_res {
	unsigned int	errors;
	char		msg[256];
};

static void __printf(2, 3) th_fail(struct th_res *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->errors++) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
}

/* xorshift64*: reproducible from the logged seed, one state per thread. */
static __u64 rnd(__u64 *s)
{
	__u64 x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static __u32 rnd_below(__u64 *s, __u32 n)
{
	return (rnd(s) >> 16) % n;
}

static __u64 rnd_init(__u64 seed, unsigned int id)
{
	__u64 s = seed ^ ((id + 1) * 0x9e3779b97f4a7c15ULL);

	return s ? s : 1;
}

static __u64 stress_seed(void)
{
	const char *s = getenv("BLKBATCH_STRESS_SEED");
	struct timespec ts;

	if (s && *s)
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec << 32 ^ ts.tv_nsec ^ getpid();
}

/* Seed of a pattern: who wrote it (@id, @dev) and which write (@gen). */
static __u64 pat_seed(__u64 salt, unsigned int dev, unsigned int id,
		      __u32 gen)
{
	return salt ^ (__u64)dev << 56 ^ (__u64)(id + 1) << 40 ^ gen;
}

/* The seed a block at @devoff holds, if it holds any bb_fill() pattern. */
static __u64 found_seed(const void *buf, __u64 devoff)
{
	return *(const __u64 *)buf ^ bb_word(devoff, 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* O_DIRECT read of any block device, bypassing blkbatch. */
static int raw_read(const char *path, void *buf, size_t len, __u64 off)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, off);
	if (n < 0)
		n = -errno;
	else
		n = (size_t)n == len ? 0 : -EIO;
	close(fd);
	return n;
}

static void cmd_init(struct blkbatch_cmd *cmd, struct blkbatch_entry *ent,
		     __s32 *st, unsigned int nr, __u32 flags)
{
	unsigned int i;

	memset(cmd, 0, sizeof(*cmd));
	cmd->entries = (uintptr_t)ent;
	cmd->status = (uintptr_t)st;
	cmd->nr = nr;
	cmd->flags = flags;
	for (i = 0; i < nr; i++)
		st[i] = ST_UNSET;
}

/*
 * @nr entries of @len bytes, entry i at @off + i * @len from or into
 * @buf + i * @len, run on @ring: 0 if every entry succeeded, else the
 * failure in @r.
 */
static int run_span(struct io_uring *ring, int fd, __u8 op, char *buf,
		    __u32 len, __u64 off, unsigned int nr,
		    struct blkbatch_entry *ent, __s32 *st, struct th_res *r,
		    const char *what)
{
	struct blkbatch_cmd cmd;
	struct bb_res res;
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++)
		bb_entry(&ent[i], op, buf + (size_t)i * len, len,
			 off + (__u64)i * len);
	cmd_init(&cmd, ent, st, nr, 0);
	ret = bb_run_raw(ring, fd, &cmd, &res);
	if (ret) {
		th_fail(r, "%s: ring: %s", what, strerror(-ret));
		return ret;
	}
	if (res.res != (int)nr) {
		th_fail(r, "%s: res %d of %u (status[0] %d)", what, res.res,
			nr, st[0]);
		return -EIO;
	}
	for (i = 0; i < nr; i++) {
		if (st[i] != (__s32)len) {
			th_fail(r, "%s: status[%u] %d", what, i, st[i]);
			return -EIO;
		}
	}
	return 0;
}

/* Check @len bytes of pattern @seed at @devoff; 0 or -EIO (reported). */
static int check_pat(struct th_res *r, const char *buf, size_t len,
		     __u64 devoff, __u64 seed, const char *what)
{
	long bad = bb_check(buf, len, devoff, seed);

	if (bad < 0)
		return 0;
	th_fail(r, "%s: bad data at device offset %llu: seed %#llx, found %#llx",
		what, (unsigned long long)(devoff + bad),
		(unsigned long long)seed,
		(unsigned long long)found_seed(buf + bad, devoff + bad));
	return -EIO;
}

FIXTURE(stress) {
	struct bb_ctx ctx;		/* BLKBATCH_DISK */
	struct bb_ctx nctx[2];		/* several_devices: the null disks */
	struct bb_slow_disk null[2];
	bool null_made[2];
	__u32 lbs;
	__u64 salt;
};

FIXTURE_SETUP(stress)
{
	unsigned int i;

	for (i = 0; i < 2; i++)
		self->nctx[i].fd = -1;
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	self->lbs = self->ctx.info.logical_block_size;
	self->salt = stress_seed() * 0x9e3779b97f4a7c15ULL;
}

FIXTURE_TEARDOWN(stress)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, bb_ctx_teardown(&self->nctx[i]));
		if (self->null_made[i])
			bb_slow_disk_destroy(&self->null[i]);
	}
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
}

/* --- soak ----------------------------------------------------------- */

#define SOAK_THREADS	4
/* Batches per thread; BLKBATCH_STRESS_ITERS=N for a longer soak. */
#define SOAK_ITERS	150
#define SOAK_MAX_NR	64U
#define SOAK_MAX_LEN	SZ_64K
#define SOAK_REGION	(2ULL * SZ_1M)	/* per thread */
/* An entry buffer that runs from SOAK_TRAP_LEN mapped bytes into PROT_NONE */
#define SOAK_TRAP_LEN	SZ_64K

enum soak_kind {
	SOAK_PLAIN,		/* valid entries only */
	SOAK_ABORT,		/* the same with ABORT_ON_ERROR */
	SOAK_INVALID,		/* one entry fails validation */
	SOAK_FAULT,		/* one entry has a bad buffer */
	SOAK_FAULT_ABORT,	/* the same with ABORT_ON_ERROR */
};

static const char * const soak_kind_name[] = {
	"plain", "abort", "invalid", "fault", "fault+abort",
};

enum soak_bad {
	BAD_MISALIGNED,		/* -EINVAL */
	BAD_LEN0,		/* -EINVAL */
	BAD_BEYOND,		/* -ENOSPC */
	BAD_OP,			/* -EINVAL */
	BAD_FLAGS,		/* -EINVAL */
	BAD_RSVD,		/* -EINVAL */
	BAD_WRAP,		/* -EOVERFLOW */
	BAD_NR
};

/* Where an entry of the batch being built lies, in region blocks. */
struct soak_ent {
	__u32	blk;
	__u32	nblk;
	__u32	gen;		/* WRITE: the generation it writes, READ: 0 */
};

struct soak {
	/* set by the test body */
	unsigned int		id;
	int			fd;
	__u64			capacity;
	__u64			base;		/* region start, bytes */
	__u32			nblk;		/* region size, blocks */
	__u32			lbs;
	unsigned int		max_nr;
	unsigned int		iters;
	bool			can_abort;
	__u64			rnd;
	__u64			salt;
	__u32			*shadow;	/* per block: last acked gen, 0 unknown */
	__u8			*busy;		/* per block: in the batch being built */
	char			*data;		/* max_nr x SOAK_MAX_LEN */
	char			*trap;		/* SOAK_TRAP_LEN, then PROT_NONE */
	/* the thread's own */
	struct blkbatch_ring	ring;
	struct blkbatch_entry	ent[SOAK_MAX_NR];
	__s32			st[SOAK_MAX_NR];
	struct soak_ent		se[SOAK_MAX_NR];
	__u32			gen;
	/* results */
	struct th_res		res;
	unsigned long		batches[SOAK_FAULT_ABORT + 1];
	unsigned long		entries, bytes, verified, unissued, partial;
};

static __u64 soak_seed(const struct soak *t, __u32 gen)
{
	return pat_seed(t->salt, 0, t->id, gen);
}

static __u64 soak_off(const struct soak *t, __u32 blk)
{
	return t->base + (__u64)blk * t->lbs;
}

static char *soak_buf(struct soak *t, unsigned int i)
{
	return t->data + (size_t)i * SOAK_MAX_LEN;
}

/* Mostly short entries, now and then up to SOAK_MAX_LEN: log-uniform. */
static __u32 soak_pick_nblk(struct soak *t)
{
	__u32 max = SOAK_MAX_LEN / t->lbs, order = 0;

	while ((2U << order) <= max)
		order++;
	return 1 + rnd_below(&t->rnd, 1U << rnd_below(&t->rnd, order + 1));
}

/*
 * Entry @i: a READ or WRITE of random length at a random place of the
 * region that no other entry of the batch touches (entries race).
 */
static bool soak_place(struct soak *t, unsigned int i, bool write)
{
	struct soak_ent *se = &t->se[i];
	__u32 n = soak_pick_nblk(t), blk = 0, j, try;
	char *buf = soak_buf(t, i);
	size_t len = (size_t)n * t->lbs;

	for (try = 0; try < 8; try++) {
		blk = rnd_below(&t->rnd, t->nblk - n + 1);
		for (j = 0; j < n && !t->busy[blk + j]; j++)
			;
		if (j == n)
			break;
	}
	if (try == 8)
		return false;
	memset(t->busy + blk, 1, n);
	se->blk = blk;
	se->nblk = n;
	se->gen = 0;
	if (write) {
		se->gen = ++t->gen;
		bb_fill(buf, len, soak_off(t, blk), soak_seed(t, se->gen));
	} else {
		memset(buf, 0xa5, len);
	}
	bb_entry(&t->ent[i], write ? BLKBATCH_OP_WRITE : BLKBATCH_OP_READ, buf,
		 len, soak_off(t, blk));
	return true;
}

/* Break a valid entry; returns the errno validation must report. */
static int soak_make_invalid(struct soak *t, struct blkbatch_entry *e)
{
	__u64 lbs = t->lbs;

	switch (rnd_below(&t->rnd, BAD_NR)) {
	case BAD_MISALIGNED:
		e->offset += lbs / 2;
		return -EINVAL;
	case BAD_LEN0:
		e->len = 0;
		return -EINVAL;
	case BAD_BEYOND:
		/* the last block and one more, or the first block past it */
		e->offset = t->capacity - (e->len > lbs ? lbs : 0);
		return -ENOSPC;
	case BAD_OP:
		e->op = BLKBATCH_OP_LAST + 1 +
			rnd_below(&t->rnd, 0xff - BLKBATCH_OP_LAST);
		return -EINVAL;
	case BAD_FLAGS:
		do
			e->flags = 1U << rnd_below(&t->rnd, 16);
		while (e->flags & BLKBATCH_EF_ALL);
		return -EINVAL;
	case BAD_RSVD:
		if (rnd(&t->rnd) & 1)
			e->rsvd0 = 1 + rnd_below(&t->rnd, 0xff);
		else
			e->rsvd1 = 1U << rnd_below(&t->rnd, 32);
		return -EINVAL;
	default:
		/* checked before the alignment: keep everything aligned */
		e->offset = -lbs;
		if (e->len == lbs)
			e->len = 2 * lbs;
		return -EOVERFLOW;
	}
}

/* Give an entry a buffer the kernel cannot pin: -EFAULT when issued. */
static void soak_make_fault(struct soak *t, struct blkbatch_entry *e)
{
	__u32 blocks = e->len / t->lbs, mapped;

	switch (rnd_below(&t->rnd, 3)) {
	case 0:
		/* never mapped: below mmap_min_addr */
		e->addr = SZ_4K * (1 + rnd_below(&t->rnd, 8));
		break;
	case 1:
		/* the first blocks mapped, the rest PROT_NONE: partly done */
		mapped = blocks > 1 ? rnd_below(&t->rnd, blocks) : 0;
		if (mapped * t->lbs > SOAK_TRAP_LEN)
			mapped = SOAK_TRAP_LEN / t->lbs;
		e->addr = (uintptr_t)t->trap + SOAK_TRAP_LEN -
			  (__u64)mapped * t->lbs;
		break;
	default:
		e->addr = BB_KERNEL_ADDR;
		break;
	}
}

/*
 * Blocks [@blk, @blk + @n) read into @buf: every one with a known
 * generation must hold it; with @not_gen, no unknown one may hold that
 * generation (a write that was never issued).
 */
static int soak_verify(struct soak *t, const char *buf, __u32 blk, __u32 n,
		       __u32 not_gen, const char *what)
{
	__u32 j;

	for (j = 0; j < n; j++) {
		const char *p = buf + (size_t)j * t->lbs;
		__u32 g = t->shadow[blk + j];
		__u64 off = soak_off(t, blk + j);

		if (g) {
			if (check_pat(&t->res, p, t->lbs, off,
				      soak_seed(t, g), what))
				return -EIO;
			t->verified++;
		} else if (not_gen &&
			   bb_check(p, t->lbs, off, soak_seed(t, not_gen)) < 0) {
			th_fail(&t->res, "%s: block at %llu holds gen %u, never issued",
				what, (unsigned long long)off, not_gen);
			return -EIO;
		}
	}
	return 0;
}

/*
 * The WRITE entries of @mask were not issued: read their ranges back (the
 * entries are reused) and check that nothing of theirs landed.
 */
static int soak_check_unissued(struct soak *t, const bool *mask,
			       unsigned int nr)
{
	struct soak_ent se[SOAK_MAX_NR];
	struct bb_res r = { 0 };
	struct blkbatch_cmd cmd;
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < nr; i++) {
		size_t len;

		if (!mask[i])
			continue;
		se[n] = t->se[i];
		len = (size_t)se[n].nblk * t->lbs;
		memset(soak_buf(t, n), 0xa5, len);
		bb_entry(&t->ent[n], BLKBATCH_OP_READ, soak_buf(t, n), len,
			 soak_off(t, se[n].blk));
		n++;
	}
	if (!n)
		return 0;
	cmd_init(&cmd, t->ent, t->st, n, 0);
	ret = bb_run_raw(&t->ring.ring, t->fd, &cmd, &r);
	if (ret || r.res != (int)n) {
		th_fail(&t->res, "reading back unissued writes: ring %d res %d",
			ret, r.res);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		t->unissued++;
		if (soak_verify(t, soak_buf(t, i), se[i].blk, se[i].nblk,
				se[i].gen, "unissued write"))
			return -EIO;
	}
	return 0;
}

/* One random batch, checked against the model; -EIO on a failure. */
static int soak_one(struct soak *t)
{
	unsigned int nr, i, bad = 0, roll = rnd_below(&t->rnd, 100);
	bool unissued[SOAK_MAX_NR] = { false };
	enum soak_kind kind = SOAK_PLAIN;
	struct blkbatch_cmd cmd;
	struct bb_res r;
	__u32 flags = 0;
	int err = 0, ret, want;
	char what[96];

	if (roll >= 88)
		kind = t->can_abort ? SOAK_FAULT_ABORT : SOAK_FAULT;
	else if (roll >= 78)
		kind = SOAK_FAULT;
	else if (roll >= 64)
		kind = SOAK_INVALID;
	else if (roll >= 52 && t->can_abort)
		kind = SOAK_ABORT;
	if (kind == SOAK_ABORT || kind == SOAK_FAULT_ABORT)
		flags = BLKBATCH_CMD_F_ABORT_ON_ERROR;

	nr = 1 + rnd_below(&t->rnd, t->max_nr);
	for (i = 0; i < nr; i++)
		if (!soak_place(t, i, rnd(&t->rnd) & 1))
			break;
	nr = i;		/* the first one always finds room */
	if (kind == SOAK_INVALID || kind == SOAK_FAULT ||
	    kind == SOAK_FAULT_ABORT)
		bad = rnd_below(&t->rnd, nr);
	if (kind == SOAK_INVALID)
		err = soak_make_invalid(t, &t->ent[bad]);
	else if (kind != SOAK_PLAIN && kind != SOAK_ABORT)
		soak_make_fault(t, &t->ent[bad]);

	snprintf(what, sizeof(what), "thread %u batch %lu (%s, nr %u, bad %u)",
		 t->id, t->batches[0] + t->batches[1] + t->batches[2] +
		 t->batches[3] + t->batches[4], soak_kind_name[kind], nr, bad);
	t->batches[kind]++;
	t->entries += nr;

	cmd_init(&cmd, t->ent, t->st, nr, flags);
	ret = bb_run_raw(&t->ring.ring, t->fd, &cmd, &r);
	if (ret) {
		th_fail(&t->res, "%s: ring: %s", what, strerror(-ret));
		goto out;
	}

	if (kind == SOAK_INVALID) {
		/* nothing issued, no status written, the entry named */
		if (r.res != err || r.res2 != bad) {
			th_fail(&t->res, "%s: res %d index %lld, want %d index %u",
				what, r.res, (long long)r.res2, err, bad);
			goto fail;
		}
		for (i = 0; i < nr; i++) {
			if (t->st[i] != ST_UNSET) {
				th_fail(&t->res, "%s: status[%u] written: %d",
					what, i, t->st[i]);
				goto fail;
			}
			unissued[i] = i != bad && t->se[i].gen;
		}
		ret = soak_check_unissued(t, unissued, nr);
		goto out;
	}

	want = kind == SOAK_FAULT ? (int)nr - 1 :
	       kind == SOAK_FAULT_ABORT ? (int)bad : (int)nr;
	if (r.res != want) {
		th_fail(&t->res, "%s: res %d, want %d", what, r.res, want);
		goto fail;
	}
	for (i = 0; i < nr; i++) {
		struct soak_ent *se = &t->se[i];
		__u32 j;

		want = t->ent[i].len;
		if (kind == SOAK_FAULT && i == bad)
			want = -EFAULT;
		if (kind == SOAK_FAULT_ABORT && i >= bad)
			want = i == bad ? -EFAULT : -ECANCELED;
		if (t->st[i] != want) {
			th_fail(&t->res, "%s: status[%u] %d, want %d", what, i,
				t->st[i], want);
			goto fail;
		}
		if (want == -EFAULT) {
			/* "may have been partly performed" */
			if (se->gen) {
				memset(t->shadow + se->blk, 0,
				       se->nblk * sizeof(*t->shadow));
				t->partial++;
			}
		} else if (want == -ECANCELED) {
			unissued[i] = se->gen;
		} else if (se->gen) {
			for (j = 0; j < se->nblk; j++)
				t->shadow[se->blk + j] = se->gen;
			t->bytes += want;
		} else {
			if (soak_verify(t, soak_buf(t, i), se->blk, se->nblk, 0,
					what))
				goto fail;
			t->bytes += want;
		}
	}
	ret = soak_check_unissued(t, unissued, nr);
	goto out;
fail:
	ret = -EIO;
out:
	for (i = 0; i < nr; i++)
		memset(t->busy + t->se[i].blk, 0, t->se[i].nblk);
	return ret;
}

/* Read the whole region back through blkbatch and check every known block. */
static int soak_verify_region(struct soak *t)
{
	__u32 per = SOAK_MAX_LEN / t->lbs, blk, n, i;
	unsigned int nr;
	char what[64];

	for (blk = 0; blk < t->nblk; blk += nr * per) {
		/* the region is a whole number of MiB: n >= per */
		n = t->nblk - blk;
		nr = n / per < t->max_nr ? n / per : t->max_nr;
		snprintf(what, sizeof(what), "thread %u final read at block %u",
			 t->id, blk);
		if (run_span(&t->ring.ring, t->fd, BLKBATCH_OP_READ, t->data,
			     SOAK_MAX_LEN, soak_off(t, blk), nr, t->ent, t->st,
			     &t->res, what))
			return -EIO;
		for (i = 0; i < nr; i++)
			if (soak_verify(t, soak_buf(t, i), blk + i * per, per, 0,
					what))
				return -EIO;
	}
	return 0;
}

static void *soak_thread(void *arg)
{
	struct soak *t = arg;
	unsigned int i;
	int ret;

	ret = blkbatch_ring_init(&t->ring, 4, BLKBATCH_RING_CQE32);
	if (ret) {
		th_fail(&t->res, "thread %u: ring: %s", t->id, strerror(-ret));
		return NULL;
	}
	for (i = 0; i < t->iters; i++)
		if (soak_one(t))
			break;
	if (!t->res.errors)
		soak_verify_region(t);
	blkbatch_ring_exit(&t->ring);
	return NULL;
}

static int soak_alloc(struct soak *t)
{
	t->shadow = calloc(t->nblk, sizeof(*t->shadow));
	t->busy = calloc(t->nblk, 1);
	t->data = bb_alloc((size_t)t->max_nr * SOAK_MAX_LEN);
	t->trap = mmap(NULL, 2 * SOAK_TRAP_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->trap == MAP_FAILED) {
		t->trap = NULL;
		return -ENOMEM;
	}
	if (mprotect(t->trap, SOAK_TRAP_LEN, PROT_READ | PROT_WRITE))
		return -errno;
	return t->shadow && t->busy && t->data ? 0 : -ENOMEM;
}

static void soak_free(struct soak *t)
{
	free(t->shadow);
	free(t->busy);
	bb_free(t->data, (size_t)t->max_nr * SOAK_MAX_LEN);
	if (t->trap)
		munmap(t->trap, 2 * SOAK_TRAP_LEN);
}

/* The region once more, through the block device (O_DIRECT). */
static int soak_verify_disk(struct soak *t, char *buf)
{
	__u32 per = SZ_1M / t->lbs, blk;
	int ret;

	for (blk = 0; blk < t->nblk; blk += per) {
		ret = bb_disk_io(false, buf, SZ_1M, soak_off(t, blk));
		if (ret) {
			th_fail(&t->res, "disk read at %llu: %s",
				(unsigned long long)soak_off(t, blk),
				strerror(-ret));
			return ret;
		}
		if (soak_verify(t, buf, blk, per, 0, "disk read"))
			return -EIO;
	}
	return 0;
}

/*
 * SOAK_THREADS threads, each with its own ring and its own region of the
 * disk, run SOAK_ITERS random batches each: valid reads and writes,
 * batches that fail validation, entries with bad buffers, with and
 * without ABORT_ON_ERROR; every result is checked against a per-block
 * model, and so is the whole region at the end (blkbatch, then the disk).
 */
TEST_F_TIMEOUT(stress, soak, STRESS_TIMEOUT)
{
	struct blkbatch_info *info = &self->ctx.info;
	unsigned long sum[SOAK_FAULT_ABORT + 1] = { 0 };
	unsigned long ents = 0, bytes = 0, verified = 0, unissued = 0;
	unsigned long partial = 0, disk_verified = 0;
	pthread_t th[SOAK_THREADS];
	bool started[SOAK_THREADS] = { false };
	__u64 seed = stress_seed();
	const char *env = getenv("BLKBATCH_STRESS_ITERS");
	unsigned int i, k, iters = SOAK_ITERS;
	struct soak *t;
	double t0;
	char *buf;

	BUILD_BUG_ON(REGION_SOAK + SOAK_THREADS * SOAK_REGION > STRESS_END);
	ASSERT_LE(STRESS_END, info->capacity);
	ASSERT_EQ(0U, SZ_1M % self->lbs);
	ASSERT_LE(self->lbs, SOAK_MAX_LEN);
	ASSERT_LE(SOAK_MAX_LEN, info->max_entry_bytes);
	if (env && *env)
		iters = strtoul(env, NULL, 0);
	TH_LOG("seed %#llx: %u threads x %u batches, %llu MiB each",
	       (unsigned long long)seed, SOAK_THREADS, iters,
	       (unsigned long long)(SOAK_REGION / SZ_1M));

	t = calloc(SOAK_THREADS, sizeof(*t));
	ASSERT_NE(NULL, t);
	for (i = 0; i < SOAK_THREADS; i++) {
		t[i].id = i;
		t[i].fd = self->ctx.fd;
		t[i].capacity = info->capacity;
		t[i].base = REGION_SOAK + i * SOAK_REGION;
		t[i].nblk = SOAK_REGION / self->lbs;
		t[i].lbs = self->lbs;
		t[i].max_nr = info->max_entries < SOAK_MAX_NR ?
			      info->max_entries : SOAK_MAX_NR;
		t[i].iters = iters;
		t[i].can_abort = info->features & BLKBATCH_F_ABORT;
		t[i].rnd = rnd_init(seed, i);
		t[i].salt = self->salt;
		ASSERT_EQ(0, soak_alloc(&t[i]));
	}

	t0 = now_s();
	for (i = 0; i < SOAK_THREADS; i++)
		started[i] = !pthread_create(&th[i], NULL, soak_thread, &t[i]);
	for (i = 0; i < SOAK_THREADS; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0; i < SOAK_THREADS; i++) {
		ASSERT_TRUE(started[i]) TH_LOG("thread %u not started", i);
		EXPECT_EQ(0U, t[i].res.errors)
			TH_LOG("thread %u: %u errors, first: %s", i,
			       t[i].res.errors, t[i].res.msg);
	}
	TH_LOG("threads done in %.1f s", now_s() - t0);

	buf = bb_alloc(SZ_1M);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < SOAK_THREADS; i++) {
		unsigned long before = t[i].verified;

		if (t[i].res.errors)
			continue;
		soak_verify_disk(&t[i], buf);
		EXPECT_EQ(0U, t[i].res.errors)
			TH_LOG("thread %u: %s", i, t[i].res.msg);
		disk_verified += t[i].verified - before;
		t[i].verified = before;
	}
	bb_free(buf, SZ_1M);

	for (i = 0; i < SOAK_THREADS; i++) {
		for (k = 0; k <= SOAK_FAULT_ABORT; k++)
			sum[k] += t[i].batches[k];
		ents += t[i].entries;
		bytes += t[i].bytes;
		verified += t[i].verified;
		unissued += t[i].unissued;
		partial += t[i].partial;
		soak_free(&t[i]);
	}
	free(t);
	TH_LOG("%lu entries, %lu MiB moved", ents, bytes / SZ_1M);
	TH_LOG("batches: %lu plain, %lu abort, %lu invalid, %lu fault, %lu fault+abort",
	       sum[SOAK_PLAIN], sum[SOAK_ABORT],
	       sum[SOAK_INVALID], sum[SOAK_FAULT], sum[SOAK_FAULT_ABORT]);
	TH_LOG("blocks verified: %lu by reads, %lu from the disk", verified,
	       disk_verified);
	TH_LOG("%lu unissued writes checked, %lu failed writes", unissued,
	       partial);
	TH_LOG("total %.1f s", now_s() - t0);
	/* the soak did what it is for */
	EXPECT_LT(0UL, sum[SOAK_INVALID]);
	EXPECT_LT(0UL, sum[SOAK_FAULT] + sum[SOAK_FAULT_ABORT]);
	EXPECT_LT(0UL, disk_verified);
	EXPECT_LT(0UL, unissued);
}

/* --- many threads, one device ---------------------------------------- */

#define TR_THREADS	8
#define TR_NR		64U		/* entries per batch */
#define TR_HALF		(TR_NR / 2)
#define TR_ROUNDS	32
#define TR_SPAN		((__u64)TR_NR * SZ_4K)	/* per thread */

struct tr_thread {
	unsigned int	id;
	int		fd;
	__u64		base;
	__u64		salt;
	char		*wbuf;		/* TR_NR x 4 KiB, block i's data */
	char		*rbuf;
	__u32		gen[2];		/* of each half */
	struct th_res	res;
};

static __u64 tr_off(const struct tr_thread *t, unsigned int blk)
{
	return t->base + (__u64)blk * SZ_4K;
}

static __u64 tr_seed(const struct tr_thread *t, __u32 gen)
{
	return pat_seed(t->salt, 1, t->id, gen);
}

static void tr_fill(struct tr_thread *t, unsigned int blk, __u32 gen)
{
	bb_fill(t->wbuf + (size_t)blk * SZ_4K, SZ_4K, tr_off(t, blk),
		tr_seed(t, gen));
}

/*
 * Write the whole span, then rounds of one batch that rewrites one half
 * and reads the other (interleaved), then read it all back.
 */
static void *tr_thread(void *arg)
{
	struct tr_thread *t = arg;
	struct blkbatch_entry ent[TR_NR];
	struct blkbatch_ring ring;
	struct blkbatch_cmd cmd;
	__s32 st[TR_NR];
	struct bb_res r;
	unsigned int i, round, blk;
	char what[64];
	int ret;

	ret = blkbatch_ring_init(&ring, 4, BLKBATCH_RING_CQE32);
	if (ret) {
		th_fail(&t->res, "thread %u: ring: %s", t->id, strerror(-ret));
		return NULL;
	}
	for (i = 0; i < TR_NR; i++)
		tr_fill(t, i, 1);
	t->gen[0] = 1;
	t->gen[1] = 1;
	snprintf(what, sizeof(what), "thread %u first write", t->id);
	if (run_span(&ring.ring, t->fd, BLKBATCH_OP_WRITE, t->wbuf, SZ_4K,
		     t->base, TR_NR, ent, st, &t->res, what))
		goto out;

	for (round = 1; round <= TR_ROUNDS; round++) {
		unsigned int w = round & 1, rd = !w;

		for (i = 0; i < TR_HALF; i++) {
			blk = w * TR_HALF + i;
			tr_fill(t, blk, round + 1);
			bb_entry(&ent[2 * i], BLKBATCH_OP_WRITE,
				 t->wbuf + (size_t)blk * SZ_4K, SZ_4K,
				 tr_off(t, blk));
			blk = rd * TR_HALF + i;
			bb_entry(&ent[2 * i + 1], BLKBATCH_OP_READ,
				 t->rbuf + (size_t)blk * SZ_4K, SZ_4K,
				 tr_off(t, blk));
		}
		memset(t->rbuf, 0xa5, TR_SPAN);
		cmd_init(&cmd, ent, st, TR_NR, 0);
		ret = bb_run_raw(&ring.ring, t->fd, &cmd, &r);
		snprintf(what, sizeof(what), "thread %u round %u", t->id,
			 round);
		if (ret || r.res != (int)TR_NR) {
			th_fail(&t->res, "%s: ring %d res %d", what, ret,
				r.res);
			goto out;
		}
		for (i = 0; i < TR_NR; i++) {
			if (st[i] != (__s32)SZ_4K) {
				th_fail(&t->res, "%s: status[%u] %d", what, i,
					st[i]);
				goto out;
			}
		}
		if (check_pat(&t->res, t->rbuf + rd * TR_HALF * SZ_4K,
			      TR_HALF * SZ_4K, tr_off(t, rd * TR_HALF),
			      tr_seed(t, t->gen[rd]), what))
			goto out;
		t->gen[w] = round + 1;
	}

	memset(t->rbuf, 0xa5, TR_SPAN);
	snprintf(what, sizeof(what), "thread %u final read", t->id);
	if (run_span(&ring.ring, t->fd, BLKBATCH_OP_READ, t->rbuf, SZ_4K,
		     t->base, TR_NR, ent, st, &t->res, what))
		goto out;
	for (i = 0; i < 2; i++)
		if (check_pat(&t->res, t->rbuf + i * TR_HALF * SZ_4K,
			      TR_HALF * SZ_4K, tr_off(t, i * TR_HALF),
			      tr_seed(t, t->gen[i]), what))
			break;
out:
	blkbatch_ring_exit(&ring);
	return NULL;
}

/* TR_THREADS threads, a ring each, batches of 64 on one file at once. */
TEST_F_TIMEOUT(stress, threads_own_rings_one_device, STRESS_TIMEOUT)
{
	struct tr_thread t[TR_THREADS];
	bool started[TR_THREADS] = { false };
	pthread_t th[TR_THREADS];
	unsigned int i, h;
	char *buf;
	double t0;

	BUILD_BUG_ON(REGION_THREADS + TR_THREADS * TR_SPAN > REGION_REWRITE);
	if (self->ctx.info.max_entries < TR_NR)
		SKIP(return, "max_entries %u", self->ctx.info.max_entries);
	ASSERT_EQ(0U, SZ_4K % self->lbs);
	buf = bb_alloc(2 * TR_THREADS * TR_SPAN);
	ASSERT_NE(NULL, buf);
	memset(t, 0, sizeof(t));
	for (i = 0; i < TR_THREADS; i++) {
		t[i].id = i;
		t[i].fd = self->ctx.fd;
		t[i].base = REGION_THREADS + i * TR_SPAN;
		t[i].salt = self->salt;
		t[i].wbuf = buf + 2 * i * TR_SPAN;
		t[i].rbuf = t[i].wbuf + TR_SPAN;
	}
	t0 = now_s();
	for (i = 0; i < TR_THREADS; i++)
		started[i] = !pthread_create(&th[i], NULL, tr_thread, &t[i]);
	for (i = 0; i < TR_THREADS; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	TH_LOG("%u threads x %u batches of %u in %.1f s", TR_THREADS,
	       TR_ROUNDS + 2, TR_NR, now_s() - t0);
	for (i = 0; i < TR_THREADS; i++) {
		ASSERT_TRUE(started[i]) TH_LOG("thread %u not started", i);
		EXPECT_EQ(0U, t[i].res.errors)
			TH_LOG("thread %u: %s", i, t[i].res.msg);
	}

	/* and the disk agrees, thread by thread */
	for (i = 0; i < TR_THREADS; i++) {
		if (t[i].res.errors)
			continue;
		memset(t[i].rbuf, 0xa5, TR_SPAN);
		ASSERT_EQ(0, bb_disk_io(false, t[i].rbuf, TR_SPAN, t[i].base));
		for (h = 0; h < 2; h++)
			EXPECT_EQ(-1, bb_check(t[i].rbuf + h * TR_HALF * SZ_4K,
					       TR_HALF * SZ_4K,
					       tr_off(&t[i], h * TR_HALF),
					       tr_seed(&t[i], t[i].gen[h])))
				TH_LOG("thread %u half %u", i, h);
	}
	bb_free(buf, 2 * TR_THREADS * TR_SPAN);
}

/* --- several devices -------------------------------------------------- */

#define DEV_NR		3		/* BLKBATCH_DISK and two null disks */
#define DEV_THREADS	4
#define DEV_ENTS	32U
#define DEV_ROUNDS	16
#define DEV_SPAN	((__u64)DEV_ENTS * SZ_4K)	/* per thread, device */
#define NULL_MB		64

/*
 * A memory-backed null_blk disk (so data can be checked) of NULL_MB MiB
 * with logical blocks of @bs; @irqmode 0 completes in the submitter
 * (while the batch is still being issued), 2 after @nsec on a timer.
 */
static int null_disk_create(struct bb_slow_disk *d, const char *name,
			    unsigned int bs, unsigned int irqmode,
			    unsigned long long nsec)
{
	struct bb_nullb_opts o = {
		.size_mb = NULL_MB,
		.bs = bs,
		.irqmode = irqmode,
		.completion_nsec = nsec,
		.memory = true,
	};

	return bb_nullb_create(d, name, &o);
}

struct dev_thread {
	unsigned int	id;
	int		fd[DEV_NR];
	__u64		base[DEV_NR];	/* this thread's span on each */
	__u64		salt;
	char		*buf;		/* DEV_NR x DEV_SPAN */
	__u32		gen;
	unsigned long	batches;
	struct th_res	res;
};

static __u64 dev_seed(const struct dev_thread *t, unsigned int d, __u32 gen)
{
	return pat_seed(t->salt, 2 + d, t->id, gen);
}

/* One batch on every device, all in flight on the one ring at once. */
static int dev_round(struct dev_thread *t, struct io_uring *ring, __u8 op,
		     struct blkbatch_entry (*ent)[DEV_ENTS],
		     __s32 (*st)[DEV_ENTS], const char *what)
{
	struct blkbatch_cmd cmd;
	unsigned int d, i, seen = 0;
	struct bb_res r;
	int ret;

	for (d = 0; d < DEV_NR; d++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		char *buf = t->buf + d * DEV_SPAN;

		if (!sqe) {
			th_fail(&t->res, "%s: no SQE", what);
			return -EBUSY;
		}
		for (i = 0; i < DEV_ENTS; i++)
			bb_entry(&ent[d][i], op, buf + i * SZ_4K, SZ_4K,
				 t->base[d] + i * SZ_4K);
		cmd_init(&cmd, ent[d], st[d], DEV_ENTS, 0);
		bb_prep_raw(sqe, t->fd[d], &cmd);
		sqe->user_data = d;
	}
	ret = io_uring_submit(ring);
	if (ret != DEV_NR) {
		th_fail(&t->res, "%s: submitted %d of %u", what, ret, DEV_NR);
		return -EIO;
	}
	t->batches += DEV_NR;
	for (d = 0; d < DEV_NR; d++) {
		ret = bb_reap(ring, &r, BB_CQE_WAIT_S);
		if (ret) {
			th_fail(&t->res, "%s: reap: %s", what, strerror(-ret));
			return ret;
		}
		if (r.user_data >= DEV_NR || seen & (1U << r.user_data)) {
			th_fail(&t->res, "%s: stray CQE %llu", what,
				(unsigned long long)r.user_data);
			return -EIO;
		}
		seen |= 1U << r.user_data;
		if (r.res != (int)DEV_ENTS) {
			th_fail(&t->res, "%s: device %llu: res %d", what,
				(unsigned long long)r.user_data, r.res);
			return -EIO;
		}
		for (i = 0; i < DEV_ENTS; i++) {
			if (st[r.user_data][i] != (__s32)SZ_4K) {
				th_fail(&t->res, "%s: device %llu status[%u] %d",
					what, (unsigned long long)r.user_data,
					i, st[r.user_data][i]);
				return -EIO;
			}
		}
	}
	return 0;
}

static void *dev_thread(void *arg)
{
	struct blkbatch_entry ent[DEV_NR][DEV_ENTS];
	__s32 st[DEV_NR][DEV_ENTS];
	struct dev_thread *t = arg;
	struct blkbatch_ring ring;
	unsigned int round, d;
	char what[64];
	int ret;

	ret = blkbatch_ring_init(&ring, 2 * DEV_NR, BLKBATCH_RING_CQE32);
	if (ret) {
		th_fail(&t->res, "thread %u: ring: %s", t->id, strerror(-ret));
		return NULL;
	}
	for (round = 1; round <= DEV_ROUNDS; round++) {
		snprintf(what, sizeof(what), "thread %u round %u", t->id,
			 round);
		for (d = 0; d < DEV_NR; d++)
			bb_fill(t->buf + d * DEV_SPAN, DEV_SPAN, t->base[d],
				dev_seed(t, d, round));
		if (dev_round(t, &ring.ring, BLKBATCH_OP_WRITE, ent, st, what))
			break;
		t->gen = round;
		memset(t->buf, 0xa5, DEV_NR * DEV_SPAN);
		if (dev_round(t, &ring.ring, BLKBATCH_OP_READ, ent, st, what))
			break;
		for (d = 0; d < DEV_NR; d++)
			if (check_pat(&t->res, t->buf + d * DEV_SPAN, DEV_SPAN,
				      t->base[d], dev_seed(t, d, round), what))
				break;
		if (t->res.errors)
			break;
	}
	blkbatch_ring_exit(&ring);
	return NULL;
}

/*
 * Three devices attached at once, the NVMe disk and two null disks that
 * complete differently (in the submitter; on a timer, 4 KiB blocks);
 * DEV_THREADS threads, each ring submitting to all three together.
 */
TEST_F_TIMEOUT(stress, several_devices, STRESS_TIMEOUT)
{
	struct dev_thread t[DEV_THREADS];
	bool started[DEV_THREADS] = { false };
	pthread_t th[DEV_THREADS];
	const char *path[DEV_NR];
	__u64 base[DEV_NR];
	int fd[DEV_NR];
	unsigned int i, d;
	size_t len = DEV_THREADS * DEV_NR * DEV_SPAN;
	char *buf, *chk;
	double t0;

	BUILD_BUG_ON(REGION_DEVICES + DEV_THREADS * DEV_SPAN > REGION_INFLIGHT);
	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no null_blk configfs");
	ASSERT_EQ(0, null_disk_create(&self->null[0], "bbstress0", 512, 0, 0));
	self->null_made[0] = true;
	ASSERT_EQ(0, null_disk_create(&self->null[1], "bbstress1", 4096, 2,
				      20000));
	self->null_made[1] = true;
	for (i = 0; i < 2; i++) {
		self->nctx[i].disk = self->null[i].dev;
		ASSERT_EQ(0, bb_ctx_setup(&self->nctx[i], 0, O_RDWR));
		EXPECT_NE(self->ctx.index, self->nctx[i].index);
		ASSERT_LE(DEV_THREADS * DEV_SPAN, self->nctx[i].info.capacity);
		ASSERT_LE(DEV_ENTS, self->nctx[i].info.max_entries);
	}
	EXPECT_NE(self->nctx[0].index, self->nctx[1].index);
	EXPECT_EQ(4096U, self->nctx[1].info.logical_block_size);
	ASSERT_LE(DEV_ENTS, self->ctx.info.max_entries);
	ASSERT_EQ(0U, SZ_4K % self->lbs);

	path[0] = bb_disk();
	fd[0] = self->ctx.fd;
	base[0] = REGION_DEVICES;
	for (d = 1; d < DEV_NR; d++) {
		path[d] = self->null[d - 1].dev;
		fd[d] = self->nctx[d - 1].fd;
		base[d] = SZ_1M;
	}

	buf = bb_alloc(len);
	chk = bb_alloc(DEV_SPAN);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, chk);
	memset(t, 0, sizeof(t));
	for (i = 0; i < DEV_THREADS; i++) {
		t[i].id = i;
		t[i].salt = self->salt;
		t[i].buf = buf + i * DEV_NR * DEV_SPAN;
		for (d = 0; d < DEV_NR; d++) {
			t[i].fd[d] = fd[d];
			t[i].base[d] = base[d] + i * DEV_SPAN;
		}
	}
	t0 = now_s();
	for (i = 0; i < DEV_THREADS; i++)
		started[i] = !pthread_create(&th[i], NULL, dev_thread, &t[i]);
	for (i = 0; i < DEV_THREADS; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	TH_LOG("%u threads x %u batches in %.1f s", DEV_THREADS,
	       2 * DEV_ROUNDS * DEV_NR, now_s() - t0);
	for (i = 0; i < DEV_THREADS; i++) {
		ASSERT_TRUE(started[i]) TH_LOG("thread %u not started", i);
		EXPECT_EQ(0U, t[i].res.errors)
			TH_LOG("thread %u: %s", i, t[i].res.msg);
		EXPECT_EQ((__u32)DEV_ROUNDS, t[i].gen);
	}

	/* each device holds what was written to it, and nothing else */
	for (i = 0; i < DEV_THREADS; i++) {
		for (d = 0; d < DEV_NR; d++) {
			memset(chk, 0xa5, DEV_SPAN);
			ASSERT_EQ(0, raw_read(path[d], chk, DEV_SPAN,
					      t[i].base[d]));
			EXPECT_EQ(-1, bb_check(chk, DEV_SPAN, t[i].base[d],
					       dev_seed(&t[i], d, t[i].gen)))
				TH_LOG("thread %u device %s", i, path[d]);
		}
	}
	bb_free(buf, len);
	bb_free(chk, DEV_SPAN);
}

/* --- entries rewritten while they are submitted ----------------------- */

#define RW_NR		16U
#define RW_FLIP		5U		/* the entry that turns invalid */
#define RW_SUBMITS	300
#define RW_SPAN		(RW_NR * SZ_4K)		/* 64 KiB */
/* Buffers A and B: their addresses differ in bit 16 only (one byte). */
#define RW_ALIGN	(2 * RW_SPAN)

struct flipper {
	struct blkbatch_entry	*ent;
	__u64			a, b;
	int			stop;
	unsigned long		passes;		/* published as it goes */
};

/*
 * Rewrite the array for as long as the test runs, field by field as a
 * program might: every entry's buffer between A and B on every pass, and
 * entry RW_FLIP between a valid write and one with len 4095 or op 0xff
 * every RW_PHASE passes (a copy that tears those fields sees an invalid
 * entry: flipping them on every pass would leave few valid copies).
 * However a copy tears these stores, an entry is either valid, with
 * buffer A or B, or invalid (-EINVAL).
 */
#define RW_PHASE	64

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	struct blkbatch_entry *e = &f->ent[RW_FLIP];
	unsigned long c;
	unsigned int i;

	for (c = 0; !__atomic_load_n(&f->stop, __ATOMIC_RELAXED); c++) {
		__u64 set = c & 1 ? f->b : f->a;

		__atomic_store_n(&f->passes, c, __ATOMIC_RELAXED);
		for (i = 0; i < RW_NR; i++)
			__atomic_store_n(&f->ent[i].addr, set + i * SZ_4K,
					 __ATOMIC_RELAXED);
		switch (c / RW_PHASE % 4) {
		case 1:
			__atomic_store_n(&e->len, SZ_4K - 1, __ATOMIC_RELAXED);
			break;
		case 3:
			__atomic_store_n(&e->op, 0xff, __ATOMIC_RELAXED);
			break;
		default:
			__atomic_store_n(&e->op, BLKBATCH_OP_WRITE,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&e->len, SZ_4K, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

/*
 * With two CPUs or more, run the caller and @other on different ones: the
 * flipper then rewrites the array while the kernel copies it.
 */
static void pin_apart(pthread_t other)
{
	cpu_set_t set, one;
	int cpu, first = -1;

	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (first < 0) {
			first = cpu;
			sched_setaffinity(0, sizeof(one), &one);
		} else {
			pthread_setaffinity_np(other, sizeof(one), &one);
			break;
		}
	}
}

/* Which pattern entry @i's block holds: 0 A, 1 B, 2 the old one, -1 none. */
static int rw_which(const char *p, unsigned int i, const __u64 *seeds)
{
	__u64 off = REGION_REWRITE + i * SZ_4K;
	int k;

	for (k = 0; k < 3; k++)
		if (bb_check(p, SZ_4K, off, seeds[k]) < 0)
			return k;
	return -1;
}

/*
 * The kernel copies the entry array once per submission: rewriting it
 * concurrently may change what a submission does, but each submission is
 * self-consistent, the kernel never trips over it, and the disk ends up
 * with A or B in every entry's block.
 */
TEST_F_TIMEOUT(stress, descriptors_rewritten_during_submit, STRESS_TIMEOUT)
{
	struct blkbatch_entry *ent;
	struct blkbatch_ring ring;
	struct blkbatch_cmd cmd;
	struct flipper f = { 0 };
	__s32 st[RW_NR];
	unsigned int n, i, ok = 0, einval = 0, bad = 0;
	__u64 seeds[3];
	struct bb_res r;
	char *map, *a, *b, *chk;
	pthread_t th;
	double t0;
	int ret;

	BUILD_BUG_ON(REGION_REWRITE + RW_SPAN > REGION_DEVICES);
	ASSERT_EQ(0U, SZ_4K % self->lbs);
	ASSERT_LE(RW_NR, self->ctx.info.max_entries);
	map = bb_alloc(2 * RW_ALIGN);
	chk = bb_alloc(RW_SPAN);
	ent = bb_alloc(SZ_4K);
	ASSERT_NE(NULL, map);
	ASSERT_NE(NULL, chk);
	ASSERT_NE(NULL, ent);
	a = (char *)(((uintptr_t)map + RW_ALIGN - 1) & ~(uintptr_t)(RW_ALIGN - 1));
	b = a + RW_SPAN;
	for (i = 0; i < 3; i++)
		seeds[i] = pat_seed(self->salt, 5, i, 1);
	bb_fill(a, RW_SPAN, REGION_REWRITE, seeds[0]);
	bb_fill(b, RW_SPAN, REGION_REWRITE, seeds[1]);
	bb_fill(chk, RW_SPAN, REGION_REWRITE, seeds[2]);
	ASSERT_EQ(0, bb_disk_io(true, chk, RW_SPAN, REGION_REWRITE));

	ASSERT_EQ(0, blkbatch_ring_init(&ring, 4, BLKBATCH_RING_CQE32));
	for (i = 0; i < RW_NR; i++)
		bb_entry(&ent[i], BLKBATCH_OP_WRITE, a + i * SZ_4K, SZ_4K,
			 REGION_REWRITE + i * SZ_4K);
	f.ent = ent;
	f.a = (uintptr_t)a;
	f.b = (uintptr_t)b;
	ASSERT_EQ(0, pthread_create(&th, NULL, flip_thread, &f));
	pin_apart(th);
	t0 = now_s();

	/*
	 * No assertion while the flipper runs: count, then stop it.  A
	 * refused submission takes no time: before each one, wait for the
	 * flipper to be at work (it may share our CPU).
	 */
	for (n = 0; n < RW_SUBMITS; n++) {
		unsigned long pass = __atomic_load_n(&f.passes,
						     __ATOMIC_RELAXED);

		while (__atomic_load_n(&f.passes, __ATOMIC_RELAXED) == pass)
			sched_yield();
		cmd_init(&cmd, ent, st, RW_NR, 0);
		ret = bb_run_raw(&ring.ring, self->ctx.fd, &cmd, &r);
		if (ret) {
			TH_LOG("submission %u: ring: %s", n, strerror(-ret));
			bad++;
			break;
		}
		if (r.res == -EINVAL && r.res2 == RW_FLIP) {
			for (i = 0; i < RW_NR && st[i] == ST_UNSET; i++)
				;
			if (i == RW_NR) {
				einval++;
				continue;
			}
		} else if (r.res == (int)RW_NR) {
			for (i = 0; i < RW_NR && st[i] == (__s32)SZ_4K; i++)
				;
			if (i == RW_NR) {
				ok++;
				continue;
			}
		}
		TH_LOG("submission %u: res %d index %lld status[0] %d status[%u] %d",
		       n, r.res, (long long)r.res2, st[0], RW_FLIP,
		       st[RW_FLIP]);
		if (++bad >= 5)
			break;
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	TH_LOG("%u submissions in %.1f s: %u done, %u refused; %lu rewrites of the array",
	       n, now_s() - t0, ok, einval, f.passes);
	EXPECT_EQ(0U, bad);
	/* either outcome is certain in 300 tries unless the flipper stalled */
	EXPECT_LT(0U, ok);
	EXPECT_LT(0U, einval);

	/* every block holds A or B (the old data only if nothing was done) */
	memset(chk, 0xa5, RW_SPAN);
	ASSERT_EQ((ssize_t)RW_SPAN, blkbatch_pread(&ring, self->ctx.fd, chk,
						   RW_SPAN, REGION_REWRITE));
	blkbatch_ring_exit(&ring);
	for (n = 0; n < 2; n++) {
		unsigned int ab[3] = { 0 };

		for (i = 0; i < RW_NR; i++) {
			int k = rw_which(chk + i * SZ_4K, i, seeds);

			EXPECT_TRUE(k == 0 || k == 1 || (k == 2 && !ok))
				TH_LOG("%s: entry %u holds pattern %d",
				       n ? "disk" : "blkbatch", i, k);
			if (k >= 0)
				ab[k]++;
		}
		if (!n)
			TH_LOG("blocks: %u A, %u B, %u old", ab[0], ab[1],
			       ab[2]);
		memset(chk, 0xa5, RW_SPAN);
		ASSERT_EQ(0, bb_disk_io(false, chk, RW_SPAN, REGION_REWRITE));
	}
	bb_free(map, 2 * RW_ALIGN);
	bb_free(chk, RW_SPAN);
	bb_free(ent, SZ_4K);
}

/* --- a ring full of batches ------------------------------------------- */

#define IF_DEPTH	64U
#define IF_NR		64U
#define IF_LEN		512U		/* per entry */
#define IF_BATCH_SPAN	((size_t)IF_NR * IF_LEN)
#define IF_SPAN		(IF_DEPTH * IF_BATCH_SPAN)	/* 2 MiB */

enum if_mode {
	IF_WRITE,	/* every batch writes */
	IF_MIXED,	/* the odd batches write, the even ones read */
	IF_READ,	/* every batch reads */
};

/*
 * Batch @k of a round: entry i at REGION_INFLIGHT + k * 32 KiB + i * 512
 * (in reverse order), from or into @buf at the same offset.  All IF_DEPTH
 * batches queued, then one io_uring_enter.
 */
static int if_round(struct io_uring *ring, int fd, char *buf,
		    struct blkbatch_entry *ent, __s32 *st, enum if_mode mode)
{
	struct blkbatch_cmd cmd;
	unsigned int k, i;

	for (k = 0; k < IF_DEPTH; k++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		struct blkbatch_entry *e = ent + k * IF_NR;
		bool write = mode == IF_WRITE || (mode == IF_MIXED && (k & 1));

		if (!sqe)
			return -EBUSY;
		for (i = 0; i < IF_NR; i++) {
			size_t o = k * IF_BATCH_SPAN +
				   (IF_NR - 1 - i) * (size_t)IF_LEN;

			bb_entry(&e[i], write ? BLKBATCH_OP_WRITE :
				 BLKBATCH_OP_READ, buf + o, IF_LEN,
				 REGION_INFLIGHT + o);
		}
		cmd_init(&cmd, e, st + k * IF_NR, IF_NR, 0);
		bb_prep_raw(sqe, fd, &cmd);
		sqe->user_data = 1000 + k;
	}
	return io_uring_submit(ring);
}

/* Reap IF_DEPTH completions: each batch once, every entry IF_LEN. */
static void if_reap(struct __test_metadata *_metadata, struct io_uring *ring,
		    const __s32 *st)
{
	__u64 seen = 0;
	unsigned int k, i;
	struct bb_res r;

	for (k = 0; k < IF_DEPTH; k++) {
		ASSERT_EQ(0, bb_reap(ring, &r, BB_CQE_WAIT_S));
		ASSERT_LE(1000ULL, r.user_data);
		ASSERT_GT(1000ULL + IF_DEPTH, r.user_data);
		i = r.user_data - 1000;
		EXPECT_EQ(0ULL, seen & (1ULL << i)) TH_LOG("batch %u twice", i);
		seen |= 1ULL << i;
		EXPECT_EQ((int)IF_NR, r.res) TH_LOG("batch %u", i);
	}
	for (i = 0; i < IF_DEPTH * IF_NR; i++)
		if (st[i] != (__s32)IF_LEN)
			break;
	EXPECT_EQ(IF_DEPTH * IF_NR, i) TH_LOG("status[%u] = %d", i, st[i]);
	EXPECT_EQ(0U, io_uring_cq_ready(ring));
}

/*
 * 64 batches of 64 entries in flight on one ring of depth 64: all
 * writes; then reads of the even batches' data alongside rewrites of
 * the odd ones; then everything read back.
 */
TEST_F_TIMEOUT(stress, many_batches_in_flight_one_ring, STRESS_TIMEOUT)
{
	size_t span = IF_BATCH_SPAN;
	struct blkbatch_entry *ent;
	struct blkbatch_ring ring;
	__u64 s1 = pat_seed(self->salt, 6, 0, 1);
	__u64 s2 = pat_seed(self->salt, 6, 0, 2);
	char *buf, *chk;
	unsigned int k;
	__s32 *st;
	double t0;

	BUILD_BUG_ON(REGION_INFLIGHT + IF_SPAN > REGION_SOAK);
	if (IF_LEN % self->lbs)
		SKIP(return, "logical block size %u", self->lbs);
	ASSERT_LE(IF_NR, self->ctx.info.max_entries);
	buf = bb_alloc(IF_SPAN);
	chk = bb_alloc(IF_SPAN);
	ent = calloc(IF_DEPTH * IF_NR, sizeof(*ent));
	st = calloc(IF_DEPTH * IF_NR, sizeof(*st));
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, chk);
	ASSERT_NE(NULL, ent);
	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, blkbatch_ring_init(&ring, IF_DEPTH, BLKBATCH_RING_CQE32));
	t0 = now_s();

	bb_fill(buf, IF_SPAN, REGION_INFLIGHT, s1);
	ASSERT_EQ((int)IF_DEPTH, if_round(&ring.ring, self->ctx.fd, buf, ent,
					  st, IF_WRITE));
	if_reap(_metadata, &ring.ring, st);

	/* the odd batches' buffers get the new data, the even ones poison */
	for (k = 0; k < IF_DEPTH; k++) {
		char *p = buf + k * span;
		__u64 off = REGION_INFLIGHT + k * span;

		if (k & 1)
			bb_fill(p, span, off, s2);
		else
			memset(p, 0xa5, span);
	}
	ASSERT_EQ((int)IF_DEPTH, if_round(&ring.ring, self->ctx.fd, buf, ent,
					  st, IF_MIXED));
	if_reap(_metadata, &ring.ring, st);
	for (k = 0; k < IF_DEPTH; k += 2)
		ASSERT_EQ(-1, bb_check(buf + k * span, span,
				       REGION_INFLIGHT + k * span, s1))
			TH_LOG("batch %u", k);

	memset(buf, 0xa5, IF_SPAN);
	ASSERT_EQ((int)IF_DEPTH, if_round(&ring.ring, self->ctx.fd, buf, ent,
					  st, IF_READ));
	if_reap(_metadata, &ring.ring, st);
	memset(chk, 0xa5, IF_SPAN);
	ASSERT_EQ(0, bb_disk_io(false, chk, IF_SPAN, REGION_INFLIGHT));
	for (k = 0; k < IF_DEPTH; k++) {
		__u64 off = REGION_INFLIGHT + k * span;
		__u64 s = k & 1 ? s2 : s1;

		EXPECT_EQ(-1, bb_check(buf + k * span, span, off, s))
			TH_LOG("batch %u through blkbatch", k);
		EXPECT_EQ(-1, bb_check(chk + k * span, span, off, s))
			TH_LOG("batch %u on the disk", k);
	}
	TH_LOG("3 x %u batches of %u in %.1f s", IF_DEPTH, IF_NR,
	       now_s() - t0);
	blkbatch_ring_exit(&ring);
	free(ent);
	free(st);
	bb_free(buf, IF_SPAN);
	bb_free(chk, IF_SPAN);
}

TEST_HARNESS_MAIN
