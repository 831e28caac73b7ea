// SPDX-License-Identifier: GPL-2.0
/*
 * Bio building, submission and completion.
 *
 * Completion rules (see the README): ->bi_end_io runs in interrupt
 * context, so it records the status, unpins and frees the bio and counts
 * down; the last bio hands the batch to its completion, which writes the
 * statuses from task context.  Bios are freed as they complete, so pins
 * and bioset reserves stay bounded by what is in flight; only polled bios
 * stay referenced (not pinned) until the poller has passed them.
 */
#include <linux/compat.h>
#include <linux/fault-inject.h>
#include <linux/file.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "blkbatch.h"

/* Enough reserve for one bio at a time per CPU to make progress. */
#define BB_BIO_POOL_SIZE	64

static struct bio_set bb_bioset;

/*
 * Read bios whose pages were cleaned while the device wrote into them:
 * dirtying them again needs the page lock, so a work item does it.
 */
struct workqueue_struct *bb_wq;

static LLIST_HEAD(bb_redirty_list);

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS

/*
 * debugfs blkbatch/fail_again: end a waiting (not polled) bio with
 * BLK_STS_AGAIN, which no stock driver gives on demand, so that a test
 * can tell a real -EAGAIN from a poll retry.  Debug kernels only.
 */
static DECLARE_FAULT_ATTR(bb_fail_again);

void bb_fault_init(struct dentry *dir)
{
	fault_create_debugfs_attr("fail_again", dir, &bb_fail_again);
}

static bool bb_inject_again(struct bio *bio)
{
	return !(bio->bi_opf & REQ_NOWAIT) && should_fail(&bb_fail_again, 1);
}

#else

void bb_fault_init(struct dentry *dir)
{
}

static bool bb_inject_again(struct bio *bio)
{
	return false;
}

#endif

void bb_entry_fail(struct bb_batch *b, u32 idx, int err)
{
	/* The first error of an entry is the one it reports. */
	cmpxchg(&b->err[idx], 0, err);
	WRITE_ONCE(b->failed, true);
}

/*
 * A polled bio is never made to wait: it fails instead when it would (no
 * tag, frozen queue), or when the queue stopped polling under it (6.12).
 * Its entry, issued as that one bio, is then issued again after the
 * segment, waiting and by interrupt.
 */
static void bb_entry_retry(struct bb_batch *b, u32 idx)
{
	if (!cmpxchg(&b->err[idx], 0, BB_ERR_RETRY))
		WRITE_ONCE(b->retry_pending, true);
}

static void bb_bio_error(struct bb_batch *b, struct bio *bio, u32 idx)
{
	blk_status_t st = bio->bi_status;

	if ((bio->bi_opf & REQ_NOWAIT) &&
	    (st == BLK_STS_AGAIN || st == BLK_STS_NOTSUPP))
		bb_entry_retry(b, idx);
	else
		bb_entry_fail(b, idx, blk_status_to_errno(st));
}

/*
 * Reads dirty the user's pages before the I/O, as the kernel's direct I/O
 * does with bio_set_pages_dirty() (which 6.1 does not export).
 */
static void bb_bio_set_pages_dirty(struct bio *bio)
{
	struct folio_iter fi;

	bio_for_each_folio_all(fi, bio) {
		if (folio_test_dirty(fi.folio))
			continue;
		folio_lock(fi.folio);
		folio_mark_dirty(fi.folio);
		folio_unlock(fi.folio);
	}
}

static bool bb_bio_pages_dirty(struct bio *bio)
{
	struct folio_iter fi;

	bio_for_each_folio_all(fi, bio)
		if (!folio_test_dirty(fi.folio))
			return false;
	return true;
}

static void bb_redirty_fn(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&bb_redirty_list);
	struct bb_bio *bbio, *tmp;

	llist_for_each_entry_safe(bbio, tmp, list, node) {
		struct bb_batch *b = bbio->bio.bi_private;

		bio_release_pages(&bbio->bio, true);
		bio_put(&bbio->bio);
		bb_batch_put(b);
	}
}

static DECLARE_WORK(bb_redirty_work, bb_redirty_fn);

