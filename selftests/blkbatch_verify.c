// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch_verify: a randomized, seeded model checker.
 *
 * Hand-picked tests cover the cases someone thought of.  This one draws
 * batches at random over every op, flag and position (the first segment or
 * after one or more barriers), injects per-entry failures, waits for the
 * CQE in every way a program can (including a busy-poll of the CQ with no
 * system call, where io_uring task work runs on return from an interrupt),
 * and checks every status, every byte read and, every VR_CHECK_EVERY
 * batches and at the end, the whole region on the raw disk.
 *
 * The model: one state per logical block of [VR_BASE, VR_BASE + VR_SIZE):
 * zeros, the bb_fill() pattern of one seed, or unknown (after a discard or
 * a failed write).  The entries of one segment race, so no two of them
 * overlap unless both read; segments run in array order, so the model
 * applies the entries in array order.
 *
 * One test per completion path (FIXTURE_VARIANT): interrupt ring, IOPOLL
 * ring, SQPOLL ring, fixed buffers, the synchronous ioctl.  Each runs for
 * BLKBATCH_VERIFY_SECONDS (default 12): a time budget, not a count, since
 * the kernels differ in speed.
 *
 * BLKBATCH_VERIFY_SEED=N replays a run: the seed is printed first and
 * every failure names it with the variant, the batch and the entry.  Batch
 * N of a variant is the same batch for a given seed whatever the timing;
 * "-v VARIANT" runs one variant.
 */
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "blkbatch_test.h"

#ifndef IORING_URING_CMD_FIXED
#define IORING_URING_CMD_FIXED	(1U << 0)
#endif

/* Our scratch region: 256..288 MiB of the 768 MiB VM disk. */
#define VR_BASE		BB_REGION(BB_RG_VERIFY)
#define VR_SIZE		(32ULL * SZ_1M)
#define VR_CHUNK	SZ_1M		/* raw disk I/O unit: init, checks */
#define VR_MAX_NR	256		/* the "sometimes bigger" batches */
#define VR_MAX_VECS	8
#define VR_MAX_LEN	SZ_1M
#define VR_ARENA	(24 * SZ_1M)	/* the data buffers of one batch */
#define VR_WAIT_S	60		/* longest wait for one CQE */
#define VR_SECONDS	12		/* default budget per variant */
#define VR_TIMEOUT	150		/* harness timeout per variant */
#define VR_CHECK_EVERY	64		/* batches between raw checks */
#define VR_MSG_MAX	20		/* failure lines printed per variant */
#define VR_MSG_BATCH	6		/* ... and per batch, to show several */
#define VR_UNSET	0x5a5a5a5a	/* a status the kernel did not write */
#define VR_POISON	0xa5		/* read buffers, before the read */
#define VR_BUSY_SPINS	(1U << 16)	/* peeks between two clock reads */

/* Block states besides a pattern seed (new_seed() never makes these). */
#define BLK_ZERO	0ULL
#define BLK_UNKNOWN	(~0ULL)

#define MIN(a, b)	((a) < (b) ? (a) : (b))

enum vr_wait {
	W_BUSY,		/* io_uring_peek_cqe() spin: no system call */
	W_ENTER,	/* io_uring_enter() waits */
	W_EPOLL,	/* epoll_wait() on the ring fd, then peek */
	W_SLEEP,	/* nanosleep() between peeks */
	W_GETEVENTS,	/* IOPOLL: io_uring_enter() polls once, then peek */
	W_SYNC,		/* BLKBATCH_IOC_SUBMIT returns when done */
	W_NR
};

static const char *const wait_name[W_NR] = {
	"busy", "enter", "epoll", "sleep", "getevents", "sync",
};

static const char *const op_name[] = {
	"READ", "WRITE", "FLUSH", "DISCARD", "WRITE_ZEROES", "BARRIER",
};

/* One buffer of an entry: the whole buffer, or one iovec's. */
struct vr_piece {
	char	*buf;
	__u32	len;
};

/* An entry as generated, with what it must report. */
struct vr_ent {
	__u8		op;
	__u16		flags;
	__u32		len;
	__u64		off;
	__u64		seed;		/* WRITE: the pattern written */
	int		inject;		/* 0, -EINVAL or -EFAULT */
	unsigned int	seg;		/* segment within the batch, from 0 */
	unsigned int	nvec;		/* pieces; > 1 only with EF_VEC */
	struct vr_piece	pc[VR_MAX_VECS];	/* in device order */
	__s32		expect;
};

struct vr_stats {
	unsigned long		batches, entries, late_vec, injected, canceled;
	unsigned long		raw_checks, raw_ranges, failures;
	unsigned long		waits[W_NR], failed_batches[W_NR];
	unsigned long long	bytes;
};

