/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the blkbatch selftests.
 *
 * Environment (set by run-guest.sh's caller):
 *   BLKBATCH_DISK	the block device the tests attach; its contents are
 *			destroyed.  Unset: every test skips.
 *   BLKBATCH_KO	absolute path of blkbatch.ko (module load tests only).
 *
 * The helpers return 0 or -errno and never assert, so that they can run in
 * forked children and in FIXTURE_SETUP before anything needs undoing.
 */
#ifndef BLKBATCH_TEST_H
#define BLKBATCH_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <linux/fs.h>

#include <liburing.h>
#include <linux/blkbatch.h>
#include "libblkbatch.h"

/*
 * -Wextra and the 6.12 harness: its SIGALRM handler has an unused
 * argument, and every TEST_F() wrapper keeps a local across setjmp()
 * (harmless: the local is not used after the longjmp()).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"

/* The uapi is a fixed binary layout: catch any drift at compile time. */
_Static_assert(sizeof(struct blkbatch_entry) == 32, "entry size");
_Static_assert(sizeof(struct blkbatch_cmd) == 80, "cmd size");
_Static_assert(sizeof(struct blkbatch_info) == 112, "info size");
_Static_assert(sizeof(struct blkbatch_attach) == 32, "attach size");
_Static_assert(sizeof(struct blkbatch_detach) == 24, "detach size");
/* bb_prep_raw() clears two of these: one SQE128 slot. */
_Static_assert(sizeof(struct io_uring_sqe) == 64, "liburing SQE size");

#define BB_MODULE_NAME		"blkbatch"
#define BB_MAX_INDEX		64	/* highest index we ever sweep */
#define BB_NODE_WAIT_MS		5000
#define BB_DETACH_WAIT_MS	30000
#define BB_CQE_WAIT_S		120
#define BB_RING_DEPTH		16
#define SZ_4K			4096U
#define SZ_64K			(64U << 10)
#define SZ_1M			(1U << 20)

/*
 * The scratch disk (768 MiB in the VM) in 16 MiB regions, one table for
 * every program, so that no two share blocks by accident.  A program
 * names its own regions from its base; the ranges below are theirs.
 */
#define BB_REGION_SIZE		(16ULL * SZ_1M)
#define BB_REGION(n)		((__u64)(n) * BB_REGION_SIZE)
enum bb_region {
	BB_RG_CTL	= 0,	/* blkbatch_ctl.c: 0 (and the demo) */
	BB_RG_VALIDATE	= 1,	/* blkbatch_validate.c: 1 */
	BB_RG_IO	= 2,	/* blkbatch_io.c: 2 .. 24 */
	BB_RG_STRESS	= 25,	/* blkbatch_stress.c: 25 */
	BB_RG_SEM	= 26,	/* blkbatch_semantics.c: 26 .. 31 */
	BB_RG_POLL	= 32,	/* blkbatch_poll.c: 32 .. 38 */
	BB_RG_VERIFY	= 40,	/* blkbatch_verify.c: 40, 41 */
	BB_RG_COMPAT32	= 42,	/* blkbatch_compat32.c: 42 */
	BB_RG_LIFECYCLE	= 43,	/* blkbatch_lifecycle.c: 43 */
	BB_RG_STATS	= 44,	/* blkbatch_stats.c: 44 */
};

/* A user address nothing is mapped at: mapped once, then unmapped. */
static inline void *bb_unmapped_addr(void)
{
	void *p = mmap(NULL, SZ_1M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, SZ_1M);
	return p;
}

/* Clearly a kernel address on x86-64 (the direct map). */
#define BB_KERNEL_ADDR		0xffff888000000000ULL

static inline const char *bb_disk(void)
{
	const char *d = getenv("BLKBATCH_DISK");

	return d && *d ? d : NULL;
}

static inline void bb_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline int bb_ctl_ioctl(unsigned long req, void *arg)
{
	int fd, ret;

	fd = open(BLKBATCH_CTL_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, req, arg) ? -errno : 0;
	close(fd);
	return ret;
}

static inline int bb_attach(const char *path, __u32 flags, __u32 *index)
{
	struct blkbatch_attach a = {
		.path = (uintptr_t)path,
		.flags = flags,
	};
	int ret;

	ret = bb_ctl_ioctl(BLKBATCH_CTL_ATTACH, &a);
	if (!ret && index)
		*index = a.index;
	return ret;
}

static inline int bb_detach(__u32 index)
{
	struct blkbatch_detach d = { .index = index };

	return bb_ctl_ioctl(BLKBATCH_CTL_DETACH, &d);
}

/* Detach, waiting out batches that are still draining. */
static inline int bb_detach_wait(__u32 index, unsigned int ms)
{
	int ret;

	for (;;) {
		ret = bb_detach(index);
		if (ret != -EBUSY || ms < 10)
			return ret;
		bb_sleep_ms(10);
		ms -= 10;
	}
}

static inline void bb_node_path(char *buf, size_t len, __u32 index)
{
	snprintf(buf, len, BLKBATCH_DEV_FMT, index);
}

/* devtmpfs creates and removes the node; give it (or udev) a moment. */
static inline int bb_wait_node(__u32 index, bool present)
{
	unsigned int ms;
	char path[64];
	struct stat st;

	bb_node_path(path, sizeof(path), index);
	for (ms = 0; ms < BB_NODE_WAIT_MS; ms += 10) {
		bool there = !stat(path, &st) && S_ISCHR(st.st_mode);

		if (there == present)
			return 0;
		bb_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

static inline int bb_open_index(__u32 index, int oflags)
{
	char path[64];
	int fd;

	if (bb_wait_node(index, true))
		return -ETIMEDOUT;
	bb_node_path(path, sizeof(path), index);
	fd = open(path, oflags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static inline int bb_get_info(int fd, struct blkbatch_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, BLKBATCH_IOC_GET_INFO, info) ? -errno : 0;
}

/*
 * A test that died without its teardown leaves the disk attached and every
 * later attach fails with -EBUSY; the suite owns the module, so free all.
 */
static inline void bb_detach_all(void)
{
	__u32 i;

	for (i = 0; i < BB_MAX_INDEX; i++)
		if (!bb_detach_wait(i, 1000))
			fprintf(stderr, "# detached leftover blkbatch%u\n", i);
}

/* One attached disk and one open file on it: what most fixtures need. */
struct bb_ctx {
	const char		*disk;		/* NULL: BLKBATCH_DISK */
	__u32			index;
	bool			attached;
	int			fd;
	struct blkbatch_info	info;
};

static inline int bb_ctx_attach(struct bb_ctx *c, __u32 flags)
{
	const char *disk = c->disk ? c->disk : bb_disk();
	int ret;

	ret = bb_attach(disk, flags, &c->index);
	if (ret == -EBUSY) {
		bb_detach_all();
		ret = bb_attach(disk, flags, &c->index);
	}
	if (ret)
		fprintf(stderr, "# attach %s: %s\n", disk, strerror(-ret));
	c->attached = !ret;
	return ret;
}

static inline int bb_ctx_detach(struct bb_ctx *c)
{
	int ret;

	if (!c->attached)
		return 0;
	ret = bb_detach_wait(c->index, BB_DETACH_WAIT_MS);
	if (!ret)
		c->attached = false;
	return ret;
}

static inline void bb_ctx_close(struct bb_ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Attach with @flags, open with @oflags, read the info; undo on failure. */
static inline int bb_ctx_setup(struct bb_ctx *c, __u32 flags, int oflags)
{
	int ret;

	c->fd = -1;
	ret = bb_ctx_attach(c, flags);
	if (ret)
		return ret;
	ret = bb_open_index(c->index, oflags);
	if (ret < 0)
		goto out_detach;
	c->fd = ret;
	ret = bb_get_info(c->fd, &c->info);
	if (ret)
		goto out_close;
	return 0;

out_close:
	bb_ctx_close(c);
out_detach:
	fprintf(stderr, "# setup of blkbatch%u: %s\n", c->index,
		strerror(-ret));
	bb_ctx_detach(c);
	return ret;
}

/* A counter from /proc/vmstat, or -1 if this kernel has none by that name. */
static inline long long bb_vmstat(const char *name)
{
	char key[64];
	long long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2)
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	fclose(f);
	return ret;
}

#define BB_DEBUGFS_BATCHES	"/sys/kernel/debug/blkbatch/batches"
#define BB_DEBUGFS_POLLED	"/sys/kernel/debug/blkbatch/polled"
#define BB_DEBUGFS_RETRIED	"/sys/kernel/debug/blkbatch/retried"

/* A debugfs counter of the module, or -errno without debugfs. */
static inline long bb_debugfs_read(const char *path)
{
	long n = -EIO;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &n) != 1)
		n = -EIO;
	fclose(f);
	return n;
}

/* The module's live batches. */
static inline long bb_live_batches(void)
{
	return bb_debugfs_read(BB_DEBUGFS_BATCHES);
}

/* BB_TAINT_BAD: the taint bits no test may set (qemu/lib.sh). */
#include "blkbatch_rules.h"

static inline long bb_taint(void)
{
	long t = -1;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &t) != 1)
		t = -1;
	fclose(f);
	return t;
}