static void bb_bio_end_io(struct bio *bio)
{
	struct bb_bio *bbio = container_of(bio, struct bb_bio, bio);
	struct bb_batch *b = bio->bi_private;

	if (unlikely(bb_inject_again(bio)))
		bio->bi_status = BLK_STS_AGAIN;
	if (unlikely(bio->bi_status))
		bb_bio_error(b, bio, bbio->idx);
	/* Read by ->uring_cmd_iopoll, through the batch's own reference. */
	WRITE_ONCE(bbio->done, true);
	if (unlikely(!op_is_write(bio_op(bio)) && !b->fixed &&
		     !bb_bio_pages_dirty(bio))) {
		/*
		 * Once on the list, the bio may be put by a work item that
		 * is already running, and with it the batch, the file and
		 * the module (whose exit destroys bb_wq): hold the batch
		 * until the work is queued.
		 */
		atomic_inc(&b->pending);
		llist_add(&bbio->node, &bb_redirty_list);
		queue_work(bb_wq, &bb_redirty_work);
		bb_batch_put(b);
		return;
	}
	/* Unpinning without dirtying is safe in interrupt context. */
	bio_release_pages(bio, false);
	bio_put(bio);
	bb_batch_put(b);
}

/*
 * Keep a polled bio for ->uring_cmd_iopoll: a poll queue has no interrupt,
 * so its bios complete only while someone polls them.  Published after
 * submit_bio() (which may still change the bio's flags), with the
 * reference taken before it.
 */
static void bb_poll_track(struct bb_batch *b, struct bio *bio)
{
	b->poll.bios[b->poll.nr] = bio;
	/* The poller reads the slot after the count. */
	smp_store_release(&b->poll.nr, b->poll.nr + 1);
}

static void bb_submit(struct bb_batch *b, u32 idx, struct bio *bio)
{
	struct bb_bio *bbio = container_of(bio, struct bb_bio, bio);
	bool polled = bio->bi_opf & REQ_POLLED;

	bbio->idx = idx;
	bbio->done = false;
	bio->bi_private = b;
	bio->bi_end_io = bb_bio_end_io;
	atomic_inc(&b->pending);
	if (polled)
		bio_get(bio);
	submit_bio(bio);
	if (polled)
		bb_poll_track(b, bio);
}

/* How far past the oldest bio not done the poller looks for a cookie. */
#define BB_POLL_LOOKAHEAD	32

/*
 * The bio to poll, under @poll_lock: the oldest one not done, releasing
 * the done ones before it.  Bios may sit on several hardware queues (a
 * task can move between CPUs while it issues); polling the oldest one's
 * queue until it is done visits each in turn.  A bio gets its poll cookie
 * only when its request is dispatched, so if the oldest has none yet, a
 * younger one that has is polled instead (a driver may restart a stopped
 * queue only from its poll handler).  Polled bios are not merged
 * (REQ_NOMERGE): each has a request, and a cookie, of its own.
 */
static struct bio *bb_poll_pick(struct bb_batch *b)
{
	/* Pairs with bb_poll_track(): the slots below @n are written. */
	u32 n = smp_load_acquire(&b->poll.nr), i, end;

	while (b->poll.cur < n &&
	       READ_ONCE(container_of(b->poll.bios[b->poll.cur], struct bb_bio,
				      bio)->done))
		bio_put(b->poll.bios[b->poll.cur++]);
	if (b->poll.cur == n)
		return NULL;
	end = min(n, b->poll.cur + BB_POLL_LOOKAHEAD);
	for (i = b->poll.cur; i < end; i++) {
		struct bio *bio = b->poll.bios[i];

		if (!READ_ONCE(container_of(bio, struct bb_bio, bio)->done) &&
		    READ_ONCE(bio->bi_cookie) != BLK_QC_T_NONE)
			return bio;
	}
	return b->poll.bios[b->poll.cur];
}

/*
 * Called by io_uring's poll loop, with the batch kept alive by RCU.  The
 * lock keeps the batch's references on its bios while one is polled.
 */
int bb_batch_iopoll(struct bb_batch *b, struct io_comp_batch *iob,
		    unsigned int poll_flags)
{
	struct bio *bio;
	int ret = 0;

	/* Another poller or the release is at it: nothing lost by leaving. */
	if (!spin_trylock(&b->poll.lock))
		return 0;
	bio = bb_poll_pick(b);
	if (bio)
		ret = bio_poll(bio, iob, poll_flags);
	spin_unlock(&b->poll.lock);
	return ret;
}

