// SPDX-License-Identifier: MIT
/*
 * blkbatch-bench: random 4 KiB I/O through blkbatch, one batch in flight
 * per thread, for comparing with fio (qemu/guest-bench.sh runs both).
 *
 *   blkbatch-bench --dev DEV [--op read|write] [--batch B]
 *                  [--mode interrupt|poll|sqpoll] [--threads T] [--ios N]
 *                  [--range BYTES] [--bs BYTES] [--max-seconds S]
 *   blkbatch-bench --attach BLOCKDEV     print /dev/blkbatchN, stay attached
 *   blkbatch-bench --detach /dev/blkbatchN
 *
 * DEV is /dev/blkbatchN, or a block device that is attached for the run
 * and detached at its end.  WRITES DESTROY DATA in the first --range bytes.
 *
 * Each thread has its own ring (blkbatch_thread_ring), with the device as
 * registered file 0 and one registered buffer of B blocks, and submits
 * fixed-buffer batches of B random, block-aligned I/Os in the first
 * --range bytes, waiting for each before the next: iodepth B per thread.
 *   interrupt  one io_uring_enter per batch (submit and wait in one call)
 *   poll       the same on an IOPOLL ring: the wait polls the device
 *   sqpoll     an SQPOLL ring, completions reaped by spinning: no system
 *              call while the SQ thread is awake (it idles 1 s)
 * N is rounded up to whole batches for every thread.  Every entry's status
 * must be the block size: any failure ends the run with exit status 1.
 * --max-seconds stops the threads after their first batch past S seconds
 * (capped=1 then, ios= is what was done): a config that oversubscribes
 * the CPUs, such as two threads spinning beside two SQ threads on two
 * CPUs, can otherwise take minutes.
 *
 * Output, one line each (the first is the one scripts read):
 *   result op= mode= threads= batch= iodepth= ios= wall_s= iops=
 *          lat_mean_us= lat_p99_us= cpu_us_per_io= enters= capped=
 *   cpu_check rusage_self_us= workers_us= iou_sqp_us= iou_wrk_us=
 * Latency of an I/O is its batch's: from just before the batch is submitted
 * to when its completion is seen.  CPU time is getrusage(RUSAGE_SELF) over
 * the I/O phase; cpu_check splits it to show what it contains (the
 * workers' RUSAGE_THREAD, and io_uring's SQPOLL and io-wq threads from
 * /proc/self/task, which share our thread group).  enters counts the
 * io_uring_enter calls the I/O loop made (strace counts them too).
 */
#define _GNU_SOURCE		/* RUSAGE_THREAD */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libblkbatch.h"

#define RING_DEPTH	8	/* one batch in flight: one SQE is plenty */
#define STATUS_UNSET	(-EINPROGRESS)

enum mode { MODE_INTERRUPT, MODE_POLL, MODE_SQPOLL };
static const char *const mode_names[] = { "interrupt", "poll", "sqpoll" };

struct opts {
	const char	*dev;
	bool		write;
	unsigned int	batch;
	enum mode	mode;
	unsigned int	threads;
	uint64_t	ios;
	uint64_t	range;
	unsigned int	bs;
	double		max_s;
};

struct worker {
	pthread_t		tid;
	unsigned int		id;
	const struct opts	*o;
	int			fd;
	uint64_t		nblocks;	/* offsets are < nblocks * bs */
	uint64_t		nbatches;
	double			*lat_us;	/* per batch */
	uint64_t		done;		/* batches completed */
	unsigned long		enters;
	double			cpu_us;		/* RUSAGE_THREAD, I/O loop */
	char			err[256];
};

/*
 * ready: every worker has set up (or failed to); start: the clock runs;
 * end: every worker is done.  Workers stop early at @deadline, if set.
 */
static pthread_barrier_t ready_barrier, start_barrier, end_barrier;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_us(const struct timeval *tv)
{
	return tv->tv_sec * 1e6 + tv->tv_usec;
}

static double rusage_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime);
}

static void werr(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->err[0])
		return;		/* the first failure is the one that matters */
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Interrupt and poll mode: queue the SQE and submit it and wait for its
 * completion in one io_uring_enter.  The registered file is fixed file 0.
 */
