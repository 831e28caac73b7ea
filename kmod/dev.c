// SPDX-License-Identifier: GPL-2.0
/*
 * Device lifecycle: the control device, attach and detach, the
 * per-device character device /dev/blkbatchN, and what GET_INFO says of
 * the device.
 */
#include <linux/blk-mq.h>
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "blkbatch.h"

/* Serialises attach and detach; lookups of open files never take it. */
static DEFINE_MUTEX(bb_ctl_mutex);
static DEFINE_XARRAY_ALLOC(bb_devs);

static void bb_dev_free(struct kref *ref)
{
	struct bb_dev *dev = container_of(ref, struct bb_dev, ref);

	bb_stats_free(dev);
	kfree(dev);
}

static void bb_dev_put(struct bb_dev *dev)
{
	kref_put(&dev->ref, bb_dev_free);
}

/*
 * Whether the disk is being deleted (del_gendisk(), a surprise removal):
 * it fails new I/O from the moment GD_DEAD is set.
 */
bool bb_disk_gone(struct block_device *bdev)
{
	struct gendisk *disk = bdev->bd_disk;

	return test_bit(GD_DEAD, &disk->state) || !disk_live(disk);
}

/* Detach from a work item: the caller's context may hold anything. */
static void bb_dev_queue_reap(struct bb_dev *dev)
{
	kref_get(&dev->ref);
	if (!queue_work(bb_wq, &dev->reap_work))
		bb_dev_put(dev);	/* queued already, with its reference */
}

/*
 * The disk is going away: no batch starts from now on (-ENODEV), the ones
 * in flight complete with whatever the block layer gives their bios, and
 * the device detaches itself once the last of them is done.  6.12 and
 * later tell at once (bb_holder_ops); 6.1 has no holder operations, so
 * batch creation and each later segment look (bb_disk_gone()).
 */
void bb_dev_mark_gone(struct bb_dev *dev, const char *why)
{
	bool first, idle;

	spin_lock(&dev->lock);
	first = !dev->gone && !dev->dead;
	dev->gone = true;
	idle = !dev->inflight;
	spin_unlock(&dev->lock);
	if (!first)
		return;
	pr_warn("%s: disk %s: refusing new batches, detaching when idle\n",
		dev->name, why);
	if (idle)
		bb_dev_queue_reap(dev);
}

static int bb_detach_locked(struct bb_dev *dev);

static void bb_dev_reap_fn(struct work_struct *work)
{
	struct bb_dev *dev = container_of(work, struct bb_dev, reap_work);

	mutex_lock(&bb_ctl_mutex);
	/* Not detached meanwhile (its index may name another device now). */
	if (xa_load(&bb_devs, dev->index) == dev && !bb_detach_locked(dev))
		pr_info("%s: detached, its disk is gone\n", dev->name);
	mutex_unlock(&bb_ctl_mutex);
	bb_dev_put(dev);
}

int bb_dev_start_batch(struct bb_dev *dev)
{
	bool gone = false;
	int ret = 0;

	spin_lock(&dev->lock);
	if (dev->dead || dev->gone) {
		ret = -ENODEV;
	} else if (bb_disk_gone(dev->bdev.bdev)) {
		gone = true;
		ret = -ENODEV;
	} else {
		dev->inflight++;
	}
	spin_unlock(&dev->lock);
	if (gone)
		bb_dev_mark_gone(dev, "deleted");
	return ret;
}

void bb_dev_end_batch(struct bb_dev *dev)
{
	bool reap;

	spin_lock(&dev->lock);
	WARN_ON_ONCE(!dev->inflight);
	reap = !--dev->inflight && dev->gone && !dev->dead;
	spin_unlock(&dev->lock);
	if (reap)
		bb_dev_queue_reap(dev);
}

#if BB_HAVE_HOLDER_OPS
/*
 * Called by del_gendisk() and blk_mark_disk_dead() with bd_holder_lock
 * held, which we must drop.  The holder (@dev) is ours until the bdev is
 * closed, which takes that lock: everything is done before dropping it.
 * A forced media change (loop, nbd) calls it too, on a live disk.
 */
