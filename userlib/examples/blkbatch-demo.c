// SPDX-License-Identifier: MIT
/*
 * blkbatch-demo: attach a disk to blkbatch, show that batches write and
 * read it correctly, and measure random reads against plain pread.
 *
 *   blkbatch-demo [--bench-only] [--ios N] [--result FILE] DISK
 *
 * Run as root with the module loaded.  THIS OVERWRITES DATA ON DISK (the
 * first ~50 MiB).  The steps:
 *
 *   [1] a 64-entry write batch of 4 KiB blocks and a read batch, verified;
 *       read again through BLKBATCH_IOC_SUBMIT and blkbatch_pread
 *   [2] a 4096-entry write batch to random 4 KiB slots, a 4096-entry read
 *       batch, a mixed 4096-entry batch (2048 writes + 2048 reads to other
 *       slots, interleaved) and a read-back of its writes, all verified
 *   [3] one 8 MiB entry, larger than the device's largest I/O, written and
 *       read back (status must be the whole length), and read as 8 iovecs
 *   [4] the same data read with O_DIRECT pread on DISK itself
 *   [5] N random 4 KiB reads (default 20000) in the first 256 MiB: psync
 *       O_DIRECT pread (one syscall per I/O) against blkbatch batches of
 *       4096, counting the io_uring_enter calls the demo makes
 *
 * --bench-only runs just the blkbatch half of [5] without a warm-up pass:
 * meant for running under strace -c to count its system calls.
 * --result FILE writes the numbers of [5] as key=value lines.
 * Exit status: 0 if everything verified, 1 otherwise.
 */
#define _GNU_SOURCE		/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libblkbatch.h"

#define BS		4096u			/* I/O unit of the demo */
#define KiB		1024ull
#define MiB		(1024ull * 1024)
#define RING_DEPTH	8
#define BIG_BATCH	4096u
#define SMALL_BATCH	64u
#define LARGE_ENTRY	(8 * MiB)
#define LARGE_VECS	8u
#define BENCH_RANGE	(256 * MiB)
#define BENCH_IOS	20000u
#define UDATA		0xb10cb47cull		/* demo batches' user_data */

/* Pattern generations: which write put a block's contents there. */
enum { GEN_NONE, GEN_SMALL, GEN_BIG, GEN_MIXED, GEN_LARGE };

struct demo {
	const char		*disk;
	unsigned int		index;
	bool			attached;
	bool			ring_ok;
	struct blkbatch_dev	dev;
	struct blkbatch_ring	ring;
	int			disk_fd;	/* O_DIRECT read-only on DISK */

	unsigned int		nbig;		/* entries of a big batch */
	__u64			r2_off;		/* region of [2]: 2 * nbig slots */
	unsigned int		*perm;		/* slot order of [2] */
	unsigned char		*slot_gen;	/* what each slot holds */
	__u64			r3_off;		/* region of [3] */
	__u32			large;		/* entry size of [3] */

	FILE			*result;
};

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* "8 MiB", "128 KiB", "1.5 GiB": for messages; four at a time. */
static const char *human(__u64 bytes)
{
	static char bufs[4][32];
	static unsigned int n;
	char *s = bufs[n++ % 4];

	if (bytes >= 1024 * MiB)
		snprintf(s, 32, "%.1f GiB", bytes / (1024.0 * MiB));
	else if (bytes >= MiB && bytes % MiB == 0)
		snprintf(s, 32, "%llu MiB", (unsigned long long)(bytes / MiB));
	else if (bytes >= MiB)
		snprintf(s, 32, "%.2f MiB", bytes / (double)MiB);
	else if (bytes >= KiB && bytes % KiB == 0)
		snprintf(s, 32, "%llu KiB", (unsigned long long)(bytes / KiB));
	else
		snprintf(s, 32, "%llu B", (unsigned long long)bytes);
	return s;
}

static __u64 rng_state = 0x2545f4914f6cdd1dull;

