// SPDX-License-Identifier: GPL-2.0
/*
 * blkbatch-fio: a fio ioengine that sends everything fio queued between
 * two commits as ONE blkbatch batch: one SQE, one CQE, a status per I/O.
 *
 *   fio --ioengine=external:fio/blkbatch-fio.so --filename=/dev/nvme0n1 \
 *       --iodepth=256 --iodepth_batch_submit=256 \
 *       --iodepth_batch_complete_min=256 ...
 *
 * filename= is a block device, attached for the job and detached at its
 * end (as root), or an attached /dev/blkbatchN.  One file per job; one ring
 * per job (fio's threads and processes each have their own).
 *
 * How fio's I/O kinds map: READ and WRITE are entries (WRITE with
 * BLKBATCH_EF_FUA under bb_fua=1); TRIM is a DISCARD; SYNC and DATASYNC
 * (fsync=, fdatasync=) are BARRIER, FLUSH, BARRIER: the flush covers every
 * write queued before it in the batch, and nothing after it starts before
 * it is done.  Each io_u gets its own entry's status: its full length, or
 * an error (never short).
 *
 * Built against the source of the very fio it runs in (fio/Makefile); it
 * refuses to load into another version, whose structs may differ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "fio.h"
#include "ioengines.h"
#include "optgroup.h"

#include <libblkbatch.h>

#ifndef BBF_FIO_VERSION
#error "build with -DBBF_FIO_VERSION='\"fio-X.YY\"' (fio/Makefile does)"
#endif

/* Exported by fio (linked -rdynamic); weak, so that a fio without it is
 * refused by get_ioengine() instead of failing in dlopen(). */
extern const char fio_version_string[] __attribute__((weak));

struct bbf_options {
	void		*pad;	/* fio takes an option at offset 0 as unstored */
	unsigned int	fua;
	unsigned int	hipri;
	unsigned int	sqpoll;
	unsigned int	fixedbufs;
	unsigned int	registerfiles;
	unsigned int	stats;
};

#define BBF_OPT(nm, field, desc)					\
	{								\
		.name	  = nm,						\
		.lname	  = desc,					\
		.type	  = FIO_OPT_BOOL,				\
		.off1	  = offsetof(struct bbf_options, field),	\
		.help	  = desc,					\
		.def	  = "0",					\
		.category = FIO_OPT_C_ENGINE,				\
		.group	  = FIO_OPT_G_INVALID,				\
	}

static struct fio_option bbf_opts[] = {
	BBF_OPT("bb_fua", fua, "Every write with forced unit access"),
	BBF_OPT("hipri", hipri, "IOPOLL ring: poll for completions"),
	BBF_OPT("sqthread_poll", sqpoll, "SQPOLL ring: a kernel thread submits"),
	BBF_OPT("fixedbufs", fixedbufs, "Register fio's I/O buffers once"),
	BBF_OPT("registerfiles", registerfiles, "Register the device file"),
	BBF_OPT("bb_stats", stats, "Print how many batches carried the I/O"),
	{ .name = NULL },
};

/* A batch being filled, or in flight: io_u of each entry (NULL: none). */
struct bbf_batch {
	struct blkbatch_batch	b;
	struct io_u		**ios;
	struct bbf_batch	*next_free;
};

struct bbf_data {
	struct blkbatch_ring	ring;
	bool			ring_ok;
	bool			fixed;
	struct bbf_batch	*cur;		/* what queue() adds to */
	struct bbf_batch	*free;
	unsigned int		nr_ios;		/* io_us in @cur */
	struct io_u		**done;		/* completed, for event() */
	unsigned int		nr_done, nr_events;
	unsigned int		depth;
	unsigned int		index;		/* of the device we attached */
	bool			attached;
	bool			registered;	/* the file, registerfiles=1 */
	unsigned long		batches, batch_ios;	/* bb_stats */
};

