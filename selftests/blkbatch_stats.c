// SPDX-License-Identifier: GPL-2.0
/*
 * What an operator sees of an attached device: GET_INFO's backing dev_t
 * (version 2), the sysfs attributes of /dev/blkbatchN (dev_backing,
 * read_only, inflight, stat) against the backing disk's own sysfs and
 * against what the test did, and the blkbatch:* tracepoints with their
 * fields.  Region BB_RG_STATS of BLKBATCH_DISK.
 */
#include <sys/mount.h>

#include "blkbatch_test.h"

#define ST_BASE		BB_REGION(BB_RG_STATS)
#define ST_BUF		(8 * SZ_4K)
#define TRACEFS		"/sys/kernel/tracing"

/* The order of the "stat" line (uapi header, kmod/stats.c). */
enum {
	ST_BATCHES, ST_ENTRIES, ST_BYTES_READ, ST_BYTES_WRITTEN,
	ST_ENTRIES_FAILED, ST_INVALID, ST_POLLED, ST_RETRIED, ST_NR
};

/* A sysfs file's first line, without the newline: 0 or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		ret = -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ret;
}

static int attr(__u32 index, const char *name, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/misc/blkbatch%u/%s", index,
		 name);
	return read_line(path, buf, len);
}

static int read_stat(__u32 index, unsigned long long v[ST_NR])
{
	char line[512];
	int ret = attr(index, "stat", line, sizeof(line));

	if (ret)
		return ret;
	return sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		      &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == ST_NR ?
		      0 : -EINVAL;
}

/* The backing disk's own "MAJ:MIN", as /sys/block/X/dev says it. */
static int disk_dev(const char *disk, char *buf, size_t len)
{
	char path[128];
	const char *name = strrchr(disk, '/');

	snprintf(path, sizeof(path), "/sys/class/block/%s/dev",
		 name ? name + 1 : disk);
	return read_line(path, buf, len);
}

BB_ENV_FIXTURE(stats, BB_RING_DEPTH, 0);

TEST_F(stats, info_has_backing_dev_t)
{
	const struct blkbatch_info *info = &self->env.ctx.info;
	struct stat st;
	unsigned int i;

	ASSERT_EQ(0, stat(bb_disk(), &st));
	EXPECT_LE(2U, info->version);	/* dev_t since version 2 */
	EXPECT_TRUE(!!(info->features & BLKBATCH_F_DEV_T));
	EXPECT_EQ(major(st.st_rdev), info->dev_major);
	EXPECT_EQ(minor(st.st_rdev), info->dev_minor);
	EXPECT_EQ(0U, info->rsvd0);
	for (i = 0; i < sizeof(info->rsvd) / sizeof(info->rsvd[0]); i++)
		EXPECT_EQ(0ULL, info->rsvd[i]) TH_LOG("rsvd[%u]", i);
}

TEST_F(stats, sysfs_matches_info_and_disk)
{
	const struct blkbatch_info *info = &self->env.ctx.info;
	char got[64], want[64];

	ASSERT_EQ(0, attr(self->env.ctx.index, "dev_backing", got, sizeof(got)));
	ASSERT_EQ(0, disk_dev(bb_disk(), want, sizeof(want)));
	EXPECT_STREQ(want, got);
	snprintf(want, sizeof(want), "%u:%u", info->dev_major, info->dev_minor);
	EXPECT_STREQ(want, got);
	ASSERT_EQ(0, attr(self->env.ctx.index, "read_only", got, sizeof(got)));
	EXPECT_STREQ("0", got);
	ASSERT_EQ(0, attr(self->env.ctx.index, "inflight", got, sizeof(got)));
	EXPECT_STREQ("0", got);
}