static __u64 rng(void)
{
	__u64 x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Contents of a block: every 8-byte word depends on its device offset and
 * on the generation, so a block at the wrong place or from the wrong write
 * shows up.
 */
static inline __u64 pattern(__u64 dev_off, unsigned int gen)
{
	__u64 x = (dev_off ^ ((__u64)gen << 56)) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

static void fill(void *buf, size_t len, __u64 dev_off, unsigned int gen)
{
	__u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = pattern(dev_off + 8 * i, gen);
}

/* 0 if buf holds what fill() put at dev_off, else -1 (and says where). */
static int verify(const void *buf, size_t len, __u64 dev_off,
		  unsigned int gen, const char *what)
{
	const __u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		if (p[i] != pattern(dev_off + 8 * i, gen)) {
			fail("%s: data mismatch at device offset %llu "
			     "(got %016llx, want %016llx)", what,
			     (unsigned long long)(dev_off + 8 * i),
			     (unsigned long long)p[i],
			     (unsigned long long)pattern(dev_off + 8 * i, gen));
			return -1;
		}
	}
	return 0;
}

static void *alloc_buf(size_t len)
{
	void *p;

	if (posix_memalign(&p, BS, len)) {
		fail("out of memory (%s)", human(len));
		return NULL;
	}
	return p;
}

static int expected_status(const struct blkbatch_entry *e)
{
	return (e->op == BLKBATCH_OP_READ || e->op == BLKBATCH_OP_WRITE) ?
	       (int)e->len : 0;
}

static void describe_entry(const struct blkbatch_batch *b, __u64 i)
{
	const struct blkbatch_entry *e = &b->entries[i];

	printf("      entry %llu: %s offset %llu len %u\n",
	       (unsigned long long)i, blkbatch_op_name(e->op),
	       (unsigned long long)e->offset, e->len);
}

/* Check a completed batch: CQE result and every entry's status. */
static int check_result(const struct blkbatch_batch *b, int res, __u64 res2,
			const char *what)
{
	unsigned int i, bad = 0;

	if (res < 0) {
		fail("%s: batch of %u rejected: %s", what, b->nr,
		     strerror(-res));
		if (res2 != BLKBATCH_NO_ENTRY && res2 < b->nr)
			describe_entry(b, res2);
		return -1;
	}
	for (i = 0; i < b->nr; i++) {
		if (b->status[i] == expected_status(&b->entries[i]))
			continue;
		if (bad++ < 4) {
			fail("%s: entry %u status %d (%s), want %d", what, i,
			     b->status[i], b->status[i] < 0 ?
			     strerror(-b->status[i]) : "short?",
			     expected_status(&b->entries[i]));
			describe_entry(b, i);
		}
	}
	if (bad || (unsigned int)res != b->nr) {
		fail("%s: %d of %u entries succeeded, %u bad statuses", what,
		     res, b->nr, bad);
		return -1;
	}
	return 0;
}

/* Submit one batch, wait for it and check it. */
static int run_batch(struct demo *d, struct blkbatch_batch *b,
		     const char *what)
{
	struct blkbatch_cqe cqe;
	unsigned int i;
	int ret;

	for (i = 0; i < b->nr; i++)
		b->status[i] = -EINPROGRESS;
	ret = blkbatch_submit(&d->ring, d->dev.fd, b, UDATA);
	if (ret) {
		fail("%s: submit: %s", what, strerror(-ret));
		return -1;
	}
	do
		ret = blkbatch_wait(&d->ring, &cqe);
	while (ret == -EINTR);
	if (ret) {
		fail("%s: wait: %s", what, strerror(-ret));
		return -1;
	}
	if (cqe.user_data != UDATA) {
		fail("%s: completion with user_data %llx", what,
		     (unsigned long long)cqe.user_data);
		return -1;
	}
	return check_result(b, cqe.res, cqe.res2, what);
}

static void print_info(const struct demo *d)
{
	static const char *const fnames[] = {
		"read-write", "flush", "discard", "write-zeroes", "fua", "vec",
		"barrier", "abort", "fixed", "iopoll", "sync", "write-cache",
		"cqe32-index",
	};
	const struct blkbatch_info *in = &d->dev.info;
	unsigned int i;

	printf("%s attached as " BLKBATCH_DEV_FMT " (protocol v%u)\n",
	       d->disk, d->dev.index, in->version);
	printf("  %s = %llu x %u B blocks (physical %u B), DMA alignment %u B\n",
	       human(in->capacity),
	       (unsigned long long)(in->capacity / in->logical_block_size),
	       in->logical_block_size, in->physical_block_size,
	       in->dma_alignment);
	printf("  limits: %u entries/batch, %s/entry, %s per device I/O, "
	       "%u vecs/entry, discard %s\n", in->max_entries,
	       human(in->max_entry_bytes), human(in->max_hw_bytes),
	       in->max_vecs, in->max_discard_bytes ?
	       human(in->max_discard_bytes) : "none");
	printf("  features:");
	for (i = 0; i < sizeof(fnames) / sizeof(fnames[0]); i++)
		if (in->features & (1ULL << i))
			printf(" %s", fnames[i]);
	printf("\n");
}

/* [1] 64 x 4 KiB, then the same through the ioctl and blkbatch_pread. */
static int step_small(struct demo *d)
{
	const struct blkbatch_info *in = &d->dev.info;
	unsigned int n = SMALL_BATCH < in->max_entries ? SMALL_BATCH
						       : in->max_entries;
	struct blkbatch_entry ents[SMALL_BATCH];
	__s32 status[SMALL_BATCH];
	struct blkbatch_batch b;
	size_t len = (size_t)n * BS;
	char *wbuf, *rbuf, extra[64] = "";
	unsigned int i;
	ssize_t got;
	int ret = -1;

	wbuf = alloc_buf(len);
	rbuf = alloc_buf(len);
	if (!wbuf || !rbuf)
		goto out;

	blkbatch_batch_init(&b, ents, status, n);
	for (i = 0; i < n; i++) {
		fill(wbuf + i * BS, BS, (__u64)i * BS, GEN_SMALL);
		blkbatch_batch_add_write(&b, wbuf + i * BS, BS, (__u64)i * BS,
					 0);
	}
	if (run_batch(d, &b, "[1] write batch"))
		goto out;

	memset(rbuf, 0xa5, len);
	blkbatch_batch_reset(&b);
	for (i = 0; i < n; i++)
		blkbatch_batch_add_read(&b, rbuf + i * BS, BS, (__u64)i * BS);
	if (run_batch(d, &b, "[1] read batch") ||
	    verify(rbuf, len, 0, GEN_SMALL, "[1] read batch"))
		goto out;

	if (in->features & BLKBATCH_F_SYNC) {
		memset(rbuf, 0xa5, len);
		for (i = 0; i < n; i++)
			status[i] = -EINPROGRESS;
		ret = blkbatch_run_sync(d->dev.fd, &b);
		if (check_result(&b, ret, BLKBATCH_NO_ENTRY,
				 "[1] BLKBATCH_IOC_SUBMIT") ||
		    verify(rbuf, len, 0, GEN_SMALL, "[1] BLKBATCH_IOC_SUBMIT")) {
			ret = -1;
			goto out;
		}
		strcpy(extra, ", again via ioctl");
	}
	ret = -1;

	memset(rbuf, 0xa5, BS);
	got = blkbatch_pread(&d->ring, d->dev.fd, rbuf, BS, (__u64)(n - 1) * BS);
	if (got != BS) {
		fail("[1] blkbatch_pread: %zd (%s)", got,
		     got < 0 ? strerror(-got) : "short");
		goto out;
	}
	if (verify(rbuf, BS, (__u64)(n - 1) * BS, GEN_SMALL,
		   "[1] blkbatch_pread"))
		goto out;

	printf("[1] verified: %u x 4 KiB write batch + read batch (%s each)%s"
	       " and blkbatch_pread\n", n, human(len), extra);
	ret = 0;
out:
	free(wbuf);
	free(rbuf);
	return ret;
}

/* [2] 4096-entry batches on random slots. */
static int step_big(struct demo *d)
{
	unsigned int n = d->nbig, half = n / 2, nslots = 2 * n, i, j;
	struct blkbatch_batch b = { 0 };
	size_t len = (size_t)n * BS;
	char *wbuf = NULL, *rbuf = NULL;
	char what[64];
	int ret = -1;

	wbuf = alloc_buf(len);
	rbuf = alloc_buf(len);
	if (!wbuf || !rbuf)
		goto out;
	ret = blkbatch_batch_alloc(&b, n);
	if (ret) {
		fail("blkbatch_batch_alloc(%u): %s", n, strerror(-ret));
		ret = -1;
		goto out;
	}
	ret = -1;

	/* A random permutation of the slots: writes land all over. */
	for (i = 0; i < nslots; i++)
		d->perm[i] = i;
	for (i = nslots - 1; i > 0; i--) {
		unsigned int k = rng() % (i + 1), t = d->perm[i];

		d->perm[i] = d->perm[k];
		d->perm[k] = t;
	}
#define SLOT_OFF(s)	(d->r2_off + (__u64)(s) * BS)

	/* Write batch: slots perm[0 .. n). */
	for (i = 0; i < n; i++) {
		__u64 off = SLOT_OFF(d->perm[i]);

		fill(wbuf + (size_t)i * BS, BS, off, GEN_BIG);
		blkbatch_batch_add_write(&b, wbuf + (size_t)i * BS, BS, off, 0);
		d->slot_gen[d->perm[i]] = GEN_BIG;
	}
	snprintf(what, sizeof(what), "[2] %u-entry write batch", n);
	if (run_batch(d, &b, what))
		goto out;

	/* Read batch: the same slots, in reverse order. */
	memset(rbuf, 0xa5, len);
	blkbatch_batch_reset(&b);
	for (i = 0; i < n; i++)
		blkbatch_batch_add_read(&b, rbuf + (size_t)i * BS, BS,
					SLOT_OFF(d->perm[n - 1 - i]));
	snprintf(what, sizeof(what), "[2] %u-entry read batch", n);
	if (run_batch(d, &b, what))
		goto out;
	for (i = 0; i < n; i++)
		if (verify(rbuf + (size_t)i * BS, BS,
			   SLOT_OFF(d->perm[n - 1 - i]), GEN_BIG, what))
			goto out;
	printf("[2] verified: %u-entry write batch + %u-entry read batch "
	       "(%s each way, random 4 KiB slots)\n", n, n, human(len));

	/*
	 * Mixed batch: entry 2k writes the new slot perm[n + k], entry 2k+1
	 * reads perm[k] (written above).  Reads and writes never share a
	 * slot, so the order the device runs them in does not matter.
	 */
	memset(rbuf, 0xa5, len);
	blkbatch_batch_reset(&b);
	for (j = 0; j < half; j++) {
		__u64 woff = SLOT_OFF(d->perm[n + j]);

		fill(wbuf + (size_t)j * BS, BS, woff, GEN_MIXED);
		blkbatch_batch_add_write(&b, wbuf + (size_t)j * BS, BS, woff, 0);
		blkbatch_batch_add_read(&b, rbuf + (size_t)j * BS, BS,
					SLOT_OFF(d->perm[j]));
	}
	snprintf(what, sizeof(what), "[2] %u-entry mixed batch", b.nr);
	if (run_batch(d, &b, what))
		goto out;
	for (j = 0; j < half; j++) {
		if (verify(rbuf + (size_t)j * BS, BS, SLOT_OFF(d->perm[j]),
			   GEN_BIG, what))
			goto out;
		d->slot_gen[d->perm[n + j]] = GEN_MIXED;
	}

	/* Read back what the mixed batch wrote. */
	memset(rbuf, 0xa5, len);
	blkbatch_batch_reset(&b);
	for (j = 0; j < half; j++)
		blkbatch_batch_add_read(&b, rbuf + (size_t)j * BS, BS,
					SLOT_OFF(d->perm[n + j]));
	if (run_batch(d, &b, "[2] read-back of the mixed batch's writes"))
		goto out;
	for (j = 0; j < half; j++)
		if (verify(rbuf + (size_t)j * BS, BS, SLOT_OFF(d->perm[n + j]),
			   GEN_MIXED, "[2] read-back of the mixed batch's writes"))
			goto out;
	printf("[2] verified: %u-entry mixed batch (%u writes + %u reads, "
	       "interleaved) and a read-back of its writes\n", 2 * half, half,
	       half);
	ret = 0;
out:
	blkbatch_batch_free(&b);
	free(wbuf);
	free(rbuf);
	return ret;
}

/* [3] One large entry: never short. */
static int step_large(struct demo *d)
{
	const struct blkbatch_info *in = &d->dev.info;
	__u32 len = d->large;
	struct blkbatch_entry ent;
	struct iovec iov[LARGE_VECS];
	__s32 status;
	struct blkbatch_batch b;
	char *wbuf, *rbuf, extra[64] = "";
	unsigned int i;
	int ret = -1, res;

	wbuf = alloc_buf(len);
	rbuf = alloc_buf(len);
	if (!wbuf || !rbuf)
		goto out;

	fill(wbuf, len, d->r3_off, GEN_LARGE);
	blkbatch_batch_init(&b, &ent, &status, 1);
	blkbatch_batch_add_write(&b, wbuf, len, d->r3_off, 0);
	status = -EINPROGRESS;
	res = blkbatch_run(&d->ring, d->dev.fd, &b);
	if (check_result(&b, res, BLKBATCH_NO_ENTRY, "[3] large write"))
		goto out;

	memset(rbuf, 0xa5, len);
	blkbatch_batch_reset(&b);
	blkbatch_batch_add_read(&b, rbuf, len, d->r3_off);
	status = -EINPROGRESS;
	res = blkbatch_run(&d->ring, d->dev.fd, &b);
	if (check_result(&b, res, BLKBATCH_NO_ENTRY, "[3] large read") ||
	    verify(rbuf, len, d->r3_off, GEN_LARGE, "[3] large read"))
		goto out;

	if ((in->features & BLKBATCH_F_VEC) && in->max_vecs >= LARGE_VECS &&
	    len % (LARGE_VECS * BS) == 0) {
		/* The pieces in reverse memory order, to catch mix-ups. */
		size_t piece = len / LARGE_VECS;

		for (i = 0; i < LARGE_VECS; i++) {
			iov[i].iov_base = rbuf + (LARGE_VECS - 1 - i) * piece;
			iov[i].iov_len = piece;
		}
		memset(rbuf, 0xa5, len);
		blkbatch_batch_reset(&b);
		blkbatch_batch_add_readv(&b, iov, LARGE_VECS, d->r3_off);
		status = -EINPROGRESS;
		res = blkbatch_run(&d->ring, d->dev.fd, &b);
		if (check_result(&b, res, BLKBATCH_NO_ENTRY, "[3] large readv"))
			goto out;
		for (i = 0; i < LARGE_VECS; i++)
			if (verify(iov[i].iov_base, piece,
				   d->r3_off + i * piece, GEN_LARGE,
				   "[3] large readv"))
				goto out;
		snprintf(extra, sizeof(extra), "; as %u iovecs too",
			 LARGE_VECS);
	}

	printf("[3] verified: one %s entry written and read back whole "
	       "(status %d; device max I/O %s)%s\n", human(len), status,
	       human(in->max_hw_bytes), extra);
	ret = 0;
out:
	free(wbuf);
	free(rbuf);
	return ret;
}

static int disk_read(struct demo *d, void *buf, size_t len, __u64 off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(d->disk_fd, (char *)buf + done, len - done,
				  off + done);

		if (n <= 0) {
			fail("[4] pread %s at %llu: %s", d->disk,
			     (unsigned long long)(off + done),
			     n < 0 ? strerror(errno) : "end of device");
			return -1;
		}
		done += n;
	}
	return 0;
}