static int bbf_grow(struct bbf_batch *bb, unsigned int need)
{
	unsigned int cap = bb->b.cap, nr = bb->b.nr;
	struct blkbatch_entry *e;
	struct io_u **ios;
	__s32 *st;

	if (nr + need <= cap)
		return 0;
	cap = cap ? 2 * cap : 64;
	while (cap < nr + need)
		cap *= 2;
	e = realloc(bb->b.entries, cap * sizeof(*e));
	if (e)
		bb->b.entries = e;
	st = realloc(bb->b.status, cap * sizeof(*st));
	if (st)
		bb->b.status = st;
	ios = realloc(bb->ios, cap * sizeof(*ios));
	if (ios)
		bb->ios = ios;
	if (!e || !st || !ios)
		return -ENOMEM;
	blkbatch_batch_init(&bb->b, e, st, cap);
	bb->b.nr = nr;
	return 0;
}

static struct bbf_batch *bbf_cur(struct bbf_data *d)
{
	struct bbf_batch *bb = d->cur;

	if (bb)
		return bb;
	bb = d->free;
	if (bb)
		d->free = bb->next_free;
	else
		bb = calloc(1, sizeof(*bb));
	if (bb)
		bb->b.nr = 0;
	d->cur = bb;
	return bb;
}

/* The entries of @io_u; the one that carries its status is its own. */
static int bbf_add(struct thread_data *td, struct bbf_batch *bb,
		   struct io_u *io_u)
{
	struct bbf_options *o = td->eo;
	struct blkbatch_batch *b = &bb->b;
	int idx;

	if (io_u->xfer_buflen > UINT32_MAX)
		return -EINVAL;
	switch (io_u->ddir) {
	case DDIR_READ:
		idx = blkbatch_batch_add_read(b, io_u->xfer_buf,
					      io_u->xfer_buflen, io_u->offset);
		break;
	case DDIR_WRITE:
		idx = blkbatch_batch_add_write(b, io_u->xfer_buf,
					       io_u->xfer_buflen, io_u->offset,
					       o->fua ? BLKBATCH_EF_FUA : 0);
		break;
	case DDIR_TRIM:
		idx = blkbatch_batch_add_discard(b, io_u->offset,
						 io_u->xfer_buflen);
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		bb->ios[blkbatch_batch_add_barrier(b)] = NULL;
		idx = blkbatch_batch_add_flush(b);
		bb->ios[idx] = io_u;
		idx = blkbatch_batch_add_barrier(b);
		io_u = NULL;
		break;
	default:
		return -EINVAL;
	}
	bb->ios[idx] = io_u;
	return 0;
}

static enum fio_q_status bbf_queue(struct thread_data *td, struct io_u *io_u)
{
	struct bbf_data *d = td->io_ops_data;
	struct bbf_batch *bb;
	int ret;

	fio_ro_check(td, io_u);
	bb = bbf_cur(d);
	ret = bb ? bbf_grow(bb, 3) : -ENOMEM;
	if (!ret)
		ret = bbf_add(td, bb, io_u);
	if (ret) {
		io_u->error = -ret;
		return FIO_Q_COMPLETED;
	}
	d->nr_ios++;
	return FIO_Q_QUEUED;
}

static void bbf_queued(struct thread_data *td, struct bbf_batch *bb)
{
	struct timespec now;
	unsigned int i;

	if (!fio_fill_issue_time(td))
		return;
	fio_gettime(&now, NULL);
	for (i = 0; i < bb->b.nr; i++)
		if (bb->ios[i]) {
			memcpy(&bb->ios[i]->issue_time, &now, sizeof(now));
			io_u_queued(td, bb->ios[i]);
		}
}

static int bbf_commit(struct thread_data *td)
{
	struct bbf_data *d = td->io_ops_data;
	struct bbf_batch *bb = d->cur;
	struct fio_file *f = td->files[0];
	int ret;

	if (!bb || !bb->b.nr)
		return 0;
	bbf_queued(td, bb);
	if (d->fixed)
		ret = blkbatch_submit_fixed(&d->ring, f->fd, &bb->b, 0,
					    (uintptr_t)bb);
	else
		ret = blkbatch_submit(&d->ring, f->fd, &bb->b, (uintptr_t)bb);
	if (ret) {
		td_verror(td, -ret, "blkbatch_submit");
		return ret;
	}
	io_u_mark_submit(td, d->nr_ios);
	d->batches++;
	d->batch_ios += d->nr_ios;
	d->cur = NULL;
	d->nr_ios = 0;
	return 0;
}

