// SPDX-License-Identifier: MIT
/*
 * libblkbatch: the control device and opening /dev/blkbatchN.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libblkbatch.h"

static int open_ctl(void)
{
	int fd = open(BLKBATCH_CTL_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int blkbatch_attach(const char *path, unsigned int flags, unsigned int *index)
{
	struct blkbatch_attach a;
	int fd, ret = 0;

	if (!path)
		return -EINVAL;
	fd = open_ctl();
	if (fd < 0)
		return fd;
	memset(&a, 0, sizeof(a));
	a.path = (__u64)(uintptr_t)path;
	a.flags = flags;
	if (ioctl(fd, BLKBATCH_CTL_ATTACH, &a) < 0)
		ret = -errno;
	else if (index)
		*index = a.index;
	close(fd);
	return ret;
}

int blkbatch_detach(unsigned int index)
{
	struct blkbatch_detach d;
	int fd, ret = 0;

	fd = open_ctl();
	if (fd < 0)
		return fd;
	memset(&d, 0, sizeof(d));
	d.index = index;
	if (ioctl(fd, BLKBATCH_CTL_DETACH, &d) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

const char *blkbatch_feature_name(__u64 feature)
{
	static const char *const names[] = {
		"read-write", "flush", "discard", "write-zeroes", "fua", "vec",
		"barrier", "abort", "fixed", "iopoll", "sync", "write-cache",
		"cqe32-index", "dev-t", "fixed-vec", "sqe-mixed",
	};
	unsigned int bit;

	/* One bit, and one this library knows. */
	if (!feature || (feature & (feature - 1)))
		return "unknown";
	bit = __builtin_ctzll(feature);
	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : "unknown";
}

int blkbatch_get_info(int fd, struct blkbatch_info *info)
{
	memset(info, 0, sizeof(*info));
	if (ioctl(fd, BLKBATCH_IOC_GET_INFO, info) < 0)
		return -errno;
	return 0;
}

int blkbatch_open_path(const char *path, int oflags, struct blkbatch_dev *dev)
{
	int fd, ret;

	dev->fd = -1;
	if (!path)
		return -EINVAL;
	fd = open(path, oflags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = blkbatch_get_info(fd, &dev->info);
	if (ret) {
		close(fd);
		return ret;
	}
	dev->fd = fd;
	dev->index = dev->info.index;
	return 0;
}

int blkbatch_open(unsigned int index, int oflags, struct blkbatch_dev *dev)
{
	char path[sizeof(BLKBATCH_DEV_FMT) + 16];

	snprintf(path, sizeof(path), BLKBATCH_DEV_FMT, index);
	return blkbatch_open_path(path, oflags, dev);
}

void blkbatch_close(struct blkbatch_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}
