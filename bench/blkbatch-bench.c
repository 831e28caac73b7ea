// SPDX-License-Identifier: MIT
/*
 * blkbatch-bench: block I/O through blkbatch and through its rivals, with
 * the same harness around each, for comparing them (qemu/guest-bench.sh).
 *
 *   blkbatch-bench --dev DEV [--engine blkbatch|io_uring|uring_cmd|psync]
 *                  [--workload io|commit] [--rw randread|randwrite|randrw|
 *                  write] [--rwmixread PCT] [--depth D] [--mode interrupt|
 *                  poll|sqpoll|sqpoll+poll] [--threads T] [--ios N]
 *                  [--range BYTES] [--bs BYTES] [--max-seconds S]
 *                  [--records R] [--form FORM]
 *   blkbatch-bench --attach BLOCKDEV     print /dev/blkbatchN, stay attached
 *   blkbatch-bench --detach /dev/blkbatchN
 *
 * --op read|write is --rw randread|randwrite, --batch is --depth.  WRITES
 * DESTROY DATA in the first --range bytes of DEV.
 *
 * Engines, each set up the way its best users run it.  Every thread has
 * its own ring (or file position, for psync) and shares nothing with the
 * others on the I/O path; buffers are 4 KiB aligned, allocated, touched
 * and registered before the clock runs, and the I/O offsets are drawn
 * before it too, so the timed loop only fills requests, submits and reaps.
 *   blkbatch   DEV is /dev/blkbatchN, or a block device attached for the
 *              run and detached at its end.  A libblkbatch per-thread
 *              ring with the device as registered file 0 and one
 *              registered buffer of D * bs bytes, BLKBATCH_RING_SINGLE_
 *              ISSUER (SINGLE_ISSUER + DEFER_TASKRUN and a registered ring
 *              fd, as the io_uring engine's rings); one batch of D entries
 *              (one SQE) in flight per thread, each round one
 *              io_uring_enter that submits the batch and waits for it.
 *   io_uring   DEV is a block device, opened O_RDWR | O_DIRECT.  What
 *              fio's t/io_uring does at its best: one ring per thread of
 *              at least D SQEs, the file registered (IOSQE_FIXED_FILE),
 *              D registered buffers of bs bytes (READ_FIXED/WRITE_FIXED),
 *              the ring fd registered, and per round D SQEs submitted and
 *              D CQEs awaited in ONE io_uring_enter (fio: iodepth=D,
 *              iodepth_batch_submit=iodepth_batch_complete_min=D), then
 *              all reaped.  The ring takes SINGLE_ISSUER + DEFER_TASKRUN,
 *              else SINGLE_ISSUER + COOP_TASKRUN, else COOP_TASKRUN, else
 *              nothing, the first the kernel accepts (SQPOLL rings:
 *              SINGLE_ISSUER, else nothing): completions then wake the
 *              waiter once per round instead of once per CQE.  Commit
 *              forms with IOSQE_IO_DRAIN start at the second: DRAIN under
 *              DEFER_TASKRUN deadlocks a wait for the whole commit (see
 *              wait_tries).  setup= says which the ring got.
 *   uring_cmd  DEV is an NVMe generic char device /dev/ngXnY: NVMe
 *              passthrough, NVME_URING_CMD_IO on an SQE128 | CQE32 ring,
 *              set up as io_uring above, buffers fixed with
 *              IORING_URING_CMD_FIXED.  The namespace id is
 *              NVME_IOCTL_ID's, the LBA size and capacity come from the
 *              namespace's own Identify data (NVME_IOCTL_ADMIN_CMD, CNS 0)
 *              rather than sysfs, whose block-device name need not match
 *              the char device's under multipath.  Passthrough is not
 *              split: bs must fit the controller's max transfer (MDTS).
 *   psync      DEV is a block device, opened O_RDWR | O_DIRECT: one
 *              pread or pwrite per I/O, depth 1.
 * Threads of the ring engines on SQPOLL rings share one SQ thread
 * (IORING_SETUP_ATTACH_WQ; libblkbatch does the same), so that T threads
 * do not bring T spinning kernel threads.
 *
 * Modes (ring engines; psync has only interrupt):
 *   interrupt    each round is one io_uring_enter (submit, then sleep
 *                until the D completions are in)
 *   poll         the same on an IOPOLL ring: the wait polls the device's
 *                poll queue (blkbatch: the entries that can be polled)
 *   sqpoll       an SQPOLL ring (sq_thread_idle 1 s), completions reaped
 *                by spinning on the CQ ring: no system call while the SQ
 *                thread is awake
 *   sqpoll+poll  SQPOLL | IOPOLL: the SQ thread submits and polls
 * enters counts the io_uring_enter calls of the timed loop (the ones that
 * liburing makes to wake a sleeping SQ thread included), or for psync its
 * I/O system calls; strace counts them too.
 *
 * --workload io (the default): --rw randread, randwrite, randrw (each I/O
 * a read with probability --rwmixread percent, 70 by default, drawn from
 * the seeded RNG; a blkbatch batch mixes both) or write (sequential:
 * thread t writes its own T-th of the range from its start, wrapping).
 * Random offsets are multiples of bs in the first --range bytes; bs is any
 * multiple of the logical block size (blkbatch: up to max_entry_bytes).
 * N (--ios) is rounded up to whole rounds of D I/Os for every thread.
 * Every I/O must complete with exactly bs bytes (uring_cmd: CQE res 0,
 * which also means NVMe status 0): a failed or short one ends the run
 * with exit status 1 and a FAIL line naming it.
 *
 * --workload commit: a database's group commit, --ios commits in all.
 * Thread t owns the T-th of the range from t * range / T as its log: a
 * commit writes R (--records) log records, bs (4 KiB) each, to consecutive
 * blocks, then one commit record to the next block, and the log moves on
 * (wrapping).  A commit is durable when the records and then the commit
 * record are; the commit record must never be durable before the
 * records.  Forms (--form):
 *   blkbatch flush      one batch: R WRITEs, BARRIER, FLUSH, BARRIER, the
 *                       commit WRITE with FUA (default for blkbatch)
 *   blkbatch fua        one batch: R WRITEs with FUA, BARRIER, the commit
 *                       WRITE with FUA
 *   blkbatch coalesce   one batch: the R records as ONE WRITE with FUA,
 *                       BARRIER, the commit WRITE with FUA (io_uring's
 *                       coalesce, below)
 *   io_uring dsync2     R RWF_DSYNC writes in one submit, wait for all;
 *                       the commit RWF_DSYNC write, wait: 2 round trips
 *                       (default for io_uring)
 *   io_uring fsync3     R writes, wait; FSYNC (DATASYNC), wait; the commit
 *                       RWF_DSYNC write, wait: 3 round trips
 *   io_uring drainlink  one submit: R writes; FSYNC (DATASYNC) with
 *                       IOSQE_IO_DRAIN | IOSQE_IO_LINK; the commit
 *                       RWF_DSYNC write; wait for all
 *   io_uring link       one submit: R writes, FSYNC (DATASYNC), the commit
 *                       RWF_DSYNC write, all one IOSQE_IO_LINK chain (the
 *                       records go one at a time)
 *   io_uring dsynclink  one submit: R RWF_DSYNC writes and the commit
 *                       RWF_DSYNC write, one link chain
 *   io_uring dsyncdrain one submit: R RWF_DSYNC writes, then the commit
 *                       RWF_DSYNC write with IOSQE_IO_DRAIN: no flush and
 *                       the records in parallel, ordered by the kernel
 *   io_uring coalesce   one submit: the R records as ONE RWF_DSYNC write
 *                       (they are contiguous on disk and in the buffer)
 *                       linked to the commit RWF_DSYNC write
 *   psync dsync         pwritev of the R records (one call), fdatasync,
 *                       pwrite of the commit record on a second fd opened
 *                       O_DSYNC | O_DIRECT (default for psync)
 *   psync dsync2        the pwritev on the O_DSYNC fd too: no fdatasync
 * A RWF_DSYNC (O_DSYNC) direct write to a block device is a FUA write (the
 * block layer turns it into write + flush where the device has no FUA), so
 * an RWF_DSYNC write is durable when it completes, as a FUA entry is.
 * Commit runs take the modes interrupt and sqpoll; poll and sqpoll+poll
 * too where no FSYNC is involved (IOPOLL rings refuse FSYNC).  uring_cmd
 * has no commit forms.
 *
 * Output, one line each (the first is the one scripts read):
 *   result workload=io engine= rw= op= bs= mode= threads= depth= batch=
 *          iodepth= ios= bytes= wall_s= iops= mib_s= lat_mean_us=
 *          lat_p99_us= cpu_us_per_io= enters= capped=
 *   result workload=commit engine= form= records= bs= mode= threads=
 *          commits= wall_s= commits_per_s= lat_mean_us= lat_p99_us=
 *          cpu_us_per_commit= enters= capped=
 *   setup engine= ring_flags= sq_entries= cq_entries= ring_fd= ...
 *   cpu_check rusage_self_us= workers_us= iou_sqp_us= iou_wrk_us=
 * Latency of an I/O is from just before its submission call to when its
 * completion is reaped: per I/O for io_uring, uring_cmd and psync, its
 * batch's for blkbatch.  Of a commit: from the first submission to when
 * its commit record is known durable.  CPU time is getrusage(RUSAGE_SELF)
 * over the timed phase; cpu_check splits it to show what it contains (the
 * workers' RUSAGE_THREAD, and io_uring's SQPOLL and io-wq threads from
 * /proc/self/task, which share our thread group).  setup says how the
 * rings came out (flags the kernel accepted, sizes, what is registered).
 * --max-seconds stops the threads after their first round past S seconds
 * (capped=1 then, ios= or commits= is what was done): a config that
 * oversubscribes the CPUs, such as two threads spinning beside an SQ
 * thread on two CPUs, can otherwise take minutes.
 */