static int submit_wait(struct worker *w, struct blkbatch_ring *r,
		       struct blkbatch_batch *b, uint64_t k,
		       struct blkbatch_cqe *out)
{
	struct io_uring *ring = &r->ring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe) {
		werr(w, "no free SQE");
		return -1;
	}
	blkbatch_prep_submit_fixed(sqe, 0, b, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = k;
	ret = io_uring_submit_and_wait(ring, 1);
	w->enters++;
	if (ret < 0 && ret != -EINTR) {
		werr(w, "io_uring_submit_and_wait: %s", strerror(-ret));
		return -1;
	}
	if (io_uring_sq_ready(ring)) {
		/* Never happens with one SQE in a ring of 8; say so if it does. */
		werr(w, "the kernel did not take the SQE (%d)", ret);
		return -1;
	}
	for (;;) {
		/* Only after an interrupted wait is this a second syscall. */
		if (!io_uring_cq_ready(ring))
			w->enters++;
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret == 0)
			break;
		if (ret != -EINTR && ret != -EAGAIN) {
			werr(w, "io_uring_wait_cqe: %s", strerror(-ret));
			return -1;
		}
	}
	out->user_data = cqe->user_data;
	out->res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* SQPOLL mode: the library's submit (no syscall while the SQ thread runs). */
static int submit_spin(struct worker *w, struct blkbatch_ring *r,
		       struct blkbatch_batch *b, uint64_t k,
		       struct blkbatch_cqe *out)
{
	int ret;

