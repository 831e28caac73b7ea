// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch control device: attach and detach, their argument checks and
 * errnos, exclusivity, and read-only attach.
 */
#include <sys/wait.h>
#include <linux/capability.h>

#include "blkbatch_test.h"

FIXTURE(ctl) {
	struct bb_ctx ctx;
};

FIXTURE_SETUP(ctl)
{
	if (!bb_disk())
		SKIP(return, "BLKBATCH_DISK not set");
	ASSERT_EQ(0, access(BLKBATCH_CTL_DEV, F_OK))
		TH_LOG("%s missing: is the module loaded?", BLKBATCH_CTL_DEV);
	ASSERT_EQ(0, bb_ctx_setup(&self->ctx, 0, O_RDWR));
}

FIXTURE_TEARDOWN(ctl)
{
	EXPECT_EQ(0, bb_ctx_teardown(&self->ctx));
}

static int ctl_attach(struct blkbatch_attach *a)
{
	return bb_ctl_ioctl(BLKBATCH_CTL_ATTACH, a);
}

static int ctl_detach(struct blkbatch_detach *d)
{
	return bb_ctl_ioctl(BLKBATCH_CTL_DETACH, d);
}

/* The fixture's attach is visible: node, index and flags in the info. */
TEST_F(ctl, attach_info)
{
	struct blkbatch_info *info = &self->ctx.info;
	char path[64];
	struct stat st;

	bb_node_path(path, sizeof(path), self->ctx.index);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(self->ctx.index, info->index);
	EXPECT_EQ(0U, info->attach_flags);
	EXPECT_EQ((__u32)BLKBATCH_VERSION, info->version);
}

/*
 * Argument checks come before the path is looked up: the disk is already
 * attached, so a late check would say -EBUSY instead.
 */
TEST_F(ctl, attach_unknown_flag)
{
	struct blkbatch_attach a = { .path = (uintptr_t)bb_disk() };
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if ((1U << bit) & BLKBATCH_ATTACH_F_ALL)
			continue;
		a.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, ctl_attach(&a)) TH_LOG("flag bit %u", bit);
	}
}

TEST_F(ctl, attach_rsvd_nonzero)
{
	struct blkbatch_attach a = { .path = (uintptr_t)bb_disk() };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		memset(a.rsvd, 0, sizeof(a.rsvd));
		a.rsvd[i] = 1;
		EXPECT_EQ(-EINVAL, ctl_attach(&a)) TH_LOG("rsvd[%u]", i);
	}
}

TEST_F(ctl, attach_index_nonzero)
{
	struct blkbatch_attach a = { .path = (uintptr_t)bb_disk(), .index = 1 };

	EXPECT_EQ(-EINVAL, ctl_attach(&a));
}

/* An empty path, and one longer than PATH_MAX, before any lookup. */
TEST_F(ctl, attach_path_empty_or_too_long)
{
	size_t len = PATH_MAX + 16;
	char *p = malloc(len + 1);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EINVAL, bb_attach("", 0, NULL));
	memset(p, '/', len);
	p[len] = '\0';
	EXPECT_EQ(-EINVAL, bb_attach(p, 0, NULL));
	free(p);
}

/* A read-only disk attaches read-only, and refuses a read-write attach. */
TEST_F(ctl, attach_read_only_disk)
{
	const char *nb = getenv("BLKBATCH_NULLBLK");
	int one = 1, zero = 0, fd;
	__u32 idx;

	if (!nb || !*nb)
		SKIP(return, "BLKBATCH_NULLBLK not set");
	fd = open(nb, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, BLKROSET, &one));
	EXPECT_EQ(-EACCES, bb_attach(nb, 0, NULL));
	EXPECT_EQ(0, bb_attach(nb, BLKBATCH_ATTACH_F_RDONLY, &idx));
	EXPECT_EQ(0, bb_detach_wait(idx, BB_DETACH_WAIT_MS));
	EXPECT_EQ(0, ioctl(fd, BLKROSET, &zero));
	close(fd);
}

TEST_F(ctl, attach_path_fault)
{
	struct blkbatch_attach a = { };

	a.path = 0;
	EXPECT_EQ(-EFAULT, ctl_attach(&a));
	a.path = (uintptr_t)bb_unmapped_addr();
	ASSERT_NE(0ULL, a.path);
	EXPECT_EQ(-EFAULT, ctl_attach(&a));
	a.path = BB_KERNEL_ADDR;
	EXPECT_EQ(-EFAULT, ctl_attach(&a));
}