/* [4] What blkbatch wrote, read back through the block device. */
static int step_crosscheck(struct demo *d)
{
	unsigned int n1 = SMALL_BATCH < d->dev.info.max_entries ?
			  SMALL_BATCH : d->dev.info.max_entries;
	unsigned int s, blocks = 0;
	__u64 off, bytes = 0;
	size_t chunk = MiB;
	char *buf;
	int ret = -1;

	buf = alloc_buf(chunk);
	if (!buf)
		return -1;

	if (disk_read(d, buf, (size_t)n1 * BS, 0) ||
	    verify(buf, (size_t)n1 * BS, 0, GEN_SMALL, "[4] step 1 data"))
		goto out;
	blocks += n1;
	bytes += (__u64)n1 * BS;

	/* Every 4th written slot of [2]. */
	for (s = 0; s < 2 * d->nbig; s += 4) {
		if (d->slot_gen[s] == GEN_NONE)
			continue;
		off = SLOT_OFF(s);
		if (disk_read(d, buf, BS, off) ||
		    verify(buf, BS, off, d->slot_gen[s], "[4] step 2 data"))
			goto out;
		blocks++;
		bytes += BS;
	}

	for (off = 0; off < d->large; off += chunk) {
		size_t l = d->large - off < chunk ? d->large - off : chunk;

		if (disk_read(d, buf, l, d->r3_off + off) ||
		    verify(buf, l, d->r3_off + off, GEN_LARGE,
			   "[4] step 3 data"))
			goto out;
		bytes += l;
	}

	printf("[4] verified: O_DIRECT pread on %s sees the same data "
	       "(%u blocks + the %s entry, %s)\n", d->disk, blocks,
	       human(d->large), human(bytes));
	ret = 0;
out:
	free(buf);
	return ret;
}