static void bb_bdev_mark_dead(struct block_device *bdev, bool surprise)
	__releases(&bdev->bd_holder_lock)
{
	struct bb_dev *dev = bdev->bd_holder;

	if (bb_disk_gone(bdev))
		bb_dev_mark_gone(dev, surprise ? "removed" : "deleted");
	mutex_unlock(&bdev->bd_holder_lock);
}

static const struct blk_holder_ops bb_holder_ops = {
	.mark_dead	= bb_bdev_mark_dead,
};

#define BB_HOLDER_OPS	(&bb_holder_ops)
#else
#define BB_HOLDER_OPS	NULL
#endif

u32 bb_max_entry_bytes(struct block_device *bdev)
{
	/*
	 * Keeps every entry's byte count representable in its __s32 status,
	 * and below MAX_RW_COUNT, where import_iovec() clamps: iovecs that
	 * overshoot len can then never add up to it.
	 */
	return (MAX_RW_COUNT - 1) & ~(bdev_logical_block_size(bdev) - 1);
}

u64 bb_features(struct block_device *bdev)
{
	u64 f = BLKBATCH_F_READ_WRITE | BLKBATCH_F_FLUSH | BLKBATCH_F_FUA |
		BLKBATCH_F_VEC | BLKBATCH_F_BARRIER | BLKBATCH_F_ABORT |
		BLKBATCH_F_FIXED | BLKBATCH_F_SYNC | BLKBATCH_F_CQE32_INDEX |
		BLKBATCH_F_IOPOLL | BLKBATCH_F_DEV_T;

	if (BB_HAVE_FIXED_VEC)
		f |= BLKBATCH_F_FIXED_VEC;
	if (BB_HAVE_SQE_MIXED)
		f |= BLKBATCH_F_SQE_MIXED;
	if (bdev_max_discard_sectors(bdev))
		f |= BLKBATCH_F_DISCARD;
	if (bdev_write_zeroes_sectors(bdev))
		f |= BLKBATCH_F_WRITE_ZEROES;
	if (bdev_write_cache(bdev))
		f |= BLKBATCH_F_WRITE_CACHE;
	return f;
}

/*
 * Whether a batch on a polling ring may poll this device: it can poll,
 * without waiting.  The largest polled entry (*@poll_max, bytes) fits one
 * bio and one request whatever its alignment.  Under the device's active
 * reference.
 */
bool bb_dev_poll_max(struct bb_dev *dev, u32 *poll_max)
{
	struct block_device *bdev = dev->bdev.bdev;
	struct request_queue *q = bdev_get_queue(bdev);

	if (!bb_bdev_can_poll(bdev) || !bdev_nowait(bdev))
		return false;
	/* Bios by interrupt could wait for tags our polled requests hold. */
	if (q->tag_set && (q->tag_set->flags & BLK_MQ_F_TAG_HCTX_SHARED))
		return false;
	*poll_max = min3((u64)queue_max_sectors(q) << SECTOR_SHIFT,
			 (u64)(queue_max_segments(q) - 1) << PAGE_SHIFT,
			 (u64)(BIO_MAX_VECS - 1) << PAGE_SHIFT);
	return true;
}

/* Limits in sectors may not fit a __u32 of bytes: saturate. */
static u32 bb_sectors_to_u32_bytes(u64 sectors)
{
	return min_t(u64, U32_MAX, sectors << SECTOR_SHIFT);
}