/*
 * After a test: the kernel not tainted by a warning, an oops or a KASAN
 * report (the runner reads the log itself, per program); no batch of the
 * module left (every bio holds its batch) and every page pin taken
 * released again (6.12 pins; 6.1 takes page references, which the
 * counters do not see).  Completions and ring teardown are asynchronous,
 * so this waits a while.  0, -EIO (tainted) or -EBUSY.
 */
static inline int bb_quiescent(void)
{
	long long acq, rel;
	unsigned int waited;
	long n, taint = bb_taint();

	if (taint > 0 && (taint & BB_TAINT_BAD)) {
		fprintf(stderr, "# kernel tainted: %ld\n", taint);
		return -EIO;
	}

	for (waited = 0; waited < BB_DETACH_WAIT_MS; waited += 20) {
		n = bb_live_batches();
		acq = bb_vmstat("nr_foll_pin_acquired");
		rel = bb_vmstat("nr_foll_pin_released");
		if (n <= 0 && acq == rel)
			return 0;
		bb_sleep_ms(20);
	}
	fprintf(stderr, "# not quiescent: %ld live batches, %lld pins held\n",
		n, acq - rel);
	return -EBUSY;
}

static inline int bb_ctx_teardown(struct bb_ctx *c)
{
	int ret;

	bb_ctx_close(c);
	ret = bb_ctx_detach(c);
	return ret ? ret : bb_quiescent();
}