#define _GNU_SOURCE		/* RUSAGE_THREAD, O_DIRECT */
#include <dirent.h>
#include <endian.h>
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
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>

#include "libblkbatch.h"

#define RING_DEPTH	8	/* blkbatch: one batch in flight, one SQE */
#define STATUS_UNSET	(-EINPROGRESS)
#define SQ_IDLE_MS	1000
#define MAX_DEPTH	4096
#define MAX_RECORDS	4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum engine { ENG_BLKBATCH, ENG_IO_URING, ENG_URING_CMD, ENG_PSYNC };
static const char *const engine_names[] = {
	"blkbatch", "io_uring", "uring_cmd", "psync"
};

enum mode { MODE_INTERRUPT, MODE_POLL, MODE_SQPOLL, MODE_SQPOLL_POLL };
static const char *const mode_names[] = {
	"interrupt", "poll", "sqpoll", "sqpoll+poll"
};

enum rw { RW_RANDREAD, RW_RANDWRITE, RW_RANDRW, RW_WRITE };
static const char *const rw_names[] = {
	"randread", "randwrite", "randrw", "write"
};

static const char *const rw_ops[] = { "read", "write", "rw", "write" };

enum workload { WL_IO, WL_COMMIT };

enum form {
	F_BB_FLUSH, F_BB_FUA, F_BB_COALESCE,
	F_IOU_DSYNC2, F_IOU_FSYNC3, F_IOU_DRAINLINK, F_IOU_LINK,
	F_IOU_DSYNCLINK, F_IOU_DSYNCDRAIN, F_IOU_COALESCE,
	F_PS_DSYNC, F_PS_DSYNC2,
	F_NR
};

static const struct {
	const char	*name;
	enum engine	engine;
	bool		fsync;		/* has an FSYNC: no IOPOLL ring */
	bool		drain;		/* has an IOSQE_IO_DRAIN */
} forms[F_NR] = {
	[F_BB_FLUSH]		= { "flush", ENG_BLKBATCH, false, false },
	[F_BB_FUA]		= { "fua", ENG_BLKBATCH, false, false },
	[F_BB_COALESCE]		= { "coalesce", ENG_BLKBATCH, false, false },
	[F_IOU_DSYNC2]		= { "dsync2", ENG_IO_URING, false, false },
	[F_IOU_FSYNC3]		= { "fsync3", ENG_IO_URING, true, false },
	[F_IOU_DRAINLINK]	= { "drainlink", ENG_IO_URING, true, true },
	[F_IOU_LINK]		= { "link", ENG_IO_URING, true, false },
	[F_IOU_DSYNCLINK]	= { "dsynclink", ENG_IO_URING, false, false },
	[F_IOU_DSYNCDRAIN]	= { "dsyncdrain", ENG_IO_URING, false, true },
	[F_IOU_COALESCE]	= { "coalesce", ENG_IO_URING, false, false },
	[F_PS_DSYNC]		= { "dsync", ENG_PSYNC, true, false },
	[F_PS_DSYNC2]		= { "dsync2", ENG_PSYNC, false, false },
};

struct opts {
	const char	*dev;
	enum engine	engine;
	enum workload	wl;
	enum rw		rw;
	unsigned int	rwmixread;
	unsigned int	depth;
	enum mode	mode;
	unsigned int	threads;
	uint64_t	ios;
	uint64_t	range;
	unsigned int	bs;
	double		max_s;
	unsigned int	records;
	int		form;		/* enum form; -1: engine's default */
};

/* The device as every engine sees it. */
struct target {
	int			fd;
	int			dsync_fd;	/* psync commit: O_DSYNC too */
	uint64_t		capacity;
	unsigned int		lbs;
	unsigned int		nsid;		/* uring_cmd */
	unsigned int		lba_shift;	/* uring_cmd */
	struct blkbatch_dev	bb;
};

/* What one submitted request must come back with, for the FAIL line. */
enum req_kind { K_READ, K_WRITE, K_FSYNC };
static const char *const kind_names[] = { "read", "write", "fsync" };

struct req {
	uint64_t	off;
	uint32_t	len;
	uint8_t		kind;
};

struct worker {
	pthread_t		tid;
	unsigned int		id;
	const struct opts	*o;
	const struct target	*tg;
	uint64_t		base;		/* region: [base, base + */
	uint64_t		nblocks;	/*   nblocks * bs) */
	uint64_t		nunits;		/* rounds, batches or commits */
	unsigned int		per_unit;	/* I/Os per unit */
	unsigned int		lat_per_unit;	/* latency samples per unit */
	double			*lat_us;
	uint64_t		done;		/* units completed */
	unsigned long		enters;
	double			cpu_us;		/* RUSAGE_THREAD, timed loop */
	char			err[256];

	/* Engines' state, set up before the clock runs. */
	uint64_t		*plan;		/* offsets, | 1: a write */
	char			*buf;
	size_t			buflen;
	struct req		*reqs;
	uint64_t		logpos;		/* commit: next block */
	struct blkbatch_ring	*bbr;
	struct blkbatch_batch	b;
	struct io_uring		ring;
	bool			ring_up;
	bool			ring_fd_reg;
	bool			ring_shared;
	char			setup[512];
};

/*
 * ready: every worker has set up (or failed to); start: the clock runs;
 * end: every worker is done.  Workers stop early at @deadline, if set.
 */
static pthread_barrier_t ready_barrier, start_barrier, end_barrier;
static double deadline;

