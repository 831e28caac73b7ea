// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch lifecycle: detach while batches are in flight, files that
 * outlive their device, submitters that go away mid-batch, and module
 * unload and reload (including attach through the module parameter).
 *
 * Run this program last: the module tests unload and reload blkbatch.
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "blkbatch_test.h"

#define LONG_TIMEOUT	300
/* Every I/O on the slow disk takes this long: the batch is surely in flight. */
#define SLOW_MS		1500
#define SLOW_NR		8U

/*
 * A batch of SLOW_NR reads of @len bytes spread over the disk, all into one
 * buffer (the data is never looked at).  On the slow disk it takes SLOW_MS.
 */
struct big_batch {
	struct blkbatch_entry	*ent;
	__s32			*st;
	void			*buf;
	unsigned int		nr;
	__u32			len;
	struct blkbatch_cmd	cmd;
};

static int big_init(struct big_batch *g, const struct blkbatch_info *info,
		    __u32 len)
{
	__u64 slots;
	unsigned int i;

	memset(g, 0, sizeof(*g));
	if (len > info->max_entry_bytes)
		len = info->max_entry_bytes;
	len &= ~(info->logical_block_size - 1);
	g->nr = SLOW_NR;
	g->len = len;
	g->ent = calloc(g->nr, sizeof(*g->ent));
	g->st = calloc(g->nr, sizeof(*g->st));
	g->buf = bb_alloc(len);
	if (!g->ent || !g->st || !g->buf || !len)
		return -ENOMEM;
	slots = info->capacity / len;
	for (i = 0; i < g->nr; i++)
		bb_entry(&g->ent[i], BLKBATCH_OP_READ, g->buf, len,
			 (i % slots) * len);
	g->cmd.entries = (uintptr_t)g->ent;
	g->cmd.status = (uintptr_t)g->st;
	g->cmd.nr = g->nr;
	return 0;
}

static void big_free(struct big_batch *g)
{
	free(g->ent);
	free(g->st);
	bb_free(g->buf, g->len);
}

static int big_submit(struct io_uring *ring, int fd, struct big_batch *g)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int ret;

	if (!sqe)
		return -EBUSY;
	bb_prep_raw(sqe, fd, &g->cmd);
	sqe->user_data = 0xb16;
	ret = io_uring_submit(ring);
	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

FIXTURE(lifecycle) {
	struct bb_ctx ctx;
	struct bb_slow_disk slow;
};

FIXTURE_SETUP(lifecycle)
{
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no null_blk configfs for a slow disk");
	ASSERT_EQ(0, bb_slow_disk_create(&self->slow, "bbslow", SLOW_MS));
	self->ctx.disk = self->slow.dev;
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
}

FIXTURE_TEARDOWN(lifecycle)
{
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
	bb_slow_disk_destroy(&self->slow);
}

/* Re-attach after a detach so the next round has a device again. */
static int reattach(struct bb_ctx *c)
{
	bb_ctx_close(c);
	bb_ctx_detach(c);
	return bb_ctx_setup(c, 0, O_RDWR);
}

/* Detach is refused while a batch is in flight, allowed once it is done. */
TEST_F_TIMEOUT(lifecycle, detach_busy_while_in_flight, LONG_TIMEOUT)
{
	struct big_batch g;
	struct io_uring ring;
	struct bb_res r;
	int ret;

	ASSERT_EQ(0, big_init(&g, &self->ctx.info, SZ_4K));
	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	ASSERT_EQ(0, big_submit(&ring, self->ctx.fd, &g));
	EXPECT_EQ(-EBUSY, bb_detach(self->ctx.index));

	ASSERT_EQ(0, bb_reap(&ring, &r, LONG_TIMEOUT));
	EXPECT_EQ((int)g.nr, r.res);
	io_uring_queue_exit(&ring);
	big_free(&g);

	/* drained: detach now succeeds (a moment for the last put) */
	ret = bb_detach_wait(self->ctx.index, 1000);
	EXPECT_EQ(0, ret);
	if (!ret)
		self->ctx.attached = false;
}