struct bench {
	unsigned int		nios;
	__u64			*offs;
	unsigned int		per_batch;
	struct blkbatch_batch	b[2];
	char			*buf[2];
};

/* Fill batch k with the next reads; returns how many. */
static unsigned int bench_fill(struct bench *bn, unsigned int k,
			       unsigned int next)
{
	unsigned int i, cnt = bn->nios - next;

	if (cnt > bn->per_batch)
		cnt = bn->per_batch;
	blkbatch_batch_reset(&bn->b[k]);
	for (i = 0; i < cnt; i++)
		blkbatch_batch_add_read(&bn->b[k], bn->buf[k] + (size_t)i * BS,
					BS, bn->offs[next + i]);
	return cnt;
}

/*
 * All reads through blkbatch, two batches in flight.  Counts the calls
 * that enter the kernel: every blkbatch_submit (one io_uring_submit, one
 * io_uring_enter on a ring without SQPOLL) and every blkbatch_wait that
 * finds no completion ready (one io_uring_enter that waits for one).
 */

/* Refill batch @k from read number *@next on and submit it. */
static int bench_submit(struct demo *d, struct bench *bn, unsigned int k,
			unsigned int *next, unsigned long *enters)
{
	int ret;

	*next += bench_fill(bn, k, *next);
	ret = blkbatch_submit(&d->ring, d->dev.fd, &bn->b[k], k);
	(*enters)++;
	if (ret)
		fail("[5] submit: %s", strerror(-ret));
	return ret ? -1 : 0;
}