/* SQPOLL rings attach to the first worker's SQ thread: its fd, once set. */
static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t share_cond = PTHREAD_COND_INITIALIZER;
static int share_fd = -1;
static bool share_known;

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

static bool mode_sqpoll(enum mode m)
{
	return m == MODE_SQPOLL || m == MODE_SQPOLL_POLL;
}

static bool mode_iopoll(enum mode m)
{
	return m == MODE_POLL || m == MODE_SQPOLL_POLL;
}

static const char *err_str(int res)
{
	return res < 0 ? strerror(-res) : "short";
}

static void ring_flag_names(unsigned int f, char *s, size_t len)
{
	static const char *const names[] = {
		"IOPOLL", "SQPOLL", "SQ_AFF", "CQSIZE", "CLAMP", "ATTACH_WQ",
		"R_DISABLED", "SUBMIT_ALL", "COOP_TASKRUN", "TASKRUN_FLAG",
		"SQE128", "CQE32", "SINGLE_ISSUER", "DEFER_TASKRUN",
	};
	size_t n = 0;
	unsigned int i;

	s[0] = 0;
	for (i = 0; i < 32 && n < len; i++) {
		if (!(f & (1U << i)))
			continue;
		if (i < ARRAY_SIZE(names))
			n += snprintf(s + n, len - n, "%s%s", n ? "|" : "",
				      names[i]);
		else
			n += snprintf(s + n, len - n, "%s0x%x", n ? "|" : "",
				      1U << i);
	}
	if (!n)
		snprintf(s, len, "none");
}

/* ---- blkbatch ---- */

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
	ret = blkbatch_submit_fixed(r, w->tg->bb.fd, b, 0, k);
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

/* Every entry must report its full length (0 for FLUSH and BARRIER). */
static int check_batch(struct worker *w, const struct blkbatch_batch *b,
		       const struct blkbatch_cqe *c, uint64_t k)
{
	unsigned int i, bad = 0, first = 0;
	const struct blkbatch_entry *e;

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
		if (b->status[i] != (__s32)b->entries[i].len && !bad++)
			first = i;
	}
	if (bad || (unsigned int)c->res != b->nr) {
		e = &b->entries[first];
		werr(w, "batch %" PRIu64 ": res %d of %u, %u bad statuses, "
		     "first: entry %u (%s of %u bytes at offset %llu) status "
		     "%d (%s)", k, c->res, b->nr, bad, first,
		     blkbatch_op_name(e->op), e->len,
		     (unsigned long long)e->offset, b->status[first],
		     err_str(b->status[first]));
		return -1;
	}
	return 0;
}

static int bb_setup(struct worker *w)
{
	const struct opts *o = w->o;
	unsigned int cap = o->wl == WL_IO ? o->depth : o->records + 4;
	char fl[128];
	int ret;

	ret = blkbatch_thread_ring(&w->bbr);
	if (ret) {
		werr(w, "blkbatch_thread_ring (%s ring): %s",
		     mode_names[o->mode], strerror(-ret));
		return -1;
	}
	ret = blkbatch_ring_register_file(w->bbr, w->tg->bb.fd);
	if (ret) {
		werr(w, "blkbatch_ring_register_file: %s", strerror(-ret));
		return -1;
	}
	ret = blkbatch_ring_register_buffer(w->bbr, w->buf, w->buflen);
	if (ret) {
		werr(w, "blkbatch_ring_register_buffer(%zu bytes): %s",
		     w->buflen, strerror(-ret));
		return -1;
	}
	ret = blkbatch_batch_alloc(&w->b, cap);
	if (ret) {
		werr(w, "blkbatch_batch_alloc: %s", strerror(-ret));
		return -1;
	}
	ring_flag_names(w->bbr->ring.flags, fl, sizeof(fl));
	snprintf(w->setup, sizeof(w->setup), "ring_flags=%s sq_entries=%u "
		 "cq_entries=%u ring_fd=fd files=registered "
		 "buffers=registered:1x%zu", fl, w->bbr->ring.sq.ring_entries,
		 w->bbr->ring.cq.ring_entries, w->buflen);
	return 0;
}

static int bb_run(struct worker *w, struct blkbatch_batch *b, uint64_t k)
{
	struct blkbatch_cqe c;
	unsigned int i;
	int ret;

	for (i = 0; i < b->nr; i++)
		b->status[i] = STATUS_UNSET;
	ret = mode_sqpoll(w->o->mode) ? submit_spin(w, w->bbr, b, k, &c) :
					submit_wait(w, w->bbr, b, k, &c);
	return ret ? ret : check_batch(w, b, &c, k);
}

static int bb_io(struct worker *w, uint64_t k)
{
	const struct opts *o = w->o;
	const uint64_t *plan = w->plan + k * o->depth;
	struct blkbatch_batch *b = &w->b;
	unsigned int i;
	double t0;

	blkbatch_batch_reset(b);
	for (i = 0; i < o->depth; i++) {
		char *p = w->buf + (size_t)i * o->bs;

		if (plan[i] & 1)
			blkbatch_batch_add_write(b, p, o->bs, plan[i] & ~1ull,
						 0);
		else
			blkbatch_batch_add_read(b, p, o->bs, plan[i]);
	}
	t0 = now();
	if (bb_run(w, b, k))
		return -1;
	w->lat_us[k] = (now() - t0) * 1e6;
	return 0;
}

/* First block of this commit's records; the log wraps in the region. */
static uint64_t log_next(struct worker *w)
{
	uint64_t n = w->o->records + 1, p;

	if (w->logpos + n > w->nblocks)
		w->logpos = 0;
	p = w->logpos;
	w->logpos += n;
	return w->base + p * w->o->bs;
}

static int bb_commit(struct worker *w, uint64_t k)
{
	const struct opts *o = w->o;
	struct blkbatch_batch *b = &w->b;
	uint64_t off = log_next(w);
	__u16 rf = o->form == F_BB_FUA ? BLKBATCH_EF_FUA : 0;
	unsigned int i;
	double t0;

	blkbatch_batch_reset(b);
	if (o->form == F_BB_COALESCE) {
		/* The records are contiguous on disk and in the buffer. */
		blkbatch_batch_add_write(b, w->buf, o->records * o->bs, off,
					 BLKBATCH_EF_FUA);
		i = o->records;
	} else {
		for (i = 0; i < o->records; i++)
			blkbatch_batch_add_write(b, w->buf + (size_t)i * o->bs,
						 o->bs, off + (uint64_t)i * o->bs,
						 rf);
	}
	blkbatch_batch_add_barrier(b);
	if (o->form == F_BB_FLUSH) {
		blkbatch_batch_add_flush(b);
		blkbatch_batch_add_barrier(b);
	}
	blkbatch_batch_add_write(b, w->buf + (size_t)i * o->bs, o->bs,
				 off + (uint64_t)i * o->bs, BLKBATCH_EF_FUA);
	t0 = now();
	if (bb_run(w, b, k))
		return -1;
	w->lat_us[k] = (now() - t0) * 1e6;
	return 0;
}

/* ---- io_uring and uring_cmd ---- */

/*
 * The setup flags to try, best first: each later one is for a kernel
 * that refuses (-EINVAL) the one before.  DEFER_TASKRUN (6.1) runs the
 * completions' task work only when we wait, and wakes us once when D are
 * in; COOP_TASKRUN (5.19) at least spares the IPI per completion.  On an
 * SQPOLL ring the SQ thread runs the task work and DEFER_TASKRUN is
 * refused.  Forms with IOSQE_IO_DRAIN start at the second: a drained
 * request is issued only once the CQEs before it are posted, which under
 * DEFER_TASKRUN needs the waiter to run, and the waiter (6.12) is not
 * woken before all min_complete completions are in: waiting for the whole
 * commit in one io_uring_enter never returns.
 */