/* The ioctl argument itself is not readable. */
TEST_F(ctl, attach_arg_fault)
{
	EXPECT_EQ(-EFAULT, bb_ctl_ioctl(BLKBATCH_CTL_ATTACH,
					bb_unmapped_addr()));
	EXPECT_EQ(-EFAULT, bb_ctl_ioctl(BLKBATCH_CTL_DETACH,
					bb_unmapped_addr()));
}

TEST_F(ctl, attach_nonexistent)
{
	EXPECT_EQ(-ENOENT, bb_attach("/dev/blkbatch-selftest-no-such-disk",
				     0, NULL));
}

TEST_F(ctl, attach_not_blockdev)
{
	static const char * const files[] = {
		"/proc/self/exe", "/bin/sh", "/etc/passwd",
	};
	struct stat st;
	unsigned int i;

	/* A character device and a regular file (whichever the guest has). */
	EXPECT_EQ(-ENOTBLK, bb_attach("/dev/null", 0, NULL));
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		if (stat(files[i], &st) || !S_ISREG(st.st_mode))
			continue;
		EXPECT_EQ(-ENOTBLK, bb_attach(files[i], 0, NULL));
		break;
	}
}

/* Exclusive open: the same disk cannot be attached twice. */
TEST_F(ctl, attach_twice_busy)
{
	__u32 index = ~0U;

	EXPECT_EQ(-EBUSY, bb_attach(bb_disk(), 0, &index));
	EXPECT_EQ(-EBUSY, bb_attach(bb_disk(), BLKBATCH_ATTACH_F_RDONLY,
				    &index));
	EXPECT_EQ(~0U, index);
	/* and the first attach is unharmed */
	EXPECT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
}

/* Someone else's exclusive open also keeps blkbatch out. */
TEST_F(ctl, attach_held_elsewhere_busy)
{
	int excl;

	bb_ctx_close(&self->ctx);
	ASSERT_EQ(0, bb_ctx_detach(&self->ctx));
	excl = open(bb_disk(), O_RDONLY | O_EXCL | O_CLOEXEC);
	ASSERT_LE(0, excl);
	EXPECT_EQ(-EBUSY, bb_attach(bb_disk(), 0, NULL));
	close(excl);
	ASSERT_EQ(0, bb_ctx_attach(&self->ctx, 0));
}

TEST_F(ctl, detach_unknown_index)
{
	EXPECT_EQ(-ENODEV, bb_detach(self->ctx.index + 1));
	EXPECT_EQ(-ENODEV, bb_detach(4242));
	EXPECT_EQ(-ENODEV, bb_detach(UINT32_MAX));
}

TEST_F(ctl, detach_twice)
{
	bb_ctx_close(&self->ctx);
	ASSERT_EQ(0, bb_ctx_detach(&self->ctx));
	EXPECT_EQ(-ENODEV, bb_detach(self->ctx.index));
}

TEST_F(ctl, detach_bad_args)
{
	struct blkbatch_detach d = { .index = self->ctx.index };
	unsigned int i;

	d.flags = 1;
	EXPECT_EQ(-EINVAL, ctl_detach(&d));
	d.flags = 0;
	for (i = 0; i < 2; i++) {
		memset(d.rsvd, 0, sizeof(d.rsvd));
		d.rsvd[i] = 1;
		EXPECT_EQ(-EINVAL, ctl_detach(&d)) TH_LOG("rsvd[%u]", i);
	}
	/* none of them detached anything */
	EXPECT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
}

TEST_F(ctl, unknown_ioctl)
{
	struct blkbatch_info info;
	long dummy[8] = { };

	EXPECT_EQ(-ENOTTY, bb_ctl_ioctl(_IOWR(BLKBATCH_IOC_MAGIC, 0x7f, long),
					dummy));
	/* a device ioctl on the control device */
	EXPECT_EQ(-ENOTTY, bb_ctl_ioctl(BLKBATCH_IOC_GET_INFO, &info));
	/* and a control ioctl on a device */
	EXPECT_EQ(-1, ioctl(self->ctx.fd, BLKBATCH_CTL_DETACH, dummy));
	EXPECT_EQ(ENOTTY, errno);
}

/* Detach removes the node; the disk can be attached again at once. */
TEST_F(ctl, reattach)
{
	struct blkbatch_info info;
	int fd;

	bb_ctx_close(&self->ctx);
	ASSERT_EQ(0, bb_ctx_detach(&self->ctx));
	EXPECT_EQ(0, bb_wait_node(self->ctx.index, false));
	ASSERT_EQ(0, bb_ctx_attach(&self->ctx, 0));
	fd = bb_open_index(self->ctx.index, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, bb_get_info(fd, &info));
	EXPECT_EQ(self->ctx.info.capacity, info.capacity);
	close(fd);
}