static int bench_blkbatch(struct demo *d, struct bench *bn, double *secs,
			  unsigned long *enters)
{
	unsigned int next = 0, inflight = 0, done = 0, k;
	struct blkbatch_cqe cqe;
	double t0 = now();
	int ret;

	*enters = 0;
	for (k = 0; k < 2 && next < bn->nios; k++) {
		if (bench_submit(d, bn, k, &next, enters))
			return -1;
		inflight++;
	}
	while (inflight) {
		do {
			if (!io_uring_cq_ready(&d->ring.ring))
				(*enters)++;
			ret = blkbatch_wait(&d->ring, &cqe);
		} while (ret == -EINTR);
		if (ret) {
			fail("[5] wait: %s", strerror(-ret));
			return -1;
		}
		inflight--;
		k = cqe.user_data;
		if (k > 1 || check_result(&bn->b[k], cqe.res, cqe.res2,
					  "[5] read batch"))
			return -1;
		done += bn->b[k].nr;
		if (next < bn->nios) {
			if (bench_submit(d, bn, k, &next, enters))
				return -1;
			inflight++;
		}
	}
	*secs = now() - t0;
	if (done != bn->nios) {
		fail("[5] %u reads done, want %u", done, bn->nios);
		return -1;
	}
	return 0;
}