static const unsigned int wait_tries[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
	IORING_SETUP_COOP_TASKRUN,
	0,
};

static const unsigned int sqpoll_tries[] = { IORING_SETUP_SINGLE_ISSUER, 0 };

static int ring_init(struct worker *w, unsigned int entries)
{
	const struct opts *o = w->o;
	bool sq = mode_sqpoll(o->mode);
	const unsigned int *tries = sq ? sqpoll_tries : wait_tries;
	unsigned int nr = sq ? 2 : 4, base = 0, i = 0, first;
	struct io_uring_params p;
	int ret = -EINVAL, attach = -1, pass;

	if (o->engine == ENG_URING_CMD)
		base |= IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	if (mode_iopoll(o->mode))
		base |= IORING_SETUP_IOPOLL;
	if (!sq && o->wl == WL_COMMIT && forms[o->form].drain)
		i = 1;
	first = i;
	if (sq) {
		base |= IORING_SETUP_SQPOLL;
		pthread_mutex_lock(&share_lock);
		while (w->id && !share_known)
			pthread_cond_wait(&share_cond, &share_lock);
		attach = share_fd;
		pthread_mutex_unlock(&share_lock);
	}
	/* Without a ring to attach to (or if attaching fails), a ring alone. */
	for (pass = attach >= 0 ? 0 : 1; pass < 2 && ret == -EINVAL; pass++) {
		for (i = first; i < nr; i++) {
			memset(&p, 0, sizeof(p));
			p.flags = base | tries[i];
			if (sq)
				p.sq_thread_idle = SQ_IDLE_MS;
			if (!pass) {
				p.flags |= IORING_SETUP_ATTACH_WQ;
				p.wq_fd = attach;
			}
			ret = io_uring_queue_init_params(entries, &w->ring, &p);
			if (ret != -EINVAL)
				break;
		}
	}
	if (sq && !w->id) {
		pthread_mutex_lock(&share_lock);
		share_fd = ret ? -1 : w->ring.ring_fd;
		share_known = true;
		pthread_cond_broadcast(&share_cond);
		pthread_mutex_unlock(&share_lock);
	}
	if (ret) {
		werr(w, "io_uring_queue_init_params(%u, %s ring): %s", entries,
		     mode_names[o->mode], strerror(-ret));
		return -1;
	}
	w->ring_up = true;
	w->ring_shared = !!(w->ring.flags & IORING_SETUP_ATTACH_WQ);
	/* One fdget less per io_uring_enter (5.18); fine to go without. */
	w->ring_fd_reg = io_uring_register_ring_fd(&w->ring) == 1;
	return 0;
}

static int ring_setup(struct worker *w)
{
	const struct opts *o = w->o;
	unsigned int nbufs = o->wl == WL_IO ? o->depth : 1, i, entries;
	struct iovec *iov;
	char fl[160];
	int ret, fd = w->tg->fd;

	entries = o->wl == WL_IO ? o->depth : o->records + 2;
	w->reqs = calloc(entries, sizeof(*w->reqs));
	iov = calloc(nbufs, sizeof(*iov));
	if (!w->reqs || !iov) {
		free(iov);
		werr(w, "out of memory");
		return -1;
	}
	if (ring_init(w, entries)) {
		free(iov);
		return -1;
	}
	ret = io_uring_register_files(&w->ring, &fd, 1);
	if (ret) {
		free(iov);
		werr(w, "io_uring_register_files: %s", strerror(-ret));
		return -1;
	}
	/*
	 * I/O: one buffer per slot.  Commit: one for the whole log write, so
	 * that the coalesce form's single write lies in one buffer.
	 */
	for (i = 0; i < nbufs; i++) {
		iov[i].iov_base = w->buf + (size_t)i * (w->buflen / nbufs);
		iov[i].iov_len = w->buflen / nbufs;
	}
	ret = io_uring_register_buffers(&w->ring, iov, nbufs);
	free(iov);
	if (ret) {
		werr(w, "io_uring_register_buffers(%u x %zu bytes): %s", nbufs,
		     w->buflen / nbufs, strerror(-ret));
		return -1;
	}
	ring_flag_names(w->ring.flags, fl, sizeof(fl));
	snprintf(w->setup, sizeof(w->setup), "ring_flags=%s sq_entries=%u "
		 "cq_entries=%u ring_fd=%s files=registered "
		 "buffers=registered:%ux%zu sq_thread_shared=%d", fl,
		 w->ring.sq.ring_entries, w->ring.cq.ring_entries,
		 w->ring_fd_reg ? "registered" : "fd", nbufs, w->buflen / nbufs,
		 w->ring_shared);
	return 0;
}

static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	/* Never: the ring holds a round, and each round is reaped whole. */
	if (!sqe)
		werr(w, "no free SQE");
	return sqe;
}

static void prep_nvme(struct worker *w, struct io_uring_sqe *sqe, bool wr,
		      void *buf, uint32_t len, uint64_t off, unsigned int bi)
{
	struct nvme_uring_cmd *c = (struct nvme_uring_cmd *)sqe->cmd;
	uint64_t slba = off >> w->tg->lba_shift;

	/* An SQE128 entry: the command fills the upper 64 bytes too. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->cmd_op = NVME_URING_CMD_IO;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = bi;
	c->opcode = wr ? 0x01 : 0x02;	/* NVM command set Write, Read */
	c->nsid = w->tg->nsid;
	c->addr = (uintptr_t)buf;
	c->data_len = len;
	c->cdw10 = (uint32_t)slba;
	c->cdw11 = (uint32_t)(slba >> 32);
	c->cdw12 = (len >> w->tg->lba_shift) - 1;	/* 0-based count */
}

/* Queue request @i of the round: I/O or, with K_FSYNC, a datasync. */
static int prep_req(struct worker *w, unsigned int i, enum req_kind kind,
		    char *buf, uint32_t len, uint64_t off, unsigned int bi,
		    int rwf, unsigned int sqe_flags)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return -1;
	w->reqs[i] = (struct req){ .off = off, .len = len, .kind = kind };
	if (kind == K_FSYNC) {
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	} else if (w->o->engine == ENG_URING_CMD) {
		prep_nvme(w, sqe, kind == K_WRITE, buf, len, off, bi);
	} else {
		io_uring_prep_rw(kind == K_WRITE ? IORING_OP_WRITE_FIXED :
			IORING_OP_READ_FIXED, sqe, 0, buf, len, off);
		sqe->buf_index = bi;
		sqe->rw_flags = rwf;
	}
	sqe->flags = IOSQE_FIXED_FILE | sqe_flags;
	sqe->user_data = i;
	return 0;
}

/* Passthrough: res is 0, an NVMe status (> 0) or -errno.  Else bytes. */
static int check_cqe(struct worker *w, const struct io_uring_cqe *cqe,
		     unsigned int n)
{
	const struct req *r;
	int want;

	if (cqe->user_data >= n) {
		werr(w, "completion for request %llu of %u",
		     (unsigned long long)cqe->user_data, n);
		return -1;
	}
	r = &w->reqs[cqe->user_data];
	want = r->kind == K_FSYNC || w->o->engine == ENG_URING_CMD ? 0 :
	       (int)r->len;
	if (cqe->res == want)
		return 0;
	if (w->o->engine == ENG_URING_CMD && cqe->res > 0)
		werr(w, "%s of %u bytes at offset %" PRIu64 ": NVMe status "
		     "0x%x", kind_names[r->kind], r->len, r->off, cqe->res);
	else
		werr(w, "%s of %u bytes at offset %" PRIu64 ": res %d (%s)%s",
		     kind_names[r->kind], r->len, r->off, cqe->res,
		     err_str(cqe->res), w->o->engine == ENG_URING_CMD &&
		     cqe->res == -EINVAL ? " (passthrough is not split: is bs "
		     "above the controller's max transfer?)" : "");
	return -1;
}