/* The library's wrappers agree with the raw ioctls. */
TEST_F(ctl, library_attach_open)
{
	struct blkbatch_dev dev;
	unsigned int index;

	EXPECT_EQ(-EBUSY, blkbatch_attach(bb_disk(), 0, &index));
	ASSERT_EQ(0, blkbatch_open(self->ctx.index, O_RDWR, &dev));
	EXPECT_EQ(self->ctx.index, dev.index);
	EXPECT_EQ(self->ctx.info.capacity, dev.info.capacity);
	blkbatch_close(&dev);
	EXPECT_EQ(-ENODEV, blkbatch_detach(4242));
}

/* Read-only attach: reads work, writes fail validation with -EPERM. */
TEST_F(ctl, rdonly_attach)
{
	struct blkbatch_cmd cmd = { };
	struct blkbatch_entry e[2];
	struct io_uring ring;
	struct bb_res r;
	__s32 st[2] = { 0x5a5a5a5a, 0x5a5a5a5a };
	__u64 off = BB_REGION(BB_RG_CTL) + 4 * SZ_1M;
	void *buf, *chk;

	bb_ctx_close(&self->ctx);
	ASSERT_EQ(0, bb_ctx_detach(&self->ctx));
	ASSERT_EQ(0, bb_ctx_attach(&self->ctx, BLKBATCH_ATTACH_F_RDONLY));
	/* O_RDWR: it is the attach, not the file, that refuses writes */
	self->ctx.fd = bb_open_index(self->ctx.index, O_RDWR);
	ASSERT_LE(0, self->ctx.fd);
	ASSERT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
	EXPECT_EQ(BLKBATCH_ATTACH_F_RDONLY, self->ctx.info.attach_flags);

	buf = bb_alloc(SZ_64K);
	chk = bb_alloc(SZ_64K);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, chk);
	bb_fill(buf, SZ_64K, off, 1);
	ASSERT_EQ(0, bb_disk_io(true, buf, SZ_64K, off));
	ASSERT_EQ(0, bb_ring_init(&ring, IORING_SETUP_CQE32));

	memset(buf, 0xa5, SZ_64K);
	bb_entry(&e[0], BLKBATCH_OP_READ, buf, SZ_64K, off);
	cmd.entries = (uintptr_t)e;
	cmd.status = (uintptr_t)st;
	cmd.nr = 1;
	ASSERT_EQ(0, bb_run_raw(&ring, self->ctx.fd, &cmd, &r));
	EXPECT_EQ(1, r.res);
	EXPECT_EQ((__s32)SZ_64K, st[0]);
	EXPECT_EQ(-1, bb_check(buf, SZ_64K, off, 1));

	/* entry 1 writes: the whole batch is refused, nothing is read */
	st[0] = 0x5a5a5a5a;
	st[1] = 0x5a5a5a5a;
	bb_fill(buf, SZ_64K, off, 2);
	bb_entry(&e[1], BLKBATCH_OP_WRITE, buf, SZ_64K, off);
	cmd.nr = 2;
	ASSERT_EQ(0, bb_run_raw(&ring, self->ctx.fd, &cmd, &r));
	EXPECT_EQ(-EPERM, r.res);
	if (self->ctx.info.features & BLKBATCH_F_CQE32_INDEX)
		EXPECT_EQ(1ULL, r.res2);
	EXPECT_EQ(0x5a5a5a5a, st[0]);
	EXPECT_EQ(0x5a5a5a5a, st[1]);
	ASSERT_EQ(0, bb_disk_io(false, chk, SZ_64K, off));
	EXPECT_EQ(-1, bb_check(chk, SZ_64K, off, 1));

	io_uring_queue_exit(&ring);
	bb_free(buf, SZ_64K);
	bb_free(chk, SZ_64K);
}

/*
 * Attach hands out raw access to any unclaimed disk: an open control
 * file is not enough without CAP_SYS_ADMIN.
 */
TEST_F(ctl, needs_cap_sys_admin)
{
	struct blkbatch_attach a = { .path = (uintptr_t)bb_disk() };
	struct blkbatch_detach d = { .index = self->ctx.index };
	int ctl, status;
	pid_t pid;

	ctl = open(BLKBATCH_CTL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct none[2] = { };

		/* drop every capability, keep the open control file */
		if (syscall(SYS_capset, &h, none))
			_exit(10);
		if (ioctl(ctl, BLKBATCH_CTL_ATTACH, &a) != -1 || errno != EPERM)
			_exit(11);
		if (ioctl(ctl, BLKBATCH_CTL_DETACH, &d) != -1 || errno != EPERM)
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(ctl);
	/* and the device the child tried to detach is still there */
	EXPECT_EQ(0, bb_get_info(self->ctx.fd, &self->ctx.info));
}

TEST_HARNESS_MAIN