	/* liburing enters the kernel only to wake a sleeping SQ thread. */
	if (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_NEED_WAKEUP)
		w->enters++;
	ret = blkbatch_submit_fixed(r, w->fd, b, 0, k);
	if (ret) {
		werr(w, "blkbatch_submit_fixed: %s", strerror(-ret));
		return -1;
	}
	while ((ret = blkbatch_peek(r, out)) == -EAGAIN)
		cpu_relax();
	if (ret) {
		werr(w, "blkbatch_peek: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static int check_batch(struct worker *w, const struct blkbatch_batch *b,
		       const struct blkbatch_cqe *c, uint64_t k)
{
	unsigned int i, bad = 0, first = 0;

	if (c->user_data != k) {
		werr(w, "completion for batch %" PRIu64 ", want %" PRIu64,
		     (uint64_t)c->user_data, k);
		return -1;
	}
	if (c->res < 0) {
		werr(w, "batch %" PRIu64 " failed: %s (%d)", k, strerror(-c->res),
		     c->res);
		return -1;
	}
	for (i = 0; i < b->nr; i++) {
		if (b->status[i] != (__s32)w->o->bs && !bad++)
			first = i;
	}
	if (bad || (unsigned int)c->res != b->nr) {
		werr(w, "batch %" PRIu64 ": res %d of %u, %u bad statuses, "
		     "first: entry %u status %d (%s)", k, c->res, b->nr, bad,
		     first, b->status[first], b->status[first] < 0 ?
		     strerror(-b->status[first]) : "short");
		return -1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	struct blkbatch_batch b = { 0 };
	struct blkbatch_ring *r = NULL;
	struct blkbatch_cqe c;
	size_t buflen = (size_t)o->batch * o->bs;
	uint64_t *offs = NULL, rng, k, n = w->nbatches * o->batch;
	char *buf = NULL;
	double t0, t1, cpu0;
	unsigned int i;
	int ret;

	/*
	 * Setup, outside the timed phase.  Offsets are drawn up front so
	 * that the timed loop does what an application does: fill a batch,
	 * submit it, wait.
	 */
	ret = blkbatch_thread_ring(&r);
	if (ret) {
		werr(w, "blkbatch_thread_ring (%s ring): %s",
		     mode_names[o->mode], strerror(-ret));
		goto wait_start;
	}
	ret = blkbatch_ring_register_file(r, w->fd);
	if (ret) {
		werr(w, "blkbatch_ring_register_file: %s", strerror(-ret));
		goto wait_start;
	}
	if (posix_memalign((void **)&buf, 4096, buflen)) {
		buf = NULL;
		werr(w, "out of memory for a %zu-byte buffer", buflen);
		goto wait_start;
	}
	memset(buf, 0x5a, buflen);
	ret = blkbatch_ring_register_buffer(r, buf, buflen);
	if (ret) {
		werr(w, "blkbatch_ring_register_buffer(%zu bytes): %s", buflen,
		     strerror(-ret));
		goto wait_start;
	}
	ret = blkbatch_batch_alloc(&b, o->batch);
	if (ret) {
		werr(w, "blkbatch_batch_alloc: %s", strerror(-ret));
		goto wait_start;
	}
	offs = malloc(n * sizeof(*offs));
	w->lat_us = calloc(w->nbatches, sizeof(*w->lat_us));
	if (!offs || !w->lat_us) {
		werr(w, "out of memory");
		goto wait_start;
	}
	rng = (uint64_t)(now() * 1e9) ^ (0x9e3779b97f4a7c15ull * (w->id + 1));
	rng |= 1;
	for (k = 0; k < n; k++)
		offs[k] = (rng_next(&rng) % w->nblocks) * o->bs;

wait_start:
	pthread_barrier_wait(&ready_barrier);
	pthread_barrier_wait(&start_barrier);
	cpu0 = rusage_us(RUSAGE_THREAD);
	for (k = 0; !w->err[0] && k < w->nbatches; k++) {
		const uint64_t *off = offs + k * o->batch;

		blkbatch_batch_reset(&b);
		for (i = 0; i < o->batch; i++) {
			if (o->write)
				blkbatch_batch_add_write(&b, buf + (size_t)i * o->bs,
							 o->bs, off[i], 0);
			else
				blkbatch_batch_add_read(&b, buf + (size_t)i * o->bs,
							o->bs, off[i]);
			b.status[i] = STATUS_UNSET;
		}
		t0 = now();
		ret = o->mode == MODE_SQPOLL ? submit_spin(w, r, &b, k, &c) :
					       submit_wait(w, r, &b, k, &c);
		if (ret || check_batch(w, &b, &c, k))
			break;
		t1 = now();
		w->lat_us[k] = (t1 - t0) * 1e6;
		w->done++;
		if (deadline && t1 >= deadline)
			break;
	}
	w->cpu_us = rusage_us(RUSAGE_THREAD) - cpu0;
	pthread_barrier_wait(&end_barrier);

	/* The ring goes first: its registered buffer pins buf. */
	blkbatch_thread_ring_exit();
	blkbatch_batch_free(&b);
	free(buf);
	free(offs);
	return NULL;
}

/* CPU time of io_uring's own threads in this process, by name prefix. */
static void iou_threads_us(double *sqp, double *wrk)
{
	long tck = sysconf(_SC_CLK_TCK);
	struct dirent *de;
	DIR *d;

	*sqp = *wrk = 0;
	d = opendir("/proc/self/task");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], line[1024], *p;
		unsigned long ut, st;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		/* "tid (comm) state ...": utime, stime are fields 14, 15. */
		if (!p || !(p = strrchr(line, ')')) ||
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			   "%*u %lu %lu", &ut, &st) != 2)
			continue;
		if (strstr(line, "(iou-sqp-"))
			*sqp += (ut + st) * 1e6 / tck;
		else if (strstr(line, "(iou-wrk-"))
			*wrk += (ut + st) * 1e6 / tck;
	}
	closedir(d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int is_blkdev(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: blkbatch-bench --dev DEV [--op read|write] [--batch B]\n"
		"         [--mode interrupt|poll|sqpoll] [--threads T] [--ios N]\n"
		"         [--range BYTES] [--bs BYTES] [--max-seconds S]\n"
		"       blkbatch-bench --attach BLOCKDEV | --detach /dev/blkbatchN\n");
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end)
		usage();
	return v;
}

static int do_attach(const char *path)
{
	unsigned int idx;
	int ret = blkbatch_attach(path, 0, &idx);

	if (ret) {
		fprintf(stderr, "attach %s: %s\n", path, strerror(-ret));
		return 1;
	}
	printf(BLKBATCH_DEV_FMT "\n", idx);
	return 0;
}