/*
 * Submit the @n queued requests and reap their @n completions.  With
 * @lat, each request's latency from @t0 to when its CQE is seen goes to
 * lat[its index].  Waiting rings submit and wait in one io_uring_enter;
 * SQPOLL rings spin on the CQ ring.
 */
static int ring_round(struct worker *w, unsigned int n, double t0,
		      double *lat)
{
	struct io_uring *ring = &w->ring;
	bool spin = mode_sqpoll(w->o->mode);
	struct io_uring_cqe *cqe;
	unsigned int got = 0, seen, head;
	double t = 0;
	int ret;

	if (spin) {
		unsigned int kf = IO_URING_READ_ONCE(*ring->sq.kflags);

		if (kf & IORING_SQ_NEED_WAKEUP)
			w->enters++;
		ret = io_uring_submit(ring);
	} else {
		ret = io_uring_submit_and_wait(ring, n);
		w->enters++;
	}
	if (ret < 0 && ret != -EINTR) {
		werr(w, "io_uring_submit: %s", strerror(-ret));
		return -1;
	}
	if (!spin && io_uring_sq_ready(ring)) {
		/* Never with at most a ring's worth in flight; say so if. */
		werr(w, "the kernel took %d of %u SQEs", ret, n);
		return -1;
	}
	for (;;) {
		seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (!seen && lat)
				t = now();
			if (check_cqe(w, cqe, n))
				return -1;
			if (lat)
				lat[cqe->user_data] = (t - t0) * 1e6;
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		got += seen;
		if (got >= n)
			return 0;
		if (seen)
			continue;
		if (spin) {
			cpu_relax();
			continue;
		}
		/* The wait ended early (a signal, or IOPOLL's need_resched). */
		w->enters++;
		ret = io_uring_wait_cqe_nr(ring, &cqe, n - got);
		if (ret && ret != -EINTR && ret != -EAGAIN) {
			werr(w, "io_uring_wait_cqe_nr: %s", strerror(-ret));
			return -1;
		}
	}
}

static int ring_io(struct worker *w, uint64_t k)
{
	const struct opts *o = w->o;
	const uint64_t *plan = w->plan + k * o->depth;
	unsigned int i;

	for (i = 0; i < o->depth; i++) {
		bool wr = plan[i] & 1;

		if (prep_req(w, i, wr ? K_WRITE : K_READ,
			     w->buf + (size_t)i * o->bs, o->bs, plan[i] & ~1ull,
			     i, 0, 0))
			return -1;
	}
	return ring_round(w, o->depth, now(), w->lat_us + k * o->depth);
}

static int ring_commit(struct worker *w, uint64_t k)
{
	const struct opts *o = w->o;
	unsigned int i, R = o->records, bs = o->bs, j = 0;
	uint64_t off = log_next(w), coff = off + (uint64_t)R * bs;
	char *cbuf = w->buf + (size_t)R * bs;
	bool dsync;
	double t0 = now();

/* Record @i, commit record, fsync: request j of the current round. */
#define REC(i, rwf, fl)	prep_req(w, j++, K_WRITE, w->buf + (size_t)(i) * bs, \
				 bs, off + (uint64_t)(i) * bs, 0, rwf, fl)
#define COMMIT(fl)	prep_req(w, j++, K_WRITE, cbuf, bs, coff, 0, \
				 RWF_DSYNC, fl)
#define FSYNC(fl)	prep_req(w, j++, K_FSYNC, NULL, 0, 0, 0, 0, fl)
#define ROUND()		({ int __r = ring_round(w, j, 0, NULL); j = 0; __r; })

	switch (o->form) {
	case F_IOU_DSYNC2:
		for (i = 0; i < R; i++)
			if (REC(i, RWF_DSYNC, 0))
				return -1;
		if (ROUND() || COMMIT(0) || ROUND())
			return -1;
		break;
	case F_IOU_FSYNC3:
		for (i = 0; i < R; i++)
			if (REC(i, 0, 0))
				return -1;
		if (ROUND() || FSYNC(0) || ROUND() || COMMIT(0) || ROUND())
			return -1;
		break;
	case F_IOU_DRAINLINK:
		for (i = 0; i < R; i++)
			if (REC(i, 0, 0))
				return -1;
		if (FSYNC(IOSQE_IO_DRAIN | IOSQE_IO_LINK) || COMMIT(0) ||
		    ROUND())
			return -1;
		break;
	case F_IOU_LINK:
	case F_IOU_DSYNCLINK:
		dsync = o->form == F_IOU_DSYNCLINK;
		for (i = 0; i < R; i++)
			if (REC(i, dsync ? RWF_DSYNC : 0, IOSQE_IO_LINK))
				return -1;
		if ((!dsync && FSYNC(IOSQE_IO_LINK)) || COMMIT(0) || ROUND())
			return -1;
		break;
	case F_IOU_DSYNCDRAIN:
		for (i = 0; i < R; i++)
			if (REC(i, RWF_DSYNC, 0))
				return -1;
		if (COMMIT(IOSQE_IO_DRAIN) || ROUND())
			return -1;
		break;
	case F_IOU_COALESCE:
		if (prep_req(w, j++, K_WRITE, w->buf, R * bs, off, 0, RWF_DSYNC,
			     IOSQE_IO_LINK) ||
		    COMMIT(0) || ROUND())
			return -1;
		break;
	default:
		werr(w, "form %s is no io_uring form", forms[o->form].name);
		return -1;
	}
#undef REC
#undef COMMIT
#undef FSYNC
#undef ROUND
	w->lat_us[k] = (now() - t0) * 1e6;
	return 0;
}

/* ---- psync ---- */

static int ps_check(struct worker *w, ssize_t ret, const char *what,
		    size_t len, uint64_t off)
{
	w->enters++;
	if (ret == (ssize_t)len)
		return 0;
	if (ret < 0)
		werr(w, "%s of %zu bytes at offset %" PRIu64 ": %s", what, len,
		     off, strerror(errno));
	else
		werr(w, "%s of %zu bytes at offset %" PRIu64 ": short: %zd",
		     what, len, off, ret);
	return -1;
}

static int ps_io(struct worker *w, uint64_t k)
{
	uint64_t p = w->plan[k], off = p & ~1ull;
	unsigned int bs = w->o->bs;
	double t0 = now();
	ssize_t ret;

	if (p & 1)
		ret = pwrite(w->tg->fd, w->buf, bs, off);
	else
		ret = pread(w->tg->fd, w->buf, bs, off);
	if (ps_check(w, ret, p & 1 ? "pwrite" : "pread", bs, off))
		return -1;
	w->lat_us[k] = (now() - t0) * 1e6;
	return 0;
}

static int ps_commit(struct worker *w, uint64_t k)
{
	const struct opts *o = w->o;
	unsigned int R = o->records, bs = o->bs;
	uint64_t off = log_next(w), coff = off + (uint64_t)R * bs;
	struct iovec *iov = (struct iovec *)w->reqs;
	bool two = o->form == F_PS_DSYNC2;
	int rfd = two ? w->tg->dsync_fd : w->tg->fd;
	double t0 = now();

	if (ps_check(w, pwritev(rfd, iov, R, off), "pwritev", (size_t)R * bs,
		     off))
		return -1;
	if (!two) {
		w->enters++;
		if (fdatasync(w->tg->fd)) {
			werr(w, "fdatasync: %s", strerror(errno));
			return -1;
		}
	}
	if (ps_check(w, pwrite(w->tg->dsync_fd, w->buf + (size_t)R * bs, bs,
			       coff), "pwrite (O_DSYNC)", bs, coff))
		return -1;
	w->lat_us[k] = (now() - t0) * 1e6;
	return 0;
}