/* A batch's CQE: each io_u takes its entry's status. */
static void bbf_complete(struct bbf_data *d, const struct blkbatch_cqe *cqe)
{
	struct bbf_batch *bb = (struct bbf_batch *)(uintptr_t)cqe->user_data;
	unsigned int i;
	int st;

	for (i = 0; i < bb->b.nr; i++) {
		struct io_u *io_u = bb->ios[i];

		if (!io_u)
			continue;
		/* A batch refused whole says why in its CQE. */
		st = cqe->res < 0 ? cqe->res : bb->b.status[i];
		io_u->error = st < 0 ? -st : 0;
		io_u->resid = st < 0 ? io_u->xfer_buflen : 0;
		d->done[d->nr_done++] = io_u;
	}
	bb->next_free = d->free;
	d->free = bb;
}

static int bbf_getevents(struct thread_data *td, unsigned int min,
			 unsigned int max, const struct timespec *t)
{
	struct bbf_data *d = td->io_ops_data;
	struct blkbatch_cqe cqe;
	unsigned int n;
	int ret;

	/* Never wait for I/O that is only queued. */
	ret = bbf_commit(td);
	if (ret)
		return ret;

	/* fio has reaped what the last call handed out. */
	memmove(d->done, d->done + d->nr_events,
		(d->nr_done - d->nr_events) * sizeof(*d->done));
	d->nr_done -= d->nr_events;
	/*
	 * What is in the CQ already, without a system call: on a
	 * DEFER_TASKRUN ring a peek that finds nothing enters the kernel to
	 * collect, which the wait below does anyway.
	 */
	while (io_uring_cq_ready(&d->ring.ring) &&
	       !blkbatch_peek(&d->ring, &cqe))
		bbf_complete(d, &cqe);
	while (d->nr_done < min) {
		ret = blkbatch_wait(&d->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret)
			return ret;
		bbf_complete(d, &cqe);
	}
	n = d->nr_done < max ? d->nr_done : max;
	d->nr_events = n;
	return n;
}

static struct io_u *bbf_event(struct thread_data *td, int event)
{
	struct bbf_data *d = td->io_ops_data;

	return d->done[event];
}