/* Segment over: every polled bio is done; drop the ones still held. */
void bb_poll_release(struct bb_batch *b)
{
	u32 i, end;

	if (!b->polled)
		return;
	spin_lock(&b->poll.lock);
	i = b->poll.cur;
	end = b->poll.nr;
	b->poll.cur = end;
	spin_unlock(&b->poll.lock);
	while (i < end)
		bio_put(b->poll.bios[i++]);
}

/*
 * Read a vectored entry's iovec array in the layout of the submitter
 * (@b->compat, decided at submission): whoever issues the entry now,
 * task work, io-wq or the SQ thread, may be in no system call of its own.
 */
static int bb_copy_iovecs(const struct bb_batch *b, struct iovec *iov,
			  const void __user *uvec, u32 nr)
{
#ifdef CONFIG_COMPAT
	if (b->compat) {
		const struct compat_iovec __user *civ = uvec;
		struct compat_iovec c;
		u32 i;

		for (i = 0; i < nr; i++) {
			if (copy_from_user(&c, &civ[i], sizeof(c)))
				return -EFAULT;
			iov[i].iov_base = compat_ptr(c.iov_base);
			iov[i].iov_len = c.iov_len;
		}
		return 0;
	}
#endif
	return copy_from_user(iov, uvec, nr * sizeof(*iov)) ? -EFAULT : 0;
}

/*
 * Leave out zero-length iovecs: 7.3's iov_iter_extract_bvecs() checks the
 * alignment of the segment it starts at, even one that carries nothing.
 */
static u32 bb_drop_empty_iovecs(struct iovec *iov, u32 nr)
{
	u32 i, kept = 0;

	for (i = 0; i < nr; i++)
		if (iov[i].iov_len)
			iov[kept++] = iov[i];
	return kept;
}

static int bb_import_iovecs(const struct bb_batch *b,
			    const struct blkbatch_entry *e, int dir,
			    struct iov_iter *iter, struct iovec *fast,
			    struct iovec **iov)
{
	int ret;

	if (e->nr_vecs > UIO_FASTIOV) {
		*iov = kmalloc_array(e->nr_vecs, sizeof(**iov), GFP_KERNEL);
		if (!*iov)
			return -ENOMEM;
		fast = *iov;
	}
	ret = bb_copy_iovecs(b, fast, u64_to_user_ptr(e->addr), e->nr_vecs);
	if (!ret)
		ret = bb_check_iovecs(fast, e->nr_vecs, e->len, &b->lim);
	if (!ret)
		iov_iter_init(iter, dir, fast,
			      bb_drop_empty_iovecs(fast, e->nr_vecs), e->len);
	return ret;
}

/*
 * The user memory of a READ or WRITE entry that is no iovec array: its
 * buffer, or a range of the registered buffer.
 */
static int bb_entry_iter(struct bb_batch *b, const struct blkbatch_entry *e,
			 struct iov_iter *iter)
{
	int dir = e->op == BLKBATCH_OP_WRITE ? ITER_SOURCE : ITER_DEST;
	void __user *uaddr = u64_to_user_ptr(e->addr);

	if (b->fixed)
		/* Validation looked the buffer up: no lock needed. */
		return bb_import_fixed(e->addr, e->len, dir, iter, b->ioucmd,
				       IO_URING_F_UNLOCKED);
	if (!access_ok(uaddr, e->len))
		return -EFAULT;
	iov_iter_ubuf(iter, dir, uaddr, e->len);
	return 0;
}

/*
 * Whether an entry goes out as one polled bio.  It must fit one bio and
 * one request (a non-waiting bio that needs splitting fails), so iovec
 * arrays, whose gaps may split, and entries over @poll_max do not poll.
 */
static bool bb_entry_polled(const struct bb_batch *b,
			    const struct blkbatch_entry *e)
{
	return b->polled && !b->in_retry && !b->poll.stopped &&
	       !(e->flags & BLKBATCH_EF_VEC) && e->len <= b->poll.max &&
	       b->poll.nr < b->nr;
}

#define BB_POLL_OPF	(REQ_POLLED | REQ_NOWAIT | REQ_NOMERGE | BB_REQ_CACHE_POLLED)