static void bb_fill_info(struct bb_dev *dev, struct blkbatch_info *info)
{
	struct block_device *bdev = dev->bdev.bdev;
	u64 max_hw = queue_max_hw_sectors(bdev_get_queue(bdev));

	info->capacity = bdev_nr_bytes(bdev);
	info->features = bb_features(bdev);
	info->logical_block_size = bdev_logical_block_size(bdev);
	info->physical_block_size = bdev_physical_block_size(bdev);
	info->dma_alignment = bdev_dma_alignment(bdev) + 1;
	info->max_entries = bb_max_entries;
	info->max_entry_bytes = bb_max_entry_bytes(bdev);
	info->max_vecs = BB_MAX_VECS;
	info->max_hw_bytes = bb_sectors_to_u32_bytes(max_hw);
	info->max_discard_bytes =
		bb_sectors_to_u32_bytes(bdev_max_discard_sectors(bdev));
	info->attach_flags = dev->attach_flags;
	info->index = dev->index;
	info->version = BLKBATCH_VERSION;
	info->dev_major = MAJOR(bdev->bd_dev);
	info->dev_minor = MINOR(bdev->bd_dev);
}

static int bb_get_info(struct bb_dev *dev, struct blkbatch_info __user *arg)
{
	struct blkbatch_info info = { };

	/* Under the lock a detach cannot close the bdev we read from. */
	spin_lock(&dev->lock);
	if (dev->dead || dev->gone) {
		spin_unlock(&dev->lock);
		return -ENODEV;
	}
	bb_fill_info(dev, &info);
	spin_unlock(&dev->lock);

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static int bb_dev_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct bb_dev *dev = container_of(misc, struct bb_dev, misc);

	/* misc_open() holds misc_mtx, so detach cannot free @dev here. */
	spin_lock(&dev->lock);
	if (dev->dead) {
		spin_unlock(&dev->lock);
		return -ENODEV;
	}
	kref_get(&dev->ref);
	spin_unlock(&dev->lock);
	file->private_data = dev;
	return 0;
}

static int bb_dev_release(struct inode *inode, struct file *file)
{
	bb_dev_put(file->private_data);
	return 0;
}

static long bb_dev_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct bb_dev *dev = file->private_data;

	switch (cmd) {
	case BLKBATCH_IOC_GET_INFO:
		return bb_get_info(dev, (void __user *)arg);
	case BLKBATCH_IOC_SUBMIT:
		return bb_ioctl_submit(file, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations bb_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= bb_dev_open,
	.release	= bb_dev_release,
	.unlocked_ioctl	= bb_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.uring_cmd	= bb_uring_cmd,
	.uring_cmd_iopoll = bb_uring_cmd_iopoll,
	.llseek		= noop_llseek,
};

/*
 * Attach @path.  The index reaches @uindex (if any) before the device node
 * exists, so a fault there needs no racy undo of a visible device.
 */
static int bb_attach(const char *path, u32 flags, u32 __user *uindex)
{
	bool write = !(flags & BLKBATCH_ATTACH_F_RDONLY);
	struct bb_dev *dev;
	u32 id;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	kref_init(&dev->ref);
	spin_lock_init(&dev->lock);
	INIT_WORK(&dev->reap_work, bb_dev_reap_fn);
	dev->attach_flags = flags;
	ret = bb_stats_alloc(dev);
	if (ret)
		goto out_free;

	ret = bb_bdev_open(&dev->bdev, path, write, dev, BB_HOLDER_OPS);
	if (ret)
		goto out_free;

	mutex_lock(&bb_ctl_mutex);
	ret = xa_alloc(&bb_devs, &id, dev, XA_LIMIT(0, BB_MAX_DEVS - 1),
		       GFP_KERNEL);
	if (ret) {
		/* xa_alloc() says -EBUSY when full, unlike a held bdev */
		if (ret == -EBUSY)
			ret = -ENOSPC;
		goto out_unlock;
	}
	if (uindex && put_user(id, uindex)) {
		ret = -EFAULT;
		goto out_erase;
	}
	dev->index = id;
	snprintf(dev->name, sizeof(dev->name), "blkbatch%u", id);
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = &bb_dev_fops;
	dev->misc.mode = 0600;
	/* dev_backing, read_only, inflight, stat: stats.c */
	dev->misc.groups = bb_dev_groups;
	ret = misc_register(&dev->misc);
	if (ret)
		goto out_erase;
	mutex_unlock(&bb_ctl_mutex);

	pr_info("attached %s as %s%s\n", path, dev->name,
		write ? "" : " (read-only)");
	return 0;

out_erase:
	xa_erase(&bb_devs, id);
out_unlock:
	mutex_unlock(&bb_ctl_mutex);
	bb_bdev_close(&dev->bdev);
out_free:
	bb_stats_free(dev);
	kfree(dev);
	return ret;
}

/* Called with bb_ctl_mutex held. */
static int bb_detach_locked(struct bb_dev *dev)
{
	lockdep_assert_held(&bb_ctl_mutex);

	spin_lock(&dev->lock);
	if (dev->inflight) {
		spin_unlock(&dev->lock);
		return -EBUSY;
	}
	dev->dead = true;
	spin_unlock(&dev->lock);

	xa_erase(&bb_devs, dev->index);
	misc_deregister(&dev->misc);
	bb_bdev_close(&dev->bdev);
	pr_info("detached %s\n", dev->name);
	bb_dev_put(dev);
	return 0;
}

static int bb_detach(u32 index)
{
	struct bb_dev *dev;
	int ret = -ENODEV;

	mutex_lock(&bb_ctl_mutex);
	dev = xa_load(&bb_devs, index);
	if (dev)
		ret = bb_detach_locked(dev);
	mutex_unlock(&bb_ctl_mutex);
	return ret;
}

static int bb_ctl_attach(struct blkbatch_attach __user *uarg)
{
	struct blkbatch_attach arg;
	char *path;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.rsvd[0] || arg.rsvd[1] || arg.index ||
	    (arg.flags & ~BLKBATCH_ATTACH_F_ALL))
		return -EINVAL;

	path = strndup_user(u64_to_user_ptr(arg.path), PATH_MAX);
	if (IS_ERR(path))
		return PTR_ERR(path);
	ret = bb_attach(path, arg.flags, &uarg->index);
	kfree(path);
	return ret;
}