/*
 * What most fixtures hold: an attached disk with an open file, and a
 * blkbatch ring.  One setup and one teardown for all of them.
 */
struct bb_env {
	struct bb_ctx		ctx;
	struct blkbatch_ring	ring;
	bool			ring_ok;
	__u32			lbs;
};

/* Before anything can fail: teardown then undoes only what was done. */
static inline void bb_env_init(struct bb_env *e)
{
	memset(e, 0, sizeof(*e));
	e->ctx.fd = -1;
}

static inline int bb_env_ring(struct bb_env *e, unsigned int depth,
			      unsigned int ring_flags)
{
	int ret = blkbatch_ring_init(&e->ring, depth, ring_flags);

	e->ring_ok = !ret;
	return ret;
}

/* Attach @disk (NULL: BLKBATCH_DISK) read-write and open it. */
static inline int bb_env_attach(struct bb_env *e, const char *disk)
{
	int ret;

	e->ctx.disk = disk;
	ret = bb_ctx_setup(&e->ctx, 0, O_RDWR);
	if (!ret)
		e->lbs = e->ctx.info.logical_block_size;
	return ret;
}

/* The usual fixture: BLKBATCH_DISK and a ring of @depth with @ring_flags. */
static inline int bb_env_setup(struct bb_env *e, unsigned int depth,
			       unsigned int ring_flags)
{
	int ret;

	bb_env_init(e);
	ret = bb_env_attach(e, NULL);
	return ret ? ret : bb_env_ring(e, depth, ring_flags);
}

static inline int bb_env_teardown(struct bb_env *e)
{
	if (e->ring_ok)
		blkbatch_ring_exit(&e->ring);
	e->ring_ok = false;
	return bb_ctx_teardown(&e->ctx);
}

/*
 * A fixture that is just that, on BLKBATCH_DISK (self->env): defined once
 * here for the programs that use it.
 */
#define BB_ENV_FIXTURE(name, depth, ring_flags)				\
	FIXTURE(name) {							\
		struct bb_env env;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		bb_env_init(&self->env);				\
		if (!bb_disk())						\
			SKIP(return, "BLKBATCH_DISK not set");		\
		ASSERT_EQ(0, bb_env_setup(&self->env, depth, ring_flags)); \
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		EXPECT_EQ(0, bb_env_teardown(&self->env));		\
	}