/*
 * Whether @iter, a range of the registered buffer, lies in one of its
 * bvecs, as a single-page entry always does.
 */
static bool bb_iter_one_bvec(const struct iov_iter *iter)
{
	return iov_iter_is_bvec(iter) &&
	       iov_iter_count(iter) <= iter->bvec->bv_len - iter->iov_offset;
}

/*
 * The next @nr pieces of a registered buffer's range as a bio of its own
 * bvecs.  For one piece (a range within a page): bio_iov_iter_get_pages()
 * would point the bio at all the registered buffer's bvecs from there
 * on, and blk-mq then walks them to see whether it must split the bio;
 * a single piece within a page never needs splitting.  For an iovec
 * array: its bvecs are in io_uring's per-request vector, which the next
 * entry's import reuses.  Every piece is a multiple of the logical block
 * size (validation), so the bio may end after any.  The registration
 * holds the pages: the bio takes no reference (bb_bio_no_page_ref()).
 */
static struct bio *bb_fixed_bio(struct bb_batch *b, struct iov_iter *iter,
				unsigned short nr, blk_opf_t opf, gfp_t gfp,
				int *err)
{
	struct bio *bio;

	bio = bio_alloc_bioset(b->dev->bdev.bdev, nr, opf, gfp, &bb_bioset);
	if (!bio) {
		*err = -ENOMEM;
		return NULL;
	}
	while (bio->bi_vcnt < nr && iov_iter_count(iter)) {
		const struct bio_vec *bv = iter->bvec;
		size_t len = min_t(size_t, bv->bv_len - iter->iov_offset,
				   iov_iter_count(iter));

		__bio_add_page(bio, bv->bv_page, len,
			       bv->bv_offset + iter->iov_offset);
		iov_iter_advance(iter, len);
	}
	bb_bio_no_page_ref(bio);
	*err = 0;
	return bio;
}

/*
 * A bio for the next part of @iter, its pages got: NULL and *@err if
 * there is none (-ENOMEM only where @gfp may fail: a polled bio).
 */
static struct bio *bb_rw_bio(struct bb_batch *b, struct iov_iter *iter,
			     bool fixed_vec, blk_opf_t opf, gfp_t gfp, int *err)
{
	struct bio *bio;

	if (bb_iter_one_bvec(iter))
		return bb_fixed_bio(b, iter, 1, opf, gfp, err);
	if (fixed_vec)
		return bb_fixed_bio(b, iter,
				    min_t(unsigned long, iter->nr_segs,
					  BIO_MAX_VECS), opf, gfp, err);
	bio = bio_alloc_bioset(b->dev->bdev.bdev,
			       bio_iov_vecs_to_alloc(iter, BIO_MAX_VECS), opf,
			       gfp, &bb_bioset);
	if (!bio) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = bb_bio_get_pages(bio, iter, b->lim.dma_mask, b->lim.lbs_mask);
	if (unlikely(*err)) {
		bio_put(bio);
		return NULL;
	}
	return bio;
}

static void bb_rw_submit(struct bb_batch *b, u32 idx, struct bio *bio,
			 sector_t *sector)
{
	if (!op_is_write(bio_op(bio)) && !b->fixed)
		bb_bio_set_pages_dirty(bio);
	bio->bi_iter.bi_sector = *sector;
	*sector += bio_sectors(bio);
	bb_submit(b, idx, bio);
}

/* bb_issue_rw_polled(): the entry waits for the segment's retries. */
#define BB_RW_DEFERRED	1

/*
 * The first bio of a polled entry: from the per-CPU bio cache, never
 * waiting for memory (a bio that cannot be had at once is retried after
 * the segment, bb_entry_retry()).  If the entry needs more than one bio
 * after all, this one and the rest go by interrupt.
 */