/* A file open across the detach fails everything with -ENODEV. */
TEST_F(lifecycle, file_outlives_detach)
{
	struct blkbatch_entry e;
	struct blkbatch_cmd cmd = { };
	struct blkbatch_info info;
	struct io_uring ring;
	struct bb_res r;
	__s32 st = 0x5a5a5a5a;
	char path[64];
	int old = self->ctx.fd;
	void *buf = bb_alloc(SZ_4K);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	ASSERT_EQ(0, bb_ctx_detach(&self->ctx));
	EXPECT_EQ(0, bb_wait_node(self->ctx.index, false));
	bb_node_path(path, sizeof(path), self->ctx.index);
	EXPECT_EQ(-1, open(path, O_RDWR));

	EXPECT_EQ(-ENODEV, bb_get_info(old, &info));
	bb_entry(&e, BLKBATCH_OP_READ, buf, SZ_4K, 0);
	cmd.entries = (uintptr_t)&e;
	cmd.status = (uintptr_t)&st;
	cmd.nr = 1;
	ASSERT_EQ(0, bb_run_raw(&ring, old, &cmd, &r));
	EXPECT_EQ(-ENODEV, r.res);
	EXPECT_EQ(0x5a5a5a5a, st);
	EXPECT_EQ(-1, ioctl(old, BLKBATCH_IOC_SUBMIT, &cmd));
	EXPECT_TRUE(errno == ENODEV || errno == ENOTTY) TH_LOG("%d", errno);

	/* the disk was released although the old file is still open */
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	ASSERT_EQ(0, bb_run_raw(&ring, self->ctx.fd, &cmd, &r));
	EXPECT_EQ(1, r.res);
	ASSERT_EQ(0, bb_run_raw(&ring, old, &cmd, &r));
	EXPECT_EQ(-ENODEV, r.res);
	close(old);
	io_uring_queue_exit(&ring);
	bb_free(buf, SZ_4K);
}

/*
 * The disk is deleted (null_blk powered off: del_gendisk()) while a
 * batch's first segment is in flight.  That segment completes as the
 * block layer says, the entries after its barrier report -ENODEV, new
 * batches fail with -ENODEV, GET_INFO says the device is gone, and
 * /dev/blkbatchN goes away by itself.  6.9 and later learn it from the
 * holder operations at once; 6.1 when a batch or segment starts.
 */
TEST_F_TIMEOUT(lifecycle, disk_deleted_in_flight, LONG_TIMEOUT)
{
	struct blkbatch_entry *after;
	struct blkbatch_info info;
	struct big_batch g;
	struct io_uring ring;
	struct bb_res r;
	unsigned int i;
	int ok = 0;

	ASSERT_EQ(0, big_init(&g, &self->ctx.info, SZ_4K));
	/* SLOW_NR reads, a barrier, two more reads */
	g.ent = realloc(g.ent, (g.nr + 3) * sizeof(*g.ent));
	g.st = realloc(g.st, (g.nr + 3) * sizeof(*g.st));
	ASSERT_NE(NULL, g.ent);
	ASSERT_NE(NULL, g.st);
	bb_entry(&g.ent[g.nr], BLKBATCH_OP_BARRIER, NULL, 0, 0);
	after = &g.ent[g.nr + 1];
	bb_entry(&after[0], BLKBATCH_OP_READ, g.buf, g.len, 0);
	bb_entry(&after[1], BLKBATCH_OP_READ, g.buf, g.len, g.len);
	g.cmd.entries = (uintptr_t)g.ent;
	g.cmd.status = (uintptr_t)g.st;
	g.cmd.nr = g.nr + 3;

	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	ASSERT_EQ(0, big_submit(&ring, self->ctx.fd, &g));
	ASSERT_EQ(0, bb_cfg_write(self->slow.cfg, "power", 0));
	ASSERT_EQ(0, bb_reap(&ring, &r, LONG_TIMEOUT));
	for (i = 0; i < g.nr; i++) {
		EXPECT_TRUE(g.st[i] == (__s32)g.len || g.st[i] < 0)
			TH_LOG("entry %u: %d", i, g.st[i]);
		ok += g.st[i] >= 0;
	}
	EXPECT_EQ(0, g.st[g.nr]);
	EXPECT_EQ(-ENODEV, g.st[g.nr + 1]);
	EXPECT_EQ(-ENODEV, g.st[g.nr + 2]);
	EXPECT_EQ(ok + 1, r.res);

	if (bb_kernel_version() >= BB_KV(6, 9))
		EXPECT_EQ(0, bb_wait_node(self->ctx.index, false));
	EXPECT_EQ(-ENODEV, bb_get_info(self->ctx.fd, &info));
	g.cmd.nr = 1;
	ASSERT_EQ(0, bb_run_raw(&ring, self->ctx.fd, &g.cmd, &r));
	EXPECT_EQ(-ENODEV, r.res);
	EXPECT_EQ(0, bb_wait_node(self->ctx.index, false));
	/* detached by itself: nothing left for the teardown to detach */
	EXPECT_EQ(-ENODEV, bb_detach(self->ctx.index));
	self->ctx.attached = false;
	io_uring_queue_exit(&ring);
	big_free(&g);
}