static int bb_ctl_detach(struct blkbatch_detach __user *uarg)
{
	struct blkbatch_detach arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.rsvd[0] || arg.rsvd[1])
		return -EINVAL;
	return bb_detach(arg.index);
}

static long bb_ctl_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	/* Attaching hands out raw access to any unclaimed disk. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	switch (cmd) {
	case BLKBATCH_CTL_ATTACH:
		return bb_ctl_attach((void __user *)arg);
	case BLKBATCH_CTL_DETACH:
		return bb_ctl_detach((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations bb_ctl_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= bb_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice bb_ctl_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "blkbatch-control",
	.fops		= &bb_ctl_fops,
	.mode		= 0600,
};

/*
 * Attach the comma-separated paths of the "attach" module parameter.  A
 * path that fails is reported and skipped, never fatal: once the control
 * device exists, failing module init could free code behind an open file.
 */
void bb_ctl_attach_list(const char *list)
{
	char *copy, *cur, *path;
	int ret;

	copy = kstrdup(list, GFP_KERNEL);
	if (!copy)
		return;
	cur = copy;
	while ((path = strsep(&cur, ",")) != NULL) {
		path = strim(path);
		if (!*path)
			continue;
		ret = bb_attach(path, 0, NULL);
		if (ret)
			pr_err("cannot attach %s: %d\n", path, ret);
	}
	kfree(copy);
}

int bb_ctl_init(void)
{
	return misc_register(&bb_ctl_misc);
}

/*
 * Module exit: no file of ours is open (each holds a module reference) and
 * hence no batch is in flight, so every device detaches.
 */
void bb_ctl_exit(void)
{
	struct bb_dev *dev;
	unsigned long id;

	misc_deregister(&bb_ctl_misc);
	mutex_lock(&bb_ctl_mutex);
	xa_for_each(&bb_devs, id, dev)
		WARN_ON_ONCE(bb_detach_locked(dev));
	mutex_unlock(&bb_ctl_mutex);
}