static int bb_issue_rw_polled(struct bb_batch *b, u32 idx,
			      struct iov_iter *iter, blk_opf_t opf,
			      sector_t *sector)
{
	struct bio *bio;
	bool polled;
	int ret;

	bio = bb_rw_bio(b, iter, false, opf | BB_POLL_OPF,
			GFP_NOWAIT | __GFP_NOWARN, &ret);
	if (!bio) {
		if (ret != -ENOMEM)
			return ret;
		bb_entry_retry(b, idx);
		return BB_RW_DEFERRED;
	}
	polled = !iov_iter_count(iter);
	if (unlikely(!polled))
		bio->bi_opf &= ~BB_POLL_OPF;
	bb_rw_submit(b, idx, bio, sector);
	/*
	 * No tag was free (the bio failed inside submit_bio()): the poll
	 * queue is full of this batch.  The rest of the segment goes by
	 * interrupt rather than fail the same way.
	 */
	if (polled && READ_ONCE(b->retry_pending))
		b->poll.stopped = true;
	return 0;
}

/*
 * One READ or WRITE entry, in as many bios as its pages need; the block
 * layer splits each further to the device's limits.  Bios already sent
 * when a later one fails still complete and are counted.  No signal check
 * in here: an entry is issued whole (it is bounded by max_entry_bytes),
 * so -EINTR always means "nothing of it done".
 */
static int bb_issue_rw_iter(struct bb_batch *b, u32 idx,
			    struct iov_iter *iter)
{
	const struct blkbatch_entry *e = &b->ents[idx];
	bool fixed_vec = b->fixed && (e->flags & BLKBATCH_EF_VEC);
	sector_t sector = e->offset >> SECTOR_SHIFT;
	struct bio *bio;
	blk_opf_t opf;
	int ret = 0;

	opf = e->op == BLKBATCH_OP_WRITE ? REQ_OP_WRITE | REQ_SYNC | REQ_IDLE :
					   REQ_OP_READ;
	opf |= BB_REQ_CACHE;
	if (e->flags & BLKBATCH_EF_FUA)
		opf |= REQ_FUA;
	if (bb_entry_polled(b, e)) {
		ret = bb_issue_rw_polled(b, idx, iter, opf, &sector);
		if (ret == BB_RW_DEFERRED)
			return 0;
	}
	while (!ret && iov_iter_count(iter)) {
		bio = bb_rw_bio(b, iter, fixed_vec, opf, GFP_KERNEL, &ret);
		if (bio)
			bb_rw_submit(b, idx, bio, &sector);
	}
	return ret;
}

/*
 * An entry's iovec array, read now, once.  Its own function, so that the
 * on-stack array (zeroed on every call where the kernel initialises its
 * stack, as Debian's does) costs only the entries that use it.
 */
static noinline int bb_issue_rw_vec(struct bb_batch *b, u32 idx)
{
	const struct blkbatch_entry *e = &b->ents[idx];
	int dir = e->op == BLKBATCH_OP_WRITE ? ITER_SOURCE : ITER_DEST;
	struct iovec fast[UIO_FASTIOV], *iov = NULL;
	struct iov_iter iter;
	int ret;

	ret = bb_import_iovecs(b, e, dir, &iter, fast, &iov);
	if (!ret)
		ret = bb_issue_rw_iter(b, idx, &iter);
	kfree(iov);
	return ret;
}

static int bb_issue_rw(struct bb_batch *b, u32 idx)
{
	const struct blkbatch_entry *e = &b->ents[idx];
	struct iov_iter iter;
	int ret;

	if (e->flags & BLKBATCH_EF_VEC) {
		if (!b->fixed)
			return bb_issue_rw_vec(b, idx);
		/* Validation looked the buffer up: no lock needed. */
		ret = bb_fixed_vec_iter(e, &b->lim, b->ioucmd,
					IO_URING_F_UNLOCKED, &iter);
		return ret ? ret : bb_issue_rw_iter(b, idx, &iter);
	}
	ret = bb_entry_iter(b, e, &iter);
	return ret ? ret : bb_issue_rw_iter(b, idx, &iter);
}

/* A cache flush: the empty preflush write the block layer expects. */
static int bb_issue_flush(struct bb_batch *b, u32 idx)
{
	struct bio *bio;

	bio = bio_alloc_bioset(b->dev->bdev.bdev, 0,
			       REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC,
			       GFP_KERNEL, &bb_bioset);
	if (!bio)
		return -ENOMEM;
	bb_submit(b, idx, bio);
	return 0;
}

/*
 * DISCARD or WRITE_ZEROES: one bio for the whole range, which the block
 * layer splits to the device's limits.  The device's support is checked
 * here, per entry, because it can change while the batch waits at a
 * barrier.
 */