static int bench_psync(struct demo *d, struct bench *bn, double *secs)
{
	double t0 = now();
	unsigned int i;

	for (i = 0; i < bn->nios; i++) {
		ssize_t n = pread(d->disk_fd, bn->buf[0], BS, bn->offs[i]);

		if (n != BS) {
			fail("[5] pread %s at %llu: %s", d->disk,
			     (unsigned long long)bn->offs[i],
			     n < 0 ? strerror(errno) : "short");
			return -1;
		}
	}
	*secs = now() - t0;
	return 0;
}

/* [5] Random 4 KiB reads: psync against blkbatch. */
static int step_bench(struct demo *d, unsigned int nios, bool full)
{
	const struct blkbatch_info *in = &d->dev.info;
	__u64 range = in->capacity < BENCH_RANGE ? in->capacity : BENCH_RANGE;
	__u64 nblocks = range / BS;
	struct bench bn = { .nios = nios };
	double t_bb = 0, t_ps = 0;
	unsigned long enters = 0, dummy;
	unsigned int i, k;
	int ret = -1;

	bn.per_batch = d->nbig;
	bn.offs = calloc(nios, sizeof(*bn.offs));
	if (!bn.offs) {
		fail("out of memory");
		return -1;
	}
	rng_state = 0x9e3779b97f4a7c15ull;	/* same reads every run */
	for (i = 0; i < nios; i++)
		bn.offs[i] = (rng() % nblocks) * BS;
	for (k = 0; k < 2; k++) {
		bn.buf[k] = alloc_buf((size_t)bn.per_batch * BS);
		if (!bn.buf[k])
			goto out;
		ret = blkbatch_batch_alloc(&bn.b[k], bn.per_batch);
		if (ret) {
			fail("blkbatch_batch_alloc: %s", strerror(-ret));
			ret = -1;
			goto out;
		}
		ret = -1;
	}

	if (full) {
		/* Untimed pass so both methods find the same caches warm. */
		if (bench_blkbatch(d, &bn, &t_bb, &dummy))
			goto out;
		printf("[5] %u random 4 KiB reads in the first %s (after an "
		       "untimed warm-up pass):\n", nios, human(range));
		if (bench_psync(d, &bn, &t_ps))
			goto out;
		printf("    psync: O_DIRECT pread, one at a time      %7.0f IOPS"
		       "  %.4f syscalls/IO (%u pread)\n", nios / t_ps, 1.0, nios);
	} else {
		printf("[5] %u random 4 KiB reads in the first %s:\n", nios,
		       human(range));
	}
	if (bench_blkbatch(d, &bn, &t_bb, &enters))
		goto out;
	printf("    blkbatch: %4u-entry batches, 2 in flight %7.0f IOPS"
	       "  %.4f syscalls/IO (%lu io_uring_enter)\n", bn.per_batch,
	       nios / t_bb, (double)enters / nios, enters);

	if (d->result) {
		fprintf(d->result, "ios=%u\nper_batch=%u\n", nios, bn.per_batch);
		fprintf(d->result, "blkbatch_iops=%.0f\nblkbatch_enters=%lu\n",
			nios / t_bb, enters);
		if (full)
			fprintf(d->result, "psync_iops=%.0f\n", nios / t_ps);
	}
	ret = 0;
out:
	for (k = 0; k < 2; k++) {
		blkbatch_batch_free(&bn.b[k]);
		free(bn.buf[k]);
	}
	free(bn.offs);
	return ret;
}