/* Every counter moves by exactly what the test did, and only those. */
TEST_F(stats, stat_counts_what_was_done)
{
	unsigned long long before[ST_NR], after[ST_NR];
	struct blkbatch_batch b;
	void *buf = bb_alloc(ST_BUF);
	unsigned int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, read_stat(self->env.ctx.index, before));
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, 8));
	for (i = 0; i < 3; i++)
		blkbatch_batch_add_write(&b, buf + i * SZ_4K, SZ_4K,
					 ST_BASE + i * SZ_4K, 0);
	blkbatch_batch_add_flush(&b);
	blkbatch_batch_add_read(&b, buf + 4 * SZ_4K, 2 * SZ_4K, ST_BASE);
	blkbatch_batch_add_read(&b, buf + 6 * SZ_4K, SZ_4K, ST_BASE);
	EXPECT_EQ(6, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	/* Refused by validation: an offset off the block size. */
	blkbatch_batch_reset(&b);
	blkbatch_batch_add_read(&b, buf, SZ_4K, ST_BASE + 1);
	EXPECT_EQ(-EINVAL, blkbatch_run(&self->env.ring, self->env.ctx.fd, &b));
	/* The synchronous ioctl counts the same. */
	blkbatch_batch_reset(&b);
	blkbatch_batch_add_read(&b, buf, SZ_4K, ST_BASE);
	EXPECT_EQ(1, blkbatch_run_sync(self->env.ctx.fd, &b));
	ASSERT_EQ(0, read_stat(self->env.ctx.index, after));

	EXPECT_EQ(2ULL, after[ST_BATCHES] - before[ST_BATCHES]);
	EXPECT_EQ(7ULL, after[ST_ENTRIES] - before[ST_ENTRIES]);
	EXPECT_EQ(4ULL * SZ_4K, after[ST_BYTES_READ] - before[ST_BYTES_READ]);
	EXPECT_EQ(3ULL * SZ_4K,
		  after[ST_BYTES_WRITTEN] - before[ST_BYTES_WRITTEN]);
	EXPECT_EQ(0ULL, after[ST_ENTRIES_FAILED] - before[ST_ENTRIES_FAILED]);
	EXPECT_EQ(1ULL, after[ST_INVALID] - before[ST_INVALID]);
	EXPECT_EQ(0ULL, after[ST_POLLED] - before[ST_POLLED]);
	EXPECT_EQ(0ULL, after[ST_RETRIED] - before[ST_RETRIED]);
	blkbatch_batch_free(&b);
	bb_free(buf, ST_BUF);
}

/* A read-only attach says so; a fresh attach starts from zero. */
FIXTURE(rdonly) {
	struct bb_ctx c;
};

FIXTURE_SETUP(rdonly)
{
	self->c.fd = -1;
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	ASSERT_EQ(0, bb_ctx_setup(&self->c, BLKBATCH_ATTACH_F_RDONLY, O_RDONLY));
}

FIXTURE_TEARDOWN(rdonly)
{
	EXPECT_EQ(0, bb_ctx_teardown(&self->c));
}

TEST_F(rdonly, attrs_of_a_fresh_attach)
{
	unsigned long long v[ST_NR];
	unsigned int i;
	char got[16];

	EXPECT_EQ(0, attr(self->c.index, "read_only", got, sizeof(got)));
	EXPECT_STREQ("1", got);
	EXPECT_EQ(0, read_stat(self->c.index, v));
	for (i = 0; i < ST_NR; i++)
		EXPECT_EQ(0ULL, v[i]) TH_LOG("counter %u", i);
}

/*
 * On a null_blk disk with a bad block: the failed entry is counted and
 * traced with its fields, as are the batch's submission and end.
 */
FIXTURE(bad) {
	struct bb_env env;
	struct bb_slow_disk disk;
	bool disk_ok;
	bool tracing;
	void *buf;
};

static int tracefs_write(const char *file, const char *val)
{
	return bb_cfg_write_str(TRACEFS, file, val);
}

