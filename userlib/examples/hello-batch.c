// SPDX-License-Identifier: MIT
/*
 * hello-batch: the smallest complete blkbatch program.
 *
 *   hello-batch /dev/nvme0n1      (as root; OVERWRITES the first 64 KiB)
 *
 * Attach a block device, open its /dev/blkbatchN, read what the module
 * says of it, and run one batch: 8 writes, a barrier, 8 reads of the same
 * blocks, in one submission.  Every entry has its own status; the batch
 * has one completion.  Then detach.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libblkbatch.h>

#define NR_IO	8
#define IO_LEN	4096

static int fail(const char *what, int err)
{
	fprintf(stderr, "hello-batch: %s: %s\n", what, strerror(-err));
	return 1;
}

/* 8 writes, BARRIER, 8 reads: the reads see the writes. */
static int one_batch(struct blkbatch_ring *ring, int fd, char *wbuf,
		     char *rbuf)
{
	struct blkbatch_entry ent[2 * NR_IO + 1];
	__s32 status[2 * NR_IO + 1];
	struct blkbatch_batch b;
	int i, res;

	blkbatch_batch_init(&b, ent, status, 2 * NR_IO + 1);
	for (i = 0; i < NR_IO; i++)
		blkbatch_batch_add_write(&b, wbuf + i * IO_LEN, IO_LEN,
					 (__u64)i * IO_LEN, 0);
	blkbatch_batch_add_barrier(&b);
	for (i = 0; i < NR_IO; i++)
		blkbatch_batch_add_read(&b, rbuf + i * IO_LEN, IO_LEN,
					(__u64)i * IO_LEN);

	res = blkbatch_run(ring, fd, &b);
	if (res < 0)
		return fail("batch", res);
	for (i = 0; i < (int)b.nr; i++)
		if (status[i] < 0)
			fprintf(stderr, "hello-batch: entry %d (%s): %s\n", i,
				blkbatch_op_name(ent[i].op),
				strerror(-status[i]));
	if (res != (int)b.nr)
		return 1;
	if (memcmp(wbuf, rbuf, NR_IO * IO_LEN)) {
		fprintf(stderr, "hello-batch: read back other data\n");
		return 1;
	}
	printf("one batch: %u entries, %d succeeded, data verified\n", b.nr,
	       res);
	return 0;
}

int main(int argc, char **argv)
{
	struct blkbatch_ring ring;
	struct blkbatch_dev dev;
	unsigned int index, i;
	char *wbuf, *rbuf;
	int ret, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: hello-batch BLOCKDEV\n");
		return 2;
	}
	ret = blkbatch_attach(argv[1], 0, &index);
	if (ret)
		return fail(argv[1], ret);
	ret = blkbatch_open(index, O_RDWR, &dev);
	if (ret) {
		blkbatch_detach(index);
		return fail("open", ret);
	}
	printf("%s is /dev/blkbatch%u: %llu bytes, %u-byte blocks, "
	       "up to %u entries a batch\n", argv[1], index,
	       (unsigned long long)dev.info.capacity,
	       dev.info.logical_block_size, dev.info.max_entries);

	/* Buffers aligned as GET_INFO asks: a page is always enough. */
	if (posix_memalign((void **)&wbuf, 4096, NR_IO * IO_LEN) ||
	    posix_memalign((void **)&rbuf, 4096, NR_IO * IO_LEN))
		return fail("memory", -ENOMEM);
	for (i = 0; i < NR_IO * IO_LEN; i++)
		wbuf[i] = (char)(i * 7 + 1);
	memset(rbuf, 0, NR_IO * IO_LEN);

	rc = 1;
	ret = blkbatch_ring_init(&ring, 8, 0);
	if (ret) {
		fail("ring", ret);
	} else {
		rc = one_batch(&ring, dev.fd, wbuf, rbuf);
		blkbatch_ring_exit(&ring);
	}
	blkbatch_close(&dev);
	ret = blkbatch_detach(index);
	if (ret)
		rc = fail("detach", ret);
	free(wbuf);
	free(rbuf);
	return rc;
}