static int ps_setup(struct worker *w)
{
	const struct opts *o = w->o;
	struct iovec *iov;
	unsigned int i;

	snprintf(w->setup, sizeof(w->setup), "fd=O_RDWR|O_DIRECT%s",
		 o->wl == WL_COMMIT ? " dsync_fd=O_RDWR|O_DIRECT|O_DSYNC" : "");
	if (o->wl != WL_COMMIT)
		return 0;
	/* The records' iovecs never change: reqs holds them. */
	iov = calloc(o->records, sizeof(*iov));
	if (!iov) {
		werr(w, "out of memory");
		return -1;
	}
	for (i = 0; i < o->records; i++) {
		iov[i].iov_base = w->buf + (size_t)i * o->bs;
		iov[i].iov_len = o->bs;
	}
	w->reqs = (struct req *)iov;
	return 0;
}

/* ---- threads ---- */

/* Offsets of every I/O, drawn before the clock runs; | 1 marks writes. */
static int make_plan(struct worker *w)
{
	const struct opts *o = w->o;
	uint64_t n = w->nunits * w->per_unit, rng, k;

	w->plan = malloc(n * sizeof(*w->plan));
	if (!w->plan)
		return -1;
	rng = (uint64_t)(now() * 1e9) ^ (0x9e3779b97f4a7c15ull * (w->id + 1));
	rng |= 1;
	for (k = 0; k < n; k++) {
		uint64_t off;
		bool wr;

		if (o->rw == RW_WRITE)
			off = w->base + (k % w->nblocks) * o->bs;
		else
			off = w->base + (rng_next(&rng) % w->nblocks) * o->bs;
		wr = o->rw == RW_WRITE || o->rw == RW_RANDWRITE ||
		     (o->rw == RW_RANDRW &&
		      rng_next(&rng) % 100 >= o->rwmixread);
		w->plan[k] = off | wr;
	}
	return 0;
}

static int worker_setup(struct worker *w)
{
	const struct opts *o = w->o;
	uint64_t nbuf = o->wl == WL_IO ? o->depth : o->records + 1;

	w->buflen = nbuf * o->bs;
	if (posix_memalign((void **)&w->buf, 4096, w->buflen)) {
		w->buf = NULL;
		werr(w, "out of memory for a %zu-byte buffer", w->buflen);
		return -1;
	}
	memset(w->buf, 0x5a, w->buflen);
	w->lat_us = calloc(w->nunits * w->lat_per_unit, sizeof(*w->lat_us));
	if (!w->lat_us || (o->wl == WL_IO && make_plan(w))) {
		werr(w, "out of memory");
		return -1;
	}
	switch (o->engine) {
	case ENG_BLKBATCH:
		return bb_setup(w);
	case ENG_IO_URING:
	case ENG_URING_CMD:
		return ring_setup(w);
	case ENG_PSYNC:
		return ps_setup(w);
	}
	return -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	int (*unit)(struct worker *w, uint64_t k);
	double t, cpu0;
	uint64_t k;

	if (o->wl == WL_IO)
		unit = o->engine == ENG_BLKBATCH ? bb_io :
		       o->engine == ENG_PSYNC ? ps_io : ring_io;
	else
		unit = o->engine == ENG_BLKBATCH ? bb_commit :
		       o->engine == ENG_PSYNC ? ps_commit : ring_commit;
	worker_setup(w);
	if (w->err[0] && mode_sqpoll(o->mode) && !w->id) {
		/* Do not leave the others waiting for a ring to share. */
		pthread_mutex_lock(&share_lock);
		share_known = true;
		pthread_cond_broadcast(&share_cond);
		pthread_mutex_unlock(&share_lock);
	}

	pthread_barrier_wait(&ready_barrier);
	pthread_barrier_wait(&start_barrier);
	cpu0 = rusage_us(RUSAGE_THREAD);
	for (k = 0; !w->err[0] && k < w->nunits; k++) {
		if (unit(w, k))
			break;
		w->done++;
		t = deadline ? now() : 0;
		if (deadline && t >= deadline)
			break;
	}
	w->cpu_us = rusage_us(RUSAGE_THREAD) - cpu0;
	pthread_barrier_wait(&end_barrier);

	/* The rings go first: their registered buffers pin buf. */
	if (o->engine == ENG_BLKBATCH)
		blkbatch_thread_ring_exit();
	if (w->ring_up)
		io_uring_queue_exit(&w->ring);
	blkbatch_batch_free(&w->b);
	free(w->buf);
	free(w->plan);
	free(w->reqs);
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

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
"usage: blkbatch-bench --dev DEV [--engine ENGINE] [--workload io|commit]\n"
"         [--rw RW] [--rwmixread PCT] [--depth D] [--mode MODE]\n"
"         [--threads T] [--ios N] [--range BYTES] [--bs BYTES]\n"
"         [--max-seconds S] [--records R] [--form FORM]\n"
"       blkbatch-bench --attach BLOCKDEV | --detach /dev/blkbatchN\n"
"\n"
"  ENGINE  blkbatch   /dev/blkbatchN or a block device (attached for the\n"
"                     run): one batch of D entries (one SQE) per round\n"
"          io_uring   block device, O_DIRECT: D READ/WRITE_FIXED SQEs per\n"
"                     round, registered file, buffers and ring fd,\n"
"                     SINGLE_ISSUER+DEFER_TASKRUN where the kernel has it\n"
"          uring_cmd  NVMe char device /dev/ngXnY: D NVMe passthrough\n"
"                     commands per round, set up like io_uring\n"
"          psync      block device, O_DIRECT: pread/pwrite, depth 1\n"
"          Ring engines submit a round and wait for all of it in one\n"
"          io_uring_enter (SQPOLL: spin on the CQ ring).\n"
"  MODE    interrupt | poll (IOPOLL) | sqpoll (SQPOLL, idle 1 s, reaped\n"
"          by spinning) | sqpoll+poll (both); psync: interrupt only\n"
"  RW      randread | randwrite | randrw (reads: --rwmixread %%, 70) |\n"
"          write (sequential, each thread in its T-th of the range);\n"
"          --op read|write means randread|randwrite\n"
"  D       I/Os in flight per thread (--batch D too), 1..4096, default\n"
"          4096 (psync: 1)\n"
"  N       I/Os (io) or commits (commit) in all, rounded up to whole\n"
"          rounds per thread; default 100000\n"
"  BYTES   --range: I/Os in the first BYTES of DEV (512M); --bs: I/O and\n"
"          log-block size, a multiple of the logical block size (4096)\n"
"  S       stop after the first round past S seconds (capped=1)\n"
"  commit  R log records (--records, default 8) and a commit record per\n"
"          commit, durable in that order; FORM by engine:\n"
"            blkbatch   flush (R writes, barrier, flush, barrier, FUA\n"
"                       commit write: one batch; default) | fua (R FUA\n"
"                       writes, barrier, FUA commit write: one batch)\n"
"            io_uring   dsync2 (default) | fsync3 | drainlink | link |\n"
"                       dsynclink | dsyncdrain | coalesce (see the source)\n"
"            psync      dsync (pwritev, fdatasync, O_DSYNC pwrite;\n"
"                       default) | dsync2 (O_DSYNC pwritev and pwrite)\n"
"          modes: interrupt, sqpoll; poll too for forms without fsync\n"
"\n"
"Prints a result line (workload=io: ios= iops= lat_mean_us= lat_p99_us=\n"
"cpu_us_per_io= ...; workload=commit: commits_per_s= cpu_us_per_commit=\n"
"...), a setup line and a cpu_check line; exit status 1 on any failed or\n"
"short I/O (a FAIL line names it).  WRITES DESTROY DATA on DEV.\n");
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

