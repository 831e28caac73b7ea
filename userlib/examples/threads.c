// SPDX-License-Identifier: MIT
/*
 * threads: one ring per thread on one device.
 *
 *   threads BLOCKDEV [THREADS [ROUNDS]]
 *
 * (as root; OVERWRITES the first THREADS x 4 MiB of the device.)  Each
 * thread takes its own ring from blkbatch_thread_ring() (its own SQ and
 * CQ: no lock is shared on the I/O path) and, ROUNDS times, writes 32
 * random 4 KiB blocks of its own 4 MiB slice, then reads them back, in one
 * batch with a barrier between, and checks the data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libblkbatch.h>

#define BLK		4096
#define PER_BATCH	32
#define SLICE		(4ULL << 20)
#define MAX_THREADS	64

struct worker {
	pthread_t	tid;
	int		fd;
	unsigned int	id, rounds;
	int		ret;
};

/* One round: PER_BATCH writes, BARRIER, the same blocks read back. */
static int round_trip(struct blkbatch_ring *r, struct worker *w, char *buf,
		      unsigned int *seed)
{
	struct blkbatch_entry ent[2 * PER_BATCH + 1];
	__s32 st[2 * PER_BATCH + 1];
	__u64 off[PER_BATCH];
	struct blkbatch_batch b;
	char *rd = buf + PER_BATCH * BLK;
	unsigned int i;
	int res;

	blkbatch_batch_init(&b, ent, st, 2 * PER_BATCH + 1);
	for (i = 0; i < PER_BATCH; i++) {
		/* distinct blocks: entries of one segment may race */
		off[i] = w->id * SLICE +
			 (i * (SLICE / BLK / PER_BATCH) +
			  rand_r(seed) % (SLICE / BLK / PER_BATCH)) * BLK;
		memset(buf + i * BLK, (int)(rand_r(seed) & 0xff), BLK);
		blkbatch_batch_add_write(&b, buf + i * BLK, BLK, off[i], 0);
	}
	blkbatch_batch_add_barrier(&b);
	for (i = 0; i < PER_BATCH; i++)
		blkbatch_batch_add_read(&b, rd + i * BLK, BLK, off[i]);
	res = blkbatch_run(r, w->fd, &b);
	if (res < 0)
		return res;
	if (res != (int)b.nr)
		return -EIO;
	return memcmp(buf, rd, PER_BATCH * BLK) ? -EILSEQ : 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned int seed = w->id + 1, i;
	struct blkbatch_ring *r;
	char *buf;

	w->ret = blkbatch_thread_ring(&r);
	if (w->ret)
		return NULL;
	if (posix_memalign((void **)&buf, BLK, 2 * PER_BATCH * BLK)) {
		w->ret = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < w->rounds && !w->ret; i++)
		w->ret = round_trip(r, w, buf, &seed);
	free(buf);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned int nthreads = 4, rounds = 200, index, i;
	struct worker w[MAX_THREADS];
	struct blkbatch_dev dev;
	double t0;
	int ret, rc = 0;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: threads BLOCKDEV [THREADS [ROUNDS]]\n");
		return 2;
	}
	if (argc > 2)
		nthreads = strtoul(argv[2], NULL, 0);
	if (argc > 3)
		rounds = strtoul(argv[3], NULL, 0);
	if (!nthreads || nthreads > MAX_THREADS)
		return 2;
	ret = blkbatch_thread_ring_config(8, 0);
	if (!ret)
		ret = blkbatch_attach(argv[1], 0, &index);
	if (ret) {
		fprintf(stderr, "threads: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	ret = blkbatch_open(index, O_RDWR, &dev);
	if (ret) {
		fprintf(stderr, "threads: open: %s\n", strerror(-ret));
		blkbatch_detach(index);
		return 1;
	}
	t0 = now();
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .fd = dev.fd, .id = i, .rounds = rounds };
		if (pthread_create(&w[i].tid, NULL, work, &w[i]))
			return 1;
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].ret) {
			fprintf(stderr, "threads: thread %u: %s\n", i,
				strerror(-w[i].ret));
			rc = 1;
		}
	}
	if (!rc)
		printf("%u threads x %u rounds of %u I/Os, data verified: "
		       "%.0f IOPS\n", nthreads, rounds, 2 * PER_BATCH,
		       nthreads * rounds * 2.0 * PER_BATCH / (now() - t0));
	blkbatch_close(&dev);
	blkbatch_detach(index);
	return rc;
}