struct vr {
	/* the variant and the device */
	const char		*name;
	unsigned int		setup;		/* IORING_SETUP_* */
	bool			fixed, sync, iopoll;
	const char		*skip;		/* why the variant cannot run */
	struct bb_ctx		ctx;
	struct io_uring		ring;
	bool			ring_ok;
	int			epfd;
	__u64			features;
	__u32			lbs, dma, max_nr, max_len, max_vecs;
	/* memory */
	char			*arena;		/* registered when fixed */
	size_t			used;		/* of the arena, this batch */
	char			*chk;		/* raw disk I/O */
	void			*hole;		/* nothing mapped there */
	/* the model */
	__u64			rng;
	unsigned int		nblk;
	__u64			*st;	/* per block: BLK_ZERO, _UNKNOWN, seed */
	__u64			*who;	/* per block: batch << 16 | entry */
	__u32			*rmark, *wmark;	/* segment id last read/written */
	__u32			segid;		/* of the segment being made */
	/* the batch */
	unsigned long		batch;
	unsigned int		nr, seg, inj_left;
	unsigned int		batch_fails, printed;	/* failure lines */
	bool			in_batch;	/* not a full check */
	__u32			cmd_flags;
	enum vr_wait		wait;
	struct vr_ent		ent[VR_MAX_NR];
	struct blkbatch_entry	be[VR_MAX_NR];
	struct iovec		iov[VR_MAX_NR][VR_MAX_VECS];
	__s32			status[VR_MAX_NR];
	struct vr_stats		s;
};

/* --- seed, time, random numbers ------------------------------------- */

/* One seed for the whole program: the harness forks a child per test. */
static __u64 vr_seed;