/* Tearing down a ring with a batch in flight: it drains, nothing hangs. */
TEST_F_TIMEOUT(lifecycle, ring_exit_in_flight, LONG_TIMEOUT)
{
	struct big_batch g;
	struct io_uring ring;

	ASSERT_EQ(0, big_init(&g, &self->ctx.info, SZ_64K));
	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	ASSERT_EQ(0, big_submit(&ring, self->ctx.fd, &g));
	EXPECT_EQ(-EBUSY, bb_detach(self->ctx.index));
	io_uring_queue_exit(&ring);
	/* the batch drains; its status array must stay mapped till then */
	EXPECT_EQ(0, bb_ctx_detach(&self->ctx));
	big_free(&g);
}

/* The submitter is SIGKILLed mid-batch: reaped, the device detaches. */
TEST_F_TIMEOUT(lifecycle, submitter_killed_in_flight, LONG_TIMEOUT)
{
	int pfd[2], status;
	struct pollfd p;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct big_batch g;
		struct io_uring ring;

		/* no harness calls in here: report through the pipe */
		close(pfd[0]);
		if (big_init(&g, &self->ctx.info, SZ_64K) ||
		    bb_ring_init(&ring, 0) ||
		    big_submit(&ring, self->ctx.fd, &g))
			_exit(1);
		if (write(pfd[1], "s", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, 30000));
	ASSERT_EQ(1, read(pfd[0], &c, 1)) TH_LOG("child could not submit");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	close(pfd[0]);
	/* the batch outlives its submitter until the disk completes it */
	EXPECT_EQ(-EBUSY, bb_detach(self->ctx.index));

	EXPECT_EQ(0, bb_ctx_detach(&self->ctx));
	/* and the disk works for the next user */
	ASSERT_EQ(0, reattach(&self->ctx));
}

/*
 * Killed while the batch is still being issued: the disk takes one I/O at
 * a time and each takes KILL_MS, so issuing KILL_NR entries takes many
 * seconds of tag waits.  After SIGKILL issuing stops (the rest report
 * -EINTR to nobody), the child is reaped and the disk saw only a few reads.
 */
#define KILL_NR		64U
#define KILL_MS		200

TEST_F_TIMEOUT(lifecycle, submitter_killed_during_issue, LONG_TIMEOUT)
{
	struct bb_slow_disk qd1;
	struct bb_ctx c = { .disk = qd1.dev };
	int pfd[2], status;
	long reads;
	pid_t pid;
	char ch;

	ASSERT_EQ(0, bb_slow_disk_create_qd(&qd1, "bbqd1", KILL_MS, 1));
	ASSERT_EQ(0, bb_ctx_setup(&c, 0, O_RDWR));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct blkbatch_entry ent[KILL_NR];
		struct blkbatch_cmd cmd = { };
		struct io_uring ring;
		void *buf = bb_alloc(SZ_4K);
		unsigned int i;

		close(pfd[0]);
		if (!buf || bb_ring_init(&ring, 0))
			_exit(1);
		/* gaps between entries: the plug must not merge them */
		for (i = 0; i < KILL_NR; i++)
			bb_entry(&ent[i], BLKBATCH_OP_READ, buf, SZ_4K,
				 (__u64)i * 2 * SZ_4K);
		cmd.entries = (uintptr_t)ent;
		cmd.nr = KILL_NR;
		bb_prep_raw(io_uring_get_sqe(&ring), c.fd, &cmd);
		if (write(pfd[1], "s", 1) != 1)
			_exit(1);
		io_uring_submit(&ring);	/* issues inline: blocks here */
		_exit(2);
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &ch, 1));
	bb_sleep_ms(3 * KILL_MS);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("child exited %d",
						WEXITSTATUS(status));
	close(pfd[0]);

	/* drained: detach works, and most of the batch never reached it */
	EXPECT_EQ(0, bb_ctx_teardown(&c));
	reads = bb_disk_reads(&qd1);
	EXPECT_LE(0, reads);
	EXPECT_GT((long)KILL_NR / 2, reads) TH_LOG("%ld reads issued", reads);
	bb_slow_disk_destroy(&qd1);
}