/*
 * A null_blk disk (configfs) whose every I/O completes after @ms: "a batch
 * is in flight" then holds for that long instead of racing a fast disk.
 * Needs null_blk loaded (run-vm.sh --nullblk) and configfs mounted.
 */
#define BB_NULLB_CFG	"/sys/kernel/config/nullb"

static inline int bb_cfg_write(const char *dir, const char *attr,
			       unsigned long long val)
{
	char path[256];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ret = fprintf(f, "%llu\n", val) < 0 ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

struct bb_slow_disk {
	char	cfg[128];
	char	dev[64];
};

static inline void bb_slow_disk_destroy(struct bb_slow_disk *d)
{
	bb_cfg_write(d->cfg, "power", 0);
	rmdir(d->cfg);
}

static inline int bb_cfg_write_str(const char *dir, const char *attr,
				   const char *val)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A null_blk disk made for a test; zero fields keep null_blk's defaults. */
struct bb_nullb_opts {
	unsigned int		size_mb;	/* 0: 64 */
	unsigned int		bs;		/* logical block size */
	unsigned int		qd;		/* hw_queue_depth */
	unsigned int		irqmode;	/* 0: in the submitter, 2: timer */
	unsigned long long	completion_nsec;	/* with irqmode 2 */
	bool			memory;		/* keep the data */
	const char		*badblocks;	/* "+first-last" sectors */
	unsigned int		poll_queues;	/* polled hardware queues */
	bool			no_poll;	/* none (null_blk has one) */
};

static inline int bb_nullb_power_on(struct bb_slow_disk *d,
				    const struct bb_nullb_opts *o)
{
	int ret;

	ret = bb_cfg_write(d->cfg, "size", o->size_mb ? o->size_mb : 64);
	if (!ret && o->bs)
		ret = bb_cfg_write(d->cfg, "blocksize", o->bs);
	if (!ret && o->qd)
		ret = bb_cfg_write(d->cfg, "hw_queue_depth", o->qd);
	if (!ret && o->memory)
		ret = bb_cfg_write(d->cfg, "memory_backed", 1);
	if (!ret && o->irqmode)
		ret = bb_cfg_write(d->cfg, "irqmode", o->irqmode);
	if (!ret && o->irqmode == 2)
		ret = bb_cfg_write(d->cfg, "completion_nsec",
				   o->completion_nsec);
	if (!ret && o->badblocks)
		ret = bb_cfg_write_str(d->cfg, "badblocks", o->badblocks);
	if (!ret && (o->poll_queues || o->no_poll))
		ret = bb_cfg_write(d->cfg, "poll_queues", o->poll_queues);
	if (!ret)
		ret = bb_cfg_write(d->cfg, "power", 1);
	return ret;
}

static inline int bb_nullb_create(struct bb_slow_disk *d, const char *name,
				  const struct bb_nullb_opts *o)
{
	unsigned int waited;
	int ret;

	snprintf(d->cfg, sizeof(d->cfg), BB_NULLB_CFG "/%s", name);
	/* null_blk names configfs disks after their directory */
	snprintf(d->dev, sizeof(d->dev), "/dev/%s", name);
	bb_slow_disk_destroy(d);	/* a crashed run's leftover */
	if (mkdir(d->cfg, 0755))
		return -errno;
	ret = bb_nullb_power_on(d, o);
	for (waited = 0; !ret && access(d->dev, F_OK); waited += 10) {
		if (waited >= BB_NODE_WAIT_MS)
			ret = -ENOENT;
		else
			bb_sleep_ms(10);
	}
	if (ret) {
		fprintf(stderr, "# null_blk %s: %s\n", name, strerror(-ret));
		bb_slow_disk_destroy(d);
	}
	return ret;
}

/* @qd: the disk's queue depth, 0 for null_blk's default. */
static inline int bb_slow_disk_create_qd(struct bb_slow_disk *d,
					 const char *name, unsigned int ms,
					 unsigned int qd)
{
	struct bb_nullb_opts o = {
		.qd = qd,
		.irqmode = 2,
		.completion_nsec = ms * 1000000ULL,
	};

	return bb_nullb_create(d, name, &o);
}

static inline int bb_slow_disk_create(struct bb_slow_disk *d,
				      const char *name, unsigned int ms)
{
	return bb_slow_disk_create_qd(d, name, ms, 0);
}

/* Whether block device @dev's queue polls (/sys/block/X/queue/io_poll). */
static inline bool bb_disk_polls(const char *dev)
{
	char path[128];
	int v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/queue/io_poll",
		 strrchr(dev, '/') + 1);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Reads the disk has completed, from /sys/block/NAME/stat. */
static inline long bb_disk_reads(const struct bb_slow_disk *d)
{
	char path[128];
	long reads = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/stat",
		 strrchr(d->dev, '/') + 1);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &reads) != 1)
		reads = -EIO;
	fclose(f);
	return reads;
}