static int bbf_init(struct thread_data *td)
{
	struct bbf_options *o = td->eo;
	/* The job's thread alone submits and reaps. */
	unsigned int flags = BLKBATCH_RING_SINGLE_ISSUER |
			     (o->hipri ? BLKBATCH_RING_IOPOLL : 0) |
			     (o->sqpoll ? BLKBATCH_RING_SQPOLL : 0);
	struct bbf_data *d;
	int ret;

	if (td->o.nr_files != 1) {
		log_err("blkbatch: one file per job (nr_files=%u)\n",
			td->o.nr_files);
		return 1;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	td->io_ops_data = d;
	d->depth = td->o.iodepth ? td->o.iodepth : 1;
	d->done = calloc(d->depth, sizeof(*d->done));
	if (!d->done)
		return 1;
	/* Every batch in flight holds at least one of the depth's io_us. */
	ret = blkbatch_ring_init(&d->ring, d->depth, flags);
	if (ret) {
		log_err("blkbatch: ring: %s\n", strerror(-ret));
		return 1;
	}
	d->ring_ok = true;
	return 0;
}

/* After fio allocated its buffers: one registered buffer for all. */
static int bbf_post_init(struct thread_data *td)
{
	struct bbf_options *o = td->eo;
	struct bbf_data *d = td->io_ops_data;
	int ret;

	if (!o->fixedbufs)
		return 0;
	ret = blkbatch_ring_register_buffer(&d->ring, td->orig_buffer,
					    td->orig_buffer_size);
	if (ret) {
		log_err("blkbatch: fixedbufs: %s\n", strerror(-ret));
		return 1;
	}
	d->fixed = true;
	return 0;
}

static void bbf_cleanup(struct thread_data *td)
{
	struct bbf_data *d = td->io_ops_data;
	struct bbf_batch *bb;

	if (!d)
		return;
	if (((struct bbf_options *)td->eo)->stats)
		log_info("blkbatch: %s: %lu batches, %lu io_us, %.1f a batch\n",
			 td->o.name, d->batches, d->batch_ios,
			 d->batches ? (double)d->batch_ios / d->batches : 0.0);
	if (d->ring_ok)
		blkbatch_ring_exit(&d->ring);
	if (d->cur) {
		d->cur->next_free = d->free;
		d->free = d->cur;
	}
	while ((bb = d->free)) {
		d->free = bb->next_free;
		free(bb->b.entries);
		free(bb->b.status);
		free(bb->ios);
		free(bb);
	}
	free(d->done);
	free(d);
	td->io_ops_data = NULL;
}

/* A block device is attached for the job; /dev/blkbatchN is used as is. */
static int bbf_open_file(struct thread_data *td, struct fio_file *f)
{
	struct bbf_options *o = td->eo;
	struct bbf_data *d = td->io_ops_data;
	struct blkbatch_dev dev;
	struct stat st;
	int ret;

	if (stat(f->file_name, &st))
		return errno;
	if (S_ISBLK(st.st_mode)) {
		ret = blkbatch_attach(f->file_name,
				      td_write(td) || td_trim(td) ? 0 :
				      BLKBATCH_ATTACH_F_RDONLY, &d->index);
		if (!ret) {
			d->attached = true;
			ret = blkbatch_open(d->index, O_RDWR, &dev);
		}
	} else {
		ret = blkbatch_open_path(f->file_name, O_RDWR, &dev);
	}
	if (!ret && o->registerfiles) {
		ret = blkbatch_ring_register_file(&d->ring, dev.fd);
		d->registered = !ret;
	}
	if (ret) {
		log_err("blkbatch: %s: %s\n", f->file_name, strerror(-ret));
		if (d->attached)
			blkbatch_detach(d->index);
		d->attached = false;
		return -ret;
	}
	f->fd = dev.fd;
	return 0;
}

static int bbf_close_file(struct thread_data *td, struct fio_file *f)
{
	struct bbf_data *d = td->io_ops_data;
	int ret = 0;

	/* fio may open the file again (verify): a ring keeps one file. */
	if (d && d->registered)
		blkbatch_ring_unregister_file(&d->ring);
	if (d)
		d->registered = false;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (d && d->attached) {
		ret = -blkbatch_detach(d->index);
		d->attached = false;
	}
	return ret;
}

/* The block device's size, or what GET_INFO says of /dev/blkbatchN. */
static int bbf_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct blkbatch_info info;
	unsigned long long bytes;
	struct stat st;
	int fd, ret = 0;

	if (fio_file_size_known(f))
		return 0;
	fd = open(f->file_name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st))
		ret = errno;
	else if (S_ISBLK(st.st_mode))
		ret = ioctl(fd, BLKGETSIZE64, &bytes) ? errno : 0;
	else if (!(ret = -blkbatch_get_info(fd, &info)))
		bytes = info.capacity;
	close(fd);
	if (ret)
		return ret;
	f->real_file_size = bytes;
	fio_file_set_size_known(f);
	return 0;
}

static struct ioengine_ops bbf_ops = {
	.name			= "blkbatch",
	.version		= FIO_IOOPS_VERSION,
	.flags			= FIO_RAWIO | FIO_NOEXTEND | FIO_NODISKUTIL |
				  FIO_NO_OFFLOAD | FIO_ASYNCIO_SETS_ISSUE_TIME,
	.init			= bbf_init,
	.post_init		= bbf_post_init,
	.queue			= bbf_queue,
	.commit			= bbf_commit,
	.getevents		= bbf_getevents,
	.event			= bbf_event,
	.cleanup		= bbf_cleanup,
	.open_file		= bbf_open_file,
	.close_file		= bbf_close_file,
	.get_file_size		= bbf_get_file_size,
	.options		= bbf_opts,
	.option_struct_size	= sizeof(struct bbf_options),
};

/*
 * fio looks for "ioengine", then get_ioengine(): only the latter is
 * defined, so that a fio of another version is refused here.  fio's own
 * FIO_IOOPS_VERSION check does not change when its structs do.
 */
void get_ioengine(struct ioengine_ops **ops);
void get_ioengine(struct ioengine_ops **ops)
{
	const char *running = &fio_version_string ? fio_version_string : NULL;

	if (!running || strcmp(running, BBF_FIO_VERSION)) {
		fprintf(stderr, "blkbatch-fio: built for %s, but this fio is %s: "
			"refusing to load (rebuild it with 'make -C fio')\n",
			BBF_FIO_VERSION, running ? running : "of unknown version");
		return;
	}
	*ops = &bbf_ops;
}
