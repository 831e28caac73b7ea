// SPDX-License-Identifier: GPL-2.0
/*
 * What an operator sees of an attached device: per-CPU counters and the
 * sysfs attributes of /dev/blkbatchN (/sys/class/misc/blkbatchN/).
 *
 * Counters are bumped only from task context (creating and finishing a
 * batch, issuing retries), each CPU its own, so the I/O path takes no
 * shared lock or cache line for them; u64_stats_sync keeps a 32-bit
 * reader from seeing half an update.
 */
#include <linux/device.h>
#include <linux/percpu.h>
#include <linux/sysfs.h>

#include "blkbatch.h"

int bb_stats_alloc(struct bb_dev *dev)
{
	int cpu;

	dev->stats = alloc_percpu(struct bb_stats);
	if (!dev->stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(dev->stats, cpu)->syncp);
	return 0;
}

void bb_stats_free(struct bb_dev *dev)
{
	free_percpu(dev->stats);
}

void bb_stats_add(struct bb_dev *dev, enum bb_stat which, u64 n)
{
	struct bb_stats *s = get_cpu_ptr(dev->stats);

	u64_stats_update_begin(&s->syncp);
	u64_stats_add(&s->v[which], n);
	u64_stats_update_end(&s->syncp);
	put_cpu_ptr(dev->stats);
}

static void bb_stats_sum(struct bb_dev *dev, u64 sum[BB_NR_STATS])
{
	unsigned int start, i;
	int cpu;

	memset(sum, 0, BB_NR_STATS * sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct bb_stats *s = per_cpu_ptr(dev->stats, cpu);
		u64 v[BB_NR_STATS];

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < BB_NR_STATS; i++)
				v[i] = u64_stats_read(&s->v[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < BB_NR_STATS; i++)
			sum[i] += v[i];
	}
}

/*
 * The attributes live as long as the misc device, which detach removes
 * before it closes the block device; sysfs waits for readers to leave.
 */
static struct bb_dev *bb_attr_dev(struct device *d)
{
	struct miscdevice *misc = dev_get_drvdata(d);

	return container_of(misc, struct bb_dev, misc);
}

static ssize_t dev_backing_show(struct device *d, struct device_attribute *a,
				char *buf)
{
	dev_t devt = bb_attr_dev(d)->bdev.bdev->bd_dev;

	return sysfs_emit(buf, "%u:%u\n", MAJOR(devt), MINOR(devt));
}
static DEVICE_ATTR_RO(dev_backing);

static ssize_t read_only_show(struct device *d, struct device_attribute *a,
			      char *buf)
{
	struct bb_dev *dev = bb_attr_dev(d);

	return sysfs_emit(buf, "%d\n",
			  !!(dev->attach_flags & BLKBATCH_ATTACH_F_RDONLY) ||
			  bdev_read_only(dev->bdev.bdev));
}
static DEVICE_ATTR_RO(read_only);

static ssize_t inflight_show(struct device *d, struct device_attribute *a,
			     char *buf)
{
	struct bb_dev *dev = bb_attr_dev(d);
	unsigned int n;

	spin_lock(&dev->lock);
	n = dev->inflight;
	spin_unlock(&dev->lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(inflight);

/* One line in enum bb_stat's order, as /sys/block/X/stat is one line. */
static ssize_t stat_show(struct device *d, struct device_attribute *a,
			 char *buf)
{
	u64 v[BB_NR_STATS];
	unsigned int i;
	int len = 0;

	bb_stats_sum(bb_attr_dev(d), v);
	for (i = 0; i < BB_NR_STATS; i++)
		len += sysfs_emit_at(buf, len, "%llu%c", v[i],
				     i + 1 < BB_NR_STATS ? ' ' : '\n');
	return len;
}
static DEVICE_ATTR_RO(stat);

static struct attribute *bb_dev_attrs[] = {
	&dev_attr_dev_backing.attr,
	&dev_attr_read_only.attr,
	&dev_attr_inflight.attr,
	&dev_attr_stat.attr,
	NULL,
};

static const struct attribute_group bb_dev_group = {
	.attrs = bb_dev_attrs,
};

const struct attribute_group *bb_dev_groups[] = {
	&bb_dev_group,
	NULL,
};