static int pick(const char *v, const char *const *names, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	usage();
	return -1;
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

/*
 * The namespace's own Identify data: its LBA format and size, whatever
 * the block device (if any) is called.  Metadata would need a buffer of
 * its own per command: such formats are refused.
 */
static int nvme_identify(struct target *tg, char *why, size_t len)
{
	struct nvme_admin_cmd cmd = { 0 };
	unsigned int flbas, fmt, ms, lbads;
	uint8_t *id;
	int nsid, ret;

	nsid = ioctl(tg->fd, NVME_IOCTL_ID);
	if (nsid <= 0) {
		snprintf(why, len, "NVME_IOCTL_ID: %s (no NVMe namespace?)",
			 strerror(errno));
		return -1;
	}
	if (posix_memalign((void **)&id, 4096, 4096)) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	memset(id, 0, 4096);
	cmd.opcode = 0x06;		/* Identify */
	cmd.nsid = nsid;
	cmd.addr = (uintptr_t)id;
	cmd.data_len = 4096;
	cmd.cdw10 = 0;			/* CNS 0: the namespace */
	ret = ioctl(tg->fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	if (ret) {
		snprintf(why, len, "Identify namespace %d: %s", nsid,
			 ret < 0 ? strerror(errno) : "NVMe error status");
		free(id);
		return -1;
	}
	flbas = id[26];
	/* Formats 16..63 put their upper index bits in FLBAS bits 6:5. */
	fmt = (flbas & 0xf) | (id[25] >= 16 ? ((flbas >> 5) & 3) << 4 : 0);
	ms = id[128 + 4 * fmt] | id[129 + 4 * fmt] << 8;
	lbads = id[130 + 4 * fmt];
	tg->capacity = le64toh(*(uint64_t *)id);	/* NSZE, in blocks */
	free(id);
	if (lbads < 9 || lbads > 20 || ms) {
		snprintf(why, len, "namespace %d: LBA format %u (2^%u-byte "
			 "blocks, %u bytes of metadata) not supported", nsid,
			 fmt, lbads, ms);
		return -1;
	}
	tg->nsid = nsid;
	tg->lba_shift = lbads;
	tg->lbs = 1U << lbads;
	tg->capacity <<= lbads;
	return 0;
}

static int open_target(const struct opts *o, struct target *tg,
		       bool *attached, unsigned int *idx)
{
	struct stat st;
	uint64_t size;
	char why[256];
	int ret, lbs;

	if (o->engine == ENG_BLKBATCH) {
		if (stat(o->dev, &st) == 0 && S_ISBLK(st.st_mode)) {
			ret = blkbatch_attach(o->dev, 0, idx);
			if (ret) {
				printf("FAIL: attach %s: %s\n", o->dev,
				       strerror(-ret));
				return -1;
			}
			*attached = true;
			ret = blkbatch_open(*idx, O_RDWR, &tg->bb);
		} else {
			ret = blkbatch_open_path(o->dev, O_RDWR, &tg->bb);
		}
		if (ret) {
			printf("FAIL: open %s: %s\n", o->dev, strerror(-ret));
			return -1;
		}
		tg->capacity = tg->bb.info.capacity;
		tg->lbs = tg->bb.info.logical_block_size;
		return 0;
	}
	/* The char device takes no O_DIRECT: passthrough never caches. */
	tg->fd = open(o->dev, o->engine == ENG_URING_CMD ? O_RDWR :
		      O_RDWR | O_DIRECT);
	if (tg->fd < 0 || fstat(tg->fd, &st)) {
		printf("FAIL: open %s: %s\n", o->dev, strerror(errno));
		return -1;
	}
	if (o->engine == ENG_URING_CMD) {
		if (!S_ISCHR(st.st_mode)) {
			printf("FAIL: %s is no NVMe char device (/dev/ngXnY)\n",
			       o->dev);
			return -1;
		}
		if (nvme_identify(tg, why, sizeof(why))) {
			printf("FAIL: %s: %s\n", o->dev, why);
			return -1;
		}
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		printf("FAIL: %s is no block device\n", o->dev);
		return -1;
	}
	if (ioctl(tg->fd, BLKGETSIZE64, &size) ||
	    ioctl(tg->fd, BLKSSZGET, &lbs)) {
		printf("FAIL: %s: size or block size: %s\n", o->dev,
		       strerror(errno));
		return -1;
	}
	tg->capacity = size;
	tg->lbs = lbs;
	if (o->engine == ENG_PSYNC && o->wl == WL_COMMIT) {
		tg->dsync_fd = open(o->dev, O_RDWR | O_DIRECT | O_DSYNC);
		if (tg->dsync_fd < 0) {
			printf("FAIL: open %s O_DSYNC: %s\n", o->dev,
			       strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* What the device cannot do with these options: a FAIL line, -1. */
static int check_target(const struct opts *o, const struct target *tg)
{
	const struct blkbatch_info *bi = &tg->bb.info;
	unsigned int nr = o->wl == WL_IO ? o->depth : o->records + 4;
	uint64_t need;

	if (!tg->lbs || o->bs % tg->lbs) {
		printf("FAIL: bs %u is no multiple of the logical block size "
		       "%u\n", o->bs, tg->lbs);
		return -1;
	}
	if (o->engine == ENG_BLKBATCH) {
		if (nr > bi->max_entries || o->bs > bi->max_entry_bytes ||
		    4096 % (bi->dma_alignment ? bi->dma_alignment : 1)) {
			printf("FAIL: batch %u of %u-byte I/Os does not fit "
			       "the device (max_entries %u, max_entry_bytes "
			       "%u, DMA alignment %u)\n", nr, o->bs,
			       bi->max_entries, bi->max_entry_bytes,
			       bi->dma_alignment);
			return -1;
		}
		need = BLKBATCH_F_READ_WRITE | BLKBATCH_F_FIXED;
		if (o->wl == WL_COMMIT)
			need |= BLKBATCH_F_BARRIER | BLKBATCH_F_FUA |
				(o->form == F_BB_FLUSH ? BLKBATCH_F_FLUSH : 0);
		if (mode_iopoll(o->mode))
			need |= BLKBATCH_F_IOPOLL;
		if ((bi->features & need) != need) {
			printf("FAIL: the device lacks features 0x%llx\n",
			       (unsigned long long)(need & ~bi->features));
			return -1;
		}
	}
	return 0;
}

static void close_target(struct target *tg)
{
	if (tg->fd >= 0)
		close(tg->fd);
	if (tg->dsync_fd >= 0)
		close(tg->dsync_fd);
	blkbatch_close(&tg->bb);
}

int main(int argc, char **argv)
{
	struct opts o = { .engine = ENG_BLKBATCH, .wl = WL_IO,
			  .rw = RW_RANDREAD, .rwmixread = 70,
			  .mode = MODE_INTERRUPT, .threads = 1, .ios = 100000,
			  .range = 512ull << 20, .bs = 4096, .records = 8,
			  .form = -1 };
	struct target tg = { .fd = -1, .dsync_fd = -1, .bb = { .fd = -1 } };
	struct worker *ws = NULL;
	unsigned int idx = 0, t, rflags = 0, per_unit;
	bool attached = false, ok = true, capped = false;
	uint64_t per_thread, total = 0, nblocks, k, done = 0, nlat;
	double t0, t1, cpu0, cpu1, sqp0, sqp1, wrk0, wrk1, workers_us = 0;
	double *lat = NULL, sum = 0, wall;
	const char *form_name = NULL;
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
		else if (!strcmp(a, "--engine"))
			o.engine = pick(v, engine_names, 4);
		else if (!strcmp(a, "--workload"))
			o.wl = !strcmp(v, "commit") ? WL_COMMIT :
			       !strcmp(v, "io") ? WL_IO : (usage(), 0);
		else if (!strcmp(a, "--op"))
			o.rw = !strcmp(v, "read") ? RW_RANDREAD :
			       !strcmp(v, "write") ? RW_RANDWRITE :
			       (usage(), 0);
		else if (!strcmp(a, "--rw"))
			o.rw = pick(v, rw_names, 4);
		else if (!strcmp(a, "--rwmixread"))
			o.rwmixread = num(v);
		else if (!strcmp(a, "--batch") || !strcmp(a, "--depth"))
			o.depth = num(v);
		else if (!strcmp(a, "--mode"))
			o.mode = pick(v, mode_names, 4);
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
		else if (!strcmp(a, "--records"))
			o.records = num(v);
		else if (!strcmp(a, "--form"))
			form_name = v;
		else
			usage();
	}
	if (!o.depth)
		o.depth = o.engine == ENG_PSYNC ? 1 : 4096;
	if (!o.dev || o.depth > MAX_DEPTH || !o.threads || o.threads > 1024 ||
	    !o.ios || !o.bs || o.bs % 512 || o.rwmixread > 100 ||
	    (o.engine == ENG_PSYNC && (o.depth != 1 ||
				       o.mode != MODE_INTERRUPT)))
		usage();
	if (o.wl == WL_COMMIT) {
		if (!o.records || o.records > MAX_RECORDS ||
		    o.engine == ENG_URING_CMD)
			usage();
		if (!form_name)
			o.form = o.engine == ENG_BLKBATCH ? F_BB_FLUSH :
				 o.engine == ENG_PSYNC ? F_PS_DSYNC :
				 F_IOU_DSYNC2;
		for (i = 0; form_name && i < F_NR; i++)
			if (forms[i].engine == o.engine &&
			    !strcmp(form_name, forms[i].name))
				o.form = i;
		if (o.form < 0 || (o.engine == ENG_IO_URING &&
				   forms[o.form].fsync && mode_iopoll(o.mode)))
			usage();
	} else if (form_name) {
		usage();
	}

	if (open_target(&o, &tg, &attached, &idx) || check_target(&o, &tg)) {
		ok = false;
		goto out;
	}
	if (o.range > tg.capacity)
		o.range = tg.capacity;
	nblocks = o.range / o.bs;
	/* Random I/O spans the range; logs and sequential writers split it. */
	if (o.wl == WL_COMMIT || o.rw == RW_WRITE)
		nblocks /= o.threads;
	if (!nblocks || (o.wl == WL_COMMIT && nblocks < o.records + 1)) {
		printf("FAIL: range of %" PRIu64 " bytes holds too few blocks "
		       "per thread\n", o.range);
		ok = false;
		goto out;
	}

	/* Whole rounds for every thread: N rounded up to D * T. */
	per_unit = o.wl == WL_IO ? o.depth : 1;
	per_thread = (o.ios + (uint64_t)per_unit * o.threads - 1) /
		     ((uint64_t)per_unit * o.threads);
	if (o.engine == ENG_BLKBATCH) {
		/* Each thread owns its ring, as the rival's rings do. */
		rflags |= BLKBATCH_RING_SINGLE_ISSUER;
		if (mode_iopoll(o.mode))
			rflags |= BLKBATCH_RING_IOPOLL;
		if (mode_sqpoll(o.mode))
			rflags |= BLKBATCH_RING_SQPOLL;
		ret = blkbatch_thread_ring_config(RING_DEPTH, rflags);
		if (ret) {
			printf("FAIL: blkbatch_thread_ring_config: %s\n",
			       strerror(-ret));
			ok = false;
			goto out;
		}
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
		struct worker *w = &ws[t];

		w->id = t;
		w->o = &o;
		w->tg = &tg;
		w->nblocks = nblocks;
		if (o.wl == WL_COMMIT || o.rw == RW_WRITE)
			w->base = (uint64_t)t * nblocks * o.bs;
		w->nunits = per_thread;
		w->per_unit = per_unit;
		/* io_uring and uring_cmd time each I/O of a round. */
		w->lat_per_unit = o.wl == WL_IO && (o.engine == ENG_IO_URING ||
			o.engine == ENG_URING_CMD) ? o.depth : 1;
		ret = pthread_create(&w->tid, NULL, worker_main, w);
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
		total += ws[t].nunits;
		done += ws[t].done;
		capped |= ws[t].done < ws[t].nunits;
		workers_us += ws[t].cpu_us;
	}
	if (!ok)
		goto out;
	if (!done || (done != total && !deadline)) {
		printf("FAIL: %" PRIu64 " of %" PRIu64 " rounds done\n", done,
		       total);
		ok = false;
		goto out;
	}

	/* Samples have equal weight: a blkbatch batch stands for D I/Os. */
	nlat = done * ws[0].lat_per_unit;
	lat = malloc(nlat * sizeof(*lat));
	if (!lat) {
		printf("FAIL: out of memory\n");
		ok = false;
		goto out;
	}
	k = 0;
	for (t = 0; t < o.threads; t++) {
		uint64_t n = ws[t].done * ws[t].lat_per_unit;

		memcpy(lat + k, ws[t].lat_us, n * sizeof(*lat));
		k += n;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	for (k = 0; k < nlat; k++)
		sum += lat[k];
	{
		uint64_t ios = done * per_unit;
		/* Nearest rank: the smallest value >= 99 % of all values. */
		uint64_t p99 = (nlat * 99 + 99) / 100;
		unsigned long enters = 0;

		for (t = 0; t < o.threads; t++)
			enters += ws[t].enters;
		wall = t1 - t0;
		if (o.wl == WL_IO)
			printf("result workload=io engine=%s rw=%s op=%s bs=%u "
			       "mode=%s threads=%u depth=%u batch=%u "
			       "iodepth=%u ios=%" PRIu64 " bytes=%" PRIu64
			       " wall_s=%.4f iops=%.0f mib_s=%.1f "
			       "lat_mean_us=%.1f lat_p99_us=%.1f "
			       "cpu_us_per_io=%.3f enters=%lu capped=%d\n",
			       engine_names[o.engine], rw_names[o.rw],
			       rw_ops[o.rw], o.bs, mode_names[o.mode],
			       o.threads, o.depth, o.depth, o.depth, ios,
			       ios * o.bs, wall, ios / wall,
			       ios * o.bs / wall / (1 << 20), sum / nlat,
			       lat[p99 ? p99 - 1 : 0], (cpu1 - cpu0) / ios,
			       enters, capped);
		else
			printf("result workload=commit engine=%s form=%s "
			       "records=%u bs=%u mode=%s threads=%u "
			       "commits=%" PRIu64 " wall_s=%.4f "
			       "commits_per_s=%.0f lat_mean_us=%.1f "
			       "lat_p99_us=%.1f cpu_us_per_commit=%.3f "
			       "enters=%lu capped=%d\n",
			       engine_names[o.engine], forms[o.form].name,
			       o.records, o.bs, mode_names[o.mode], o.threads,
			       ios, wall, ios / wall, sum / nlat,
			       lat[p99 ? p99 - 1 : 0], (cpu1 - cpu0) / ios,
			       enters, capped);
		/* The last thread's: with SQPOLL it is one that attached. */
		printf("setup engine=%s %s\n", engine_names[o.engine],
		       ws[o.threads - 1].setup);
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
	close_target(&tg);
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