/* Opening the buffer truncated is what empties it. */
static int tracefs_clear(void)
{
	int fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

FIXTURE_SETUP(bad)
{
	struct bb_nullb_opts o = { .badblocks = "+32-39" };

	bb_env_init(&self->env);
	if (access(BB_NULLB_CFG, F_OK))
		SKIP(return, "no configfs null_blk");
	ASSERT_EQ(0, bb_nullb_create(&self->disk, "bbstats", &o));
	self->disk_ok = true;
	ASSERT_EQ(0, bb_env_attach(&self->env, self->disk.dev));
	ASSERT_EQ(0, bb_env_ring(&self->env, BB_RING_DEPTH, 0));
	self->buf = bb_alloc(ST_BUF);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(bad)
{
	if (self->tracing)
		tracefs_write("events/blkbatch/enable", "0");
	EXPECT_EQ(0, bb_env_teardown(&self->env));
	if (self->disk_ok)
		bb_slow_disk_destroy(&self->disk);
	bb_free(self->buf, ST_BUF);
}

/*
 * Four reads, entry 2 on the bad sectors 32..39; apart, so that the
 * block layer cannot merge them into one request that fails whole.
 */
static int run_bad_batch(FIXTURE_DATA(bad) * self, struct blkbatch_batch *b)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		blkbatch_batch_add_read(b, self->buf + i * SZ_4K, SZ_4K,
					(__u64)i * 2 * SZ_4K);
	return blkbatch_run(&self->env.ring, self->env.ctx.fd, b);
}

TEST_F(bad, failed_entry_counted)
{
	unsigned long long before[ST_NR], after[ST_NR];
	struct blkbatch_batch b;

	ASSERT_EQ(0, read_stat(self->env.ctx.index, before));
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, 4));
	EXPECT_EQ(3, run_bad_batch(self, &b));
	EXPECT_EQ(-EIO, b.status[2]);
	ASSERT_EQ(0, read_stat(self->env.ctx.index, after));
	EXPECT_EQ(1ULL, after[ST_BATCHES] - before[ST_BATCHES]);
	EXPECT_EQ(4ULL, after[ST_ENTRIES] - before[ST_ENTRIES]);
	EXPECT_EQ(1ULL, after[ST_ENTRIES_FAILED] - before[ST_ENTRIES_FAILED]);
	EXPECT_EQ(3ULL * SZ_4K, after[ST_BYTES_READ] - before[ST_BYTES_READ]);
	blkbatch_batch_free(&b);
}

/* The trace buffer's text; NULL if it cannot be read. */
static char *read_trace(void)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	FILE *f = fopen(TRACEFS "/trace", "r");

	if (!buf || !f) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	len = fread(buf, 1, cap - 1, f);
	buf[len] = 0;
	fclose(f);
	return buf;
}

TEST_F(bad, tracepoints_fire)
{
	struct blkbatch_batch b;
	char want[160], *t;

	if (access(TRACEFS "/events", F_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	if (access(TRACEFS "/events/blkbatch", F_OK))
		SKIP(return, "no tracefs or no tracepoints in this kernel");
	ASSERT_EQ(0, tracefs_clear());
	ASSERT_EQ(0, tracefs_write("events/blkbatch/enable", "1"));
	self->tracing = true;
	ASSERT_EQ(0, blkbatch_batch_alloc(&b, 4));
	EXPECT_EQ(3, run_bad_batch(self, &b));
	EXPECT_EQ(0, tracefs_write("events/blkbatch/enable", "0"));
	self->tracing = false;
	t = read_trace();
	ASSERT_NE(NULL, t);

	snprintf(want, sizeof(want), "batch_submit: %u,%u blkbatch%u nr=4 flags=0x0",
		 self->env.ctx.info.dev_major, self->env.ctx.info.dev_minor,
		 self->env.ctx.index);
	EXPECT_NE(NULL, strstr(t, want)) TH_LOG("no \"%s\" in:\n%s", want, t);
	snprintf(want, sizeof(want),
		 "entry_error: %u,%u blkbatch%u entry=2 op=%u offset=%u len=%u error=%d",
		 self->env.ctx.info.dev_major, self->env.ctx.info.dev_minor,
		 self->env.ctx.index, BLKBATCH_OP_READ, 4 * SZ_4K, SZ_4K, -EIO);
	EXPECT_NE(NULL, strstr(t, want)) TH_LOG("no \"%s\" in:\n%s", want, t);
	snprintf(want, sizeof(want), "batch_done: %u,%u blkbatch%u nr=4 flags=0x0 result=3",
		 self->env.ctx.info.dev_major, self->env.ctx.info.dev_minor,
		 self->env.ctx.index);
	EXPECT_NE(NULL, strstr(t, want)) TH_LOG("no \"%s\" in:\n%s", want, t);
	free(t);
	blkbatch_batch_free(&b);
}

TEST_HARNESS_MAIN