static int do_detach(const char *path)
{
	unsigned int idx;
	int ret;

	if (sscanf(path, BLKBATCH_DEV_FMT, &idx) != 1) {
		fprintf(stderr, "detach: %s is no /dev/blkbatchN\n", path);
		return 1;
	}
	ret = blkbatch_detach(idx);
	if (ret) {
		fprintf(stderr, "detach %s: %s\n", path, strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .batch = 4096, .mode = MODE_INTERRUPT, .threads = 1,
			  .ios = 100000, .range = 512ull << 20, .bs = 4096 };
	struct blkbatch_dev dev = { .fd = -1 };
	struct worker *ws = NULL;
	unsigned int idx, t, rflags = 0;
	bool attached = false, ok = true, capped = false;
	uint64_t per_thread, total_batches = 0, nblocks, k, done = 0;
	double t0, t1, cpu0, cpu1, sqp0, sqp1, wrk0, wrk1, workers_us = 0;
	double *lat = NULL, sum = 0, wall;
	int i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--attach"))
			return do_attach(v);
		else if (!strcmp(a, "--detach"))
			return do_detach(v);
		else if (!strcmp(a, "--dev"))
			o.dev = v;
		else if (!strcmp(a, "--op") && (!strcmp(v, "read") || !strcmp(v, "write")))
			o.write = !strcmp(v, "write");
		else if (!strcmp(a, "--batch"))
			o.batch = num(v);
		else if (!strcmp(a, "--mode") && !strcmp(v, "interrupt"))
			o.mode = MODE_INTERRUPT;
		else if (!strcmp(a, "--mode") && !strcmp(v, "poll"))
			o.mode = MODE_POLL;
		else if (!strcmp(a, "--mode") && !strcmp(v, "sqpoll"))
			o.mode = MODE_SQPOLL;
		else if (!strcmp(a, "--threads"))
			o.threads = num(v);
		else if (!strcmp(a, "--ios"))
			o.ios = num(v);
		else if (!strcmp(a, "--range"))
			o.range = num(v);
		else if (!strcmp(a, "--bs"))
			o.bs = num(v);
		else if (!strcmp(a, "--max-seconds"))
			o.max_s = num(v);
		else
			usage();
	}
	if (!o.dev || !o.batch || !o.threads || o.threads > 1024 || !o.ios ||
	    !o.bs || o.bs % 512)
		usage();

	if (is_blkdev(o.dev)) {
		ret = blkbatch_attach(o.dev, 0, &idx);
		if (ret) {
			printf("FAIL: attach %s: %s\n", o.dev, strerror(-ret));
			return 1;
		}
		attached = true;
		ret = blkbatch_open(idx, O_RDWR, &dev);
	} else {
		ret = blkbatch_open_path(o.dev, O_RDWR, &dev);
	}
	if (ret) {
		printf("FAIL: open %s: %s\n", o.dev, strerror(-ret));
		ok = false;
		goto out;
	}
	if (o.batch > dev.info.max_entries || o.bs % dev.info.logical_block_size ||
	    4096 % (dev.info.dma_alignment ? dev.info.dma_alignment : 1) ||
	    o.bs > dev.info.max_entry_bytes) {
		printf("FAIL: batch %u of %u-byte I/Os does not fit the device "
		       "(max_entries %u, logical block %u, DMA alignment %u)\n",
		       o.batch, o.bs, dev.info.max_entries,
		       dev.info.logical_block_size, dev.info.dma_alignment);
		ok = false;
		goto out;
	}
	if (o.range > dev.info.capacity)
		o.range = dev.info.capacity;
	nblocks = o.range / o.bs;
	if (!nblocks) {
		printf("FAIL: range of %" PRIu64 " bytes holds no block\n", o.range);
		ok = false;
		goto out;
	}

	/* Whole batches for every thread: N rounded up to B * T. */
	per_thread = (o.ios + (uint64_t)o.batch * o.threads - 1) /
		     ((uint64_t)o.batch * o.threads);
	if (o.mode == MODE_POLL)
		rflags |= BLKBATCH_RING_IOPOLL;
	if (o.mode == MODE_SQPOLL)
		rflags |= BLKBATCH_RING_SQPOLL;
	ret = blkbatch_thread_ring_config(RING_DEPTH, rflags);
	if (ret) {
		printf("FAIL: blkbatch_thread_ring_config: %s\n", strerror(-ret));
		ok = false;
		goto out;
	}

	ws = calloc(o.threads, sizeof(*ws));
	if (!ws) {
		printf("FAIL: out of memory\n");
		ok = false;
		goto out;
	}
	pthread_barrier_init(&ready_barrier, NULL, o.threads + 1);
	pthread_barrier_init(&start_barrier, NULL, o.threads + 1);
	pthread_barrier_init(&end_barrier, NULL, o.threads + 1);
	for (t = 0; t < o.threads; t++) {
		ws[t].id = t;
		ws[t].o = &o;
		ws[t].fd = dev.fd;
		ws[t].nblocks = nblocks;
		ws[t].nbatches = per_thread;
		ret = pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]);
		if (ret) {
			/* Barriers are sized for all threads: cannot go on. */
			printf("FAIL: pthread_create: %s\n", strerror(ret));
			exit(1);
		}
	}

	/* Timed: from just before the start barrier to just after the end. */
	pthread_barrier_wait(&ready_barrier);
	iou_threads_us(&sqp0, &wrk0);
	cpu0 = rusage_us(RUSAGE_SELF);
	t0 = now();
	if (o.max_s)
		deadline = t0 + o.max_s;
	pthread_barrier_wait(&start_barrier);
	pthread_barrier_wait(&end_barrier);
	t1 = now();
	cpu1 = rusage_us(RUSAGE_SELF);
	iou_threads_us(&sqp1, &wrk1);

	for (t = 0; t < o.threads; t++)
		pthread_join(ws[t].tid, NULL);
	for (t = 0; t < o.threads; t++) {
		if (ws[t].err[0]) {
			printf("FAIL: thread %u: %s\n", t, ws[t].err);
			ok = false;
		}
		total_batches += ws[t].nbatches;
		done += ws[t].done;
		capped |= ws[t].done < ws[t].nbatches;
		workers_us += ws[t].cpu_us;
	}
	if (!ok)
		goto out;
	if (!done || (done != total_batches && !deadline)) {
		printf("FAIL: %" PRIu64 " of %" PRIu64 " batches done\n", done,
		       total_batches);
		ok = false;
		goto out;
	}

	/* Every I/O of a batch has the batch's latency; batches are equal. */
	total_batches = done;
	lat = malloc(total_batches * sizeof(*lat));
	if (!lat) {
		printf("FAIL: out of memory\n");
		ok = false;
		goto out;
	}
	k = 0;
	for (t = 0; t < o.threads; t++) {
		memcpy(lat + k, ws[t].lat_us, ws[t].done * sizeof(*lat));
		k += ws[t].done;
	}
	qsort(lat, total_batches, sizeof(*lat), cmp_double);
	for (k = 0; k < total_batches; k++)
		sum += lat[k];
	{
		uint64_t ios = total_batches * o.batch;
		/* Nearest rank: the smallest value >= 99 % of all values. */
		uint64_t p99 = (total_batches * 99 + 99) / 100;
		unsigned long enters = 0;

		for (t = 0; t < o.threads; t++)
			enters += ws[t].enters;
		wall = t1 - t0;
		printf("result op=%s mode=%s threads=%u batch=%u iodepth=%u "
		       "ios=%" PRIu64 " wall_s=%.4f iops=%.0f lat_mean_us=%.1f "
		       "lat_p99_us=%.1f cpu_us_per_io=%.3f enters=%lu capped=%d\n",
		       o.write ? "write" : "read", mode_names[o.mode], o.threads,
		       o.batch, o.batch, ios, wall, ios / wall,
		       sum / total_batches, lat[p99 ? p99 - 1 : 0],
		       (cpu1 - cpu0) / ios, enters, capped);
		printf("cpu_check rusage_self_us=%.0f workers_us=%.0f "
		       "iou_sqp_us=%.0f iou_wrk_us=%.0f\n", cpu1 - cpu0,
		       workers_us, sqp1 - sqp0, wrk1 - wrk0);
	}

out:
	if (ws) {
		for (t = 0; t < o.threads; t++)
			free(ws[t].lat_us);
		free(ws);
	}
	free(lat);
	blkbatch_close(&dev);
	if (attached) {
		ret = blkbatch_detach(idx);
		if (ret) {
			printf("FAIL: detach " BLKBATCH_DEV_FMT ": %s\n", idx,
			       strerror(-ret));
			ok = false;
		}
	}
	return ok ? 0 : 1;
}