static int setup(struct demo *d)
{
	const struct blkbatch_info *in;
	unsigned int rflags = 0;
	int ret;

	ret = blkbatch_attach(d->disk, 0, &d->index);
	if (ret) {
		fail("attach %s via %s: %s", d->disk, BLKBATCH_CTL_DEV,
		     strerror(-ret));
		return -1;
	}
	d->attached = true;

	ret = blkbatch_open(d->index, O_RDWR, &d->dev);
	if (ret) {
		fail("open " BLKBATCH_DEV_FMT ": %s", d->index, strerror(-ret));
		return -1;
	}
	in = &d->dev.info;
	print_info(d);

	if (!(in->features & BLKBATCH_F_READ_WRITE)) {
		fail("the device does not do reads and writes");
		return -1;
	}
	if (!in->logical_block_size || BS % in->logical_block_size ||
	    in->dma_alignment > BS || !in->max_entries) {
		fail("the demo needs 4 KiB I/O and buffers aligned to at most 4 KiB");
		return -1;
	}

	/* Regions: [1] at 0, [2] from 1 MiB, [3] after it. */
	d->nbig = in->max_entries < BIG_BATCH ? in->max_entries : BIG_BATCH;
	d->r2_off = MiB;
	d->r3_off = (d->r2_off + 2ull * d->nbig * BS + MiB - 1) / MiB * MiB + MiB;
	d->large = LARGE_ENTRY;
	if (in->max_entry_bytes < d->large)
		d->large = in->max_entry_bytes / BS * BS;
	if (d->large < BS) {
		fail("max_entry_bytes %u is below 4 KiB", in->max_entry_bytes);
		return -1;
	}
	if (in->capacity < d->r3_off + d->large) {
		fail("%s is too small: the demo needs %s", d->disk,
		     human(d->r3_off + d->large));
		return -1;
	}
	d->perm = calloc(2 * d->nbig, sizeof(*d->perm));
	d->slot_gen = calloc(2 * d->nbig, 1);
	if (!d->perm || !d->slot_gen) {
		fail("out of memory");
		return -1;
	}

	/* CQE32 names the offending entry when a batch is rejected. */
	if (in->features & BLKBATCH_F_CQE32_INDEX)
		rflags |= BLKBATCH_RING_CQE32;
	ret = blkbatch_ring_init(&d->ring, RING_DEPTH, rflags);
	if (ret) {
		fail("blkbatch_ring_init: %s", strerror(-ret));
		return -1;
	}
	d->ring_ok = true;

	d->disk_fd = open(d->disk, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (d->disk_fd < 0) {
		fail("open %s O_DIRECT: %s", d->disk, strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(struct demo *d)
{
	int ret = 0, err;

	if (d->disk_fd >= 0)
		close(d->disk_fd);
	if (d->ring_ok)
		blkbatch_ring_exit(&d->ring);
	blkbatch_close(&d->dev);
	if (d->attached) {
		err = blkbatch_detach(d->index);
		if (err) {
			fail("detach " BLKBATCH_DEV_FMT ": %s", d->index,
			     strerror(-err));
			ret = -1;
		} else {
			printf("detached " BLKBATCH_DEV_FMT "\n", d->index);
		}
	}
	free(d->perm);
	free(d->slot_gen);
	return ret;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--bench-only] [--ios N] [--result FILE] DISK\n"
		"  Attaches DISK to blkbatch, writes and verifies test data on it\n"
		"  (OVERWRITES its first ~50 MiB), measures random reads, detaches.\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct demo d = { .dev = { .fd = -1 }, .disk_fd = -1 };
	unsigned int nios = BENCH_IOS;
	const char *result = NULL;
	bool bench_only = false;
	int i, ok;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--bench-only")) {
			bench_only = true;
		} else if (!strcmp(argv[i], "--ios") && i + 1 < argc) {
			nios = strtoul(argv[++i], NULL, 0);
			if (!nios)
				usage(argv[0]);
		} else if (!strcmp(argv[i], "--result") && i + 1 < argc) {
			result = argv[++i];
		} else {
			usage(argv[0]);
		}
	}
	if (i != argc - 1)
		usage(argv[0]);
	d.disk = argv[i];
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (result) {
		d.result = fopen(result, "w");
		if (!d.result) {
			fprintf(stderr, "%s: %s\n", result, strerror(errno));
			return 1;
		}
	}

	ok = setup(&d) == 0;
	if (ok && !bench_only)
		ok = step_small(&d) == 0 && step_big(&d) == 0 &&
		     step_large(&d) == 0 && step_crosscheck(&d) == 0;
	if (ok)
		ok = step_bench(&d, nios, !bench_only) == 0;
	if (teardown(&d))
		ok = 0;
	if (d.result && fclose(d.result))
		ok = 0;

	printf("%s\n", ok ? "blkbatch-demo: all verified" :
	       "blkbatch-demo: FAILED");
	return ok ? 0 : 1;
}