static void __attribute__((constructor)) vr_seed_init(void)
{
	const char *s = getenv("BLKBATCH_VERIFY_SEED");
	struct timespec ts;

	if (s && *s) {
		vr_seed = strtoull(s, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		vr_seed = (__u64)ts.tv_sec << 32 ^ ts.tv_nsec ^
			  (__u64)getpid() << 16;
	}
	fprintf(stderr, "# seed=%#llx (BLKBATCH_VERIFY_SEED=%#llx replays)\n",
		(unsigned long long)vr_seed, (unsigned long long)vr_seed);
}

/* The budget must leave the harness timeout a margin for the checks. */
static double vr_budget(void)
{
	const char *s = getenv("BLKBATCH_VERIFY_SECONDS");
	double t = s && *s ? strtod(s, NULL) : VR_SECONDS;

	if (t <= 0)
		t = VR_SECONDS;
	return MIN(t, VR_TIMEOUT - 60);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: a variant's stream depends on the seed and its name only. */
static __u64 rnd(struct vr *v)
{
	__u64 x = v->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	v->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static __u32 below(struct vr *v, __u32 n)
{
	return n ? (rnd(v) >> 16) % n : 0;
}

static bool chance(struct vr *v, unsigned int pct)
{
	return below(v, 100) < pct;
}

static void rnd_init(struct vr *v)
{
	const char *p;

	v->rng = vr_seed ^ 0x9e3779b97f4a7c15ULL;
	for (p = v->name; *p; p++)
		v->rng = (v->rng ^ (__u8)*p) * 0x100000001b3ULL;
	if (!v->rng)
		v->rng = 1;
}

static __u64 new_seed(struct vr *v)
{
	__u64 s;

	do
		s = rnd(v);
	while (s == BLK_ZERO || s == BLK_UNKNOWN);
	return s;
}

/* --- reporting -------------------------------------------------------- */

/* Every line names what replays it: seed, variant, batch (and entry). */
static void __printf(2, 3) vr_fail(struct vr *v, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	v->s.failures++;
	if (!v->batch_fails++ && v->in_batch)
		v->s.failed_batches[v->wait]++;
	if (v->printed >= VR_MSG_MAX)
		return;
	if (v->batch_fails > VR_MSG_BATCH) {
		if (v->batch_fails == VR_MSG_BATCH + 1)
			fprintf(stderr, "# (more failures of %s batch %lu only counted)\n",
				v->name, v->batch);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# FAIL seed=%#llx variant=%s batch=%lu (nr=%u%s wait=%s) %s\n",
		(unsigned long long)vr_seed, v->name, v->batch, v->nr,
		v->cmd_flags & BLKBATCH_CMD_F_ABORT_ON_ERROR ? " abort" : "",
		wait_name[v->wait], msg);
	if (++v->printed == VR_MSG_MAX)
		fprintf(stderr, "# (further failures of %s only counted)\n",
			v->name);
}

static const char *status_str(__s32 st)
{
	if (st == VR_UNSET)
		return "not written";
	return st < 0 ? strerror(-st) : "ok";
}

static const char *ent_desc(const struct vr *v, unsigned int i, char *buf,
			    size_t n)
{
	const struct vr_ent *e = &v->ent[i];

	snprintf(buf, n, "%s%s%s off=%llu len=%u vecs=%u seg=%u%s",
		 op_name[e->op], e->flags & BLKBATCH_EF_VEC ? "+VEC" : "",
		 e->flags & BLKBATCH_EF_FUA ? "+FUA" : "",
		 (unsigned long long)e->off, e->len,
		 e->flags & BLKBATCH_EF_VEC ? e->nvec : 0, e->seg,
		 e->inject == -EINVAL ? " inject=iov-lengths" :
		 e->inject == -EFAULT ? " inject=iov0-unmapped" : "");
	return buf;
}

/* What a block holds, as far as the patterns tell. */
static void block_desc(const struct vr *v, const char *p, __u64 devoff,
		       char *buf, size_t n)
{
	__u64 w = *(const __u64 *)p, fs = w ^ bb_word(devoff, 0);

	if (bb_all_bytes(p, v->lbs, 0))
		snprintf(buf, n, "zeros");
	else if (bb_all_bytes(p, v->lbs, VR_POISON))
		snprintf(buf, n, "the read poison (no data came)");
	else if (bb_check(p, v->lbs, devoff, fs) < 0)
		snprintf(buf, n, "pattern seed %#llx", (unsigned long long)fs);
	else
		snprintf(buf, n, "other data, first word %#llx",
			 (unsigned long long)w);
}

/*
 * @len bytes read from device offset @off into @buf against the model;
 * one line for the first block that differs.  @what names the reader.
 */
static unsigned int check_blocks(struct vr *v, const char *buf, __u64 off,
				 __u32 len, const char *what)
{
	unsigned int bad = 0, first = 0, o;
	char want[48], got[80];
	__u64 b, st;

	for (o = 0; o < len; o += v->lbs) {
		st = v->st[(off + o - VR_BASE) / v->lbs];
		if (st == BLK_UNKNOWN)
			continue;
		if (st == BLK_ZERO ? !bb_all_bytes(buf + o, v->lbs, 0) :
		    bb_check(buf + o, v->lbs, off + o, st) >= 0)
			if (!bad++)
				first = o;
	}
	if (!bad)
		return 0;
	b = (off + first - VR_BASE) / v->lbs;
	st = v->st[b];
	if (st == BLK_ZERO)
		snprintf(want, sizeof(want), "zeros");
	else
		snprintf(want, sizeof(want), "pattern seed %#llx",
			 (unsigned long long)st);
	block_desc(v, buf + first, off + first, got, sizeof(got));
	vr_fail(v, "%s: %u of %u blocks differ from the model, first at device offset %llu: expected %s, found %s (block last set by batch %llu entry %llu)",
		what, bad, len / v->lbs, (unsigned long long)(off + first),
		want, got, (unsigned long long)(v->who[b] >> 16),
		(unsigned long long)(v->who[b] & 0xffff));
	return bad;
}

/* --- the model -------------------------------------------------------- */

static void model_set(struct vr *v, __u64 off, __u64 len, __u64 st,
		      unsigned int entry)
{
	__u64 b = (off - VR_BASE) / v->lbs, end = b + len / v->lbs;

	for (; b < end; b++) {
		v->st[b] = st;
		v->who[b] = (__u64)v->batch << 16 | entry;
	}
}

/* The device region, read raw in chunks, against the model. */
static void raw_check(struct vr *v, __u64 off, __u64 len, const char *what)
{
	__u32 n;
	int ret;

	for (; len; off += n, len -= n) {
		n = MIN(len, VR_CHUNK);
		ret = bb_disk_io(false, v->chk, n, off);
		if (ret)
			vr_fail(v, "%s: raw read at %llu: %s", what,
				(unsigned long long)off, strerror(-ret));
		else
			check_blocks(v, v->chk, off, n, what);
	}
}

static void full_check(struct vr *v, const char *what)
{
	v->batch_fails = 0;
	v->in_batch = false;
	raw_check(v, VR_BASE, VR_SIZE, what);
	v->s.raw_checks++;
}

/*
 * Start from known contents, written around blkbatch: 64 KiB runs of
 * zeros or of a pattern.
 */
static int init_region(struct vr *v)
{
	__u64 off, sub, seed;
	int ret;

	for (off = VR_BASE; off < VR_BASE + VR_SIZE; off += VR_CHUNK) {
		for (sub = 0; sub < VR_CHUNK; sub += SZ_64K) {
			seed = chance(v, 25) ? BLK_ZERO : new_seed(v);
			if (seed == BLK_ZERO)
				memset(v->chk + sub, 0, SZ_64K);
			else
				bb_fill(v->chk + sub, SZ_64K, off + sub, seed);
			model_set(v, off + sub, SZ_64K, seed, 0);
		}
		ret = bb_disk_io(true, v->chk, VR_CHUNK, off);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- generating a batch ---------------------------------------------- */

/* Sub-page, page multiples, up to max_len; the small ones more often. */
static __u32 pick_len(struct vr *v)
{
	unsigned int r = below(v, 100);
	__u32 len;

	if (r < 35)
		len = v->lbs * (1 + below(v, SZ_4K / v->lbs));
	else if (r < 70)
		len = SZ_4K * (1 + below(v, 16));
	else if (r < 90)
		len = SZ_64K + below(v, 3 * SZ_64K);
	else
		len = 1 + below(v, v->max_len);
	len -= len % v->lbs;
	return len < v->lbs ? v->lbs : MIN(len, v->max_len);
}

/* Entries of one segment race: only reads may overlap each other. */
static bool range_free(const struct vr *v, __u32 b, __u32 n, bool write)
{
	__u32 i;

	for (i = b; i < b + n; i++)
		if (v->wmark[i] == v->segid ||
		    (write && v->rmark[i] == v->segid))
			return false;
	return true;
}

static bool pick_range(struct vr *v, __u32 len, bool write, __u64 *off)
{
	__u32 n = len / v->lbs, per_page = SZ_4K / v->lbs, b, i, try;
	__u32 *mark = write ? v->wmark : v->rmark;

	for (try = 0; try < 8; try++) {
		b = below(v, v->nblk - n + 1);
		if (per_page > 1 && chance(v, 50))
			b -= b % per_page;
		if (!range_free(v, b, n, write))
			continue;
		for (i = b; i < b + n; i++)
			mark[i] = v->segid;
		*off = VR_BASE + (__u64)b * v->lbs;
		return true;
	}
	return false;
}

/* Buffer bases: dma-aligned, sometimes page-aligned, sometimes a gap. */
static char *arena_get(struct vr *v, __u32 len)
{
	static const size_t aligns[] = { 0, 512, SZ_4K };
	size_t a = aligns[below(v, 3)], at;

	if (a < v->dma)
		a = v->dma;
	/*
	 * A registered buffer's pages cut a range into pieces that must be
	 * block multiples (uapi: -EINVAL otherwise); the arena is page
	 * aligned, so block-aligned bases are what a fixed batch may use.
	 */
	if (v->fixed && a < v->lbs)
		a = v->lbs;
	at = v->used + (chance(v, 30) ? a * below(v, 4) : 0);
	at = (at + a - 1) / a * a;
	if (at + len > VR_ARENA)
		return NULL;
	v->used = at + len;
	return v->arena + at;
}

/* Cut the entry into 1 piece, or with @vec 1..max_vecs block multiples. */
static void split_len(struct vr *v, struct vr_ent *e, bool vec)
{
	__u32 nb = e->len / v->lbs, left, take, i;

	e->nvec = vec ? 1 + below(v, MIN(v->max_vecs, nb)) : 1;
	left = nb - e->nvec;
	for (i = 0; i < e->nvec; i++) {
		take = i == e->nvec - 1 ? left : below(v, left + 1);
		e->pc[i].len = (1 + take) * v->lbs;
		left -= take;
	}
}

/* The pieces land in the arena in random order: a real gather. */
static bool place_pieces(struct vr *v, struct vr_ent *e)
{
	unsigned int order[VR_MAX_VECS], i, j, t;

	for (i = 0; i < e->nvec; i++)
		order[i] = i;
	for (i = e->nvec; i > 1; i--) {
		j = below(v, i);
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	for (i = 0; i < e->nvec; i++) {
		e->pc[order[i]].buf = arena_get(v, e->pc[order[i]].len);
		if (!e->pc[order[i]].buf)
			return false;
	}
	return true;
}

/* Writes carry their pattern; reads start poisoned. */
static void fill_pieces(struct vr_ent *e)
{
	__u64 off = e->off;
	unsigned int i;

	for (i = 0; i < e->nvec; off += e->pc[i].len, i++)
		if (e->op == BLKBATCH_OP_WRITE)
			bb_fill(e->pc[i].buf, e->pc[i].len, off, e->seed);
		else
			memset(e->pc[i].buf, VR_POISON, e->pc[i].len);
}

/* READ or WRITE: -EBUSY (no free range), -ENOSPC (arena full) or 0. */
static int gen_rw(struct vr *v, struct vr_ent *e)
{
	bool write = e->op == BLKBATCH_OP_WRITE;
	bool vec = !v->fixed && (v->features & BLKBATCH_F_VEC) &&
		   chance(v, 45);

	e->len = pick_len(v);
	if (!pick_range(v, e->len, write, &e->off))
		return -EBUSY;
	if (vec)
		e->flags |= BLKBATCH_EF_VEC;
	if (write && (v->features & BLKBATCH_F_FUA) && chance(v, 25))
		e->flags |= BLKBATCH_EF_FUA;
	split_len(v, e, vec);
	if (!place_pieces(v, e))
		return -ENOSPC;
	if (write)
		e->seed = new_seed(v);
	fill_pieces(e);
	/* Both injections are found while issuing, before any bio. */
	if (vec && v->inj_left && chance(v, 12)) {
		e->inject = chance(v, 50) ? -EINVAL : -EFAULT;
		v->inj_left--;
	}
	return 0;
}

static __u8 pick_op(struct vr *v)
{
	unsigned int r = below(v, 100);

	if (r < 36)
		return BLKBATCH_OP_READ;
	if (r < 72)
		return BLKBATCH_OP_WRITE;
	if (r < 84)
		return BLKBATCH_OP_BARRIER;
	if (r < 89)
		return BLKBATCH_OP_FLUSH;
	if (r < 95)
		return v->features & BLKBATCH_F_DISCARD ?
		       BLKBATCH_OP_DISCARD : BLKBATCH_OP_WRITE;
	return v->features & BLKBATCH_F_WRITE_ZEROES ?
	       BLKBATCH_OP_WRITE_ZEROES : BLKBATCH_OP_READ;
}

/* Entry @i; false when the arena is full and the batch ends before it. */
static bool gen_entry(struct vr *v, unsigned int i)
{
	struct vr_ent *e = &v->ent[i];
	int ret = 0;

	memset(e, 0, sizeof(*e));
	e->op = pick_op(v);
	e->seg = v->seg;
	if (e->op == BLKBATCH_OP_READ || e->op == BLKBATCH_OP_WRITE) {
		ret = gen_rw(v, e);
	} else if (e->op == BLKBATCH_OP_DISCARD ||
		   e->op == BLKBATCH_OP_WRITE_ZEROES) {
		e->len = pick_len(v);
		if (!pick_range(v, e->len, true, &e->off))
			ret = -EBUSY;
	}
	if (ret == -ENOSPC)
		return false;
	if (ret == -EBUSY) {
		/* the segment is crowded there: a barrier opens a new one */
		memset(e, 0, sizeof(*e));
		e->op = BLKBATCH_OP_BARRIER;
		e->seg = v->seg;
	}
	if (e->op == BLKBATCH_OP_BARRIER) {
		v->seg++;
		v->segid++;
	}
	return true;
}

/*
 * Without ABORT_ON_ERROR each entry reports its own result; with it,
 * everything after the first failure in array order is cancelled (our
 * failures are all found at issue time, so this holds inside a segment).
 */
static void set_expect(struct vr *v)
{
	bool abort = v->cmd_flags & BLKBATCH_CMD_F_ABORT_ON_ERROR;
	bool failed = false;
	unsigned int i;

	for (i = 0; i < v->nr; i++) {
		struct vr_ent *e = &v->ent[i];

		if (failed && abort) {
			e->expect = -ECANCELED;
		} else if (e->inject) {
			e->expect = e->inject;
			failed = true;
		} else {
			e->expect = e->op == BLKBATCH_OP_READ ||
				    e->op == BLKBATCH_OP_WRITE ? (__s32)e->len : 0;
		}
	}
}

/* iovec lengths that do not add up to len, each still block-aligned. */
static void bad_lengths(const struct vr *v, const struct vr_ent *e,
			struct iovec *iov)
{
	unsigned int j;

	for (j = 0; j < e->nvec; j++)
		if (iov[j].iov_len > v->lbs) {
			iov[j].iov_len -= v->lbs;
			return;
		}
	iov[e->nvec - 1].iov_len += v->lbs;
}

static void encode(struct vr *v, unsigned int i)
{
	const struct vr_ent *e = &v->ent[i];
	struct blkbatch_entry *be = &v->be[i];
	struct iovec *iov = v->iov[i];
	unsigned int j;

	bb_entry(be, e->op, e->pc[0].buf, e->len, e->off);
	be->flags = e->flags;
	if (!(e->flags & BLKBATCH_EF_VEC))
		return;
	for (j = 0; j < e->nvec; j++) {
		iov[j].iov_base = e->pc[j].buf;
		iov[j].iov_len = e->pc[j].len;
	}
	if (e->inject == -EFAULT)
		iov[0].iov_base = v->hole;
	else if (e->inject == -EINVAL)
		bad_lengths(v, e, iov);
	be->addr = (uintptr_t)iov;
	be->nr_vecs = e->nvec;
}

/* Busy-polling is what runs task work from interrupts: half the batches. */
static enum vr_wait pick_wait(struct vr *v)
{
	unsigned int r = below(v, 100);

	if (v->sync)
		return W_SYNC;
	if (v->iopoll)
		return r < 60 ? W_ENTER : W_GETEVENTS;
	if (r < 50)
		return W_BUSY;
	if (r < 70)
		return W_ENTER;
	return r < 85 ? W_EPOLL : W_SLEEP;
}

static void gen_batch(struct vr *v)
{
	unsigned int r = below(v, 100), want, i;

	if (r < 10 || v->max_nr < 2)
		want = 1;
	else if (r < 85 || v->max_nr <= 64)
		want = 1 + below(v, MIN(64, v->max_nr));
	else
		want = 65 + below(v, v->max_nr - 64);
	v->cmd_flags = (v->features & BLKBATCH_F_ABORT) && chance(v, 35) ?
		       BLKBATCH_CMD_F_ABORT_ON_ERROR : 0;
	v->inj_left = chance(v, 35) ? 1 + below(v, 2) : 0;
	v->used = 0;
	v->seg = 0;
	v->batch_fails = 0;
	v->in_batch = true;
	v->segid++;
	for (i = 0; i < want && gen_entry(v, i); i++)
		;
	v->nr = i;
	set_expect(v);
	for (i = 0; i < v->nr; i++)
		encode(v, i);
	v->wait = pick_wait(v);
}

/* --- submitting and waiting ------------------------------------------ */

/* No system call in here: clock_gettime() is the vDSO, and rare. */
static int wait_busy(struct vr *v, struct io_uring_cqe **cqe)
{
	double end = now_s() + VR_WAIT_S;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&v->ring, cqe))
		if (++n % VR_BUSY_SPINS == 0 && now_s() > end)
			return -ETIME;
	return 0;
}

static int wait_epoll(struct vr *v, struct io_uring_cqe **cqe)
{
	double left, end = now_s() + VR_WAIT_S;
	struct epoll_event ev;

	while (io_uring_peek_cqe(&v->ring, cqe)) {
		left = end - now_s();
		if (left <= 0)
			return -ETIME;
		if (epoll_wait(v->epfd, &ev, 1, (int)(left * 1000) + 1) < 0 &&
		    errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The sleep does not draw random numbers: the stream must not see time. */
static int wait_sleep(struct vr *v, struct io_uring_cqe **cqe)
{
	double end = now_s() + VR_WAIT_S;

	while (io_uring_peek_cqe(&v->ring, cqe)) {
		if (now_s() > end)
			return -ETIME;
		bb_sleep_ms(1 + v->batch % 3);
	}
	return 0;
}

/* IOPOLL: nobody but io_uring_enter() polls. @wait: min_complete 1. */
static int wait_iopoll(struct vr *v, struct io_uring_cqe **cqe, bool wait)
{
	double end = now_s() + VR_WAIT_S;
	int ret;

	while (io_uring_peek_cqe(&v->ring, cqe)) {
		if (now_s() > end)
			return -ETIME;
		ret = wait ? io_uring_enter(v->ring.ring_fd, 0, 1,
					    IORING_ENTER_GETEVENTS, NULL) :
			     io_uring_get_events(&v->ring);
		if (ret == -1)
			ret = -errno;
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
			return ret;
	}
	return 0;
}

static int wait_cqe(struct vr *v, struct bb_res *r)
{
	struct io_uring_cqe *cqe;
	int ret;

	if (v->wait == W_ENTER && !v->iopoll)
		return bb_reap(&v->ring, r, VR_WAIT_S);
	if (v->wait == W_ENTER || v->wait == W_GETEVENTS)
		ret = wait_iopoll(v, &cqe, v->wait == W_ENTER);
	else if (v->wait == W_BUSY)
		ret = wait_busy(v, &cqe);
	else if (v->wait == W_EPOLL)
		ret = wait_epoll(v, &cqe);
	else
		ret = wait_sleep(v, &cqe);
	if (ret)
		return ret;
	r->user_data = cqe->user_data;
	r->res = cqe->res;
	io_uring_cqe_seen(&v->ring, cqe);
	return 0;
}

/* One batch: 0 and its result in @res, or -errno if it got lost. */
static int run_batch(struct vr *v, int *res)
{
	struct blkbatch_cmd cmd = {
		.entries = (uintptr_t)v->be,
		.status = (uintptr_t)v->status,
		.nr = v->nr,
		.flags = v->cmd_flags,
	};
	struct io_uring_sqe *sqe;
	struct bb_res r;
	int ret;

	memset(v->status, 0x5a, sizeof(v->status));	/* VR_UNSET */
	v->s.waits[v->wait]++;
	if (v->sync) {
		ret = ioctl(v->ctx.fd, BLKBATCH_IOC_SUBMIT, &cmd);
		*res = ret < 0 ? -errno : ret;
		return 0;
	}
	sqe = io_uring_get_sqe(&v->ring);
	if (!sqe)
		return -EBUSY;
	bb_prep_raw(sqe, v->ctx.fd, &cmd);
	sqe->user_data = v->batch;
	if (v->fixed) {
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = 0;
	}
	ret = io_uring_submit(&v->ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = wait_cqe(v, &r);
	if (!ret && r.user_data != v->batch)
		ret = -EPROTO;	/* a CQE of another batch: none is in flight */
	*res = r.res;
	return ret;
}

/* --- checking a batch ------------------------------------------------ */

static bool op_writes(__u8 op)
{
	return op == BLKBATCH_OP_WRITE || op == BLKBATCH_OP_DISCARD ||
	       op == BLKBATCH_OP_WRITE_ZEROES;
}

static void check_read(struct vr *v, unsigned int i)
{
	const struct vr_ent *e = &v->ent[i];
	__u64 off = e->off;
	char what[200], d[128];
	unsigned int j;

	snprintf(what, sizeof(what), "entry=%u (%s) data",
		 i, ent_desc(v, i, d, sizeof(d)));
	for (j = 0; j < e->nvec; off += e->pc[j].len, j++)
		if (check_blocks(v, e->pc[j].buf, off, e->pc[j].len, what))
			return;
}

/* A cancelled READ was never issued: its buffer is still all poison. */
static void check_untouched(struct vr *v, unsigned int i)
{
	const struct vr_ent *e = &v->ent[i];
	unsigned int j;
	char d[128];

	for (j = 0; j < e->nvec; j++)
		if (!bb_all_bytes(e->pc[j].buf, e->pc[j].len, VR_POISON)) {
			vr_fail(v, "entry=%u (%s): cancelled, but iovec %u of its buffer was written",
				i, ent_desc(v, i, d, sizeof(d)), j);
			return;
		}
}

/*
 * The model follows what the entry did: a success applies, a cancel
 * changes nothing, anything else (or any surprise) leaves it unknown.
 */
static void model_apply(struct vr *v, unsigned int i, __s32 got)
{
	const struct vr_ent *e = &v->ent[i];
	__u64 st = BLK_UNKNOWN;

	if (!op_writes(e->op))
		return;
	if (got == e->expect && got == -ECANCELED)
		return;
	if (got == e->expect && got >= 0 && e->op == BLKBATCH_OP_WRITE)
		st = e->seed;
	else if (got == e->expect && got >= 0 &&
		 e->op == BLKBATCH_OP_WRITE_ZEROES)
		st = BLK_ZERO;
	model_set(v, e->off, e->len, st, i);
}

static void check_entry(struct vr *v, unsigned int i)
{
	const struct vr_ent *e = &v->ent[i];
	__s32 got = v->status[i];
	char d[128];

	v->s.entries++;
	v->s.late_vec += (e->flags & BLKBATCH_EF_VEC) && e->seg && !e->inject;
	v->s.injected += !!e->inject;
	v->s.canceled += e->expect == -ECANCELED;
	if (got != e->expect) {
		vr_fail(v, "entry=%u (%s): status expected %d (%s), got %d (%s)",
			i, ent_desc(v, i, d, sizeof(d)), e->expect,
			status_str(e->expect), got, status_str(got));
	} else if (e->op == BLKBATCH_OP_READ && got >= 0) {
		check_read(v, i);
	} else if (e->op == BLKBATCH_OP_READ && got == -ECANCELED) {
		check_untouched(v, i);
	}
	if (got == e->expect && got > 0)
		v->s.bytes += got;
	model_apply(v, i, got);
}

/* A cancelled write-type entry must not have touched the disk. */
static void check_cancelled_writes(struct vr *v)
{
	char what[200], d[128];
	unsigned int i;

	for (i = 0; i < v->nr; i++) {
		if (!op_writes(v->ent[i].op) || v->status[i] != -ECANCELED ||
		    v->ent[i].expect != -ECANCELED)
			continue;
		snprintf(what, sizeof(what), "entry=%u (%s) cancelled, raw",
			 i, ent_desc(v, i, d, sizeof(d)));
		raw_check(v, v->ent[i].off, v->ent[i].len, what);
		v->s.raw_ranges++;
	}
}

static void check_batch(struct vr *v, int res)
{
	unsigned int i;
	int want = 0;

	for (i = 0; i < v->nr; i++)
		want += v->ent[i].expect >= 0;
	if (res != want)
		vr_fail(v, "entry=- CQE res expected %d, got %d%s%s", want,
			res, res < 0 ? " " : "", res < 0 ? strerror(-res) : "");
	for (i = 0; i < v->nr; i++)
		check_entry(v, i);
	check_cancelled_writes(v);
	v->s.batches++;
}

static void summary(const struct vr *v)
{
	const unsigned long *w = v->s.waits;

	const unsigned long *f = v->s.failed_batches;

	fprintf(stderr, "# %s: seed=%#llx %lu batches, %lu entries (%lu vectored after a barrier, %lu injected failures, %lu cancelled), %llu bytes, %lu full raw checks, %lu cancelled ranges read raw; batches (failed) by wait: busy %lu (%lu) enter %lu (%lu) epoll %lu (%lu) sleep %lu (%lu) getevents %lu (%lu) sync %lu (%lu); %lu failures\n",
		v->name, (unsigned long long)vr_seed, v->s.batches,
		v->s.entries, v->s.late_vec, v->s.injected, v->s.canceled,
		v->s.bytes, v->s.raw_checks, v->s.raw_ranges,
		w[W_BUSY], f[W_BUSY], w[W_ENTER], f[W_ENTER],
		w[W_EPOLL], f[W_EPOLL], w[W_SLEEP], f[W_SLEEP],
		w[W_GETEVENTS], f[W_GETEVENTS], w[W_SYNC], f[W_SYNC],
		v->s.failures);
}

/* --- the fixture ------------------------------------------------------ */

FIXTURE(verify) {
	struct vr	*v;
};

FIXTURE_VARIANT(verify) {
	const char	*name;
	unsigned int	setup;		/* IORING_SETUP_* besides SQE128 */
	bool		fixed;		/* IORING_URING_CMD_FIXED batches */
	bool		sync;		/* BLKBATCH_IOC_SUBMIT, no ring */
};

FIXTURE_VARIANT_ADD(verify, irq) { .name = "irq" };
FIXTURE_VARIANT_ADD(verify, iopoll) {
	.name = "iopoll", .setup = IORING_SETUP_IOPOLL,
};
FIXTURE_VARIANT_ADD(verify, sqpoll) {
	.name = "sqpoll", .setup = IORING_SETUP_SQPOLL,
};
FIXTURE_VARIANT_ADD(verify, fixed) { .name = "fixed", .fixed = true };
FIXTURE_VARIANT_ADD(verify, sync) { .name = "sync", .sync = true };

static int vr_alloc(struct vr *v)
{
	const struct blkbatch_info *in = &v->ctx.info;

	v->features = in->features;
	v->lbs = in->logical_block_size;
	v->dma = in->dma_alignment < 8 ? 8 : in->dma_alignment;
	v->max_nr = MIN(VR_MAX_NR, in->max_entries);
	v->max_len = MIN(VR_MAX_LEN, in->max_entry_bytes) / v->lbs * v->lbs;
	v->max_vecs = MIN(VR_MAX_VECS, in->max_vecs);
	if (v->lbs < 8 || v->lbs > SZ_4K || !v->max_nr || !v->max_vecs)
		return -EINVAL;
	v->nblk = VR_SIZE / v->lbs;
	v->st = calloc(v->nblk, sizeof(*v->st));
	v->who = calloc(v->nblk, sizeof(*v->who));
	v->rmark = calloc(v->nblk, sizeof(*v->rmark));
	v->wmark = calloc(v->nblk, sizeof(*v->wmark));
	v->arena = bb_alloc(VR_ARENA);
	v->chk = bb_alloc(VR_CHUNK);
	return v->st && v->who && v->rmark && v->wmark && v->arena && v->chk ?
	       0 : -ENOMEM;
}

/* The ring of the variant, or a reason in v->skip why it cannot be had. */
static int vr_ring(struct vr *v)
{
	struct iovec iov = { v->arena, VR_ARENA };
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	if (v->iopoll && !(v->features & BLKBATCH_F_IOPOLL))
		v->skip = "the module has no BLKBATCH_F_IOPOLL";
	else if (v->iopoll && !bb_disk_polls(bb_disk()))
		v->skip = "the disk cannot poll (queue/io_poll is 0)";
	else if (v->fixed && !(v->features & BLKBATCH_F_FIXED))
		v->skip = "the module has no BLKBATCH_F_FIXED";
	else if (v->sync && !(v->features & BLKBATCH_F_SYNC))
		v->skip = "the module has no BLKBATCH_F_SYNC";
	if (v->skip || v->sync)
		return 0;
	ret = bb_ring_init(&v->ring, v->setup);
	if (ret == -EPERM && (v->setup & IORING_SETUP_SQPOLL)) {
		v->skip = "SQPOLL needs privileges here";
		return 0;
	}
	if (ret)
		return ret;
	v->ring_ok = true;
	if (v->fixed) {
		ret = io_uring_register_buffers(&v->ring, &iov, 1);
		if (ret)
			return ret;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0 ||
	    epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->ring.ring_fd, &ev))
		return -errno;
	return 0;
}

FIXTURE_SETUP(verify)
{
	struct vr *v;

	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	v = self->v = calloc(1, sizeof(*v));
	ASSERT_NE(NULL, v);
	v->name = variant->name;
	v->setup = variant->setup;
	v->fixed = variant->fixed;
	v->sync = variant->sync;
	v->iopoll = variant->setup & IORING_SETUP_IOPOLL;
	v->epfd = -1;
	rnd_init(v);
	ASSERT_EQ(0, bb_ctx_setup(&v->ctx, 0, O_RDWR));
	ASSERT_EQ(0, vr_alloc(v));
	ASSERT_EQ(0, vr_ring(v));
	/* Last: no later mapping of ours may land in the hole. */
	v->hole = bb_unmapped_addr();
	ASSERT_NE(NULL, v->hole);
}

FIXTURE_TEARDOWN(verify)
{
	struct vr *v = self->v;

	if (!v)
		return;
	if (v->ring_ok)
		io_uring_queue_exit(&v->ring);
	if (v->epfd >= 0)
		close(v->epfd);
	bb_free(v->arena, VR_ARENA);
	bb_free(v->chk, VR_CHUNK);
	free(v->st);
	free(v->who);
	free(v->rmark);
	free(v->wmark);
	EXPECT_EQ(0, bb_ctx_teardown(&v->ctx));
	free(v);
}

TEST_F_TIMEOUT(verify, model, VR_TIMEOUT)
{
	struct vr *v = self->v;
	double end = now_s() + vr_budget();
	int ret = 0, res;

	if (v->skip)
		SKIP(return, "%s", v->skip);
	ASSERT_EQ(0, init_region(v));
	while (now_s() < end) {
		v->batch++;
		gen_batch(v);
		ret = run_batch(v, &res);
		if (ret) {
			/* the batch may still be in flight: stop here */
			vr_fail(v, "entry=- no CQE: %s", strerror(-ret));
			break;
		}
		check_batch(v, res);
		if (v->batch % VR_CHECK_EVERY == 0)
			full_check(v, "entry=- periodic raw check");
	}
	if (!ret)
		full_check(v, "entry=- final raw check");
	summary(v);
	EXPECT_EQ(0UL, v->s.failures)
		TH_LOG("seed=%#llx variant=%s: replay with BLKBATCH_VERIFY_SEED=%#llx",
		       (unsigned long long)vr_seed, v->name,
		       (unsigned long long)vr_seed);
}

TEST_HARNESS_MAIN