/* Page-aligned anonymous memory, populated so faults do not skew timing. */
static inline void *bb_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline void bb_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/*
 * Data patterns: every 8-byte word encodes its device offset and a seed,
 * so data landing at the wrong offset or a stale read is detected.
 */
static inline __u64 bb_word(__u64 devoff, __u64 seed)
{
	return (devoff * 0x9e3779b97f4a7c15ULL) ^ seed;
}

static inline void bb_fill(void *buf, size_t len, __u64 devoff, __u64 seed)
{
	__u64 *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = bb_word(devoff + i * 8, seed);
}

/* Byte offset of the first bad word, or -1 when @buf matches. */
static inline long bb_check(const void *buf, size_t len, __u64 devoff,
			    __u64 seed)
{
	const __u64 *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != bb_word(devoff + i * 8, seed))
			return i * 8;
	return -1;
}

static inline bool bb_all_bytes(const void *buf, size_t len, __u8 val)
{
	const __u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != val)
			return false;
	return true;
}

/* O_DIRECT I/O on the underlying disk, bypassing blkbatch. */
static inline int bb_disk_io(bool write, void *buf, size_t len, __u64 off)
{
	ssize_t n;
	int fd;

	fd = open(bb_disk(), (write ? O_RDWR : O_RDONLY) | O_DIRECT |
		  O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	if (n < 0)
		n = -errno;
	else if ((size_t)n != len)
		n = -EIO;
	else
		n = 0;
	close(fd);
	return n;
}

static inline void bb_entry(struct blkbatch_entry *e, __u8 op, void *buf,
			    __u32 len, __u64 off)
{
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->len = len;
	e->offset = off;
	e->addr = (uintptr_t)buf;
}

/* Fill an SQE128 by hand: validation tests corrupt what they like after. */
static inline void bb_prep_raw(struct io_uring_sqe *sqe, int fd,
			       const struct blkbatch_cmd *cmd)
{
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = BLKBATCH_URING_CMD_SUBMIT;
	memcpy(sqe->cmd, cmd, sizeof(*cmd));
}

struct bb_res {
	__u64	user_data;
	int	res;
	__u64	res2;	/* CQE32 rings only */
};

static inline int bb_reap(struct io_uring *ring, struct bb_res *r,
			  unsigned int timeout_s)
{
	struct __kernel_timespec ts = { .tv_sec = timeout_s };
	struct io_uring_cqe *cqe;
	int ret;

	do {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret)
		return ret;
	r->user_data = cqe->user_data;
	r->res = cqe->res;
	r->res2 = ring->flags & IORING_SETUP_CQE32 ? cqe->big_cqe[0] : 0;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* Submit an already prepared SQE and reap its CQE. */
static inline int bb_submit_reap(struct io_uring *ring, struct bb_res *r)
{
	int ret;

	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	return bb_reap(ring, r, BB_CQE_WAIT_S);
}

/* One batch, filled by hand, on a raw ring: its CQE. */
static inline int bb_run_raw(struct io_uring *ring, int fd,
			     const struct blkbatch_cmd *cmd, struct bb_res *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	bb_prep_raw(sqe, fd, cmd);
	return bb_submit_reap(ring, r);
}

static inline int bb_ring_init(struct io_uring *ring, unsigned int flags)
{
	return io_uring_queue_init(BB_RING_DEPTH, ring,
				   IORING_SETUP_SQE128 | flags);
}

/* Kernel release as a comparable number, e.g. 6.12 -> 0x60c. */
static inline unsigned int bb_kernel_version(void)
{
	unsigned int major, minor;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return 0;
	return major << 8 | minor;
}

#define BB_KV(a, b)	((a) << 8 | (b))

#endif /* BLKBATCH_TEST_H */