static int bb_issue_range(struct bb_batch *b, u32 idx, blk_opf_t opf)
{
	const struct blkbatch_entry *e = &b->ents[idx];
	struct block_device *bdev = b->dev->bdev.bdev;
	struct bio *bio;

	if (opf == REQ_OP_DISCARD ? !bdev_max_discard_sectors(bdev) :
				    !bdev_write_zeroes_sectors(bdev))
		return -EOPNOTSUPP;
	bio = bio_alloc_bioset(bdev, 0, opf, GFP_KERNEL, &bb_bioset);
	if (!bio)
		return -ENOMEM;
	bio->bi_iter.bi_sector = e->offset >> SECTOR_SHIFT;
	bio->bi_iter.bi_size = e->len;
	bb_submit(b, idx, bio);
	return 0;
}

int bb_issue_entry(struct bb_batch *b, u32 idx)
{
	switch (b->ents[idx].op) {
	case BLKBATCH_OP_READ:
	case BLKBATCH_OP_WRITE:
		return bb_issue_rw(b, idx);
	case BLKBATCH_OP_FLUSH:
		return bb_issue_flush(b, idx);
	case BLKBATCH_OP_DISCARD:
		return bb_issue_range(b, idx, REQ_OP_DISCARD);
	case BLKBATCH_OP_WRITE_ZEROES:
		return bb_issue_range(b, idx, REQ_OP_WRITE_ZEROES);
	default:
		return 0;
	}
}

/*
 * Keep the block device's page cache coherent with what a batch writes,
 * as the kernel's own direct I/O does (kiocb_invalidate_pages() before,
 * kiocb_invalidate_post_direct_write() after): before a write-type entry,
 * write back and drop the cached pages of its range, so that neither a
 * buffered reader sees stale blocks nor a buffered writer's dirty pages
 * overwrite the entry later.  An empty cache costs one read.
 */
int bb_cache_before_write(struct bb_batch *b,
			  const struct blkbatch_entry *e)
{
	struct address_space *mapping = bb_bdev_mapping(b->dev->bdev.bdev);
	loff_t end = e->offset + e->len - 1;
	int ret;

	if (!READ_ONCE(mapping->nrpages) ||
	    !filemap_range_has_page(mapping, e->offset, end))
		return 0;
	ret = filemap_write_and_wait_range(mapping, e->offset, end);
	if (ret)
		return ret;
	return invalidate_inode_pages2_range(mapping, e->offset >> PAGE_SHIFT,
					     end >> PAGE_SHIFT);
}

/*
 * The segment's writes are done: drop what buffered readers (readahead
 * too) cached of their ranges meanwhile.  Best effort, as in the kernel's
 * direct I/O: the data is on the device either way.
 */
void bb_cache_after_writes(struct bb_batch *b)
{
	struct address_space *mapping = bb_bdev_mapping(b->dev->bdev.bdev);
	const struct blkbatch_entry *e;
	pgoff_t first, last;
	u32 i;

	if (!READ_ONCE(mapping->nrpages))
		return;
	for (i = b->seg_start; i < b->next; i++) {
		e = &b->ents[i];
		if (!bb_op_writes(e->op))
			continue;
		first = e->offset >> PAGE_SHIFT;
		last = (e->offset + e->len - 1) >> PAGE_SHIFT;
		invalidate_inode_pages2_range(mapping, first, last);
	}
}

int bb_bio_init(void)
{
	int ret;

	/* Unbound: the work may run anywhere; 7.x warns unless told. */
	bb_wq = alloc_workqueue("blkbatch", WQ_MEM_RECLAIM | WQ_UNBOUND, 0);
	if (!bb_wq)
		return -ENOMEM;
	ret = bioset_init(&bb_bioset, BB_BIO_POOL_SIZE,
			  offsetof(struct bb_bio, bio),
			  BIOSET_NEED_BVECS | BIOSET_PERCPU_CACHE);
	if (ret)
		destroy_workqueue(bb_wq);
	return ret;
}

/*
 * No batch is in flight at module exit (every one holds a file), but the
 * work items may still be returning from their last fput().
 */
void bb_bio_exit(void)
{
	destroy_workqueue(bb_wq);
	bioset_exit(&bb_bioset);
}