/* --- module unload and reload -------------------------------------- */

static const char *bb_ko(void)
{
	const char *ko = getenv("BLKBATCH_KO");

	return ko && *ko ? ko : NULL;
}

static bool bb_module_loaded(void)
{
	if (!access("/sys/module", F_OK))
		return !access("/sys/module/" BB_MODULE_NAME, F_OK);
	return !access(BLKBATCH_CTL_DEV, F_OK);
}

static int bb_unload(void)
{
	return syscall(SYS_delete_module, BB_MODULE_NAME, O_NONBLOCK) ?
	       -errno : 0;
}

/* Unload, letting deferred file releases finish for up to @ms. */
static int bb_unload_wait(unsigned int ms)
{
	int ret;

	for (;;) {
		ret = bb_unload();
		if ((ret != -EAGAIN && ret != -EBUSY) || ms < 10)
			return ret;
		bb_sleep_ms(10);
		ms -= 10;
	}
}

static int bb_load(const char *params)
{
	unsigned int ms;
	int fd, ret;

	fd = open(bb_ko(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	/* devtmpfs creates the control node; let it (or udev) finish */
	for (ms = 0; !ret && ms < BB_NODE_WAIT_MS; ms += 10) {
		if (!access(BLKBATCH_CTL_DEV, F_OK))
			break;
		bb_sleep_ms(10);
	}
	return ret;
}

static bool unload_refused(int ret)
{
	/* EAGAIN (EWOULDBLOCK) with O_NONBLOCK; EBUSY on older kernels */
	return ret == -EAGAIN || ret == -EBUSY;
}

FIXTURE(module) {
	struct bb_ctx ctx;
};

FIXTURE_SETUP(module)
{
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	if (!bb_ko())
		SKIP(return, "BLKBATCH_KO not set");
	ASSERT_EQ(0, access(bb_ko(), R_OK)) TH_LOG("%s", bb_ko());
	if (!bb_module_loaded())
		ASSERT_EQ(0, bb_load(""));
	self->ctx.fd = -1;
}

/* Whatever the test did, leave the module loaded, nothing attached. */
FIXTURE_TEARDOWN(module)
{
	bb_ctx_close(&self->ctx);
	if (bb_module_loaded())
		EXPECT_EQ(0, bb_unload_wait(BB_DETACH_WAIT_MS));
	EXPECT_EQ(0, bb_load(""));
}

TEST_F(module, unload_refused_while_open)
{
	int ctl;

	/* the control device */
	ctl = open(BLKBATCH_CTL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	EXPECT_TRUE(unload_refused(bb_unload()));
	close(ctl);
	ASSERT_EQ(0, bb_unload_wait(1000));
	EXPECT_FALSE(bb_module_loaded());
	ASSERT_EQ(0, bb_load(""));

	/* a device; unloading detaches it and releases the disk */
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	EXPECT_TRUE(unload_refused(bb_unload()));
	EXPECT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
	bb_ctx_close(&self->ctx);
	ASSERT_EQ(0, bb_unload_wait(1000));
	self->ctx.attached = false;
	ASSERT_EQ(0, bb_load(""));
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
}

/* The ring's reference on a closed file keeps the module in. */
TEST_F_TIMEOUT(module, unload_refused_while_batch_in_flight, LONG_TIMEOUT)
{
	struct bb_slow_disk slow;
	struct big_batch g;
	struct io_uring ring;
	struct bb_res r;

	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no null_blk configfs for a slow disk");
	ASSERT_EQ(0, bb_slow_disk_create(&slow, "bbslow", SLOW_MS));
	self->ctx.disk = slow.dev;
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
	ASSERT_EQ(0, big_init(&g, &self->ctx.info, SZ_4K));
	ASSERT_EQ(0, bb_ring_init(&ring, 0));
	ASSERT_EQ(0, big_submit(&ring, self->ctx.fd, &g));
	bb_ctx_close(&self->ctx);
	EXPECT_TRUE(unload_refused(bb_unload()));

	ASSERT_EQ(0, bb_reap(&ring, &r, LONG_TIMEOUT));
	EXPECT_EQ((int)g.nr, r.res);
	io_uring_queue_exit(&ring);
	big_free(&g);
	EXPECT_EQ(0, bb_unload_wait(5000));
	self->ctx.attached = false;
	self->ctx.disk = NULL;
	bb_slow_disk_destroy(&slow);
}

/* Load, attach, I/O, detach, unload: again and again. */
/* Unreclaimable slab in KiB, from /proc/meminfo. */
static long sunreclaim_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define RELOAD_CYCLES		100
/* Slab that may come and go for reasons of its own (caches, RCU). */
#define RELOAD_DRIFT_KB		1024

/* insmod, attach, I/O, detach, rmmod, a hundred times: nothing grows. */
TEST_F_TIMEOUT(module, reload_cycles, LONG_TIMEOUT)
{
	struct blkbatch_ring ring;
	__u64 off = BB_REGION(BB_RG_LIFECYCLE);
	void *buf = bb_alloc(SZ_64K);
	long before = 0, after;
	unsigned int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < RELOAD_CYCLES; i++) {
		ASSERT_EQ(0, bb_unload_wait(5000)) TH_LOG("round %u", i);
		/* the first round warms what the kernel caches for good */
		if (i == 1)
			before = sunreclaim_kb();
		ASSERT_EQ(0, bb_load("")) TH_LOG("round %u", i);
		ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
		ASSERT_EQ(0, blkbatch_ring_init(&ring, 4, 0));
		bb_fill(buf, SZ_64K, off, 200 + i);
		ASSERT_EQ(SZ_64K, blkbatch_pwrite(&ring, self->ctx.fd, buf,
						  SZ_64K, off));
		memset(buf, 0xa5, SZ_64K);
		ASSERT_EQ(SZ_64K, blkbatch_pread(&ring, self->ctx.fd, buf,
						 SZ_64K, off));
		EXPECT_EQ(-1, bb_check(buf, SZ_64K, off, 200 + i));
		blkbatch_ring_exit(&ring);
		ASSERT_EQ(0, bb_ctx_teardown(&self->ctx));
	}
	ASSERT_EQ(0, bb_unload_wait(5000));
	after = sunreclaim_kb();
	TH_LOG("unreclaimable slab %ld kB -> %ld kB", before, after);
	/*
	 * KASAN holds freed objects back in its quarantine, so slab there
	 * moves by megabytes; kmemleak finds real leaks on that kernel.
	 */
	if (!access("/sys/kernel/debug/kmemleak", F_OK))
		TH_LOG("kmemleak present: it judges leaks, not the slab total");
	else if (before > 0 && after > 0)
		EXPECT_GT(before + RELOAD_DRIFT_KB, after);
	bb_free(buf, SZ_64K);
}

/* attach=<disk> at load time creates /dev/blkbatch0. */
TEST_F(module, attach_parameter)
{
	char params[PATH_MAX + 16];
	__u64 size = 0;
	int disk;

	disk = open(bb_disk(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, disk);
	ASSERT_EQ(0, ioctl(disk, BLKGETSIZE64, &size));
	close(disk);

	ASSERT_EQ(0, bb_unload_wait(5000));
	snprintf(params, sizeof(params), "attach=%s", bb_disk());
	ASSERT_EQ(0, bb_load(params));
	self->ctx.index = 0;
	self->ctx.attached = true;
	self->ctx.fd = bb_open_index(0, O_RDWR);
	ASSERT_LE(0, self->ctx.fd);
	ASSERT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
	EXPECT_EQ(0U, self->ctx.info.index);
	EXPECT_EQ(size, self->ctx.info.capacity);
	EXPECT_EQ(0U, self->ctx.info.attach_flags);
	/* it holds the disk like any attach */
	EXPECT_EQ(-EBUSY, bb_attach(bb_disk(), 0, NULL));
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
	EXPECT_EQ(0, bb_wait_node(0, false));
}

TEST_HARNESS_MAIN
