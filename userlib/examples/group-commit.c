// SPDX-License-Identifier: MIT
/*
 * group-commit: a write-ahead log's commit as one submission.
 *
 *   group-commit BLOCKDEV [RECORDS [COMMITS [flush|fua]]]
 *
 * (as root; OVERWRITES the device from offset 1 MiB on.)  Each commit
 * appends RECORDS 4 KiB log records and then a commit record that may
 * only be durable after all of them:
 *
 *   flush:  WRITE x RECORDS, BARRIER, FLUSH, BARRIER, WRITE+FUA (commit)
 *   fua:    WRITE+FUA x RECORDS, BARRIER, WRITE+FUA (commit)
 *
 * The barriers order the entries inside the kernel, so the whole commit
 * is one SQE and one completion: no round trip between its steps.  Which
 * form is faster depends on the device (a FLUSH costs one cache flush, a
 * FUA write one per record).  Prints commits/s.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libblkbatch.h>

#define REC_LEN		4096
#define LOG_START	(1ULL << 20)

struct wal {
	struct blkbatch_ring	ring;
	struct blkbatch_batch	batch;
	int			fd;
	unsigned int		records;
	bool			fua;
	char			*buf;		/* records, then the commit */
	__u64			tail;		/* next log offset */
	__u64			end;		/* wrap here */
};

/* Queue one commit's entries at the log's tail. */
static void build_commit(struct wal *w)
{
	struct blkbatch_batch *b = &w->batch;
	__u16 flags = w->fua ? BLKBATCH_EF_FUA : 0;
	unsigned int i;

	if (w->tail + (w->records + 1) * REC_LEN > w->end)
		w->tail = LOG_START;
	blkbatch_batch_reset(b);
	for (i = 0; i < w->records; i++)
		blkbatch_batch_add_write(b, w->buf + i * REC_LEN, REC_LEN,
					 w->tail + i * REC_LEN, flags);
	blkbatch_batch_add_barrier(b);
	if (!w->fua) {
		blkbatch_batch_add_flush(b);
		blkbatch_batch_add_barrier(b);
	}
	blkbatch_batch_add_write(b, w->buf + w->records * REC_LEN, REC_LEN,
				 w->tail + w->records * REC_LEN,
				 BLKBATCH_EF_FUA);
	w->tail += (w->records + 1) * REC_LEN;
}

/* One commit, start to durable: 0, or why not. */
static int commit(struct wal *w)
{
	unsigned int i;
	int res;

	build_commit(w);
	res = blkbatch_run(&w->ring, w->fd, &w->batch);
	if (res < 0)
		return res;
	for (i = 0; i < w->batch.nr; i++)
		if (w->batch.status[i] < 0) {
			fprintf(stderr, "group-commit: entry %u (%s): %s\n",
				i, blkbatch_op_name(w->batch.entries[i].op),
				strerror(-w->batch.status[i]));
			return w->batch.status[i];
		}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(struct wal *w, unsigned int commits)
{
	double t0 = now(), dt;
	unsigned int c;
	int ret;

	for (c = 0; c < commits; c++) {
		ret = commit(w);
		if (ret)
			return ret;
	}
	dt = now() - t0;
	printf("%u commits of %u records (%s form) in %.2f s: %.0f commits/s, "
	       "%.0f us each\n", commits, w->records, w->fua ? "fua" : "flush",
	       dt, commits / dt, dt * 1e6 / commits);
	return 0;
}

int main(int argc, char **argv)
{
	struct wal w = { .records = 64 };
	unsigned int index, commits = 200;
	struct blkbatch_dev dev;
	int ret;

	if (argc < 2 || argc > 5) {
		fprintf(stderr, "usage: group-commit BLOCKDEV [RECORDS [COMMITS [flush|fua]]]\n");
		return 2;
	}
	if (argc > 2)
		w.records = strtoul(argv[2], NULL, 0);
	if (argc > 3)
		commits = strtoul(argv[3], NULL, 0);
	w.fua = argc > 4 && !strcmp(argv[4], "fua");
	if (!w.records || !commits)
		return 2;

	ret = blkbatch_attach(argv[1], 0, &index);
	if (ret)
		goto out;
	ret = blkbatch_open(index, O_RDWR, &dev);
	if (ret)
		goto out_detach;
	w.fd = dev.fd;
	w.tail = LOG_START;
	w.end = dev.info.capacity;
	ret = -ENOMEM;
	if (posix_memalign((void **)&w.buf, 4096, (w.records + 1) * REC_LEN))
		goto out_close;
	memset(w.buf, 'L', (w.records + 1) * REC_LEN);
	ret = blkbatch_batch_alloc(&w.batch, w.records + 4);
	if (ret)
		goto out_buf;
	ret = blkbatch_ring_init(&w.ring, 8, 0);
	if (!ret) {
		ret = run(&w, commits);
		blkbatch_ring_exit(&w.ring);
	}
	blkbatch_batch_free(&w.batch);
out_buf:
	free(w.buf);
out_close:
	blkbatch_close(&dev);
out_detach:
	blkbatch_detach(index);
out:
	if (ret)
		fprintf(stderr, "group-commit: %s: %s\n", argv[1], strerror(-ret));
	return !!ret;
}
